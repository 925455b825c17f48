"""The nightly job and what it stores: profiles (``segmentation``), their history,
explanations, entitlements, the dictionary rendered for staff, and one snapshot held
in memory (``profile_store``).
"""
