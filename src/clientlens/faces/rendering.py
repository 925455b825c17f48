"""Documents rendered from the templates in ``faces/templates/``: the dictionary of
terms (Markdown or a standalone HTML page) and the migration heat map (HTML).

The services build what a document shows as data (``dictionary_context``,
``heat_map_context``); this module only renders it. Each HTML document is a thin
page around a body partial (``_dictionary_body.html``, ``_matrix_table.html``) that
the staff console includes in its own layout. HTML is rendered with autoescape on,
so a label or description an analyst wrote can never become markup; Markdown with
autoescape off and its own cell escaping.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from clientlens.definitions.rulebook import Definitions
from clientlens.model.errors import ClientlensError
from clientlens.platform import files
from clientlens.services.analytics import matrices
from clientlens.services.analytics.matrices import MigrationMatrix, heat_map_context
from clientlens.services.profiling.dictionary import dictionary_context

TEMPLATES = Path(__file__).resolve().parent / "templates"
FORMATS = ("md", "html")


def md_cell(value: object) -> str:
    """A Markdown table cell: pipes and backslashes escaped, on one line."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


@cache
def environment(kind: str) -> jinja2.Environment:
    """The Jinja environment for ``html`` (autoescape on) or ``md`` documents."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=kind == "html", undefined=jinja2.StrictUndefined,
                             trim_blocks=False, keep_trailing_newline=False)
    # Markdown only: the HTML partials need nothing but their context, so the console's
    # own environment can include them.
    env.filters["cell"] = md_cell
    env.filters["codes"] = lambda items: "<br>".join(f"`{md_cell(i)}`" for i in items)
    return env


def _document(kind: str, name: str, context: dict[str, Any]) -> str:
    text = environment(kind).get_template(name).render(**context)
    return text if text.endswith("\n") else text + "\n"


def render_dictionary(context: dict[str, Any], fmt: str = "md") -> str:
    """The dictionary (a :func:`dictionary_context`) as Markdown or an HTML page."""
    if fmt not in FORMATS:
        raise ClientlensError(f"unknown format '{fmt}': use md or html")
    return _document(fmt, f"dictionary.{fmt}", context)


def dictionary(defs: Definitions, fmt: str = "md", lang: str = "en") -> str:
    """The dictionary of ``defs`` in ``lang`` (en, ru, bg) as Markdown or HTML."""
    return render_dictionary(dictionary_context(defs, lang), fmt)


def dictionary_body(defs: Definitions, lang: str = "en") -> str:
    """The dictionary's body (no page around it), for the console's own layout."""
    return environment("html").get_template("_dictionary_body.html").render(
        **dictionary_context(defs, lang))


def render_matrix(matrix: MigrationMatrix) -> str:
    """A self-contained page: the matrix as a heat-map table, totals, no scripts."""
    return _document("html", "migration_matrix.html", heat_map_context(matrix))


def write_matrix_html(matrix: MigrationMatrix, path: Path) -> Path:
    """The heat-map page, written whole and private."""
    return files.write_text(path, render_matrix(matrix))


def write_matrix(matrix: MigrationMatrix, path: Path, dialect: str | None = None) -> Path:
    """The matrix as .csv, .xlsx, .png or .html (by the file's extension)."""
    return matrices.write_matrix(matrix, path, dialect, render_html=render_matrix)
