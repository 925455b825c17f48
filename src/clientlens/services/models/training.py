"""Train a scorecard from the bank's own outcomes and write it as rulebook YAML.

The labelled table holds ``customer_id`` and a 0/1 target (1 = bad). Features
are glossary terms computed by the engine for the as-of date, so the scorecard
scores exactly what the nightly job will see. The fit (optbinning: monotonic
bins, WoE, logistic regression, points scaled to 0-100) is done on a
stratified training part; the holdout part gives AUC and KS. Before anything
is written, the new rating is compiled and run in the engine for every
labelled customer, and its score must equal optbinning's own score row for row.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlglot import exp

from clientlens.compiler.plan import compile_plan
from clientlens.definitions.expressions import NUMERIC, T
from clientlens.definitions.rulebook import SCORECARDS_FOLDER, Definitions, load_definitions
from clientlens.engines.base import Engine
from clientlens.engines.query import col as column
from clientlens.model.errors import ClientlensError, DefinitionError, did_you_mean
from clientlens.model.tables import ENTITY_KEY
from clientlens.platform import files

LABELS = {"solvency": {"en": "Solvency", "ru": "Платёжеспособность", "bg": "Платежоспособност"}}


@dataclass(frozen=True)
class TrainingReport:
    path: Path
    rows: int
    bad_rate: float
    candidates: list[str]
    kept: list[str]
    train_rows: int
    holdout_rows: int
    auc: float | None
    ks: float | None
    checked_rows: int  # rows whose in-engine score equals optbinning's


def _require_optbinning() -> None:
    try:
        import optbinning  # noqa: F401
    except ImportError:
        raise ClientlensError("train-scorecard needs optbinning: pip install "
                              "'clientlens[scorecard]'") from None


def read_outcomes(path: Path, target: str) -> Any:
    """The labelled table as a pandas DataFrame (customer_id, target); CSV or Parquet."""
    import duckdb

    if not path.exists():
        raise ClientlensError(f"labels file not found: {path}")
    from clientlens.services.ingest.reader import readable_path

    reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_csv"
    con = duckdb.connect()
    try:
        # The path is bound; one with glob characters is read through a plain link.
        with readable_path(path) as source:
            df = con.execute(f"select * from {reader}(?)", [str(source)]).df()
    except duckdb.Error as e:
        raise ClientlensError(f"cannot read labels {path.name}: {str(e).splitlines()[0]}") \
            from None
    finally:
        con.close()
    for col in (ENTITY_KEY, target):
        if col not in df.columns:
            raise ClientlensError(f"{path.name} has no column '{col}' (columns: "
                                  f"{', '.join(map(str, df.columns))})")
    values = df[target]
    bad = ~values.isin([0, 1])
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise ClientlensError(f"{path.name} row {row + 2}: {target} must be 0 or 1 (1 = bad), "
                              f"got {values.iloc[row]!r}")
    dup = df[ENTITY_KEY].duplicated()
    if dup.any():
        row = int(dup.to_numpy().nonzero()[0][0])
        raise ClientlensError(f"{path.name} row {row + 2}: customer_id "
                              f"'{df[ENTITY_KEY].iloc[row]}' is labelled twice")
    df[ENTITY_KEY] = df[ENTITY_KEY].astype(str)
    return df[[ENTITY_KEY, target]]


def default_features(defs: Definitions) -> list[str]:
    return [n for n, t in defs.terms.items()
            if t.type in (*NUMERIC, T.TEXT) and not n.startswith("holds_")]


def feature_table(engine: Engine, defs: Definitions, as_of: dt.date, labels: Any,
                  features: list[str], target: str) -> Any:
    """Each labelled customer's feature terms on ``as_of``, computed by the engine."""
    import pandas as pd

    plan = compile_plan(defs, as_of, capabilities=engine.capabilities, engine=engine.name)
    # The plan is a tree (``compiler/plan.py``): the engine renders it, fenced or not.
    rows = engine.fetch_arrow(exp.select(ENTITY_KEY, *(column(f) for f in features)).from_(
        plan.query.subquery("p"))).to_pandas()
    merged = labels.merge(rows, on=ENTITY_KEY, how="left", indicator=True)
    absent = merged.loc[merged["_merge"] == "left_only", ENTITY_KEY].tolist()
    if absent:
        raise ClientlensError(
            f"{len(absent):,} labelled customers have no profile on {as_of} (not in the "
            f"warehouse, registered later, or outside the population): "
            f"{', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''}")
    merged = merged.drop(columns="_merge")
    for f in features:
        if defs.terms[f].type in NUMERIC:
            merged[f] = pd.to_numeric(merged[f].astype(object), errors="coerce").astype(float)
        else:
            merged[f] = merged[f].astype(object)
    merged[target] = merged[target].astype(int)
    return merged


