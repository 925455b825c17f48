"""Re-evaluation: ``POST /customers/{id}/reevaluate`` computes one customer now from
the warehouse and records it (``services/relationship/reevaluation.py``, which keeps
the Idempotency-Key with the record); ``GET /customers/{id}/reevaluations`` lists
them."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from clientlens.faces.http.deps import AsOf, BackendDep, CustomerId, Reevaluator
from clientlens.faces.http.errors import ERRORS, NOT_FOUND, ApiError, check_date, response
from clientlens.faces.http.presenters import police_reevaluation, profile_dict, sees
from clientlens.faces.http.schemas import Reevaluation, ReevaluationList, ReevaluationRequest
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.platform.field_policy import redact, withheld_list
from clientlens.platform.jsonsafe import json_bytes
from clientlens.platform.jsonsafe import plain as jsonable

router = APIRouter(tags=["customers"])


@router.post("/customers/{customer_id}/reevaluate", response_model=Reevaluation,
             summary="Recompute one customer now from the warehouse and record it",
             responses={**ERRORS, **NOT_FOUND, **response(
                 409, "The customer is being re-evaluated by others right now; try "
                      "again.")})
def reevaluate(customer_id: CustomerId, who: Reevaluator, backend: BackendDep,
               body: ReevaluationRequest | None = None,
               as_of: AsOf = None,
               idempotency_key: Annotated[str | None, Header(
                   description="The same key (and request) returns the first answer "
                               "and records nothing again.", max_length=200)] = None
               ) -> Response:
    """Computes the customer's terms from the warehouse as of `as_of` (default: the
    latest snapshot's date), applies the current rulebook in-process and compares the
    result with the latest recorded state: the newest snapshot on or before `as_of`,
    or the latest re-evaluation recorded since that snapshot. The re-evaluation is
    recorded (`GET /customers/{id}/reevaluations`) with the cause in the body, and
    entitlement changes (granted, grace_started, revoked) only when the services held
    change. The nightly run stays authoritative: it does not read re-evaluations."""
    from clientlens.services.profiling.customers import customer_exists, personal_data
    from clientlens.services.relationship import reevaluation as rv

    check_date(as_of)
    reason, note = (body.reason, body.note) if body else (None, None)
    w = backend.withholding(who.role)

    def respond(rec: Any, x: Any) -> dict:
        personal = personal_data(engine, customer_id) if sees(who.role, "personal") else None
        return police_reevaluation(jsonable({
            "reevaluation_id": rec.reevaluation_id, "recorded": True, "replayed": False,
            "profile": profile_dict(x, backend.defs, rec.held, personal),
            "compared_with": rec.compared_with,
            "compared_with_reevaluation": rec.basis_id,
            "previous_segment": rec.before["segment"],
            "previous_phase": rec.before["phase"], "previous_need": rec.before["need"],
            "segment_changed": rec.segment_changed,
            "changes": [{"service": e["service"], "change": e["event"],
                         "kept_until": e["kept_until"], "reason": e["reason"],
                         "source": "reevaluation"} for e in rec.events],
            "reason": rec.reason, "note": rec.note}), w)

    try:
        with backend.engine() as engine:
            if not customer_exists(engine, customer_id):
                # no "did you mean": the service does not suggest other customers' ids
                raise NotFoundError(f"unknown customer '{customer_id}'")
            try:
                latest: dt.date | None = backend.latest(engine)
            except NotFoundError:
                latest = None
            outcome = rv.reevaluate(
                engine, backend.db, backend.defs, customer_id, as_of,
                requested_by=who.user, role=who.role, via="api",
                compiled=backend.compiled, reason=reason, note=note,
                idempotency_key=idempotency_key, respond=respond, latest=latest,
                stored=lambda day: backend.stored(engine, customer_id, day))
    except ClientlensError as e:
        backend.audit(who, "customer.reevaluate", f"customer/{customer_id}",
                      {"as_of": as_of, "error": str(e)}, outcome="error")
        raise
    rec = outcome.record
    if outcome.response is None:  # pragma: no cover - a key is kept with its answer
        raise ApiError(409, "idempotency_conflict", "the first request with this "
                       "Idempotency-Key has no answer kept; use a new key")
    backend.audit(who, "customer.reevaluate", f"customer/{customer_id}",
                  {"as_of": rec.as_of, "reevaluation_id": rec.reevaluation_id,
                   "segment": rec.after["segment"],
                   "previous_segment": rec.before["segment"],
                   "changes": [(e["service"], e["event"]) for e in rec.events],
                   "reason": rec.reason, "replayed": rec.replayed,
                   "sensitive_shown": list(w.visible_categories)})
    # A replayed answer was made for this user, but the token's role may have
    # changed since: the policy is applied again.
    answer = {**police_reevaluation(outcome.response, w), "replayed": rec.replayed}
    return Response(json_bytes(answer), media_type="application/json")


@router.get("/customers/{customer_id}/reevaluations", response_model=ReevaluationList,
            summary="A customer's recorded re-evaluations", responses=ERRORS)
def reevaluations(customer_id: CustomerId, who: Reevaluator, backend: BackendDep,
                  limit: Annotated[int, Query(ge=1, le=1000, description="At most this "
                                              "many, newest first.")] = 50
                  ) -> ReevaluationList:
    """Every recorded re-evaluation of the customer, newest first: who, how, when,
    as-of, the cause, segment/phase/need before and after, the entitlement changes
    (source `reevaluation`) and the services held after it. `superseded_by` names the
    nightly run after the snapshot it was compared with."""
    from clientlens.services.relationship import reevaluation as rv

    with backend.engine() as engine:
        found = rv.list_reevaluations(backend.db, customer_id, limit=limit, engine=engine)
    # Records may come from other rulebooks: no first-match value is shown when the
    # current definitions would withhold some of that decision's values.
    w = backend.withholding(who.role)
    records, removed = redact(jsonable([{
            **{k: getattr(r, k) for k in (
                "reevaluation_id", "customer_id", "as_of", "compared_with",
                "superseded_by", "rulebook_version", "requested_by", "role", "via",
                "requested_at", "reason", "note", "before", "after", "held")},
            "compared_with_reevaluation": r.basis_id,
            "changes": [{"service": e["service"], "change": e["event"],
                         "kept_until": e["kept_until"], "reason": e["reason"]}
                        for e in r.events]} for r in found]), w.strict())
    return ReevaluationList.model_validate({
        "customer_id": customer_id, "reevaluations": records,
        "withheld": withheld_list(w, removed)})
