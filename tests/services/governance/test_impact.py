"""The what-if impact of a draft equals what a real run of the draft stores.

On random banks (tests/oracle/banks.py: NULLs, thresholds and windows at their
boundaries, customers outside the population), the current definitions run first;
then the impact of a draft is computed, then the draft really runs on the same date.
The migration matrix (customers and balances), every decision column's moves and the
entitlements granted and revoked must be what the two stored snapshots say, customer
by customer. Drafts that change only a parameter of a rule or the catalogue reuse the
stored terms; a draft changing a term's window recomputes them.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from clientlens.compiler.decisions import decision_columns
from clientlens.definitions.rulebook import Definitions, load_definitions
from clientlens.engines.duckdb_engine import DuckDBEngine
from clientlens.services.governance.diff import semantic_diff
from clientlens.services.governance.impact import GONE, QUIET, impact
from clientlens.services.profiling.segmentation import run_segmentation
from clientlens.services.workspace.folder import DEFAULTS
from tests.oracle.banks import AS_OF, DEFS, banks, load


@dataclass(frozen=True)
class Variant:
    name: str
    defs: Definitions
    reuses_terms: bool


def _variant(name: str, file: str, pattern: str, repl: str, reuses: bool) -> Variant:
    with tempfile.TemporaryDirectory() as tmp:
        for src in DEFAULTS.rglob("*.yaml"):
            target = Path(tmp) / src.relative_to(DEFAULTS)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
        path = Path(tmp) / file
        text = path.read_text(encoding="utf-8")
        changed = re.sub(pattern, repl, text, count=1)
        assert changed != text, name
        path.write_text(changed, encoding="utf-8")
        return Variant(name, load_definitions(tmp), reuses)


VARIANTS = [
    # a rule's threshold: the stored terms are reused
    _variant("status 750,000", "rulebook.yaml", r"(status_min_balance:\n    value: )\d+",
             r"\g<1>750000", True),
    _variant("status a kopeck up", "rulebook.yaml", r"(status_min_balance:\n    value: )\d+",
             r"\g<1>1500000.01", True),
    # the catalogue's eligibility
    _variant("deposit_keep from 50,000", "catalogue.yaml",
             r"eligible: balance_total >= 100000", "eligible: balance_total >= 50000", True),
    # a term's window: the terms reading it are recomputed
    _variant("activity window 60 days", "glossary.yaml",
             r"(activity_window_days:\n    value: )\d+", r"\g<1>60", False),
]


def _snapshot(engine: DuckDBEngine) -> dict[str, dict]:
    rows = engine.fetch_arrow("select * from profiles where as_of = ?", [AS_OF]).to_pylist()
    return {r["customer_id"]: r for r in rows}


def test_the_diff_says_what_each_variant_changes() -> None:
    said = {v.name: [c.text for c in semantic_diff(DEFS, v.defs)] for v in VARIANTS}
    assert said["status 750,000"] == ["parameter status_min_balance: 1,500,000 -> 750,000 RUB"]
    assert said["deposit_keep from 50,000"] == [
        "product deposit_keep: eligible: balance_total >= 100,000 -> >= 50,000"]
    assert said["activity window 60 days"] == ["parameter activity_window_days: 90 -> 60 days"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bank=banks(), variant=st.sampled_from(VARIANTS))
def test_impact_equals_a_real_run_of_the_draft(bank: dict, variant: Variant) -> None:
    draft = variant.defs
    with DuckDBEngine(":memory:") as engine:
        load(engine, bank)
        assume(engine.fetch_all("select count(*) from customers")[0][0] > 0)
        run_segmentation(engine, DEFS, AS_OF)
        before = _snapshot(engine)
        assume(before)
        x = impact(engine, DEFS, draft, AS_OF, sample=2)
        run_segmentation(engine, draft, AS_OF)  # the real run of the draft
        after = _snapshot(engine)

    assert x.reused_terms is variant.reuses_terms, x.recomputed
    everyone = set(before) | set(after)
    assert x.customers == len(everyone)

    def seg(rows: dict, cid: str) -> str:
        return rows[cid]["segment"] if cid in rows else GONE

    want = Counter((seg(before, c), seg(after, c)) for c in everyone)
    got = Counter({(x.segments[i], x.segments[j]): n for i, row in enumerate(x.counts)
                   for j, n in enumerate(row) if n})
    assert got == want
    money: Counter = Counter()
    for c in everyone:
        money[(seg(before, c), seg(after, c))] += (before.get(c, {}).get("balance_total")
                                                   or Decimal(0))
    assert x.balances is not None
    for (a, b), total in money.items():
        i, j = x.segments.index(a), x.segments.index(b)
        assert abs(Decimal(str(x.balances[i][j])) - total) < Decimal("0.05"), (a, b)
    assert x.moved == sum(n for (a, b), n in want.items() if a != b)

    columns = [c for c in dict.fromkeys([*decision_columns(DEFS), *decision_columns(draft)])
               if c not in QUIET]
    for col in columns:
        a = {c: before.get(c, {}).get(col) for c in everyone}
        b = {c: after.get(c, {}).get(col) for c in everyone}
        if col.startswith("svc_"):
            granted = sum(1 for c in everyone if not a[c] and b[c])
            revoked = sum(1 for c in everyone if a[c] and not b[c])
            found = {s: (g, r) for s, g, r in x.entitlements}
            assert found.get(col, (0, 0)) == (granted, revoked), col
        else:
            moves = Counter((a[c], b[c]) for c in everyone if a[c] != b[c])
            assert Counter({(m[0], m[1]): m[2] for m in x.moves.get(col, [])}) == moves, col
    for m in x.sample:
        assert (seg(before, m.customer_id), seg(after, m.customer_id)) == (m.before, m.after)
        assert m.why_after.startswith(m.after) or "population" in m.why_after
