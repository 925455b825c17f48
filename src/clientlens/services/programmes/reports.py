"""Reports on the member-get-member programme beside the funnel
(``referrals.funnel``): its best advocates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from clientlens.appdb.schema import ReferralRegistration


@dataclass(frozen=True)
class Advocate:
    customer_id: str
    registered: int  # accepted registrations they brought
    qualified: int  # of which met the qualifying event


def top_advocates(db: Any, programme_id: str, limit: int = 10) -> list[Advocate]:
    """The referrers with the most qualified registrations, then the most accepted."""
    accepted = ReferralRegistration.status != "rejected"
    qualified = ReferralRegistration.qualified_on.is_not(None)
    query = (select(ReferralRegistration.referrer_id,
                    func.sum(case((accepted, 1), else_=0)),
                    func.sum(case((qualified, 1), else_=0)))
             .where(ReferralRegistration.programme_id == programme_id,
                    ReferralRegistration.referrer_id.is_not(None))
             .group_by(ReferralRegistration.referrer_id)
             .order_by(func.sum(case((qualified, 1), else_=0)).desc(),
                       func.sum(case((accepted, 1), else_=0)).desc(),
                       ReferralRegistration.referrer_id)
             .limit(limit))
    with db.transaction() as s:
        return [Advocate(str(r), int(a or 0), int(q or 0)) for r, a, q in s.execute(query)
                if (a or 0) > 0]
