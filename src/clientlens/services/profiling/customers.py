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
