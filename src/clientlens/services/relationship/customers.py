"""Whether a customer id a member of staff types is one the bank has, before a case or a
departure is recorded against it.

Cases and departures live in the application database; customers in the warehouse.
A case opened for ``C0000042`` when the bank's ids are ``C00000042`` would never reach
a customer's profile, so an id not among the imported customers is refused (``force``
records it anyway, for a customer the next nightly import will bring). A departure of
a customer who still holds open products is recorded with a warning: staff often
record the leaving before the core system closes the accounts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from clientlens.model.errors import NotFoundError, WorkspaceError


@dataclass(frozen=True)
class CustomerCheck:
    customer_id: str
    open_products: list[str]  # account ids open on the day asked about, at most 10


def check_customer(workspace: str | Path, customer_id: str, *,
                   on: dt.date | None = None) -> CustomerCheck:
    """Raise NotFoundError unless ``customer_id`` is an imported customer; with ``on``,
    also list the accounts the customer holds open that day."""
    from clientlens.services.workspace.folder import Workspace

    customer_id = (customer_id or "").strip()
    try:
        ws = Workspace(workspace)
    except WorkspaceError as e:
        raise NotFoundError(f"cannot check customer '{customer_id}': {e}; or pass --force to "
                            "record it unchecked") from None
    if ws.settings.engine == "duckdb" and not ws.warehouse_path.exists():
        raise NotFoundError(f"customer '{customer_id}': no customers are imported in "
                            f"{ws.root} yet; import them first, or pass --force")
    with ws.engine(read_only=True) as engine:
        if engine.table_columns("customers") is None:
            raise NotFoundError(f"customer '{customer_id}': no customers are imported in "
                                f"{ws.root} yet; import them first, or pass --force")
        found = engine.fetch_all("select customer_id from customers where customer_id = ?",
                                 [customer_id])
        if not found:
            close = engine.fetch_all(
                "select customer_id from customers where upper(customer_id) = upper(?) or "
                "ltrim(substr(customer_id, 2), '0') = ltrim(substr(?, 2), '0') limit 1",
                [customer_id, customer_id])
            hint = f" Did you mean '{close[0][0]}'?" if close else ""
            raise NotFoundError(f"customer '{customer_id}' is not among the imported "
                                f"customers of {ws.root}.{hint} Check the id, or pass --force "
                                "to record it anyway")
        products: list[str] = []
        if on is not None and engine.table_columns("accounts") is not None:
            products = [r[0] for r in engine.fetch_all(
                "select account_id from accounts where customer_id = ? and opened_on <= ? "
                "and (closed_on is null or closed_on > ?) order by account_id limit 10",
                [customer_id, on, on])]
    return CustomerCheck(customer_id, products)
