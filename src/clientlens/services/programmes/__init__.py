"""Loyalty programmes: member-get-member referrals, their points ledger, and what they
read from the warehouse.
"""
