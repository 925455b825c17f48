"""HTTP endpoints of the member-get-member referral programme: ``router``.

A thin face over ``services/programmes/referrals.py`` (the rules, the ledger, idempotency) and
``services/programmes/referral_lookups.py`` (what it reads from the warehouse);
``faces/http/app.py`` includes ``router``.

Answers, by design:

* A registration or a qualifying fact that a rule refuses is a normal answer, not an
  error: ``201`` with ``status: rejected`` (registrations, stored and counted by the
  funnel) or ``200`` with ``accepted: false`` (facts), and the ``reason_code`` with a
  ``message``.
* A request the programme cannot act on is an error ``{error, message}``:
  ``404 not_found`` (unknown programme, a customer without a profile in the latest
  run, a customer without an accepted registration); ``422`` for a bad body and for
  rule refusals where nothing is stored, with the reason code as ``error``
  (``not_eligible``, ``idempotency_conflict``, else ``invalid_request``);
  ``409 insufficient_points`` for a redemption larger than the balance.
* Every POST takes an ``Idempotency-Key`` header (1 to 128 visible ASCII characters;
  required for redemptions): the same key with the same body replays the first answer,
  with the header ``Idempotent-Replayed: true``; the same key with another body, or on
  another endpoint, is ``422 idempotency_conflict``. Keys are stored with their
  answers in the application database (``idempotency_keys``), in the same transaction
  as the write, so they survive restarts; they are global, not per user, so the CLI's
  ``referrals redeem --key`` and the HTTP service share them. A request that fails
  stores no key.
* Every write (and every refused or denied one) is audited; the audit never holds a
  token, an identity document, phone or address, or an invitation code.
"""

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi import Path as PathParam

from clientlens.faces.http.deps import BackendDep, PointsWriter, ReferralReader, ReferralWriter
from clientlens.faces.http.errors import response as error_answer
from clientlens.faces.http.schemas_referrals import (
    ID_PATTERN,
    KEY_PATTERN,
    PROGRAMME_PATTERN,
    CodeRequest,
    FunnelOut,
    InvitationOut,
    PointsEntryOut,
    PointsOut,
    ProgrammeList,
    ProgrammeOut,
    QualificationOut,
    QualificationRequest,
    RedemptionOut,
    RedemptionRequest,
    RegistrationOut,
    RegistrationRequest,
    RewardOut,
)
from clientlens.faces.http.state import Backend
from clientlens.model.errors import ClientlensError, NotFoundError
from clientlens.platform.access import TokenHolder
from clientlens.services.programmes import referral_lookups as lookups
from clientlens.services.programmes import referrals as rf

router = APIRouter(tags=["referrals"])

CustomerId = Annotated[str, PathParam(description="The bank's customer id (letters, digits, "
                                      "_ . -; at most 64).", pattern=ID_PATTERN)]
ProgrammeId = Annotated[str, PathParam(description="The programme's id.",
                                       pattern=PROGRAMME_PATTERN)]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", pattern=KEY_PATTERN,
    description="The same key with the same body replays the first answer; with another "
                "body it is a 422 idempotency_conflict.")]
Reader, Writer, Spender = ReferralReader, ReferralWriter, PointsWriter

AUTH = {**error_answer(401, "Missing or invalid token."),
        **error_answer(403, "The token's role may not do this.")}
INVALID = error_answer(422, "Invalid body or parameters (invalid_request), a rule refusal where "
                        "nothing is stored (the reason code, e.g. not_eligible), or "
                        "idempotency_conflict.")


