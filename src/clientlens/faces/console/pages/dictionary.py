"""The dictionary of terms and the rulebook in order, with parameters and their
values, as staff are taught them: the same document as `clientlens glossary --format
html`, inside the console, in the page's language."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from clientlens.faces.console.web import PREFIX, PageDep, needs, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/dictionary", response_class=HTMLResponse)
async def dictionary_page(p: PageDep) -> HTMLResponse:
    from markupsafe import Markup

    from clientlens.faces.rendering import dictionary_body

    needs(p, "dictionary:read")
    defs = p.request.app.state.backend.defs
    # rendered (and escaped) by the same template as `clientlens glossary --format html`
    return render(p, "dictionary.html", body=Markup(dictionary_body(defs, p.lang)))
