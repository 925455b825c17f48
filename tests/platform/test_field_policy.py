"""The field policy as properties over the dependency graph and every role.

Non-interference, in-process: for random definitions (the defaults plus generated
terms, a rating, rules, a service and a product reading public, personal and security
terms anywhere in their lists), a real demo customer and any role, change every base
term the role may not see (personal columns, aggregates over security_events) to
another customer's value or to empty, recompute the customer, and the profile the
role gets, with or without the explanation, is the same byte for byte. If anything
the role sees (a factor's bin, a reason, a condition, a "needs" text, a service, a
next-best product, a segment) moved with a withheld term, the two answers differ.
The through-the-app text search is in test_field_policy_api.py.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientlens.compiler.pyplan import CompiledRulebook
from clientlens.definitions.rulebook import load_definitions
from clientlens.platform.field_policy import (
    FIELD_POLICY,
    Withholding,
    apply_policy,
    dependency_graph,
    redact,
    redact_rows,
    visible_columns,
    withheld_list,
    withholding,
)
from clientlens.services.profiling.explain import explain_customer, stored_summary
from clientlens.services.workspace import jobs
from clientlens.services.workspace.folder import DEFAULTS, Workspace
from tests.support.policy_defs import ROLES, Extras, extras, reference_hidden_terms, root_terms


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> tuple[dt.date, list[dict]]:
    root = tmp_path_factory.mktemp("policy") / "bank"
    jobs.demo(root, customers=400, seed=5)
    with Workspace(root).engine(read_only=True) as engine:
        rows = engine.fetch_arrow("select * from profiles where as_of = "
                                  "(select max(as_of) from profiles) order by customer_id"
                                  ).to_pylist()
    return rows[0]["as_of"], rows


def _answers(defs: Any, compiled: CompiledRulebook, base: dict, as_of: dt.date,
             w: Withholding) -> str:
    from clientlens.faces.http.presenters import profile_dict

    values = compiled.evaluate(base, as_of)
    assert values["in_population"]
    row = {**values, "rulebook_version": defs.version}
    cid = base["customer_id"]
    held = [{"service": s.id, "kind": s.kind, "granted_on": as_of, "last_qualified_on": as_of,
             "kept_until": None, "qualified": True}
            for s in defs.services if values.get(s.column) is True]
    out = []
    for x in (explain_customer(None, defs, cid, as_of, compiled, stored_row=row),  # type: ignore[arg-type]
              stored_summary(defs, compiled, cid, as_of, row)):
        raw = profile_dict(x, defs, held, None)
        profile, _ = apply_policy(raw, w)
        # the profile's fast path (it does not look inside what it keeps) answers what
        # the general walk, which looks at every condition and factor, answers
        general, removed = redact(raw, w)
        general["withheld"] = withheld_list(w, removed)
        assert json.dumps(profile, sort_keys=True, default=str) == \
            json.dumps(general, sort_keys=True, default=str)
        out.append(profile)
    return json.dumps(out, sort_keys=True, default=str)


def _base(defs: Any, row: dict) -> dict:
    base = {n: row.get(n) for n, t in defs.terms.items() if t.expression is None}
    base["customer_id"] = row["customer_id"]
    return base


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(x=extras(), role=st.sampled_from(ROLES), data=st.data())
def test_nothing_a_role_sees_moves_with_what_it_may_not_see(
        bank: tuple[dt.date, list[dict]], x: Extras, role: str, data: Any) -> None:
    as_of, rows = bank
    with tempfile.TemporaryDirectory() as tmp:
        defs = load_definitions(x.write(Path(tmp) / "definitions"))
    compiled = CompiledRulebook(defs)
    w = withholding(defs, role)
    roots = root_terms(defs, role)
    draw = data.draw
    for _ in range(3):
        row = rows[draw(st.integers(0, len(rows) - 1))]
        base = _base(defs, row)
        other = dict(base)
        for name in roots:  # another customer's value, or empty
            other[name] = rows[draw(st.integers(-1, 49))].get(name) if draw(st.booleans()) \
                else None
        a, b = _answers(defs, compiled, base, as_of, w), _answers(defs, compiled, other, as_of, w)
        assert a == b, (role, x, _diff(json.loads(a), json.loads(b)))


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in _diff(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"[:300]]


def test_the_property_catches_the_old_one_step_policy(bank: tuple[dt.date, list[dict]]
                                                      ) -> None:
    """The oracle has teeth: the policy this replaced (roots, the security rating and
    terms one expression step away) lets the viewer see the solvency and prospect
    factors over declared income and the overdue days; the comparison finds it."""
    as_of, rows = bank
    defs = load_definitions(DEFAULTS)
    compiled = CompiledRulebook(defs)
    roots: set[str] = set()
    for cat in FIELD_POLICY:
        roots |= cat.roots(defs)
    one_step = roots | {t.name for t in defs.terms.values()
                        if t.expression is not None and t.expression.names & roots}
    old = Withholding("viewer", frozenset(one_step))
    differ = 0
    for row in rows[:40]:
        base = _base(defs, row)
        for income in (None, 10_000, 500_000):
            other = {**base, "declared_income": income}
            differ += _answers(defs, compiled, base, as_of, old) != \
                _answers(defs, compiled, other, as_of, old)
    assert differ > 0
    # and the new policy, on the same inputs, lets nothing through
    new = withholding(defs, "viewer")
    for row in rows[:40]:
        base = _base(defs, row)
        for income in (None, 10_000, 500_000):
            assert _answers(defs, compiled, base, as_of, new) == \
                _answers(defs, compiled, {**base, "declared_income": income}, as_of, new)


@settings(max_examples=25, deadline=None, database=None)
@given(x=extras(), role=st.sampled_from(ROLES))
def test_every_term_derived_from_a_withheld_one_is_withheld(x: Extras, role: str) -> None:
    """The graph's closure contains the test's own, simpler one (terms only), and a
    generated rating or service reading any of them is withheld as well."""
    with tempfile.TemporaryDirectory() as tmp:
        defs = load_definitions(x.write(Path(tmp) / "definitions"))
    w = withholding(defs, role)
    reference = reference_hidden_terms(defs, role)
    assert reference <= w.hidden
    for item, reads in x.reads.items():
        if item == "zq_rating" and reads & reference:
            assert {"zq_rating_score", "zq_rating_grade", "zq_rating_reason_1"} <= w.hidden
        if item == "zq_service" and (reads & reference or reads & w.hidden):
            assert "svc_zq_service" in w.hidden
    # admin sees everything; nobody else sees a root of a category it lacks
    assert withholding(defs, "admin").hidden == frozenset()


def test_first_match_values_are_shown_only_when_decided_by_visible_rules() -> None:
    """A segment rule over declared income in third place: the first two rules'
    segments are shown to the viewer, the rest are not; the need, reading the segment,
    is then derived from it whatever its value."""
    x = Extras(segment=(2, {"id": "zq_segment", "labels": {"en": "a", "ru": "б", "bg": "в"},
                            "description": "rich", "when": "declared_income >= 120000"}),
               need=(0, {"id": "zq_need", "labels": {"en": "a", "ru": "б", "bg": "в"},
                         "description": "n", "when": "segment = 'status'"}))
    with tempfile.TemporaryDirectory() as tmp:
        defs = load_definitions(x.write(Path(tmp) / "definitions"))
    w = withholding(defs, "viewer")
    order = [r.id for r in defs.segments]
    assert order[2] == "zq_segment"
    assert w.shown_values["segment"] == frozenset(order[:2])
    assert w.shows("segment", order[0]) and not w.shows("segment", order[3])
    assert not w.shows("segment", "zq_segment") and not w.shows("segment", "regular")
    assert "need" in w.hidden and not w.shown_values["need"]
    assert withholding(defs, "analyst").shows("segment", "regular")
    graph = dependency_graph(defs)
    assert "declared_income" in graph.choices["segment"].reads


def test_redact_takes_any_response_shaped_data() -> None:
    """What the console will call for pages and exports: a plain set of names works,
    and the input is left as it was."""
    hidden = frozenset({"declared_income", "solvency_score", "svc_free_transfers",
                        "solvency.declared_income"})
    page = {"customer": {"terms": {"declared_income": 1, "open_products": 2},
                         "ratings": [{"rating": "solvency", "score": 40, "grade": "C"},
                                     {"rating": "current", "score": 70, "grade": "B"}],
                         "services": [{"service": "free_transfers", "qualifies": True},
                                      {"service": "priority_queue", "qualifies": False}],
                         "conditions": [{"condition": "declared_income >= 60000",
                                         "holds": True, "values": {"declared_income": 1},
                                         "needs": None}]}}
    before = json.dumps(page)
    out, removed = redact(page, hidden)
    assert json.dumps(page) == before
    assert out["customer"]["terms"] == {"open_products": 2}
    assert [r["rating"] for r in out["customer"]["ratings"]] == ["current"]
    assert [s["service"] for s in out["customer"]["services"]] == ["priority_queue"]
    assert out["customer"]["conditions"] == []
    assert {node for _, node in removed} >= {"declared_income", "solvency_score",
                                             "svc_free_transfers"}
    defs = load_definitions(DEFAULTS)
    w = withholding(defs, "marketing")
    rows = [{"customer_id": "C1", "segment": "regular", "declared_income": 1,
             "next_best_product": "car_loan", "next_best_reason": "r"},
            {"customer_id": "C2", "segment": "status", "declared_income": 2,
             "next_best_product": "deposit_keep", "next_best_reason": "s"}]
    assert redact_rows(rows, w) == [
        {"customer_id": "C1", "segment": "regular"},
        {"customer_id": "C2", "segment": "status", "next_best_product": "deposit_keep",
         "next_best_reason": "s"}]
    columns = visible_columns(["customer_id", "declared_income", "solvency_grade",
                               "next_best_product", "current_grade"], w)
    assert columns == ["customer_id", "next_best_product", "current_grade"]
