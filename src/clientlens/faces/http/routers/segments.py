"""``GET /segments``: customers and mean balances per segment of a stored run."""

from fastapi import APIRouter

from clientlens.faces.http.deps import AsOf, BackendDep, SegmentsReader
from clientlens.faces.http.errors import ERRORS, NOT_FOUND, check_date
from clientlens.faces.http.schemas import SegmentSummary
from clientlens.platform.jsonsafe import plain as jsonable

router = APIRouter(tags=["segments"])


@router.get("/segments", response_model=SegmentSummary,
            summary="Customers and mean balances per segment",
            responses={**ERRORS, **NOT_FOUND})
def segments(who: SegmentsReader, backend: BackendDep, as_of: AsOf = None) -> SegmentSummary:
    """The segment table of a stored run (default: the latest), in rulebook order."""
    from clientlens.services.profiling.segmentation import segment_summary

    check_date(as_of)
    with backend.engine() as engine:
        day = as_of or backend.latest(engine)
        rows = segment_summary(engine, backend.defs, day,
                               money_unit=backend.ws.settings.base_currency)
    # Counts are aggregates, shown to every role; means of withheld terms are not.
    hidden = backend.withholding(who.role).hidden
    return SegmentSummary.model_validate(jsonable({
        "as_of": day, "segments": [
            {**r.__dict__, "means": {k: v for k, v in r.means.items() if k not in hidden}}
            for r in rows]}))
