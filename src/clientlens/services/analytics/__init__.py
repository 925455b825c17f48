"""Analytics over stored snapshots: migration matrices, relationship KPIs, customer
lists (leads, surveys, look-alikes, entitlement events).
"""
