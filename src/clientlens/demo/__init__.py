"""The demo bank: a deterministic synthetic bank (``generator``) with Russian names
(``vocab``), for the README's first command, the tests and the benches.
"""
