"""Two samples, one question: did the distribution move, and by how much?

Pure functions over numpy arrays and category counts; the tests are scipy's. Each
returns its figures and a verdict: ``drifted`` True or False, or None with a reason
when a cohort has fewer than ``min_n`` values. A verdict needs significance and a
meaningful effect together (``evals/drift/options.py`` says why).

Numeric: the two-sample Kolmogorov-Smirnov test, the population stability index over
the baseline's deciles, Cohen's d and the relative shift of the median.
Categorical: chi-square on the counts (the rarest categories pooled as "(other)") and
the Jensen-Shannon distance between the shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from evals.drift.options import Thresholds

PSI_BINS = 10
PSI_FLOOR = 1e-4  # an empty bin's share, so PSI stays finite
TOP_CATEGORIES = 20  # chi-square over at most this many categories, the rest as one
OTHER = "(other)"


@dataclass(frozen=True, slots=True)
class Verdict:
    drifted: bool | None
    reason: str


def summary(values: np.ndarray) -> dict[str, Any]:
    """n, mean, median, p95 of the known values (None when there are none)."""
    if not len(values):
        return {"n": 0, "mean": None, "median": None, "p95": None}
    median, p95 = np.percentile(values, [50, 95])
    return {"n": len(values), "mean": _f(values.mean()), "median": _f(median), "p95": _f(p95)}


def psi(baseline: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    """Population stability index over the baseline's quantile bins (ties merged: a
    count metric with few values has fewer bins)."""
    edges = np.unique(np.quantile(baseline, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = _bin_shares(baseline, edges)
    actual = _bin_shares(current, edges)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # A value equal to an edge falls in the bin below it, as the quantiles cut.
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return np.maximum(counts / len(values), PSI_FLOOR)


def cohens_d(baseline: np.ndarray, current: np.ndarray) -> float | None:
    """(current mean - baseline mean) / pooled standard deviation; None when both are
    constant and differ (an infinite effect says less than PSI does)."""
    n1, n2 = len(baseline), len(current)
    pooled = ((n1 - 1) * baseline.var(ddof=1) + (n2 - 1) * current.var(ddof=1)) / (n1 + n2 - 2)
    delta = float(current.mean() - baseline.mean())
    if pooled <= 0:
        return 0.0 if delta == 0 else None
    return delta / float(np.sqrt(pooled))


def median_shift(baseline: np.ndarray, current: np.ndarray) -> float | None:
    """(current median - baseline median) / |baseline median|; None from a zero median."""
    before, after = float(np.median(baseline)), float(np.median(current))
    if before == 0:
        return 0.0 if after == 0 else None
    return (after - before) / abs(before)


def numeric(baseline: np.ndarray, current: np.ndarray, limits: Thresholds) -> dict[str, Any]:
    """KS, PSI and effect sizes of two samples (NaN values dropped), and the verdict."""
    baseline = baseline[np.isfinite(baseline)]
    current = current[np.isfinite(current)]
    figures: dict[str, Any] = {
        "baseline": summary(baseline),
        "current": summary(current),
        "statistic": None,
        "p_value": None,
        "psi": None,
        "effect_size": None,
        "median_shift": None,
    }
    short = _too_few(len(baseline), len(current), limits.min_n, "values")
    if short is not None:
        return {**figures, **_verdict(short)}
    from scipy.stats import ks_2samp  # here: scipy.stats is ~60 MB the server seldom needs

    test = ks_2samp(baseline, current)
    figures |= {
        "statistic": _f(test.statistic),
        "p_value": _f(test.pvalue),
        "psi": _f(psi(baseline, current)),
        "effect_size": _f(cohens_d(baseline, current)),
        "median_shift": _f(median_shift(baseline, current)),
    }
    significant = test.pvalue < limits.p_value
    effect = figures["effect_size"]
    large = figures["psi"] >= limits.psi or (effect is None or abs(effect) >= limits.effect_size)
    if significant and large:
        verdict = Verdict(True, f"KS p < {limits.p_value:g} and PSI or |d| over its limit")
    elif significant:
        verdict = Verdict(False, "significant, but the shift is small (PSI and |d| under limits)")
    else:
        verdict = Verdict(False, f"KS p \u2265 {limits.p_value:g}")
    return {**figures, **_verdict(verdict)}


def categorical(
    baseline: Mapping[str, int],
    current: Mapping[str, int],
    limits: Thresholds,
    units: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Chi-square and Jensen-Shannon distance of two sets of category counts.

    ``units``: how many independent units (traces) each cohort's counts come from,
    when that is fewer than the counts. A trace's calls are not independent draws (a
    loop repeats one call ten times), so the chi-square table is scaled down to one
    observation per trace: the shares are kept, the evidence is not inflated.
    """
    n1, n2 = sum(baseline.values()), sum(current.values())
    names = sorted(
        baseline.keys() | current.keys(),
        key=lambda k: (-(baseline.get(k, 0) + current.get(k, 0)), k),
    )
    figures: dict[str, Any] = {
        "baseline": {"n": n1, "shares": _shares(baseline, names, n1)},
        "current": {"n": n2, "shares": _shares(current, names, n2)},
        "statistic": None,
        "p_value": None,
        "divergence": None,
    }
    short = _too_few(n1, n2, limits.min_n, "observations")
    if short is not None:
        return {**figures, **_verdict(short)}
    kept = names[:TOP_CATEGORIES]
    table = np.array(
        [[counts.get(name, 0) for name in kept] for counts in (baseline, current)], dtype=float
    )
    rest = np.array([n1, n2], dtype=float) - table.sum(axis=1)
    if rest.any():
        table = np.column_stack([table, rest])
    observed = table
    if units is not None:
        scale = np.minimum(1.0, np.array(units, dtype=float) / table.sum(axis=1))
        observed = table * scale[:, None]
    from scipy.spatial.distance import jensenshannon  # see ks_2samp's import
    from scipy.stats import chi2_contingency

    if table.shape[1] < 2:  # one category in both: nothing can have moved
        statistic, p_value = 0.0, 1.0
    else:
        test = chi2_contingency(observed, correction=False)
        statistic, p_value = float(test.statistic), float(test.pvalue)
    distance = float(jensenshannon(table[0] / n1, table[1] / n2, base=2))
    figures |= {"statistic": _f(statistic), "p_value": _f(p_value), "divergence": _f(distance)}
    significant = p_value < limits.p_value
    if significant and distance >= limits.divergence:
        verdict = Verdict(True, f"chi-square p < {limits.p_value:g} and JS distance over its limit")
    elif significant:
        verdict = Verdict(False, "significant, but the shares moved little (JS distance)")
    else:
        verdict = Verdict(False, f"chi-square p \u2265 {limits.p_value:g}")
    return {**figures, **_verdict(verdict)}


def _shares(counts: Mapping[str, int], names: list[str], total: int) -> dict[str, float]:
    """Shares of the most frequent categories (pooled order), for the report's charts."""
    if not total:
        return {}
    return {name: counts.get(name, 0) / total for name in names[:TOP_CATEGORIES]}


def _too_few(n1: int, n2: int, min_n: int, what: str) -> Verdict | None:
    if min(n1, n2) >= min_n:
        return None
    return Verdict(None, f"not enough data: {n1} and {n2} {what}, {min_n} needed in each")


def _verdict(verdict: Verdict) -> dict[str, Any]:
    return {"drifted": verdict.drifted, "reason": verdict.reason}


def _f(value: float | np.floating[Any] | None) -> float | None:
    """A JSON-able float: None for NaN and infinities (PostgreSQL's JSON refuses them)."""
    if value is None or not np.isfinite(value):
        return None
    return float(value)
