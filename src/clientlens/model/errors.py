"""One error family for everything a user can get wrong.

A ``ClientlensError`` is a *user* error: the faces print its message on one line
and exit non-zero. Anything else that escapes is a bug and keeps its traceback.

Every error carries one ``code``: a stable snake_case string a program can act on
(``not_found``, ``definition_error``, ``idempotency_conflict``, ...). Each class has
a default; a raise may give a more precise one (``ReferralError(..., "not_eligible")``).
The faces map codes once: to HTTP statuses in ``faces/http/errors.py``, to exit
codes in ``faces/cli_errors.py``. The message is for people and may change; the code
may not.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


class ClientlensError(Exception):
    """Base of every error caused by input, settings or definitions.

    ``code``: the class's default, or the one given as ``code=`` when raised."""

    code: str = "bad_request"

    def __init__(self, *args: object, code: str | None = None) -> None:
        super().__init__(*args)
        if code is not None:
            self.code = code


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

    code = "definition_error"

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the definitions"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class ExpressionError(ClientlensError):
    """An expression that does not parse, is not allowed, or does not type-check."""

    code = "expression_error"


class ImportFileError(ClientlensError):
    """A file that cannot be imported at all (unreadable, missing columns, ...)."""

    code = "import_error"


class WorkspaceError(ClientlensError):
    """A missing or broken workspace, settings file or warehouse."""

    code = "workspace_error"


class EngineError(ClientlensError):
    """An engine that cannot be found, loaded or reached."""

    code = "engine_error"


class UnsupportedFeature(EngineError):
    """A compiled plan uses something the chosen engine declares it cannot do."""

    code = "unsupported_feature"

    def __init__(self, engine: str, feature: str):
        self.engine = engine
        self.feature = feature
        super().__init__(f"engine '{engine}' does not support {feature}")


class NotFoundError(ClientlensError):
    """An unknown customer, as-of date, term or rule asked for by a user."""

    code = "not_found"


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A " Did you mean 'x'?" suffix, or an empty string when nothing is close."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
