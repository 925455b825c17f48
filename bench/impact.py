"""Benchmark: the what-if impact of a draft against a full run, on one demo bank.

    .venv/bin/python bench/impact.py bench/out/impact-demo --customers 1000000

Makes a demo workspace at the path if it has none (``jobs.demo``), then on its latest
snapshot measures, best of ``--repeat``:

- the full run (``run_segmentation`` of the current definitions: every source table
  aggregated, every decision, stored);
- the impact of a rule change (the status threshold): decisions over the stored terms,
  no pass over transactions; the goal is under 2 s at 1,000,000 customers;
- the impact of a term change (the activity window): the draft's whole plan, not stored;
- explaining a sample of 5 moved customers under each version (on top of the impact).

Prints each time, the impact as a share of the full run, and the command.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from clientlens.definitions.rulebook import Definitions, load_definitions
from clientlens.services.governance.impact import impact
from clientlens.services.profiling.segmentation import latest_as_of, run_segmentation
from clientlens.services.workspace import jobs
from clientlens.services.workspace.folder import Workspace


def draft(folder: Path, file: str, pattern: str, repl: str) -> Definitions:
    with tempfile.TemporaryDirectory() as tmp:
        for src in folder.rglob("*.yaml"):
            target = Path(tmp) / src.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
        path = Path(tmp) / file
        text = path.read_text(encoding="utf-8")
        changed = re.sub(pattern, repl, text, count=1)
        if changed == text:
            sys.exit(f"{file}: nothing matched {pattern!r}")
        path.write_text(changed, encoding="utf-8")
        return load_definitions(tmp)


def best(repeat: int, job) -> tuple[float, object]:  # noqa: ANN001
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = job()
        times.append(time.perf_counter() - started)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not (args.workspace / "clientlens.yaml").exists():
        print(f"making a demo bank of {args.customers:,} customers in {args.workspace} ...")
        jobs.demo(args.workspace, customers=args.customers)
    ws = Workspace(args.workspace)
    current = ws.definitions
    rule = draft(ws.definitions_dir, "rulebook.yaml", r"(status_min_balance:\n    value: )\d+",
                 r"\g<1>1000000")
    term = draft(ws.definitions_dir, "glossary.yaml", r"(activity_window_days:\n    value: )\d+",
                 r"\g<1>60")
    with ws.engine() as engine:
        as_of = latest_as_of(engine)
        full, result = best(args.repeat, lambda: run_segmentation(engine, current, as_of))
        customers = result.customers  # type: ignore[attr-defined]
        fast, x = best(args.repeat, lambda: impact(engine, current, rule, as_of, sample=0))
        slow, y = best(args.repeat, lambda: impact(engine, current, term, as_of, sample=0))
        explained, _ = best(1, lambda: impact(engine, current, rule, as_of, sample=5))
    assert x.reused_terms and not y.reused_terms  # type: ignore[attr-defined]
    print(f"{customers:,} customers, snapshot {as_of}, best of {args.repeat}:")
    print(f"  full run                          {full:7.2f} s")
    print(f"  impact, rule change (stored terms) {fast:7.2f} s  = {fast / full:5.1%} of a run; "
          f"{x.moved:,} customers move")  # type: ignore[attr-defined]
    print(f"  impact, term change (whole plan)  {slow:7.2f} s  = {slow / full:5.1%} of a run; "
          f"{y.moved:,} customers move")  # type: ignore[attr-defined]
    print(f"  rule change with 5 explained      {explained:7.2f} s")
    print(f"command: .venv/bin/python bench/impact.py {args.workspace} "
          f"--customers {args.customers}")


if __name__ == "__main__":
    main()
