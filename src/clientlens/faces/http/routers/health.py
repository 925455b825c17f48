"""``GET /health``: liveness, without a token."""

from fastapi import APIRouter

from clientlens.faces.http.schemas import Health

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, summary="Liveness")
def health() -> Health:
    """No auth; does not touch the warehouse."""
    return Health(status="ok")
