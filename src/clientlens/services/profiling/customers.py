"""Single customers in the warehouse: whether one exists, their personal data.

The faces ask these questions; the SQL is here (bound parameters; the column names
are the canonical model's, quoted by sqlglot)."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from clientlens.platform.field_policy import PERSONAL_COLUMNS


def customer_exists(engine: Any, customer_id: str) -> bool:
    """Whether the customers table has ``customer_id``."""
    return bool(engine.fetch_all("select count(*) from customers where customer_id = ?",
                                 [customer_id])[0][0])


def personal_data(engine: Any, customer_id: str) -> dict[str, Any] | None:
    """The customer's personal columns (``PERSONAL_COLUMNS``), or None when unknown."""
    cols = ", ".join(exp.to_identifier(c, quoted=True).sql(dialect=engine.dialect)
                     for c in PERSONAL_COLUMNS)
    rows = engine.fetch_all(f"select {cols} from customers where customer_id = ?",
                            [customer_id])
    return dict(zip(PERSONAL_COLUMNS, rows[0], strict=True)) if rows else None
