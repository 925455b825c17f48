"""User errors on the command line, in one place: one line on stderr, an exit code
chosen by the error's ``code``; a bug keeps its traceback.

``user_errors`` wraps a Typer command; ``report`` is what ``cli.main`` does with a
``ClientlensError`` that reaches it. ``sys.exit``, not ``typer.Exit``: ``main()`` runs
the app with ``standalone_mode=False``, where a ``typer.Exit`` is returned as a value
and the process would exit 0.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from rich.console import Console
from rich.markup import escape

from clientlens.model.errors import ClientlensError

err = Console(stderr=True)

#: Exit codes by error code. Every user error exits 1 today; a code that scripts
#: should tell apart gets its own number here, and only here.
EXIT_CODES: dict[str, int] = {}
USER_ERROR = 1

F = TypeVar("F", bound=Callable[..., Any])


def exit_code(e: ClientlensError) -> int:
    return EXIT_CODES.get(e.code, USER_ERROR)


def report(e: ClientlensError) -> NoReturn:
    """Print ``e`` as one line (Rich markup in it escaped) and exit."""
    err.print(f"[red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
    sys.exit(exit_code(e))


def user_errors(command: F) -> F:
    """``command`` with its user errors reported by ``report``."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ClientlensError as e:
            report(e)

    return run  # type: ignore[return-value]
