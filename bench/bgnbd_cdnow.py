"""Validate the BG/NBD fit and forecasts on the CDNOW sample (Fader, Hardie and Lee 2005).

    .venv/bin/python bench/bgnbd_cdnow.py --data PATH/CDNOW_sample.txt

(scripts/fetch-data downloads the file and prints its path.) Calibration is
weeks 1-39 (1997-01-01..1997-09-30), the holdout weeks 40-78
(1997-10-01..1998-06-30), times in weeks, same-day purchases merged. Reported:

- the fitted r, alpha, a, b and log-likelihood against the paper's published
  values, with relative errors, and the fit time;
- the holdout: actual repeat transactions (cumulative, at a few weeks and in
  total) against the BG/NBD conditional forecast (eq. 10 summed over the
  customers), the cohort's unconditional forecast (eq. 9) and a naive
  baseline (each customer's calibration repeat rate x / T times the elapsed
  holdout weeks), with the ratio of absolute errors model / naive;
- per customer: mean absolute error of the three, and actual vs predicted
  mean holdout transactions by calibration frequency (the paper's
  conditional-expectation comparison).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from clientlens.services.models.bgnbd import (  # noqa: E402
    expected_transactions,
    expected_unconditional,
    fit_bgnbd,
    log_likelihood,
    p_alive,
    read_cdnow,
    summarise,
)

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LL = -9582.4
CHECKPOINTS = (1, 4, 13, 26, 39)  # holdout weeks at which cumulative totals are shown


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--data", required=True, type=Path, help="CDNOW_sample.txt (lifetimes 0.11.3)")
    ap.add_argument("--calibration-end", default="1997-09-30",
                    help="inclusive (default 1997-09-30)")
    ap.add_argument("--holdout-end", default="1998-06-30", help="inclusive (default 1998-06-30)")
    args = ap.parse_args()

    ids, dates = read_cdnow(args.data)
    s = summarise(ids, dates, args.calibration_end, args.holdout_end)
    assert s.x_holdout is not None and s.holdout_periods is not None
    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print(f"data: {args.data} -- {ids.size} transactions, {np.unique(ids).size} customers "
          f"({s.customer_ids.size} first bought by {args.calibration_end}); "
          f"{dates.min()}..{dates.max()}")
    print(f"calibration ..{args.calibration_end}: {s.x.sum():.0f} repeat purchase days, "
          f"{np.mean(s.x == 0):.1%} of customers with none; holdout ..{args.holdout_end}: "
          f"{s.holdout_periods:.1f} weeks, {s.x_holdout.sum():.0f} repeat purchase days")
    print()

    t0 = time.perf_counter()
    fit = fit_bgnbd(s.x, s.t_x, s.T)
    fit_s = time.perf_counter() - t0
    print(f"BG/NBD fit: {fit_s * 1000:.1f} ms, converged: {'yes' if fit.converged else 'NO'}")
    print(f"{'param':>8} {'fitted':>10} {'published':>10} {'rel err':>8}")
    for name, published in PUBLISHED.items():
        value = getattr(fit, name)
        print(f"{name:>8} {value:>10.4f} {published:>10.3f} {value / published - 1:>+8.2%}")
    ll_pub = log_likelihood(*PUBLISHED.values(), s.x, s.t_x, s.T).sum()
    print(f"{'LL':>8} {fit.log_likelihood:>10.2f} {PUBLISHED_LL:>10.1f} "
          f"{fit.log_likelihood / PUBLISHED_LL - 1:>+8.4%}  (LL at the published values: "
          f"{ll_pub:.2f})")
    alive = p_alive(fit, s.x, s.t_x, s.T)
    print(f"mean P(alive) at {args.calibration_end}: {alive.mean():.3f} "
          f"(repeaters only: {alive[s.x > 0].mean():.3f})")
    print()

    cal_end = np.datetime64(args.calibration_end, "D")
    birth = s.T  # weeks from first purchase to the calibration end
    rate = s.x / np.where(s.T > 0, s.T, np.nan)
    rate = np.nan_to_num(rate)
    print("holdout, cumulative repeat transactions since the calibration end")
    head = (f"{'week':>5} {'actual':>7} {'BG/NBD':>8} {'err':>7} {'cohort':>8} {'err':>7} "
            f"{'naive':>8} {'err':>7} {'|err| ratio':>11}")
    print(head)
    print("-" * len(head))
    weeks = sorted({*CHECKPOINTS, s.holdout_periods} - {w for w in CHECKPOINTS
                                                         if w > s.holdout_periods})
    for w in weeks:
        end = cal_end + np.timedelta64(int(round(w * 7)), "D")
        actual_w = summarise(ids, dates, cal_end, end).x_holdout
        assert actual_w is not None
        actual = actual_w.sum()
        cond = expected_transactions(fit, w, s.x, s.t_x, s.T).sum()
        cohort = (expected_unconditional(fit, birth + w) - expected_unconditional(fit, birth)).sum()
        naive = (rate * w).sum()
        ratio = abs(cond - actual) / abs(naive - actual) if naive != actual else float("nan")
        print(f"{40 + w - 1:>5.0f} {actual:>7.0f} {cond:>8.1f} {cond / actual - 1:>+7.1%} "
              f"{cohort:>8.1f} {cohort / actual - 1:>+7.1%} {naive:>8.1f} "
              f"{naive / actual - 1:>+7.1%} {ratio:>11.3f}")
    print("-" * len(head))
    print("week = last holdout week included (40 = first); err = predicted / actual - 1;")
    print("BG/NBD = sum of eq. (10); cohort = eq. (9) over each customer's age;")
    print("naive = x / T per week; |err| ratio = |BG/NBD - actual| / |naive - actual|")
    print()

    predicted = expected_transactions(fit, s.holdout_periods, s.x, s.t_x, s.T)
    naive_c = rate * s.holdout_periods
    cohort_c = expected_unconditional(fit, birth + s.holdout_periods) - expected_unconditional(
        fit, birth)
    mae = {k: float(np.abs(v - s.x_holdout).mean())
           for k, v in (("BG/NBD", predicted), ("cohort", cohort_c), ("naive", naive_c))}
    print("per customer, weeks 40-78: mean absolute error "
          + ", ".join(f"{k} {v:.3f}" for k, v in mae.items())
          + f"; ratio BG/NBD / naive {mae['BG/NBD'] / mae['naive']:.3f}")
    print()
    print("mean holdout transactions by calibration repeat transactions x")
    print(f"{'x':>4} {'customers':>9} {'actual':>7} {'BG/NBD':>7} {'naive':>7}")
    groups = [(str(k), s.x == k) for k in range(7)] + [("7+", s.x >= 7)]
    for label, mask in groups:
        print(f"{label:>4} {mask.sum():>9} {s.x_holdout[mask].mean():>7.3f} "
              f"{predicted[mask].mean():>7.3f} {naive_c[mask].mean():>7.3f}")
    return 0 if fit.converged else 1


if __name__ == "__main__":
    raise SystemExit(main())
