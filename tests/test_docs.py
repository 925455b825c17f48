"""The documentation a newcomer reads stays true to the code."""

from __future__ import annotations

import re

from clientlens.model.tables import ACCOUNT_SUBTYPES, TABLES
from tests.support.paths import DOCS


def test_data_model_doc_lists_every_table_column_and_subtype() -> None:
    text = (DOCS / "data-model.md").read_text(encoding="utf-8")
    for table in TABLES.values():
        section = text.split(f"### {table.name}\n", 1)
        assert len(section) == 2, f"no section for {table.name}"
        body = section[1].split("\n### ", 1)[0]
        documented = re.findall(r"^\| `([a-z_]+)` \| ([a-z]+) \|", body, flags=re.M)
        assert documented == [(c.name, c.type.value) for c in table.columns], table.name
    for account_type, subtypes in ACCOUNT_SUBTYPES.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {account_type} |"))
        for subtype in subtypes:
            assert subtype in row


def test_readme_shows_the_two_commands_and_links_existing_docs() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "scripts/demo" in readme and "scripts/test" in readme
    for link in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (DOCS.parent / link).exists(), link
