"""Roles and permissions: who may do what, as data.

Every API token (``platform/tokens.py``) holds one role. A permission names the roles
that hold it; a face checks a permission, never a role by name, so changing who may do
what is a change of ``ROLE_PERMISSIONS`` alone. Which *fields* of customer data a role
sees is the field policy's business (``platform/field_policy.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES: tuple[str, ...] = ("viewer", "analyst", "marketing", "security_officer", "admin")

#: What each role may do. Reading a profile is open to every role; which fields of it a
#: role sees is decided by the field policy.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "profile:read": frozenset(ROLES),
    "segments:read": frozenset(ROLES),
    "dictionary:read": frozenset(ROLES),
    "runs:write": frozenset({"analyst", "admin"}),
    "runs:read": frozenset({"analyst", "admin"}),
    "customer:reevaluate": frozenset({"analyst", "admin"}),
    # the referral programme (faces/http/routers/referrals.py)
    "referrals:read": frozenset({"analyst", "marketing", "admin"}),
    "referrals:write": frozenset({"marketing", "admin"}),
    "points:write": frozenset({"marketing", "admin"}),
    # the console's work lists (leads, actions, win-back, survey-due) and their exports
    "lists:read": frozenset({"analyst", "marketing", "admin"}),
    # rule governance (services/governance, docs/governance.md): analysts propose, a
    # different user holding definitions:approve decides (four eyes). The security
    # officer stands for the bank's second line (risk and compliance) until a role of
    # its own exists.
    "definitions:read": frozenset({"analyst", "security_officer", "admin"}),
    "definitions:submit": frozenset({"analyst", "admin"}),
    "definitions:approve": frozenset({"security_officer", "admin"}),
}


@dataclass(frozen=True)
class TokenHolder:
    """Who sent a request: the token's user and role (never the token)."""

    user: str
    role: str


def may(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (an unknown permission is held by nobody)."""
    return role in ROLE_PERMISSIONS.get(permission, frozenset())


def holders_of(permission: str) -> frozenset[str]:
    return ROLE_PERMISSIONS[permission]
