"""Fit the probability-alive model (BG/NBD) on the bank's own transaction days and write
its parameters to the workspace's ``definitions/activity_model.yaml``.

The model's inputs are glossary terms the engine already computed in a snapshot:
``own_tx_days`` (x = days with own transactions - 1 repeat days), and the days since
the first and the last own transaction (age T and recency t_x, in weeks). The fit is
``services.models.bgnbd.fit_bgnbd`` (maximum likelihood, validated on CDNOW against
Fader, Hardie and Lee 2005). The glossary's ``p_alive`` then evaluates the model inside
the engine for every customer, and the phase rules use it as an early warning.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from clientlens.definitions.rulebook import ACTIVITY_FILE, Definitions, load_definitions
from clientlens.engines.base import Engine
from clientlens.engines.query import parse
from clientlens.model.errors import ClientlensError
from clientlens.platform import files
from clientlens.services.profiling.segmentation import _check_as_of

TEMPLATE = """\
# The probability-alive model (BG/NBD, Fader, Hardie and Lee 2005) of customers' own
# transaction days, fitted by `clientlens fit-activity`; the glossary's p_alive uses
# these parameters. Refit when the bank's behaviour changes.
model:
  kind: bgnbd
  fitted_on: {as_of}
  customers: {customers}
  log_likelihood: {log_likelihood:.3f}
  rulebook_version: {version}
  dropout: {dropout}  # homogeneous: the same drop-out probability a / (a + b) for everyone
parameters:
  bgnbd_r:
    value: {r:.6g}
    type: number
    unit: shape
    description: BG/NBD r, the shape of the spread of transaction rates.
    labels: {{en: BG/NBD r, ru: BG/NBD r, bg: BG/NBD r}}
  bgnbd_alpha:
    value: {alpha:.6g}
    type: number
    unit: weeks
    description: BG/NBD alpha, the scale of the spread of transaction rates.
    labels: {{en: BG/NBD alpha, ru: BG/NBD alpha, bg: BG/NBD alpha}}
  bgnbd_a:
    value: {a:.6g}
    type: number
    unit: shape
    description: BG/NBD a, of the spread of drop-out probabilities.
    labels: {{en: BG/NBD a, ru: BG/NBD a, bg: BG/NBD a}}
  bgnbd_b:
    value: {b:.6g}
    type: number
    unit: shape
    description: BG/NBD b, of the spread of drop-out probabilities.
    labels: {{en: BG/NBD b, ru: BG/NBD b, bg: BG/NBD b}}
"""


@dataclass(frozen=True)
class ActivityFit:
    as_of: dt.date
    customers: int
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    path: Path
    new_version: str
    homogeneous: bool = False


def fit_activity(engine: Engine, defs: Definitions, as_of: dt.date, folder: Path
                 ) -> ActivityFit:
    try:
        import numpy as np

        from clientlens.services.models.bgnbd import fit_bgnbd
    except ImportError:
        raise ClientlensError("fitting needs scipy: pip install 'clientlens[scorecard]'") \
            from None
    needed = {"own_tx_days", "first_own_tx_days_ago", "last_own_tx_days_ago"}
    missing = sorted(needed - set(defs.terms))
    if missing:
        raise ClientlensError(f"the glossary lacks the terms {', '.join(missing)} the model "
                              "is fitted on")
    _check_as_of(engine, as_of)
    rows = engine.fetch_all(parse(
        "select own_tx_days - 1, first_own_tx_days_ago - last_own_tx_days_ago, "
        "first_own_tx_days_ago from profiles where as_of = $as_of and own_tx_days > 0"),
        {"as_of": as_of})
    if len(rows) < 100:
        raise ClientlensError(f"only {len(rows)} customers with own transactions on {as_of}; "
                              "the model needs at least 100")
    data = np.array(rows, dtype=float)
    fit = fit_bgnbd(data[:, 0], data[:, 1] / 7.0, data[:, 2] / 7.0)
    # a and b running off together (both large, their ratio steady) means the beta
    # spread of drop-out probabilities has collapsed: every customer drops out after a
    # transaction with the same p = a / (a + b). P(alive) stays well defined; say so.
    homogeneous = (not fit.converged and np.isfinite(fit.log_likelihood)
                   and min(fit.a, fit.b) > 1e3 and 0 < fit.r < 1e3 and 0 < fit.alpha < 1e6)
    if not fit.converged and not homogeneous:
        raise ClientlensError(f"the BG/NBD fit on {len(rows):,} customers did not converge "
                              f"(r={fit.r:.3g}, alpha={fit.alpha:.3g}, a={fit.a:.3g}, "
                              f"b={fit.b:.3g}); the parameters were not changed")
    path = folder / ACTIVITY_FILE
    text = TEMPLATE.format(as_of=as_of, customers=len(rows), log_likelihood=fit.log_likelihood,
                           version=defs.version, r=fit.r, alpha=fit.alpha, a=fit.a, b=fit.b,
                           dropout="homogeneous" if homogeneous else "beta")
    # Atomic (a unique temporary file renamed over it): two fits at once leave one whole
    # file, the last one's, and a run reading the definitions never sees half of one.
    files.write_text(path, text)
    try:
        new = load_definitions(folder)
    except ClientlensError:
        raise ClientlensError(f"{path} was written but the definitions no longer load; "
                              "check it") from None
    return ActivityFit(as_of=as_of, customers=len(rows), r=fit.r, alpha=fit.alpha, a=fit.a,
                       b=fit.b, log_likelihood=fit.log_likelihood, path=path,
                       new_version=new.version, homogeneous=homogeneous)
