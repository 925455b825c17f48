"""Single customers in the warehouse: whether one exists, their personal data.

The faces ask these questions; the SQL is here, as query trees with the customer id
a bound parameter and the column names the canonical model's, quoted by sqlglot
(``engines/query.py``)."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from clientlens.engines.query import col, param, parse
from clientlens.platform.field_policy import PERSONAL_COLUMNS


def customer_exists(engine: Any, customer_id: str) -> bool:
    """Whether the customers table has ``customer_id``."""
    query = parse("select count(*) from customers where customer_id = $customer_id")
    return bool(engine.fetch_all(query, {"customer_id": customer_id})[0][0])


def personal_data(engine: Any, customer_id: str) -> dict[str, Any] | None:
    """The customer's personal columns (``PERSONAL_COLUMNS``), or None when unknown."""
    query = (exp.select(*(col(c) for c in PERSONAL_COLUMNS)).from_("customers")
             .where(exp.EQ(this=col("customer_id"), expression=param("customer_id"))))
    rows = engine.fetch_all(query, {"customer_id": customer_id})
    return dict(zip(PERSONAL_COLUMNS, rows[0], strict=True)) if rows else None


def products_held(engine: Any, customer_id: str, as_of: Any) -> list[dict[str, Any]]:
    """The customer's accounts open on ``as_of`` (opened on or before it, not closed by
    then), oldest first: type, subtype, product code, currency, opened, balance."""
    query = parse("""
        select account_id, account_type, subtype, product_code, currency, opened_on,
               coalesce(balance_base, balance) as balance
        from accounts
        where customer_id = $customer_id and opened_on <= $as_of
          and (closed_on is null or closed_on > $as_of)
        order by opened_on, account_id""")
    names = ("account_id", "account_type", "subtype", "product_code", "currency",
             "opened_on", "balance")
    return [dict(zip(names, r, strict=True))
            for r in engine.fetch_all(query, {"customer_id": customer_id, "as_of": as_of})]


def interactions_by_channel(engine: Any, customer_id: str, as_of: Any
                            ) -> list[dict[str, Any]]:
    """The customer's contacts up to ``as_of`` by access channel: how many in all, how
    many in the last 90 days, complaints, and the last one."""
    if engine.table_columns("interactions") is None:
        return []
    query = parse("""
        select channel, count(*),
               count(*) filter (where ts >= cast($as_of as date) - interval 90 day),
               count(*) filter (where kind = 'complaint'), max(ts)
        from interactions
        where customer_id = $customer_id and cast(ts as date) <= $as_of
        group by channel order by 2 desc, 1""")
    names = ("channel", "contacts", "recent", "complaints", "last")
    return [dict(zip(names, r, strict=True))
            for r in engine.fetch_all(query, {"customer_id": customer_id, "as_of": as_of})]


def find_by_name(engine: Any, text: str, limit: int = 20) -> list[tuple[str, str]]:
    """Customers whose full name contains ``text`` (case-insensitive): (id, name), by
    name. Personal data: a face offers it only to roles that may see names."""
    query = parse("""
        select customer_id, full_name from customers
        where lower(full_name) like $pattern escape '\\'
        order by full_name, customer_id limit $n""")
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [(str(a), str(b)) for a, b in engine.fetch_all(
        query, {"pattern": f"%{escaped}%", "n": limit})]
