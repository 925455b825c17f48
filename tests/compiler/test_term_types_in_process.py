"""In-process evaluation stores each term in its declared type, as the SQL does.

A ``number`` term computed from decimals is a float (the SQL casts it to DOUBLE); a
later term adding it to a decimal failed in Python with "unsupported operand type(s)
for +: 'decimal.Decimal' and 'float'" (found by the field-policy property test)."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import yaml

from clientlens.compiler.pyplan import CompiledRulebook
from clientlens.definitions.rulebook import load_definitions
from clientlens.services.workspace.folder import DEFAULTS


def test_a_number_term_from_decimals_mixes_with_decimals(tmp_path: Path) -> None:
    folder = tmp_path / "defs"
    shutil.copytree(DEFAULTS, folder)
    glossary = yaml.safe_load((folder / "glossary.yaml").read_text(encoding="utf-8"))
    labels = glossary["terms"][0]["labels"]
    for name, expression in (("zq_a", "coalesce(declared_income, 0)"),
                             ("zq_b", "coalesce(zq_a, 0) + coalesce(declared_income, 0)")):
        glossary["terms"].append({"name": name, "type": "number", "unit": "points",
                                  "description": "A test term.", "labels": dict(labels),
                                  "expression": expression})
    (folder / "glossary.yaml").write_text(yaml.safe_dump(glossary, allow_unicode=True,
                                                         sort_keys=False), encoding="utf-8")
    defs = load_definitions(folder)
    base = {n: None for n, s in defs.symbols().items() if s.kind != "parameter"}
    base.update(customer_type="retail", declared_income=Decimal("4027501.50"))
    values = CompiledRulebook(defs).evaluate(base, dt.date(2026, 10, 31))
    assert isinstance(values["zq_a"], float) and values["zq_a"] == 4027501.5
    assert isinstance(values["zq_b"], float) and values["zq_b"] == 8055003.0
