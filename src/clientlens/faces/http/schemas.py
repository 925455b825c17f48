"""The HTTP API's request and response models (pydantic): profiles, re-evaluations,
segments, the dictionary, runs and errors. The referral programme's are in
``schemas_referrals.py``. Their names are the OpenAPI spec's component names."""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

Role = Literal["viewer", "analyst", "marketing", "security_officer", "admin"]
#: The dates a request may name.
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


# -- response models --------------------------------------------------------------------
class ErrorBody(BaseModel):
    error: str = Field(description="Machine-readable kind, e.g. not_found, forbidden.")
    message: str = Field(description="What went wrong, for people.")
    detail: list[dict[str, Any]] | None = Field(None, description="Per-field problems.")


class Condition(BaseModel):
    condition: str
    holds: bool | None = Field(description="None: unknown because a term is empty.")
    values: dict[str, Any] = Field(description="Terms the condition reads, with values.")
    needs: str | None = Field(None, description="What would have to change.")


class RuleTrace(BaseModel):
    rule: str
    matched: bool
    conditions: list[Condition]


class FactorOut(BaseModel):
    factor: str
    value: Any = None
    bin: str | None = None
    points: float | None = None
    deviation: float | None = None


class RatingOut(BaseModel):
    rating: str
    label: str
    score: float | None
    grade: str | None
    reasons: list[str]
    factors: list[FactorOut]


class ServiceCheck(BaseModel):
    service: str
    kind: str
    qualifies: bool
    conditions: list[Condition]


class EntitlementOut(BaseModel):
    service: str
    kind: str | None = None
    granted_on: dt.date | None = None
    last_qualified_on: dt.date | None = None
    kept_until: dt.date | None = None
    qualified: bool | None = None


class ActionOut(BaseModel):
    action: str
    label: str
    department: str | None
    within_days: int | None
    description: str


class Recommendations(BaseModel):
    next_best_product: str | None = None
    next_best_reason: str | None = None
    lead_product: str | None = None
    lead_department: str | None = None


class Withheld(BaseModel):
    category: str = Field(description="A FIELD_POLICY category: security or personal.")
    fields: list[str] = Field(description="Fields removed from this response because "
                              "they are, or are computed from, data of this category: "
                              "term names, and paths such as ratings.solvency, "
                              "services.free_transfers, recommendations.lead_product, "
                              "explanation.segment_rules.")
    visible_to: list[str] = Field(description="Roles that may see them.")
    reason: str


class ExplanationOut(BaseModel):
    segment_rules: list[RuleTrace] = Field(description="Rules tried, up to the match.")
    need_rules: list[RuleTrace]
    phase_rules: list[RuleTrace]


class Profile(BaseModel):
    customer_id: str
    as_of: dt.date
    rulebook_version: str
    source: str = Field(description="'stored profile' or 'computed now'.")
    note: str | None = None
    segment: str | None = Field(description="Null when withheld (see `withheld`).")
    segment_label: str | None
    phase: str | None = None
    need: str | None = None
    ratings: list[RatingOut]
    recommendations: Recommendations
    services: list[ServiceCheck] = Field(description="Services the customer qualifies for.")
    entitlements: list[EntitlementOut] = Field(
        description="Services held on the snapshot date (stored entitlements).")
    actions: list[ActionOut] = Field(description="The bank's actions for the phase.")
    personal: dict[str, Any] | None = Field(
        None, description="Personal data from the customers table (analyst, admin).")
    terms: dict[str, Any] = Field(description="Every glossary term's value.")
    explanation: ExplanationOut | None = Field(
        description="Why: rule traces (null with explain=false).")
    withheld: list[Withheld] = Field(description="Field categories removed for your role.")


class EntitlementChange(BaseModel):
    service: str
    change: Literal["granted", "grace_started", "revoked"] = Field(
        description="The nightly run's event vocabulary.")
    kept_until: dt.date | None = None
    reason: str
    source: Literal["reevaluation"] = Field(
        "reevaluation", description="Recorded by a re-evaluation, not by a nightly run.")


ReevaluationReason = Literal["product_opened", "product_closed", "balance_moved", "complaint",
                             "other"]


class ReevaluationRequest(BaseModel):
    reason: ReevaluationReason | None = Field(
        None, description="The cause reported by the bank's system.")
    note: str | None = Field(None, max_length=2000, description="Free text about the cause.")


class Reevaluation(BaseModel):
    reevaluation_id: int = Field(description="The recorded re-evaluation.")
    recorded: bool = Field(True, description="Always true: every re-evaluation is recorded.")
    replayed: bool = Field(False, description="True when this answers a repeated "
                           "Idempotency-Key: nothing was computed or recorded again.")
    profile: Profile = Field(description="The profile computed now from the warehouse; its "
                             "entitlements are those held after this re-evaluation.")
    compared_with: dt.date | None = Field(
        description="The nightly snapshot compared with (the newest on or before as_of).")
    compared_with_reevaluation: int | None = Field(
        None, description="The latest re-evaluation recorded since that snapshot: the state "
                          "compared with, instead of the snapshot's.")
    previous_segment: str | None
    previous_phase: str | None = None
    previous_need: str | None = None
    segment_changed: bool | None = Field(description="Null when the segment is withheld.")
    changes: list[EntitlementChange] = Field(
        description="Entitlement changes against the latest recorded state: granted, "
                    "grace_started, revoked. Empty when nothing changed.")
    reason: ReevaluationReason | None = None
    note: str = ""


class StateOut(BaseModel):
    segment: str | None = None
    phase: str | None = None
    need: str | None = None


class ReevaluationRecord(BaseModel):
    reevaluation_id: int
    customer_id: str
    source: Literal["reevaluation"] = "reevaluation"
    as_of: dt.date
    compared_with: dt.date | None
    compared_with_reevaluation: int | None
    superseded_by: dt.date | None = Field(
        description="The first nightly run after the snapshot compared with: its events "
                    "are authoritative from then on.")
    rulebook_version: str
    requested_by: str
    role: str | None
    via: str = Field(description="api, cli or python.")
    requested_at: dt.datetime
    reason: ReevaluationReason | None
    note: str
    before: StateOut
    after: StateOut
    changes: list[EntitlementChange]
    held: list[EntitlementOut] = Field(description="Services held after it.")


class ReevaluationList(BaseModel):
    customer_id: str
    reevaluations: list[ReevaluationRecord] = Field(description="Newest first.")
    withheld: list[Withheld] = Field(default_factory=list, description=(
        "Field categories removed for your role (a removed segment, phase or need is "
        "null)."))


class SegmentOut(BaseModel):
    segment: str
    label: str
    customers: int
    share: float
    means: dict[str, float | None]


class SegmentSummary(BaseModel):
    as_of: dt.date
    segments: list[SegmentOut]


class TermOut(BaseModel):
    name: str
    type: str
    unit: str
    kind: str = Field(description="aggregate, column or expression.")
    definition: str
    description: str
    labels: dict[str, str]


class Dictionary(BaseModel):
    rulebook_version: str
    terms: list[TermOut]


class RunRequest(BaseModel):
    as_of: dt.date | None = Field(None, description="Default: the newest transaction's date.")


class RunStatus(BaseModel):
    run_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    stage: str
    progress: float = Field(description="0 to 1.")
    as_of: dt.date | None
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class Health(BaseModel):
    status: str
