"""Proportions: Wilson and Newcombe intervals, Cohen's benchmarks for Cramér's V, the test for trend.

Public functions
----------------
proportion_ci             Wilson score interval of binomial proportions
proportion_difference_ci  Newcombe's hybrid score interval of a difference of two proportions
cramers_v_magnitude       negligible, small, medium or large (Cohen 1988)
cochran_armitage          Cochran-Armitage test for trend in proportions

References
----------
.. [1] Agresti, A. (2013). Categorical Data Analysis, 3rd ed. Wiley.
.. [5] Armitage, P. (1955). Tests for linear trends in proportions and frequencies.
       Biometrics 11(3), 375-386.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

__all__ = ["TrendResult", "cochran_armitage", "cramers_v_magnitude", "proportion_ci", "proportion_difference_ci"]


@dataclass(frozen=True)
class TrendResult:
    z: float
    statistic: float
    df: int
    pvalue: float
    variance: str
    proportions: tuple[float, ...]
    scores: tuple[float, ...]


def cochran_armitage(successes, totals, scores=None, variance: str = "N") -> TrendResult:
    """Cochran-Armitage test for a linear trend in proportions ([5]; [1] sec. 5.3.5).

    Parameters
    ----------
    successes, totals : array_like of whole numbers, one per ordered group
    scores : array_like, optional
        Group scores; 1, 2, ..., k by default (only their spacing matters).
    variance : {"N", "N-1"}
        ``"N"``: :math:`Var = \\bar p (1-\\bar p) [\\sum n_i s_i^2 - (\\sum n_i s_i)^2 / N]`, the
        unconditional form, as R's ``prop.trend.test``. ``"N-1"``: that times N/(N-1), the
        exact conditional (permutation) variance, as SPSS's linear-by-linear association
        and StatXact; the chi-square then equals :math:`(N-1) r^2`.

    Returns
    -------
    TrendResult with ``z`` = T / sqrt(Var), T = sum s_i (x_i - n_i p-bar); ``statistic`` =
    z^2 (df 1); two-sided ``pvalue``.

    Examples
    --------
    Two groups: the trend chi-square equals Pearson's X^2 of the 2 x 2 table, 8/3 here.

    >>> round(cochran_armitage([5, 10], [20, 20]).statistic, 6)
    2.666667
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(totals, dtype=float)
    if x.ndim != 1 or n.ndim != 1 or len(x) != len(n):
        raise ValueError("successes and totals must be one-dimensional and of equal length")
    if len(x) < 2:
        raise ValueError(f"need at least 2 groups; got {len(x)}")
    for name, a in (("successes", x), ("totals", n)):
        if np.isnan(a).any():
            raise ValueError(f"{name} has missing values")
        if (a < 0).any():
            raise ValueError(f"{name} must be non-negative; got {a[a < 0][0]:g}")
        if (a != np.round(a)).any():
            raise ValueError(f"{name} must be whole numbers; got {a[a != np.round(a)][0]:g}")
    if (x > n).any():
        i = int(np.argmax(x > n))
        raise ValueError(f"successes exceed totals in group {i} ({x[i]:g} > {n[i]:g})")
    if (n == 0).any():
        raise ValueError(f"totals must be positive; group {int(np.argmax(n == 0))} is empty")
    s = np.arange(1, len(x) + 1, dtype=float) if scores is None else np.asarray(scores, dtype=float)
    if s.shape != x.shape:
        raise ValueError(f"scores must have one value per group ({len(x)})")
    if variance not in ("N", "N-1"):
        raise ValueError(f"variance must be 'N' or 'N-1'; got {variance!r}")
    big_n = n.sum()
    p = x.sum() / big_n
    if p in (0.0, 1.0):
        raise ValueError("all observations are successes or all are failures: no trend can be tested")
    t = float(np.sum(s * (x - n * p)))
    var = p * (1 - p) * (np.sum(n * s**2) - np.sum(n * s) ** 2 / big_n)
    if variance == "N-1":
        var *= big_n / (big_n - 1)
    if var <= 0:
        raise ValueError("scores are constant across groups: no trend can be tested")
    z = t / math.sqrt(var)
    return TrendResult(
        z,
        z * z,
        1,
        float(2 * sps.norm.sf(abs(z))),
        variance,
        tuple(float(v) for v in x / n),
        tuple(float(v) for v in s),
    )


def proportion_ci(successes, totals, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for binomial proportions (Wilson 1927; Agresti [1] sec. 1.4.2).

    .. math:: \\frac{\\hat p + z^2/2n \\pm z \\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    The interval is defined at 0% and 100% too: its limits are then exactly 0 and 1 (the
    formula gives them up to rounding, which is removed, so an error bar is never negative).

    Examples
    --------
    >>> lo, hi = proportion_ci(8, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4902, 0.9433)
    >>> [float(v) for v in proportion_ci(0, 7)][0], [float(v) for v in proportion_ci(7, 7)][1]
    (0.0, 1.0)
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(totals, dtype=float)
    if np.any(n <= 0):
        raise ValueError("totals must be positive")
    if np.any((x < 0) | (x > n)):
        raise ValueError("successes must lie between 0 and totals")
    z = sps.norm.ppf(1 - (1 - confidence) / 2)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = np.where(x == 0, 0.0, np.clip(centre - half, 0.0, p))
    high = np.where(x == n, 1.0, np.clip(centre + half, p, 1.0))
    return low, high


def cramers_v_magnitude(v: float, df_star: int) -> str:
    """Cohen's (1988) benchmarks for Cramér's V with df* = min(r, c) - 1.

    Small, medium and large are 0.10, 0.30 and 0.50 divided by sqrt(df*); below small
    is "negligible".

    Examples
    --------
    >>> cramers_v_magnitude(0.04, 1), cramers_v_magnitude(0.35, 1)
    ('negligible', 'medium')
    """
    s = math.sqrt(max(1, int(df_star)))
    if v < 0.10 / s:
        return "negligible"
    if v < 0.30 / s:
        return "small"
    if v < 0.50 / s:
        return "medium"
    return "large"


def proportion_difference_ci(x1, n1, x2, n2, confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference of two independent proportions p2 - p1 with Newcombe's hybrid score interval.

    Newcombe (1998), Statistics in Medicine 17: 873-890, method 10: with Wilson limits
    (l1, u1) and (l2, u2), the interval for d = p2 - p1 is
    [d - sqrt((p2 - l2)^2 + (u1 - p1)^2), d + sqrt((u2 - p2)^2 + (p1 - l1)^2)].
    Returns (d, low, high).

    Examples
    --------
    Newcombe's example (a), 56/70 vs 48/80: 0.0524 to 0.3339.

    >>> d, lo, hi = proportion_difference_ci(48, 80, 56, 70)
    >>> round(d, 4), round(lo, 4), round(hi, 4)
    (0.2, 0.0524, 0.3339)
    """
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = (float(v) for v in proportion_ci(x1, n1, confidence))
    l2, u2 = (float(v) for v in proportion_ci(x2, n2, confidence))
    d = p2 - p1
    return d, d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
