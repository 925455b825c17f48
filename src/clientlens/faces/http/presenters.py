"""Domain objects as the API's answers, before and after the field policy.

``profile_dict`` turns an ``Explanation`` (``services/profiling/explain.py``) into
the shape of ``schemas.Profile``; ``police_reevaluation`` applies a role's
``Withholding`` to a re-evaluation's answer. Every answer with customer data goes
through ``platform/field_policy.py``.
"""

import datetime as dt
from typing import Any

from clientlens.faces.http.schemas import Recommendations
from clientlens.platform.field_policy import FIELD_POLICY, Withholding, redact, withheld_list


# -- profiles -----------------------------------------------------------------------------
def conditions(conds: list) -> list[dict[str, Any]]:
    return [{"condition": c.text, "holds": c.holds, "values": dict(c.values),
             "needs": c.need} for c in conds]


def traces(results: list) -> list[dict[str, Any]]:
    return [{"rule": r.rule.id, "matched": r.matched, "conditions": conditions(r.conditions)}
            for r in results]


def profile_dict(x: Any, defs: Any, entitlements: list[dict], personal: dict | None
                 ) -> dict[str, Any]:
    """An Explanation (services/profiling/explain.py) as the API's profile, before the policy."""
    t = x.terms
    labels = {s.id: s.labels.en for s in defs.segments}
    return {
        "customer_id": x.customer_id, "as_of": x.as_of,
        "rulebook_version": x.rulebook_version, "source": x.source, "note": x.note,
        "segment": x.segment, "segment_label": labels.get(x.segment, x.segment),
        "phase": t.get("phase"), "need": t.get("need"),
        "ratings": [{"rating": r.rating.id, "label": r.rating.labels.en, "score": r.score,
                     "grade": r.grade, "reasons": list(r.reasons),
                     "factors": [{"factor": f.factor.name, "value": f.value, "bin": f.bin,
                                  "points": f.points, "deviation": f.deviation}
                                 for f in r.factors]} for r in x.ratings],
        "recommendations": {k: t.get(k) for k in Recommendations.model_fields},
        "services": [{"service": s.id, "kind": s.kind, "qualifies": granted,
                      "conditions": conditions(conds)} for s, granted, conds in x.services],
        "entitlements": entitlements,
        "actions": [{"action": a.id, "label": a.labels.en, "department": a.department,
                     "within_days": a.within_days, "description": a.description}
                    for a in x.actions],
        "personal": personal,
        "terms": {k: v for k, v in t.items() if k != "in_population"},
        "explanation": {"segment_rules": traces(x.rules), "need_rules": traces(x.needs),
                        "phase_rules": traces(x.phases)},
        "withheld": [],
    }


def sees(role: str, category: str) -> bool:
    return any(c.name == category and role in c.roles for c in FIELD_POLICY)


def police_reevaluation(answer: dict[str, Any], w: Withholding) -> dict[str, Any]:
    """A re-evaluation's answer without what ``w`` withholds: its profile as a profile,
    the rest (previous segment, phase and need, whether the segment changed, the
    entitlement changes) as of a state another rulebook may have decided, so without
    first-match values. Everything removed is named in the profile's ``withheld``."""
    profile = answer["profile"]
    rest = {k: v for k, v in answer.items() if k != "profile"}
    p_out, removed = redact(profile, w)
    r_out, removed_rest = redact(rest, w.strict())
    p_out["withheld"] = withheld_list(w, [*removed, *removed_rest],
                                      profile.get("withheld") or ())
    return {**r_out, "profile": p_out}


def no_profile(customer_id: str, as_of: dt.date) -> str:
    return (f"no profile for customer '{customer_id}' in the snapshot of {as_of}: the id "
            "is unknown, or the customer was not in the rulebook's population then")
