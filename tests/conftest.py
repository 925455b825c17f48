"""Shared test setup.

Rich sizes tables to the terminal; under pytest-xdist workers have none and tables
were cut at 80 columns, hiding ids the tests look for. Every test sees the same
wide terminal, whatever runs it.
"""

import os

os.environ["COLUMNS"] = "200"
