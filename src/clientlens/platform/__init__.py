"""Pieces every context shares: private, atomic files and exports."""
