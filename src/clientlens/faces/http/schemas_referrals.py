"""Request and response models of the member-get-member referral programme.

Bodies are strict (``extra="forbid"``): an unknown field is a 422, not ignored."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from clientlens.faces.http.schemas import MAX_DATE, MIN_DATE

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
PROGRAMME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
CODE_PATTERN = r"^[A-Za-z0-9]{1,32}$"
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"  # no control characters
KEY_PATTERN = r"^[\x21-\x7e]{1,128}$"  # visible ASCII


def _utf8(value: str | None) -> str | None:
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


Day = Annotated[dt.date, Field(ge=MIN_DATE, le=MAX_DATE)]
Text = Annotated[str, Field(pattern=TEXT_PATTERN), AfterValidator(_utf8)]
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("1e15"), max_digits=18, decimal_places=2)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- programmes and the funnel -------------------------------------------------------------
class ProgrammeOut(BaseModel):
    programme_id: str
    version: int = Field(description="The newest published version.")
    name: str
    content_hash: str
    published_at: dt.datetime
    definition: dict[str, Any] = Field(description="Who may refer, rewards, qualifying "
                                       "event, cap, expiry and fraud limits.")


class ProgrammeList(BaseModel):
    programmes: list[ProgrammeOut]


class FunnelOut(BaseModel):
    programme_id: str
    invited: int = Field(description="Codes issued.")
    registered: int = Field(description="Accepted registrations, whatever happened later.")
    qualified: int = Field(description="Met the qualifying event (rewarded or capped).")
    rewarded: int
    capped: int = Field(description="Qualified over the referrer's cap: nobody rewarded.")
    rejected: dict[str, int] = Field(description="Refused registrations by reason code.")
    points_paid: int
    point_value: float = Field(description="One point in money, as asked.")
    cost: float = Field(description="points_paid * point_value.")
    points_per_acquired: float | None = Field(description="Per rewarded registration.")
    cost_per_acquired: float | None = Field(description="Cost per acquired customer.")


# -- codes, registrations, facts -------------------------------------------------------------
class CodeRequest(_Body):
    programme_id: str = Field("friends", pattern=PROGRAMME_PATTERN)
    on: Day | None = Field(None, description="The day it is issued; default: today.")


class InvitationOut(BaseModel):
    code: str
    programme_id: str
    programme_version: int
    referrer_id: str
    issued_on: dt.date
    expires_on: dt.date
    replayed: bool = Field(description="An earlier answer, replayed for the Idempotency-Key.")


class Identity(_Body):
    """Compared (as hashes of normalized values) with the referrer's for self-referral;
    never stored in clear."""

    document: Annotated[Text | None, Field(max_length=64)] = None
    phone: Annotated[Text | None, Field(max_length=32)] = None
    address: Annotated[Text | None, Field(max_length=256)] = None


class RegistrationRequest(_Body):
    code: str = Field(pattern=CODE_PATTERN, description="The invitation code.")
    new_customer_id: str = Field(pattern=ID_PATTERN)
    identity: Identity = Field(default_factory=Identity)
    registered_on: Day | None = Field(None, description="Default: today.")


RegistrationStatus = Literal["registered", "qualified", "rewarded", "rejected"]


class RegistrationOut(BaseModel):
    registration_id: int
    programme_id: str | None = Field(description="None when the code is unknown.")
    code: str
    referrer_id: str | None
    new_customer_id: str
    registered_on: dt.date
    status: RegistrationStatus
    reason_code: str | None = Field(description="Why it was rejected: unknown_code, "
                                    "expired_code, already_customer, self_referral, "
                                    "circular, already_registered, velocity.")
    message: str | None = Field(description="The reason code in words.")
    qualified_on: dt.date | None
    replayed: bool


class ProductOpenedFact(_Body):
    kind: Literal["product_opened"]
    on: Day
    product_type: str | None = Field(None, pattern=ID_PATTERN, description="e.g. card.")
    product_code: str | None = Field(None, pattern=ID_PATTERN)


class MinBalanceFact(_Body):
    kind: Literal["min_balance"]
    on: Day
    amount: Amount
    held_days: int = Field(ge=0, le=36500)


class SalaryReceivedFact(_Body):
    kind: Literal["salary_received"]
    on: Day
    amount: Amount | None = None


Fact = Annotated[ProductOpenedFact | MinBalanceFact | SalaryReceivedFact,
                 Field(discriminator="kind")]


class QualificationRequest(_Body):
    new_customer_id: str = Field(pattern=ID_PATTERN)
    programme_id: str | None = Field(None, pattern=PROGRAMME_PATTERN,
                                     description="Needed only when the customer is "
                                                 "registered in more than one programme.")
    fact: Fact


class RewardOut(BaseModel):
    role: Literal["referrer", "new_customer"]
    customer_id: str
    points: int
    transaction_id: int


class QualificationOut(BaseModel):
    registration_id: int
    status: RegistrationStatus = Field(description="The registration's status afterwards.")
    accepted: bool = Field(description="The fact counted (now or an earlier one).")
    reason_code: str | None = Field(description="Why it did not count "
                                    "(fact_before_registration, fact_after_expiry, "
                                    "wrong_event, event_not_met), or capped.")
    message: str | None
    newly_rewarded: bool = Field(description="This request posted the rewards.")
    rewards: list[RewardOut] = Field(description="The registration's rewards (granted "
                                     "once), whichever request posted them.")
    replayed: bool


# -- points ---------------------------------------------------------------------------------
class PointsEntryOut(BaseModel):
    entry_id: int
    transaction_id: int
    at: dt.datetime
    points: int = Field(description="Earned (> 0) or spent (< 0).")
    kind: Literal["reward", "redemption"]
    event: str
    registration_id: int | None
    reason: str | None


class PointsOut(BaseModel):
    customer_id: str
    balance: int
    entries: list[PointsEntryOut] = Field(description="The newest first.")


class RedemptionRequest(_Body):
    points: int = Field(ge=1, le=1_000_000_000)
    reason: Annotated[Text, Field(min_length=1, max_length=256,
                                  description="What the points paid for, e.g. an order.")]


class RedemptionOut(BaseModel):
    transaction_id: int
    customer_id: str
    points: int
    balance_after: int
    reason: str | None
    replayed: bool
