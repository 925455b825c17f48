"""``GET /customers/{id}/profile``: a customer's stored profile and why.

The latest snapshot is held in memory (``Backend.snapshot``): a lookup of it by a
role that sees no audited field does no I/O and is answered on the event loop;
others go through the thread pool."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from clientlens.faces.http.deps import AsOf, BackendDep, CustomerId, ProfileReader
from clientlens.faces.http.errors import ERRORS, NOT_FOUND, check_date
from clientlens.faces.http.presenters import no_profile, profile_dict, sees
from clientlens.faces.http.schemas import Profile
from clientlens.faces.http.state import Backend
from clientlens.model.errors import NotFoundError
from clientlens.platform.access import TokenHolder
from clientlens.platform.field_policy import apply_policy
from clientlens.platform.jsonsafe import json_bytes

router = APIRouter(tags=["customers"])


def build_profile(backend: Backend, engine: Any, who: TokenHolder, customer_id: str,
                  as_of: dt.date | None, explain: bool = True) -> tuple[dict, list[str]]:
    """The customer's profile for ``who`` (policy applied) and the sensitive
    categories it shows."""
    from clientlens.services.profiling.customers import personal_data
    from clientlens.services.profiling.entitlements import held_entitlements
    from clientlens.services.profiling.explain import explain_customer, stored_summary
    from clientlens.services.profiling.history import snapshot_on
    from clientlens.services.profiling.segmentation import profile_row

    note = None
    if as_of is None:
        as_of = backend.latest(engine)
    else:
        day = snapshot_on(engine, as_of)
        if day is None:
            raise NotFoundError(f"no snapshot on or before {as_of}")
        if day != as_of:
            note = f"no run on {as_of}; explained from the snapshot of {day}"
            as_of = day
    row, held = backend.stored(engine, customer_id, as_of)
    if row is None and as_of != backend.latest(engine):
        row = profile_row(engine, customer_id, as_of)
    if row is None:
        # The same answer for an unknown id, one registered later and one outside the
        # population, with no "did you mean": the service neither confirms that an id
        # exists nor suggests other customers' ids, and a miss costs no scan.
        raise NotFoundError(no_profile(customer_id, as_of))
    defs, compiled = backend.definitions_for(row.get("rulebook_version"))
    x = None if explain else stored_summary(defs, compiled, customer_id, as_of, row)
    if x is None:
        try:
            x = explain_customer(engine, defs, customer_id, as_of, compiled=compiled,
                                 stored_row=row)
        except NotFoundError:
            raise NotFoundError(no_profile(customer_id, as_of)) from None
    if held is None:
        held = held_entitlements(engine, customer_id, as_of)
    w = backend.withholding(who.role, defs)
    personal = personal_data(engine, customer_id) if sees(who.role, "personal") else None
    p = profile_dict(x, defs, held, personal)
    if not explain:
        p["explanation"] = None
    if note:
        p["note"] = f"{note}; {p['note']}" if p["note"] else note
    return apply_policy(p, w)


def _lookup(backend: Backend, who: TokenHolder, customer_id: str, as_of: dt.date | None,
            explain: bool = True) -> bytes:
    with backend.engine() as engine:
        p, shown = build_profile(backend, engine, who, customer_id, as_of, explain)
    if shown:
        backend.audit(who, "profile.read", f"customer/{customer_id}",
                      {"as_of": p["as_of"], "sensitive_shown": shown})
    # Serialized directly: the shape is Profile's (tests validate answers against
    # it), and skipping the response model's validation halves a lookup's cost.
    return json_bytes(p)


@router.get("/customers/{customer_id}/profile", response_model=Profile,
            summary="A customer's stored profile with its explanation",
            responses={**ERRORS, **NOT_FOUND})
async def get_profile(customer_id: CustomerId, who: ProfileReader, backend: BackendDep,
                      as_of: AsOf = None,
                      explain: Annotated[bool, Query(description=(
                          "Include the why: rule traces, rating factors and service "
                          "conditions. `false` gives the stored decisions only, "
                          "about twice as fast."))] = True) -> Response:
    """The profile stored for the snapshot on (or the newest before) `as_of`: segment,
    phase, need, ratings, recommendations, services and entitlements, and why. Fields
    your role may not see are removed and listed in `withheld`."""
    check_date(as_of)
    if as_of is None and backend.in_memory(who.role):
        # The latest snapshot is in memory and the role sees nothing to audit: no
        # I/O, so answer on the event loop rather than through the thread pool.
        body = _lookup(backend, who, customer_id, None, explain)
    else:
        body = await run_in_threadpool(_lookup, backend, who, customer_id, as_of, explain)
    return Response(body, media_type="application/json")
