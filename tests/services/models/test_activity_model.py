"""The BG/NBD fit and forecasts (services/models/bgnbd.py).

The CDNOW tests need the 1/10 sample of the CDNOW transaction log (2357
customers, Fader, Hardie and Lee 2005) as shipped in the lifetimes 0.11.3
wheel: set CLIENTLENS_CDNOW to the path of CDNOW_sample.txt
(scripts/fetch-data downloads it).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime
from scipy.stats import chi2

from clientlens.services.models.bgnbd import (
    ActivitySummary,
    BgNbdFit,
    _loglik_parts,
    _mean_given_alive,
    _mean_given_alive_quad,
    expected_transactions,
    expected_unconditional,
    fit_bgnbd,
    log_likelihood,
    p_alive,
    read_cdnow,
    summarise,
)

# Fader, Hardie and Lee (2005), Section 4: BG/NBD estimates on the 2357-customer
# CDNOW sample, weeks 1-39 (1997-01-01..1997-09-30) as calibration.
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LL = -9582.4
CALIBRATION_END = "1997-09-30"  # inclusive; T = days from first purchase to here / 7
HOLDOUT_END = "1998-06-30"  # weeks 40-78, 273 days = 39 weeks


@cache
def _cdnow() -> ActivitySummary:
    env = os.environ.get("CLIENTLENS_CDNOW")
    if not env and os.environ.get("CLIENTLENS_REQUIRE_DATA"):
        pytest.fail("CLIENTLENS_CDNOW is not set; scripts/fetch-data downloads it")
    if not env:
        pytest.skip("CLIENTLENS_CDNOW is not set (path to lifetimes' CDNOW_sample.txt)")
    path = Path(env)
    if not path.is_file():
        pytest.skip(f"CLIENTLENS_CDNOW points to a missing file: {path}")
    ids, dates = read_cdnow(path)
    return summarise(ids, dates, CALIBRATION_END, HOLDOUT_END)


@cache
def _cdnow_fit() -> BgNbdFit:
    s = _cdnow()
    return fit_bgnbd(s.x, s.t_x, s.T)


def test_cdnow_summary_is_the_papers_sample() -> None:
    s = _cdnow()
    assert s.customer_ids.size == 2357 and s.transactions == 6919
    # 2457 repeat purchase days in weeks 1-39 (same-day orders merged), 1882 in weeks 40-78
    assert s.x.sum() == 2457 and s.x_holdout.sum() == 1882
    assert s.holdout_periods == 39.0
    assert s.T.max() == pytest.approx(272 / 7) and s.T.min() == pytest.approx(27.0)
    assert (s.x == 0).sum() == 1411


def test_cdnow_fit_reproduces_published_estimates() -> None:
    fit = _cdnow_fit()
    assert fit.converged and fit.customers == 2357
    for name, published in PUBLISHED.items():
        assert getattr(fit, name) == pytest.approx(published, rel=0.01), name
    assert fit.log_likelihood == pytest.approx(PUBLISHED_LL, rel=0.01)
    # measured -9582.429: equal to the published value at its one decimal
    assert abs(fit.log_likelihood - PUBLISHED_LL) < 0.05
    s = _cdnow()
    at_published = log_likelihood(*PUBLISHED.values(), s.x, s.t_x, s.T).sum()
    assert at_published <= fit.log_likelihood  # the optimum is at least as good


def test_cdnow_holdout_forecast_beats_naive_baseline() -> None:
    """Expected repeat transactions in weeks 40-78 against what the customers did.

    Measured: actual 1882 repeat purchase days (distinct days, counted from
    the file); eq. (10) summed over the customers predicts 1653.4 (-12.1%),
    the cohort's unconditional expectation (eq. 9) 1666.7 (-11.4%). lifetimes
    0.11.3 (run by hand, not a dependency) gives the same 1653.4 and the same
    parameters. The paper compares holdout forecasts only graphically (tracking
    and conditional-expectation plots); its text gives no total to check
    against, so the reference is the actual count. The BG/NBD is stationary
    and under-forecasts this holdout by about 12%, so the band is 15% rather
    than 5%; the exact value is pinned separately to 0.1%, which is what
    catches a wrong eq. (10). The naive baseline (each customer's calibration
    repeat rate x / T times 39 weeks) predicts 2930 (+56%).
    """
    s, fit = _cdnow(), _cdnow_fit()
    predicted = expected_transactions(fit, s.holdout_periods, s.x, s.t_x, s.T)
    actual = s.x_holdout
    assert predicted.sum() == pytest.approx(1653.4, rel=1e-3)
    assert abs(predicted.sum() / actual.sum() - 1) < 0.15
    naive = s.x / s.T * s.holdout_periods
    assert abs(predicted.sum() - actual.sum()) < abs(naive.sum() - actual.sum()) / 3
    assert np.abs(predicted - actual).mean() < np.abs(naive - actual).mean()
    cohort = expected_unconditional(fit, s.T + s.holdout_periods) - expected_unconditional(fit, s.T)
    assert cohort.sum() == pytest.approx(1666.7, rel=1e-3)


# --- simulated data -----------------------------------------------------------------------


def _simulate(rng: np.random.Generator, n: int, r: float, alpha: float, a: float, b: float,
              T: np.ndarray, horizon: float = 0.0):
    """Draw BG/NBD customers: (x, t_x) over (0, T], alive at T, repeats in (T, T + horizon]."""
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x, t_x, x_after, now = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    alive_at_T = np.ones(n, bool)
    active = np.ones(n, bool)
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0, idx.size) / lam[idx]
        in_cal = now[idx] <= T[idx]
        in_hold = ~in_cal & (now[idx] <= T[idx] + horizon)
        active[idx[~(in_cal | in_hold)]] = False
        cal, hold = idx[in_cal], idx[in_hold]
        x[cal] += 1
        t_x[cal] = now[cal]
        x_after[hold] += 1
        bought = idx[in_cal | in_hold]
        died = bought[rng.random(bought.size) < p[bought]]
        active[died] = False
        alive_at_T[died[now[died] <= T[died]]] = False
    return x, t_x, alive_at_T, x_after


TRUE = {"r": 0.5, "alpha": 6.0, "a": 0.7, "b": 2.5}
TRUE_FIT = BgNbdFit(**TRUE, log_likelihood=float("nan"), customers=0, converged=True)


def test_parameter_recovery_on_simulated_customers() -> None:
    """5000 customers of known parameters, observed 26-78 weeks.

    Over 20 seeds at this size the relative sampling sd of the estimates was
    r 3%, alpha 6%, a 12%, b 15%, a/(a+b) 5% (a and b are weakly identified
    on their own, as in the paper's CDNOW fit); the bounds are about 3.5 sd.
    """
    rng = np.random.default_rng(20050101)
    T = rng.uniform(26, 78, 5000)
    x, t_x, _, _ = _simulate(rng, T.size, **TRUE, T=T)
    fit = fit_bgnbd(x, t_x, T)
    assert fit.converged
    assert fit.r == pytest.approx(TRUE["r"], rel=0.12)
    assert fit.alpha == pytest.approx(TRUE["alpha"], rel=0.22)
    assert fit.a == pytest.approx(TRUE["a"], rel=0.40)
    assert fit.b == pytest.approx(TRUE["b"], rel=0.55)
    assert fit.a / (fit.a + fit.b) == pytest.approx(0.7 / 3.2, rel=0.16)
    # likelihood-ratio check: the true parameters lie inside the 99.9% region
    at_true = log_likelihood(*TRUE.values(), x, t_x, T).sum()
    assert 0 <= 2 * (fit.log_likelihood - at_true) < chi2.ppf(0.999, 4)


def test_p_alive_and_conditional_expectation_match_simulated_futures() -> None:
    """With the true parameters, eq. (10) and P(alive) are unbiased for what happens next."""
    rng = np.random.default_rng(78)
    T = rng.uniform(26, 52, 20000)
    x, t_x, alive, x_after = _simulate(rng, T.size, **TRUE, T=T, horizon=39.0)
    prob = p_alive(TRUE_FIT, x, t_x, T)
    # sum of independent Bernoullis: sd = sqrt(sum p (1 - p))
    assert abs(prob.sum() - alive.sum()) < 4 * np.sqrt(np.sum(prob * (1 - prob)))
    expected = expected_transactions(TRUE_FIT, 39.0, x, t_x, T)
    assert abs(expected.sum() - x_after.sum()) < 4 * x_after.std() * np.sqrt(T.size)
    new = expected_unconditional(TRUE_FIT, 30.0)
    x30, _, _, _ = _simulate(rng, 50000, **TRUE, T=np.full(50000, 30.0))
    assert abs(new - x30.mean()) < 4 * x30.std() / np.sqrt(x30.size)


def test_log_likelihood_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(3)
    T = rng.uniform(10, 40, 300)
    x, t_x, _, _ = _simulate(rng, T.size, **TRUE, T=T)
    params = np.array([0.7, 3.0, 1.3, 2.0])
    _, grad = _loglik_parts(params, x, t_x, T)
    numeric = approx_fprime(params, lambda p: _loglik_parts(p, x, t_x, T)[0].sum(), 1e-7)
    np.testing.assert_allclose(grad.sum(axis=1), numeric, rtol=1e-4)


def test_fit_reports_data_that_do_not_identify_the_model() -> None:
    """No repeat purchases, or a handful of customers: the maximum is not interior."""
    assert not fit_bgnbd([0, 0, 0], [0.0, 0.0, 0.0], [5.0, 6.0, 7.0]).converged
    assert not fit_bgnbd([3, 0, 1, 10], [4.0, 0.0, 2.0, 20.0], [5.0, 6.0, 7.0, 30.0]).converged


# --- properties ------------------------------------------------------------------------------

params = st.fixed_dictionaries({
    "r": st.floats(0.05, 5.0), "alpha": st.floats(0.5, 50.0),
    "a": st.floats(0.05, 5.0), "b": st.floats(0.1, 20.0),
})


@st.composite
def histories(draw):
    """(x, t_x, T) of one customer in weeks, at most one purchase day per day."""
    T = draw(st.floats(0.0, 260.0))
    days = int(T * 7)
    x = draw(st.integers(0, min(days, 100)))
    if x == 0:
        return 0, 0.0, T
    t_x = draw(st.integers(x, days)) / 7  # x purchase days fit into t_x * 7 days
    return x, t_x, T


@settings(max_examples=300, deadline=None)
@given(p=params, h=histories(), extra=st.floats(0.0, 260.0))
def test_p_alive_is_a_probability_falling_with_silence(p, h, extra) -> None:
    fit = BgNbdFit(**p, log_likelihood=0.0, customers=1, converged=True)
    x, t_x, T = h
    now = p_alive(fit, x, t_x, T)
    later = p_alive(fit, x, t_x, T + extra)
    assert 0.0 < now <= 1.0 and 0.0 < later <= 1.0
    if x == 0:
        assert now == 1.0 and later == 1.0
    assert later <= now


@settings(max_examples=150, deadline=None)
@given(p=params, h=histories(), t=st.floats(0.01, 104.0), dt=st.floats(0.01, 52.0))
def test_conditional_expectation_grows_with_horizon(p, h, t, dt) -> None:
    fit = BgNbdFit(**p, log_likelihood=0.0, customers=1, converged=True)
    x, t_x, T = h
    e0, e1, e2 = expected_transactions(fit, np.array([0.0, t, t + dt]), x, t_x, T)
    assert e0 == 0.0
    assert 0.0 < e1 <= e2 * (1 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(p=params, h=histories(), t=st.floats(0.1, 104.0))
def test_closed_form_agrees_with_quadrature(p, h, t) -> None:
    """Eq. (10) through scipy's 2F1 against an independent numerical integral."""
    fit = BgNbdFit(**p, log_likelihood=0.0, customers=1, converged=True)
    x, _, T = h
    closed = _mean_given_alive(fit, t, float(x), T)
    integral = _mean_given_alive_quad(p["r"], p["alpha"], p["a"], p["b"], x, T, t)
    assert closed == pytest.approx(integral, rel=1e-6)


def test_new_customer_is_the_unconditional_case() -> None:
    t = np.array([1.0, 13.0, 52.0])
    np.testing.assert_allclose(expected_transactions(TRUE_FIT, t, 0, 0.0, 0.0),
                               expected_unconditional(TRUE_FIT, t), rtol=1e-12)


def test_a_equal_to_one_is_handled() -> None:
    """a = 1 is a removable singularity of eqs. (9) and (10)."""
    near = [BgNbdFit(0.5, 6.0, a, 2.5, 0.0, 1, True) for a in (1 - 1e-3, 1.0, 1 + 1e-3)]
    values = [float(expected_transactions(f, 39.0, 3, 20.0, 40.0)) for f in near]
    assert np.isfinite(values).all()
    assert min(values[0], values[2]) <= values[1] <= max(values[0], values[2])


# --- input checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "t_x", "T", "message"), [
    ([], [], [], "no customers"),
    ([1, -1], [2.0, 0.0], [3.0, 3.0], "x has 1 negative value"),
    ([1], [-2.0], [3.0], "t_x has 1 negative value"),
    ([0], [0.0], [-1.0], "T has 1 negative value"),
    ([2], [5.0], [4.0], "t_x > T"),
    ([1], [0.0], [4.0], "x > 0 but t_x == 0"),
    ([0], [1.0], [4.0], "x == 0 but t_x != 0"),
    ([1.5], [1.0], [4.0], "whole numbers"),
    ([1], [np.nan], [4.0], "t_x has 1 missing or infinite"),
    ([1, 2], [1.0], [4.0, 5.0, 6.0], "same shape"),
])
def test_bad_histories_are_refused_with_the_reason(x, t_x, T, message) -> None:
    with pytest.raises(ValueError, match=message):
        fit_bgnbd(x, t_x, T)
    with pytest.raises(ValueError, match=message):
        p_alive(TRUE_FIT, x, t_x, T)