def train_scorecard(engine: Engine, defs: Definitions, labels_path: Path, *, as_of: dt.date,
                    target: str = "bad", rating_id: str = "solvency",
                    features: list[str] | None = None, holdout: float = 0.3, seed: int = 0,
                    out: Path | None = None) -> TrainingReport:
    _require_optbinning()
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    from clientlens.services.models.scorecard import fit_scorecard

    features = features or default_features(defs)
    unknown = [f for f in features if f not in defs.terms]
    if unknown:
        raise ClientlensError(f"unknown term '{unknown[0]}' in --features."
                              f"{did_you_mean(unknown[0], list(defs.terms))}")
    unusable = [f for f in features if defs.terms[f].type not in (*NUMERIC, T.TEXT)]
    if unusable:
        raise ClientlensError(f"term '{unusable[0]}' is {defs.terms[unusable[0]].type}; a "
                              "scorecard bins numbers and texts only")
    if not 0 <= holdout < 0.9:
        raise ClientlensError("--holdout must be a share from 0 to 0.9")
    labels = read_outcomes(labels_path, target)
    data = feature_table(engine, defs, as_of, labels, features, target)
    y = data[target].to_numpy()
    if y.min() == y.max():
        raise ClientlensError(f"{labels_path.name}: every customer has {target} = {y[0]}; "
                              "a scorecard needs both outcomes")
    if holdout > 0:
        train, test = train_test_split(data, test_size=holdout, stratify=y, random_state=seed)
    else:
        train, test = data, data.iloc[0:0]
    categorical = [f for f in features if defs.terms[f].type == T.TEXT]
    fitted = fit_scorecard(train[features + [target]], target, rating_id=rating_id,
                           features=features, categorical=categorical, seed=seed)
    auc = ks = None
    if len(test):
        score = fitted.optbinning_score(test)
        auc = float(roc_auc_score(test[target], -score))
        ks = _ks(test[target].to_numpy(), score)
    spec = _finish_spec(fitted.spec, defs, rating_id)
    target_path = out or Path(defs.folder) / SCORECARDS_FOLDER / f"{rating_id}.yaml"
    header = (f"# Trained by `clientlens train-scorecard` on {dt.date.today()} from "
              f"{labels_path.name}: {len(data):,} customers, bad rate {y.mean():.1%},\n"
              f"# features on {as_of}; {len(train):,} to fit, {len(test):,} held out"
              + (f" (holdout AUC {auc:.3f}, KS {ks:.3f})" if auc is not None else "")
              + ".\n# Edit with care: the points are what optbinning fitted.\n")
    text = header + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)
    checked = _check_in_engine(engine, defs, as_of, text, rating_id, data, fitted,
                               target_path)
    files.write_text(target_path, text)  # whole and private, even with two fits at once
    return TrainingReport(path=target_path, rows=len(data), bad_rate=float(np.mean(y)),
                          candidates=features, kept=fitted.features, train_rows=len(train),
                          holdout_rows=len(test), auc=auc, ks=ks, checked_rows=checked)


def _finish_spec(spec: dict[str, Any], defs: Definitions, rating_id: str) -> dict[str, Any]:
    """Keep the labels and description of the rating it replaces, if any."""
    existing = next((r for r in defs.ratings if r.id == rating_id), None)
    spec = dict(spec)
    if existing is not None:
        spec["labels"] = {"en": existing.labels.en, "ru": existing.labels.ru,
                          "bg": existing.labels.bg}
    elif rating_id in LABELS:
        spec["labels"] = LABELS[rating_id]
    return spec


def _ks(bad: Any, score: Any) -> float:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(bad, -score)
    return float(max(tpr - fpr))


def _check_in_engine(engine: Engine, defs: Definitions, as_of: dt.date, text: str,
                     rating_id: str, data: Any, fitted: Any, target_path: Path) -> int:
    """Load the new rating with the workspace's definitions and score in the engine."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "definitions"
        shutil.copytree(defs.folder, folder)
        path = folder / SCORECARDS_FOLDER / target_path.name
        if target_path.parent.resolve() != (Path(defs.folder) / SCORECARDS_FOLDER).resolve():
            path = folder / SCORECARDS_FOLDER / f"{rating_id}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        try:
            trial = load_definitions(folder)
        except DefinitionError as e:
            raise ClientlensError(f"the trained scorecard does not load: {e}") from None
    ids = data[ENTITY_KEY].tolist()
    plan = compile_plan(trial, as_of, capabilities=engine.capabilities, engine=engine.name)
    got = engine.fetch_arrow(exp.select(ENTITY_KEY, exp.alias_(column(f"{rating_id}_score"), "s"))
                             .from_(plan.query.subquery("p"))).to_pandas()
    got = got[got[ENTITY_KEY].isin(set(ids))].set_index(ENTITY_KEY)["s"]
    want = fitted.optbinning_score(data)
    differ = [(cid, float(got[cid]), float(w)) for cid, w in zip(ids, want, strict=True)
              if not math.isclose(float(got[cid]), float(w), abs_tol=1e-9)]
    if differ:
        cid, g, w = differ[0]
        raise ClientlensError(f"the in-engine score differs from optbinning's for "
                              f"{len(differ):,} customers (e.g. {cid}: {g} vs {w}); "
                              "nothing was written")
    return len(ids)
