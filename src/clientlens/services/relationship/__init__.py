"""One customer's relationship: service-recovery cases, departures and win-back, re-
evaluation on demand.
"""