def _policed(e: rf.ReferralError, hidden: frozenset[str]) -> rf.ReferralError:
    """A refusal whose message quotes a field the role may not see (an eligibility rule
    over, say, the security grade says which grade the customer has) loses the quote."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", str(e)))
    if e.code == rf.NOT_ELIGIBLE and words & hidden:
        return rf.ReferralError("the customer is not eligible for this programme (its rule "
                                "reads fields your role may not see)", rf.NOT_ELIGIBLE)
    return e


def audited(backend: Backend, who: TokenHolder, action: str, resource: str,
            detail: dict[str, Any], call: Callable[[], Any]) -> Any:
    """``call()``; a refusal is audited (its reason code, never the message: it may
    quote a phone or document) and raised again."""
    try:
        return call()
    except ClientlensError as e:
        refused = e.reason if isinstance(e, rf.ReferralError) else None
        backend.audit(who, action, resource,
                      {**detail, "refused": refused or type(e).__name__}, outcome="refused")
        raise

def mark(response: Response, replayed: bool) -> None:
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"

def referrer_profile(backend: Backend, customer_id: str) -> dict[str, Any]:
    with backend.engine() as engine:
        as_of = backend.latest(engine)
        row, _ = backend.stored(engine, customer_id, as_of)
    if row is None:
        raise NotFoundError(f"customer '{customer_id}' has no profile on {as_of}, the "
                            "latest run")
    return lookups.referrer_profile(row)


# -- reading
@router.get("/referrals/programmes", response_model=ProgrammeList,
            summary="Published referral programmes, newest versions", responses=AUTH)
def programmes(_who: Reader, backend: BackendDep) -> ProgrammeList:
    """Every published programme at its newest version, with its definition.
    Publish with `clientlens referrals publish`; published versions never change."""
    return ProgrammeList(programmes=[ProgrammeOut(
        programme_id=p.programme_id, version=p.version, name=p.name,
        content_hash=p.content_hash, published_at=p.published_at,
        definition=p.programme.model_dump(mode="json"))
        for p in rf.published_programmes(backend.db)])


@router.get("/referrals/programmes/{programme_id}/funnel", response_model=FunnelOut,
            summary="A programme's funnel and cost per acquired customer",
            responses={**AUTH, **error_answer(404, "Unknown programme."), **INVALID})
def funnel(programme_id: ProgrammeId, _who: Reader, backend: BackendDep,
           point_value: Annotated[Decimal, Query(
               ge=0, le=1_000_000, max_digits=12, decimal_places=4,
               description="One point in money (for the cost).")] = Decimal(1)
           ) -> FunnelOut:
    """Invited, registered, qualified, rewarded, capped, rejected by reason code,
    points paid, cost and cost per acquired (rewarded) customer."""
    f = rf.funnel(backend.db, programme_id, point_value)
    return FunnelOut(
        programme_id=f.programme_id, invited=f.invited, registered=f.registered,
        qualified=f.qualified, rewarded=f.rewarded, capped=f.capped,
        rejected=dict(f.rejected), points_paid=f.points_paid,
        point_value=float(f.point_value), cost=float(f.cost),
        points_per_acquired=(None if f.points_per_acquired is None
                             else float(f.points_per_acquired)),
        cost_per_acquired=(None if f.cost_per_acquired is None
                           else float(f.cost_per_acquired)))


@router.get("/customers/{customer_id}/points", response_model=PointsOut,
            summary="A customer's points: balance and newest ledger entries",
            responses={**AUTH, **INVALID})
def points(customer_id: CustomerId, _who: Reader, backend: BackendDep,
           limit: Annotated[int, Query(ge=0, le=100, description="Entries to list.")]
           = 20) -> PointsOut:
    """The balance is the sum of the customer's ledger entries (0 for a customer
    who never earned any)."""
    st = rf.points_statement(backend.db, customer_id, limit)
    return PointsOut(customer_id=st.customer_id, balance=st.balance, entries=[
        PointsEntryOut(entry_id=e.entry_id, transaction_id=e.transaction_id, at=e.at,
                       points=e.points, kind=e.kind,  # type: ignore[arg-type]
                       event=e.event, registration_id=e.registration_id,
                       reason=e.reason) for e in st.entries])


# -- writing
@router.post("/customers/{customer_id}/referral-code", response_model=InvitationOut,
             status_code=201,
             summary="Issue an invitation code to an eligible customer",
             responses={**AUTH, **error_answer(404, "Unknown programme, or the customer has no "
                                              "profile in the latest run."), **INVALID})
def referral_code(customer_id: CustomerId, who: Writer, response: Response,
                  backend: BackendDep,
                  body: CodeRequest | None = None,
                  idempotency_key: IdempotencyKey = None) -> InvitationOut:
    """Eligibility (segment, phase, grades) is read from the customer's profile in
    the latest run; an ineligible customer gets `422 not_eligible` saying which
    rule. The code is valid for the programme's `invitation_expiry_days`."""
    body = body or CodeRequest()
    try:
        inv = audited(backend, who, "referral.code", f"customer/{customer_id}",
                      {"programme_id": body.programme_id},
                      lambda: rf.issue_code(
                          backend.db, body.programme_id, customer_id,
                          partial(referrer_profile, backend),
                          body.on or dt.date.today(), idempotency_key=idempotency_key,
                          request={"customer_id": customer_id,
                                   **body.model_dump(mode="json")}))
    except rf.ReferralError as e:
        raise _policed(e, backend.withholding(who.role).hidden) from None
    backend.audit(who, "referral.code", f"customer/{customer_id}", {
        "programme_id": inv.programme_id, "programme_version": inv.programme_version,
        "expires_on": inv.expires_on, "replayed": inv.replayed,
        "idempotency_key": idempotency_key is not None})
    mark(response, inv.replayed)
    return InvitationOut(code=inv.code, programme_id=inv.programme_id,
                         programme_version=inv.programme_version,
                         referrer_id=inv.referrer_id, issued_on=inv.issued_on,
                         expires_on=inv.expires_on, replayed=inv.replayed)


@router.post("/referrals/registrations", response_model=RegistrationOut, status_code=201,
             summary="Register a new customer who came with a code",
             responses={**AUTH, **INVALID})
