"""Idempotent writes: the same key with the same request is done once; the answer
is replayed; the same key with another request is refused (``idempotency_conflict``).

Two ways to keep a key, both in the application database:

* **In the key table** (``idempotency_keys``, for referrals and points): ``once``
  claims the key in the write's own transaction and keeps the answer with it, so the
  two commit together or not at all; keys are global (the CLI's ``--key`` and HTTP
  share them) and carry a ``scope``, the kind of request they were used for.
* **On the row the write made** (``runs``, ``reevaluations``: columns
  ``idempotency_key`` and ``request_hash``, unique per user): ``find_keyed`` finds
  the row a user made with a key and ``check_replay`` refuses it for another
  request. The write's own unique constraint on (user, key) settles a race: the
  loser finds the winner's row and replays it.

Either way the request is compared by ``request_hash``: SHA-256 of its canonical JSON
(sorted keys; dates and decimals as their text), the same digest every version of
clientlens stored, so keys kept before this module keep replaying.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clientlens.appdb.schema import IdempotencyKey

IDEMPOTENCY_CONFLICT = "idempotency_conflict"

T = TypeVar("T")
Row = TypeVar("Row")


def request_hash(request: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of ``request`` as canonical JSON."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()
                          ).hexdigest()


# -- keys kept on the rows they made --------------------------------------------------------
def find_keyed(session: Any, model: type[Row], requested_by: str, key: str) -> Row | None:
    """The row of ``model`` that ``requested_by`` made with ``key``, if any. ``model``
    has the columns ``requested_by``, ``idempotency_key`` and ``request_hash``."""
    return session.scalar(select(model).where(
        model.requested_by == requested_by,  # type: ignore[attr-defined]
        model.idempotency_key == key))  # type: ignore[attr-defined]


def check_replay(row: Row, digest: str, conflict: Callable[[Row], Exception]) -> Row:
    """``row`` when it was made by the same request (``digest``), else raise
    ``conflict(row)``: the key was used for another request."""
    if row.request_hash != digest:  # type: ignore[attr-defined]
        raise conflict(row)
    return row


# -- keys kept in the key table ---------------------------------------------------------------
def once(db: Any, scope: str, key: str | None, request: Mapping[str, Any],
         work: Callable[[Any], T], replay: Callable[[dict[str, Any]], T],
         conflict: Callable[[str], Exception]) -> T:
    """``work(session)`` in one transaction; with an idempotency ``key``, once.

    The key is claimed in the work's own transaction and keeps the answer (the work's
    dataclass result, but its ``replayed`` field, as JSON), so the two commit together
    or not at all: a request that fails burns no key. A parallel request with the same
    key waits on the claim, then replays the stored answer (``replay(answer)``); the
    same key with another request, or for another kind of request (``scope``), raises
    ``conflict(message)``. When a unique constraint refuses the work (a parallel
    request did it first) it is tried once more.
    """
    digest = request_hash(request)
    for attempt in (1, 2):
        try:
            with db.transaction() as s:
                claim = None
                if key is not None:
                    known = s.get(IdempotencyKey, key)
                    if known is not None:
                        if known.scope != scope or known.request_hash != digest:
                            raise conflict(f"idempotency key '{known.key}' was already used "
                                           "for another request")
                        return replay(json.loads(known.response))
                    claim = IdempotencyKey(key=key, scope=scope, request_hash=digest,
                                           response="{}")
                    s.add(claim)
                    s.flush()  # a parallel request with this key waits here
                result = work(s)
                if claim is not None:
                    answer = {k: v for k, v in asdict(result).items()  # type: ignore[call-overload]
                              if k != "replayed"}
                    claim.response = json.dumps(answer, sort_keys=True, default=str)
                    s.flush()
                return result
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def kept_answers(session: Any, scope: str, keys: set[str]) -> dict[str, dict[str, Any]]:
    """The answers kept for ``keys`` used for requests of ``scope``."""
    if not keys:
        return {}
    return {k.key: json.loads(k.response) for k in session.scalars(select(IdempotencyKey).where(
        IdempotencyKey.key.in_(keys), IdempotencyKey.scope == scope))}
