"""One error family for everything a user can get wrong.

A ``ClientlensError`` is a *user* error: the faces print its message on one line
and exit non-zero. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


class ClientlensError(Exception):
    """Base of every error caused by input, settings or definitions."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a definitions file, with where it is."""

    message: str
    file: str | None = None
    line: int | None = None
    where: str | None = None  # e.g. "term balance_total", "rule status"

    def __str__(self) -> str:
        place = ""
        if self.file:
            place = self.file + (f":{self.line}" if self.line else "")
        if self.where:
            place = f"{place} ({self.where})" if place else self.where
        return f"{place}: {self.message}" if place else self.message


class DefinitionError(ClientlensError):
    """Glossary, rulebook or catalogue problems, all reported at once."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the definitions"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class ExpressionError(ClientlensError):
    """An expression that does not parse, is not allowed, or does not type-check."""


class ImportFileError(ClientlensError):
    """A file that cannot be imported at all (unreadable, missing columns, ...)."""


class WorkspaceError(ClientlensError):
    """A missing or broken workspace, settings file or warehouse."""


class EngineError(ClientlensError):
    """An engine that cannot be found, loaded or reached."""


class UnsupportedFeature(EngineError):
    """A compiled plan uses something the chosen engine declares it cannot do."""

    def __init__(self, engine: str, feature: str):
        self.engine = engine
        self.feature = feature
        super().__init__(f"engine '{engine}' does not support {feature}")


class NotFoundError(ClientlensError):
    """An unknown customer, as-of date, term or rule asked for by a user."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A " Did you mean 'x'?" suffix, or an empty string when nothing is close."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
