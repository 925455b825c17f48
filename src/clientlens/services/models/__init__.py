"""Statistical models fitted on the bank's own data: the BG/NBD activity model
(``bgnbd``, fitted by ``activity``) and credit scorecards (``scorecard``, trained by
``training``).
"""
