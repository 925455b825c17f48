"""Options and argument parsing shared by the command groups of the ``clientlens``
command (one definition, so every command reads dates and the workspace alike)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from clientlens.model.errors import ClientlensError
from clientlens.services.workspace.folder import WorkspaceFolder


def _with_engine(ctx: typer.Context, value: Path) -> WorkspaceFolder:
    """The folder with the engine chosen by ``clientlens --engine`` (kept by the app's
    callback in the root context), which the services open it with."""
    return WorkspaceFolder(value, engine=ctx.find_root().obj)


# A path to the command; a ``WorkspaceFolder`` (path-like) carrying --engine to the services.
Workspace = Annotated[Path, typer.Option("--workspace", "-w", envvar="CLIENTLENS_WORKSPACE",
                                         help="Workspace folder.", show_default=True,
                                         callback=_with_engine)]


def parse_date(value: str | None, option: str, *, or_today: bool = False) -> dt.date | None:
    """A YYYY-MM-DD option value; when it is not given, today (``or_today``) or None."""
    if value is None:
        return dt.date.today() if or_today else None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ClientlensError(f"{option} '{value}' is not a date like 2026-10-31") from None

# Every command that writes a table takes the same output options (platform/exports.py).
CsvDialect = Annotated[str | None, typer.Option(
    "--csv-dialect", metavar="DIALECT",
    help="How .csv files are written: standard (comma, decimal point, UTF-8; for "
         "programs), excel-ru or excel-bg (semicolon, decimal comma, UTF-8 with BOM: Excel "
         "with Russian or Bulgarian settings opens it with a double click), excel-1251 (the "
         "same in Windows-1251, for older Excel and 1C). Default: export_csv_dialect in "
         "clientlens.yaml, else standard.")]
OUTPUT_HELP = ("A path as you type it, relative to the current folder; missing folders are "
               "created. The suffix picks the format")
