"""``GET /dictionary``: the glossary's terms (definitions, no customer data)."""

from fastapi import APIRouter

from clientlens.faces.http.deps import BackendDep, DictionaryReader
from clientlens.faces.http.errors import ERRORS
from clientlens.faces.http.schemas import Dictionary, TermOut

router = APIRouter(tags=["dictionary"])


@router.get("/dictionary", response_model=Dictionary, summary="The dictionary of terms",
            responses=ERRORS)
def dictionary(_who: DictionaryReader, backend: BackendDep) -> Dictionary:
    """Every glossary term: name, type, unit, kind, definition, description and labels
    in English, Russian and Bulgarian."""
    defs = backend.defs
    return Dictionary(rulebook_version=defs.version, terms=[
        TermOut(name=t.name, type=str(t.type.value if hasattr(t.type, "value") else t.type),
                unit=t.unit or "", kind=t.kind, definition=t.definition_text(),
                description=t.description or "",
                labels={"en": t.labels.en, "ru": t.labels.ru, "bg": t.labels.bg})
        for t in defs.terms.values()])
