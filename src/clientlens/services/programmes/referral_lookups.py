"""What the referral programme reads from the warehouse, for a face that already holds
an engine (the HTTP service shares one connection; ``jobs`` opens its own):

* ``referrer_profile(row)``: the fields of a stored profile row that eligibility reads;
* ``is_customer(engine)``: whether an id is already a customer (``already_customer``);
* ``identity(engine)``: a customer's document and phone, for the self-referral check
  of a code issued without the referrer's identity;
* ``register_checked(...)``: a registration with both, the one path for every face.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from clientlens.engines.query import parse

PROFILE_FIELDS = ("segment", "phase", "need")


def referrer_profile(row: Mapping[str, Any]) -> dict[str, Any]:
    """Segment, phase, need and every ``*_grade`` of a stored profile row."""
    return {k: v for k, v in row.items() if k in PROFILE_FIELDS or k.endswith("_grade")}


def is_customer(engine: Any) -> Callable[[str], bool]:
    """A check answering from the warehouse's customers table, one id at a time."""

    def check(customer_id: str) -> bool:
        return bool(engine.fetch_all(parse("select count(*) from customers "
                                           "where customer_id = $customer_id"),
                                     {"customer_id": customer_id})[0][0])

    return check


def identity(engine: Any) -> Callable[[str], dict[str, str] | None]:
    """A lookup of a customer's document and phone in the customers table. A phone with
    fewer than 7 digits cannot be compared and is left out (it would otherwise make the
    new customer's registration fail for the referrer's bad data)."""

    def lookup(customer_id: str) -> dict[str, str] | None:
        rows = engine.fetch_all(parse("select document_id, phone from customers "
                                      "where customer_id = $customer_id"),
                                {"customer_id": customer_id})
        if not rows:
            return None
        document, phone = rows[0]
        found = {}
        if document:
            found["document"] = str(document)
        if phone and len(re.sub(r"\D", "", str(phone))) >= 7:
            found["phone"] = str(phone)
        return found

    return lookup


def register_checked(db: Any, engine: Any, code: str, new_customer_id: str,
                     new_identity: Mapping[str, Any] | None, registered_on: Any,
                     **options: Any) -> Any:
    """Register a new customer with every check that reads the warehouse: not already a
    customer, and not the referrer (the referrer's document and phone come from the
    warehouse when the code was issued without them). The one path for every face:
    the CLI and the HTTP service register alike (a friend with the referrer's own
    phone is ``self_referral`` in both). ``options`` go to ``referrals.register``."""
    from clientlens.services.programmes import referrals

    return referrals.register(db, code, new_customer_id, new_identity, registered_on,
                              existing_customer_ids=is_customer(engine),
                              referrer_identity=identity(engine), **options)