def registration(body: RegistrationRequest, who: Writer, response: Response,
                 backend: BackendDep,
                 idempotency_key: IdempotencyKey = None) -> RegistrationOut:
    """Fraud checks may reject it: the answer is still `201`, with `status:
    rejected`, a `reason_code` and a `message` (rejections are stored and counted by
    the funnel). The identity is compared with the referrer's as hashes (the
    referrer's document and phone come from the warehouse when the code was issued
    without them) and is never stored in clear."""
    def call() -> Any:
        with backend.engine() as engine:
            return rf.register(
                backend.db, body.code, body.new_customer_id,
                body.identity.model_dump(), body.registered_on or dt.date.today(),
                existing_customer_ids=lookups.is_customer(engine),
                referrer_identity=lookups.identity(engine),
                idempotency_key=idempotency_key, request=body.model_dump(mode="json"))

    reg = audited(backend, who, "referral.register", "referrals/registrations",
                  {"new_customer_id": body.new_customer_id}, call)
    backend.audit(who, "referral.register", f"referrals/registrations/"
                  f"{reg.registration_id}", {
                      "new_customer_id": reg.new_customer_id,
                      "programme_id": reg.programme_id, "status": reg.status,
                      "reason_code": reg.reason_code, "replayed": reg.replayed,
                      "idempotency_key": idempotency_key is not None})
    mark(response, reg.replayed)
    return RegistrationOut(
        registration_id=reg.registration_id, programme_id=reg.programme_id,
        code=reg.code, referrer_id=reg.referrer_id, new_customer_id=reg.new_customer_id,
        registered_on=reg.registered_on, status=reg.status, reason_code=reg.reason_code,
        message=rf.reason_message(reg.reason_code), qualified_on=reg.qualified_on,
        replayed=reg.replayed)


@router.post("/referrals/qualifications", response_model=QualificationOut,
             summary="Record a qualifying fact; rewards both sides once",
             responses={**AUTH, **error_answer(404, "The customer has no accepted registration."),
                        **INVALID})
def qualification(body: QualificationRequest, who: Writer, response: Response,
                  backend: BackendDep,
                  idempotency_key: IdempotencyKey = None) -> QualificationOut:
    """When the fact meets the programme's qualifying event the referrer and the
    new customer are rewarded, once per registration however many requests race
    (a database constraint and a row lock). A fact that does not count is `200`
    with `accepted: false` and a `reason_code`; over the referrer's cap the
    registration is qualified with `reason_code: capped` and nobody is rewarded."""
    fact = body.fact.model_dump(exclude_none=True)
    q = audited(backend, who, "referral.qualify", "referrals/qualifications",
                {"new_customer_id": body.new_customer_id, "kind": body.fact.kind},
                lambda: rf.qualify(backend.db, body.new_customer_id, fact,
                                   dt.date.today(), body.programme_id,
                                   idempotency_key=idempotency_key,
                                   request=body.model_dump(mode="json")))
    backend.audit(who, "referral.qualify", f"referrals/registrations/{q.registration_id}",
                  {"new_customer_id": body.new_customer_id, "kind": body.fact.kind,
                   "status": q.status, "accepted": q.accepted,
                   "reason_code": q.reason_code, "newly_rewarded": q.newly_rewarded,
                   "replayed": q.replayed,
                   "idempotency_key": idempotency_key is not None})
    mark(response, q.replayed)
    return QualificationOut(
        registration_id=q.registration_id, status=q.status, accepted=q.accepted,
        reason_code=q.reason_code, message=rf.reason_message(q.reason_code),
        newly_rewarded=q.newly_rewarded, replayed=q.replayed,
        rewards=[RewardOut(role=r.role, customer_id=r.customer_id,  # type: ignore[arg-type]
                           points=r.points, transaction_id=r.transaction_id)
                 for r in q.rewards])


@router.post("/customers/{customer_id}/points/redemptions", response_model=RedemptionOut,
             status_code=201, summary="Spend a customer's points",
             responses={**AUTH, **error_answer(409, "More points than the balance "
                                              "(insufficient_points)."), **INVALID})
def redemption(customer_id: CustomerId, body: RedemptionRequest, who: Spender,
               backend: BackendDep,
               response: Response,
               idempotency_key: Annotated[str, Header(
                   alias="Idempotency-Key", pattern=KEY_PATTERN,
                   description="Required: the same key spends once.")]
               ) -> RedemptionOut:
    """Never below zero: a redemption larger than the balance is `409
    insufficient_points` and spends nothing. The `Idempotency-Key` header is
    required; the same key and body spend once (the CLI's `--key` is the same key)."""
    r = audited(backend, who, "points.redeem", f"customer/{customer_id}", {"points": body.points},
                lambda: rf.redeem_points(backend.db, customer_id, body.points,
                                         idempotency_key, reason=body.reason))
    backend.audit(who, "points.redeem", f"customer/{customer_id}", {
        "points": r.points, "transaction_id": r.transaction_id,
        "balance_after": r.balance_after, "reason": r.reason, "replayed": r.replayed})
    mark(response, r.replayed)
    return RedemptionOut(transaction_id=r.transaction_id, customer_id=r.customer_id,
                         points=r.points, balance_after=r.balance_after, reason=r.reason,
                         replayed=r.replayed)