def test_bad_parameters_and_horizons_are_refused() -> None:
    with pytest.raises(ValueError, match="parameter a must be positive"):
        p_alive(BgNbdFit(0.5, 6.0, 0.0, 2.5, 0.0, 1, True), 1, 1.0, 2.0)
    with pytest.raises(ValueError, match="t must be finite and >= 0"):
        expected_transactions(TRUE_FIT, -1.0, 1, 1.0, 2.0)
    with pytest.raises(ValueError, match="t must be finite and >= 0"):
        expected_unconditional(TRUE_FIT, np.inf)


# --- summarise -------------------------------------------------------------------------------


def test_summarise_merges_same_day_orders_and_splits_the_windows() -> None:
    ids = ["c1", "c1", "c1", "c1", "c2", "c3", "c3", "c4"]
    dates = ["2024-01-01", "2024-01-01", "2024-01-15", "2024-02-01",
             "2024-01-29", "2024-01-08", "2024-03-01", "2024-02-10"]
    s = summarise(ids, dates, "2024-01-29", "2024-03-11")
    assert s.customer_ids.tolist() == ["c1", "c2", "c3"]  # c4 starts after the calibration
    assert s.x.tolist() == [1, 0, 0]  # c1: Jan 1 (twice, one day) and Jan 15
    np.testing.assert_allclose(s.t_x, [2.0, 0.0, 0.0])
    np.testing.assert_allclose(s.T, [4.0, 0.0, 3.0])
    assert s.x_holdout.tolist() == [1, 0, 1]
    assert s.holdout_periods == pytest.approx(42 / 7)
    assert s.transactions == 7
    daily = summarise(ids, dates, "2024-01-29", period_days=1)
    assert daily.T.tolist() == [28, 0, 21] and daily.x_holdout is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"customer_ids": [], "dates": []}, "empty"),
    ({"customer_ids": ["a"], "dates": ["2024-01-01", "2024-01-02"]}, "differ in length"),
    ({"customer_ids": ["a"], "dates": ["not a date"]}, "dates must be dates"),
    ({"customer_ids": ["a"], "dates": ["NaT"]}, "missing value"),
    ({"customer_ids": ["a"], "dates": ["2024-03-01"]}, "no customer made a first"),
    ({"customer_ids": ["a"], "dates": ["2024-01-01"], "holdout_end": "2024-01-01"},
     "must be after calibration_end"),
    ({"customer_ids": ["a"], "dates": ["2024-01-01"], "period_days": 0}, "period_days"),
])
def test_summarise_refuses_bad_logs(kwargs, message) -> None:
    kwargs = {"calibration_end": "2024-02-01", **kwargs}
    with pytest.raises(ValueError, match=message):
        summarise(**kwargs)
