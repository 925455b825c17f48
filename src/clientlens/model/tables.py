"""The canonical bank data model: the contract users import their exports into.

Everything above this module (glossary aggregations, the importer, the
compiler, docs/data-model.md) reads these declarations; nothing restates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from clientlens.model.contact import (
    ALL_PURPOSES,
    ANY_CHANNEL,
    CONSENT_STATUSES,
    CONTACT_CHANNELS,
    CONTACT_PURPOSES,
)


class ColumnType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"  # exact money, DECIMAL(18, 2)
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOLEAN = "boolean"


MONEY_PRECISION = 18
MONEY_SCALE = 2


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str
    required: bool = False
    allowed: tuple[str, ...] = ()  # closed vocabulary for text columns
    example: str = ""
    range: tuple[int, int] | None = None  # inclusive bounds, integer columns


@dataclass(frozen=True)
class ForeignKey:
    column: str
    table: str
    target: str


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: str
    foreign_keys: tuple[ForeignKey, ...] = ()
    # The column that says when a row became true; a run for an as-of date
    # only sees rows with this on or before that date.
    event_time: str | None = None
    # Derived columns usable in glossary filters, written in the expression
    # language over this table's columns and `as_of`.
    derived: dict[str, tuple[str, ColumnType, str]] = field(default_factory=dict)
    # Where rows come from: "import" (the bank's exports) or "appdb" (recorded one at a
    # time in the application database and copied to the warehouse before each run).
    origin: str = "import"

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


CHANNELS = ("branch", "atm", "internet", "mobile", "call_centre", "ivr", "pos", "system")
ACCOUNT_TYPES = ("card", "deposit", "current", "loan")
# Which subtypes each account type may carry.
ACCOUNT_SUBTYPES: dict[str, tuple[str, ...]] = {
    "card": ("salary_project", "social", "debit", "credit"),
    "deposit": ("term", "savings", "demand"),
    "current": ("current",),
    "loan": ("consumer", "car", "mortgage", "credit_line"),
}
TRANSACTION_KINDS = (
    "salary", "pension", "social_benefit", "transfer_in", "transfer_out", "purchase",
    "cash_withdrawal", "cash_deposit", "interest", "fee", "loan_payment", "other",
    "transfer_other_bank",
)
INTERACTION_KINDS = ("visit", "login", "call", "ivr_session", "enquiry", "complaint", "other")

CUSTOMERS = Table(
    name="customers",
    description="One row per customer known to the bank (retail and business).",
    primary_key="customer_id",
    event_time="registered_on",
    columns=(
        Column("customer_id", ColumnType.TEXT, "Bank's customer identifier.", True,
               example="C0000001"),
        Column("full_name", ColumnType.TEXT, "Full name as in the bank's records (any script).",
               True, example="Иванова Мария Петровна"),
        Column("customer_type", ColumnType.TEXT, "Retail or business customer.", True,
               ("retail", "business"), "retail"),
        Column("registered_on", ColumnType.DATE, "Date the customer first became known.",
               True, example="2019-04-12"),
        Column("birth_date", ColumnType.DATE, "Date of birth.", example="1971-02-03"),
        Column("city", ColumnType.TEXT, "City of residence.", example="Казань"),
        Column("declared_monthly_income", ColumnType.DECIMAL,
               "Monthly income the customer declared, in base currency.", example="85000.00"),
        Column("owns_car", ColumnType.BOOLEAN, "Declared car ownership.", example="true"),
        Column("car_year", ColumnType.INTEGER, "Year the declared car was made.",
               example="2009"),
        Column("owns_home", ColumnType.BOOLEAN, "Declared home ownership.", example="false"),
        Column("document_id", ColumnType.TEXT, "Identity document number (personal data).",
               example="4510 123456"),
        Column("phone", ColumnType.TEXT, "Contact phone (personal data).",
               example="+79161234567"),
    ),
)

ACCOUNTS = Table(
    name="accounts",
    description="Accounts and products held: cards, deposits, current accounts and loans.",
    primary_key="account_id",
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    event_time="opened_on",
    columns=(
        Column("account_id", ColumnType.TEXT, "Bank's account identifier.", True,
               example="A00000001"),
        Column("customer_id", ColumnType.TEXT, "Owner of the account.", True,
               example="C0000001"),
        Column("account_type", ColumnType.TEXT, "Kind of product.", True, ACCOUNT_TYPES,
               "card"),
        Column("subtype", ColumnType.TEXT,
               "Product line within the type (see the table of subtypes).", True,
               tuple(sorted({s for subs in ACCOUNT_SUBTYPES.values() for s in subs})),
               "salary_project"),
        Column("product_code", ColumnType.TEXT, "Bank's product code.", example="DEP-GROW"),
        Column("currency", ColumnType.TEXT, "ISO 4217 currency of the account.", True,
               example="RUB"),
        Column("opened_on", ColumnType.DATE, "Date the account was opened.", True,
               example="2020-01-15"),
        Column("closed_on", ColumnType.DATE, "Date the account was closed; empty while open.",
               example=""),
        Column("balance", ColumnType.DECIMAL,
               "Balance in the account's currency (debt is positive for loans).", True,
               example="125000.50"),
        Column("balance_base", ColumnType.DECIMAL,
               "Balance in the bank's base currency; may be left empty when the account is "
               "in the base currency.", example="125000.50"),
        Column("term_months", ColumnType.INTEGER,
               "Agreed term of a deposit or loan in months; empty for cards, current "
               "accounts and deposits without a term.", example="6", range=(1, 600)),
    ),
    derived={
        "is_open": ("closed_on is null or closed_on > as_of", ColumnType.BOOLEAN,
                    "The account is open on the as-of date."),
        "is_closed": ("closed_on is not null and closed_on <= as_of", ColumnType.BOOLEAN,
                      "The account was closed on or before the as-of date."),
        "age_days": ("days_between(opened_on, as_of)", ColumnType.INTEGER,
                     "Days from opening to the as-of date."),
    },
)

TRANSACTIONS = Table(
    name="transactions",
    description="Money movements on accounts. Positive amounts flow to the customer.",
    primary_key="transaction_id",
    foreign_keys=(
        ForeignKey("account_id", "accounts", "account_id"),
        ForeignKey("customer_id", "customers", "customer_id"),
    ),
    event_time="ts",
    columns=(
        Column("transaction_id", ColumnType.TEXT, "Bank's transaction identifier.", True,
               example="T000000000001"),
        Column("account_id", ColumnType.TEXT, "Account the money moved on.", True,
               example="A00000001"),
        Column("customer_id", ColumnType.TEXT, "Owner of the account.", True,
               example="C0000001"),
        Column("ts", ColumnType.TIMESTAMP, "When the transaction happened.", True,
               example="2026-10-31 14:05:00"),
        Column("amount", ColumnType.DECIMAL,
               "Signed amount in base currency: positive in, negative out.", True,
               example="-1250.00"),
        Column("kind", ColumnType.TEXT, "What the transaction was.", True, TRANSACTION_KINDS,
               "purchase"),
        Column("channel", ColumnType.TEXT, "Access channel used.", True, CHANNELS, "pos"),
    ),
    derived={
        "days_ago": ("days_between(ts, as_of)", ColumnType.INTEGER,
                     "Whole days between the transaction and the as-of date."),
        "is_own": ("kind in ('purchase', 'transfer_out', 'cash_withdrawal', 'cash_deposit', "
                   "'loan_payment', 'transfer_other_bank')", ColumnType.BOOLEAN,
                   "Made by the customer (not a salary, pension, interest or fee booked to "
                   "them): the activity the probability-alive model counts."),
    },
)

INTERACTIONS = Table(
    name="interactions",
    description="Contacts through the access channels: branch, ATM, internet, call centre, IVR.",
    primary_key="interaction_id",
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    event_time="ts",
    columns=(
        Column("interaction_id", ColumnType.TEXT, "Identifier of the contact.", True,
               example="I0000000001"),
        Column("customer_id", ColumnType.TEXT, "Customer who made contact.", True,
               example="C0000001"),
        Column("ts", ColumnType.TIMESTAMP, "When the contact happened.", True,
               example="2026-10-30 09:12:00"),
        Column("channel", ColumnType.TEXT, "Access channel.", True,
               ("branch", "atm", "internet", "mobile", "call_centre", "ivr"), "internet"),
        Column("kind", ColumnType.TEXT, "What the contact was.", True, INTERACTION_KINDS,
               "login"),
    ),
    derived={
        "days_ago": ("days_between(ts, as_of)", ColumnType.INTEGER,
                     "Whole days between the contact and the as-of date."),
    },
)

SECURITY_KINDS = ("security_flag", "fraud_alert", "overdue")
SEVERITIES = ("low", "medium", "high")

SECURITY_EVENTS = Table(
    name="security_events",
    description="Security-service flags, fraud alerts and overdue episodes on a customer.",
    primary_key="event_id",
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    event_time="raised_on",
    columns=(
        Column("event_id", ColumnType.TEXT, "Identifier of the flag, alert or episode.", True,
               example="S000000001"),
        Column("customer_id", ColumnType.TEXT, "Customer concerned.", True,
               example="C0000001"),
        Column("raised_on", ColumnType.DATE, "Date it was raised (or the overdue began).",
               True, example="2026-03-02"),
        Column("kind", ColumnType.TEXT, "What it is.", True, SECURITY_KINDS, "overdue"),
        Column("severity", ColumnType.TEXT, "How serious the security service rates it.",
               True, SEVERITIES, "medium"),
        Column("days_overdue", ColumnType.INTEGER,
               "For an overdue episode, the most days a payment was late.", example="35",
               range=(0, 36500)),
        Column("resolved_on", ColumnType.DATE, "Date it was resolved; empty while open.",
               example=""),
    ),
    derived={
        "is_unresolved": ("resolved_on is null or resolved_on > as_of", ColumnType.BOOLEAN,
                          "Not resolved on the as-of date."),
        "days_ago": ("days_between(raised_on, as_of)", ColumnType.INTEGER,
                     "Days from raising to the as-of date."),
    },
)

SURVEYS = Table(
    name="surveys",
    description="Answers to customer surveys: net promoter score and satisfaction.",
    primary_key="survey_id",
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    event_time="answered_on",
    columns=(
        Column("survey_id", ColumnType.TEXT, "Identifier of the answer.", True,
               example="Q000000001"),
        Column("customer_id", ColumnType.TEXT, "Customer who answered.", True,
               example="C0000001"),
        Column("answered_on", ColumnType.DATE, "Date of the answer.", True,
               example="2026-09-14"),
        Column("nps", ColumnType.INTEGER,
               "How likely to recommend the bank, 0 (not at all) to 10 (extremely).", True,
               example="9", range=(0, 10)),
        Column("satisfaction", ColumnType.INTEGER,
               "Overall satisfaction, 1 (very unhappy) to 5 (very happy).", example="4",
               range=(1, 5)),
        Column("channel", ColumnType.TEXT, "Where the survey was answered.", True,
               ("branch", "internet", "mobile", "call_centre", "ivr"), "mobile"),
    ),
    derived={
        "days_ago": ("days_between(answered_on, as_of)", ColumnType.INTEGER,
                     "Days from the answer to the as-of date."),
    },
)

REFERRALS = Table(
    name="referrals",
    description="Recommendations made by customers, as recorded in the bank's own systems: "
                "who was invited and whether the new customer qualified. Referrals of "
                "clientlens's member-get-member programme are in `programme_referrals`.",
    primary_key="referral_id",
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    event_time="invited_on",
    columns=(
        Column("referral_id", ColumnType.TEXT, "Identifier of the invitation.", True,
               example="R000000001"),
        Column("customer_id", ColumnType.TEXT, "Customer who recommended the bank.", True,
               example="C0000001"),
        Column("invited_on", ColumnType.DATE, "Date of the invitation.", True,
               example="2026-05-20"),
        Column("referred_customer_id", ColumnType.TEXT,
               "The new customer, once registered; empty before.", example="C0000123"),
        Column("qualified_on", ColumnType.DATE,
               "Date the new customer met the programme's qualifying event; empty before.",
               example="2026-06-30"),
    ),
    derived={
        "is_qualified": ("qualified_on is not null and qualified_on <= as_of",
                         ColumnType.BOOLEAN, "The referral qualified by the as-of date."),
        "days_ago": ("days_between(invited_on, as_of)", ColumnType.INTEGER,
                     "Days from the invitation to the as-of date."),
    },
)

# The member-get-member programme's referrals: the same columns and derived columns as
# the bank's own ``referrals``, in a table of their own because they come from the
# application database (``referral_facts``) and are replaced whole before each run,
# while the bank's file is upserted by the importer (and may use the same ids).
PROGRAMME_REFERRALS = Table(
    name="programme_referrals",
    description="Referrals of clientlens's own member-get-member programme (`clientlens "
                "referrals`): one row per accepted registration (`R` + its number) and one "
                "per invitation code nobody registered with yet (the code). Not the bank's "
                "`referrals` file: referrals recorded there as well would be counted twice.",
    primary_key="referral_id",
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    event_time=REFERRALS.event_time,
    origin="appdb",
    columns=(
        Column("referral_id", ColumnType.TEXT,
               "`R` + the registration number, or the unused invitation code.", True,
               example="R000000017"),
        Column("customer_id", ColumnType.TEXT, "The referrer.", True, example="C0000001"),
        Column("invited_on", ColumnType.DATE, "Date the invitation code was issued.", True,
               example="2026-11-01"),
        Column("referred_customer_id", ColumnType.TEXT,
               "The new customer who registered with the code; empty before.",
               example="C0100001"),
        Column("qualified_on", ColumnType.DATE,
               "Date of the fact that met the programme's qualifying event; empty before.",
               example="2026-11-10"),
    ),
    derived=dict(REFERRALS.derived),
)

CASE_STATUSES = ("open", "resolved", "failed")

RECOVERY_CASES = Table(
    name="recovery_cases",
    description="Service-recovery cases opened on complaints (apology, fixing the error, "
                "compensation), as recorded with `clientlens cases`.",
    primary_key="case_id",
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    event_time="opened_on",
    origin="appdb",
    columns=(
        Column("case_id", ColumnType.TEXT, "Identifier of the case.", True, example="17"),
        Column("customer_id", ColumnType.TEXT, "Customer who complained.", True,
               example="C0000001"),
        Column("opened_on", ColumnType.DATE, "Date the case was opened.", True,
               example="2026-10-02"),
        Column("due_on", ColumnType.DATE, "Date the service-level agreement ends.", True,
               example="2026-10-12"),
        Column("closed_on", ColumnType.DATE, "Date the case was closed; empty while open.",
               example=""),
        Column("status", ColumnType.TEXT, "Outcome once closed; open before.", True,
               CASE_STATUSES, "resolved"),
    ),
    derived={
        "is_open_case": ("closed_on is null or closed_on > as_of", ColumnType.BOOLEAN,
                         "Not closed on the as-of date."),
        "is_failed": ("status = 'failed' and closed_on <= as_of", ColumnType.BOOLEAN,
                      "Closed as failed by the as-of date."),
        "is_breached": ("(closed_on is null or closed_on > as_of) and due_on < as_of",
                        ColumnType.BOOLEAN, "Open past its service-level date."),
        "closed_days_ago": ("days_between(closed_on, as_of)", ColumnType.INTEGER,
                            "Days from closing to the as-of date; empty while open."),
    },
)

EXIT_KINDS = ("situational", "dissatisfaction", "unknown")

DEPARTURES = Table(
    name="departures",
    description="Why a customer left, recorded on departure with `clientlens departures`: "
                "situational (moved, changed job) or dissatisfaction; and whether they "
                "asked not to be contacted.",
    primary_key="departure_id",
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    event_time="left_on",
    origin="appdb",
    columns=(
        Column("departure_id", ColumnType.TEXT, "Identifier of the record.", True,
               example="4"),
        Column("customer_id", ColumnType.TEXT, "Customer who left.", True,
               example="C0000001"),
        Column("left_on", ColumnType.DATE, "Date the customer left.", True,
               example="2026-06-30"),
        Column("exit_kind", ColumnType.TEXT, "Kind of exit reason.", True, EXIT_KINDS,
               "situational"),
        Column("do_not_contact", ColumnType.BOOLEAN,
               "The customer asked not to be contacted again.", True, example="false"),
    ),
    derived={
        "days_ago": ("days_between(left_on, as_of)", ColumnType.INTEGER,
                     "Days from leaving to the as-of date."),
    },
)

CONSENTS = Table(
    name="consents",
    description="Consents to be contacted, as the bank's systems recorded them: per customer, "
                "purpose and channel, granted or withdrawn from a moment on, with its "
                "evidence (where, by whom). The latest record in effect wins; purpose `all` "
                "with channel `any` withdrawn is the customer's do-not-contact, which "
                "overrides every other record until an `all` granted lifts it. Consents "
                "recorded with `clientlens consent record` live in the application database "
                "and count alike (docs/contact-policy.md).",
    primary_key="consent_id",
    foreign_keys=(ForeignKey("customer_id", "customers", "customer_id"),),
    event_time="effective_from",
    columns=(
        Column("consent_id", ColumnType.TEXT, "Identifier of the consent record.", True,
               example="K000000001"),
        Column("customer_id", ColumnType.TEXT, "Customer who gave or withdrew it.", True,
               example="C0000001"),
        Column("purpose", ColumnType.TEXT, "What contacts it is about.", True,
               (*CONTACT_PURPOSES, ALL_PURPOSES), "marketing"),
        Column("channel", ColumnType.TEXT, "Channel it is about; any means every channel.",
               True, (*CONTACT_CHANNELS, ANY_CHANNEL), "sms"),
        Column("status", ColumnType.TEXT, "Whether the customer agreed or withdrew.", True,
               CONSENT_STATUSES, "withdrawn"),
        Column("effective_from", ColumnType.TIMESTAMP, "When it takes effect.", True,
               example="2026-03-02 11:20:00"),
        Column("source", ColumnType.TEXT,
               "Evidence: where it was given (a branch, the internet bank, a signed form).",
               True, example="branch"),
        Column("recorded_by", ColumnType.TEXT, "Evidence: who took or recorded it.",
               example="ivanova"),
        Column("reference", ColumnType.TEXT,
               "Evidence: the document or call recording it rests on.", example="DOC-8812"),
    ),
)

# Import order respects foreign keys: parents first.
TABLES: dict[str, Table] = {t.name: t for t in (CUSTOMERS, ACCOUNTS, TRANSACTIONS, INTERACTIONS,
                                                SECURITY_EVENTS, SURVEYS, REFERRALS,
                                                PROGRAMME_REFERRALS, RECOVERY_CASES,
                                                DEPARTURES, CONSENTS)}
ENTITY_TABLE = "customers"
ENTITY_KEY = "customer_id"
BASE_CURRENCY_DEFAULT = "RUB"
