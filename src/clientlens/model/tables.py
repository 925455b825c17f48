"""The canonical bank data model: the contract users import their exports into.

Everything above this module (glossary aggregations, the importer, the
compiler, docs/data-model.md) reads these declarations; nothing restates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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

# Import order respects foreign keys: parents first.
TABLES: dict[str, Table] = {t.name: t for t in (CUSTOMERS, ACCOUNTS, TRANSACTIONS, INTERACTIONS)}
ENTITY_TABLE = "customers"
ENTITY_KEY = "customer_id"
BASE_CURRENCY_DEFAULT = "RUB"
