"""Tests of association for an r x c table of counts, at the level of SPSS Crosstabs and R.

Public functions
----------------
crosstab_tests      all the statistics of SPSS's Crosstabs "Chi-Square Tests" and
                    "Symmetric Measures" tables for an r x c table of counts
pearson_chi2        the Pearson statistic, vectorised over stacks of tables
expected_counts     the counts expected under independence

Pairwise comparisons are :mod:`cmestudy.analysis.pairwise`; proportions, their intervals and
the test for trend :mod:`cmestudy.analysis.proportions`. The report writes the results in the
reader's language (:mod:`cmestudy.report.association_tables`).

References
----------
.. [1] Agresti, A. (2013). Categorical Data Analysis, 3rd ed. Wiley.
.. [2] IBM SPSS Statistics 29 Algorithms, "CROSSTABS".
.. [3] Haberman, S. J. (1973). The analysis of residuals in cross-classified tables.
       Biometrics 29(1), 205-220.
.. [4] Smithson, M. (2003). Confidence Intervals. Sage (noncentral chi-square intervals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

from cmestudy import defaults

__all__ = ["TestResult", "EffectSize", "LowExpected", "CrosstabResult", "crosstab_tests", "pearson_chi2",
           "expected_counts"]  # fmt: skip


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class TestResult:
    """One test: its statistic, degrees of freedom and two-sided p-value."""

    name: str
    statistic: float
    df: float | None
    pvalue: float
    method: str = ""  # for Fisher's test: "exact" or "monte_carlo"
    ci: tuple[float, float] | None = None  # Monte Carlo only: the interval of the p-value
    samples: int | None = None  # Monte Carlo only: tables drawn, and their seed
    seed: int | None = None
    seconds: float | None = None  # Monte Carlo only: the exact test's time budget that ran out


@dataclass(frozen=True)
class EffectSize:
    estimate: float
    ci_low: float
    ci_high: float
    confidence: float = 0.95


@dataclass(frozen=True)
class LowExpected:
    """Cells with expected count below 5 (SPSS's footnote a)."""

    count: int
    share: float
    minimum: float

    def values(self) -> dict:
        """The numbers of SPSS's footnote a: cells, their share (0-1) and the smallest expected count."""
        return {"cells": self.count, "share": self.share, "minimum": self.minimum}


@dataclass
class CrosstabResult:
    observed: pd.DataFrame
    n: int
    expected: pd.DataFrame
    pearson: TestResult
    yates: TestResult | None
    likelihood_ratio: TestResult
    linear_by_linear: TestResult | None
    fisher: TestResult | None
    phi: float
    cramers_v: EffectSize
    contingency_coefficient: float
    residuals: pd.DataFrame
    adjusted_residuals: pd.DataFrame
    low_expected: LowExpected

    def to_frame(self) -> pd.DataFrame:
        """The tests in the layout of SPSS's "Chi-Square Tests" table.

        Rows and columns carry codes (``pearson``, ``p_asymptotic``, ...); the report labels
        them in its language (SPSS's own words in English: "Pearson Chi-Square",
        "Asymptotic Significance (2-sided)", ...).
        """
        mc = self.fisher is not None and self.fisher.method == "monte_carlo"
        rows = [("pearson", self.pearson, "asymptotic")]
        if self.yates is not None:
            rows.append(("yates", self.yates, "asymptotic"))
        rows.append(("likelihood_ratio", self.likelihood_ratio, "asymptotic"))
        if self.fisher is not None:
            rows.append(("fisher", self.fisher, "monte_carlo" if mc else "exact"))
        if self.linear_by_linear is not None:
            rows.append(("linear_by_linear", self.linear_by_linear, "asymptotic"))
        records = []
        for code, r, kind in rows:
            rec = {
                "value": np.nan if code == "fisher" else r.statistic,
                "df": r.df,
                "p_asymptotic": r.pvalue if kind == "asymptotic" else np.nan,
            }
            if mc:  # SPSS's Monte Carlo columns: the estimate and its interval
                rec |= {
                    "p_monte_carlo": r.pvalue if kind == "monte_carlo" else np.nan,
                    "p_mc_low": r.ci[0] if kind == "monte_carlo" else np.nan,
                    "p_mc_high": r.ci[1] if kind == "monte_carlo" else np.nan,
                }
            else:
                rec["p_exact"] = r.pvalue if kind == "exact" else np.nan
            records.append(rec)
        out = pd.DataFrame(records, index=[code for code, _, _ in rows])
        out.loc["n_valid"] = [self.n] + [np.nan] * (out.shape[1] - 1)
        out.index.name = "chi_square_tests"
        return out

    def notes(self) -> list[tuple[str, dict]]:
        """The footnotes of the chi-square tests table, as (message id, numbers): cells with small
        expected counts (SPSS's a.), and how Fisher's p-value was obtained (b.: exactly, or by Monte
        Carlo with its samples, seed, interval of the p-value at ``level_mc`` and the seconds the exact
        test was given). The report writes them (:func:`cmestudy.report.association_tables.notes`)."""
        out = [("note.low_expected", self.low_expected.values())]
        f = self.fisher
        if f is None:
            return out
        if f.method == "monte_carlo":
            from cmestudy.analysis import exact

            values = {"samples": f.samples, "seed": f.seed, "low": f.ci[0], "high": f.ci[1], "seconds": f.seconds,
                      "level_mc": exact.MC_CONFIDENCE}  # fmt: skip
            out.append(("note.fisher_monte_carlo", values))
        else:
            out.append(("note.fisher_exact", {}))
        return out

    def measures_frame(self) -> pd.DataFrame:
        """Phi, Cramer's V (with its CI) and the contingency coefficient ("Symmetric Measures")."""
        v = self.cramers_v
        return pd.DataFrame(
            {
                "value": [self.phi, v.estimate, self.contingency_coefficient],
                "ci_low": [np.nan, v.ci_low, np.nan],
                "ci_high": [np.nan, v.ci_high, np.nan],
            },
            index=pd.Index(["phi", "cramers_v", "contingency_coefficient"], name="symmetric_measures"),
        )

    def percentages_frame(self) -> pd.DataFrame:
        """The observed table as SPSS prints it: count, % within row and % within column, with totals."""
        from cmestudy.analysis.describe import crosstab_with_percentages

        return crosstab_with_percentages(self.observed)


# --------------------------------------------------------------------------- checking
def _as_table(observed, name: str = "observed") -> pd.DataFrame:
    """Validate a table of counts; return it as a float DataFrame with labels."""
    if isinstance(observed, pd.DataFrame):
        frame = observed.copy()
    else:
        arr = np.asarray(observed, dtype=object)
        if arr.ndim != 2:
            raise ValueError(f"{name} must be a two-dimensional table of counts; got {arr.ndim} dimension(s)")
        frame = pd.DataFrame(arr)
    if frame.ndim != 2:
        raise ValueError(f"{name} must be a two-dimensional table of counts")
    r, c = frame.shape
    if r < 2 or c < 2:
        raise ValueError(f"{name} must have at least 2 rows and 2 columns; got {r} x {c}")
    try:
        values = frame.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold numbers only: {exc}") from None
    if np.isnan(values).any():
        i, j = np.argwhere(np.isnan(values))[0]
        raise ValueError(f"{name} has missing counts, first at row {frame.index[i]!r}, column {frame.columns[j]!r}")
    if np.isinf(values).any():
        raise ValueError(f"{name} has infinite values")
    if (values < 0).any():
        i, j = np.argwhere(values < 0)[0]
        raise ValueError(
            f"{name} has negative counts, first {values[i, j]:g} at row {frame.index[i]!r}, column {frame.columns[j]!r}"
        )
    if (values != np.round(values)).any():
        i, j = np.argwhere(values != np.round(values))[0]
        raise ValueError(
            f"{name} must hold whole-number counts; got {values[i, j]:g} at row {frame.index[i]!r}, column {frame.columns[j]!r}"
        )
    zero_rows = [frame.index[i] for i in np.flatnonzero(values.sum(axis=1) == 0)]
    zero_cols = [frame.columns[j] for j in np.flatnonzero(values.sum(axis=0) == 0)]
    if zero_rows or zero_cols:
        parts = ([f"row(s) {zero_rows}"] if zero_rows else []) + ([f"column(s) {zero_cols}"] if zero_cols else [])
        raise ValueError(
            f"{name} has {' and '.join(parts)} of zeros: expected counts there are zero, "
            "so the chi-square statistic is undefined; drop the empty categories"
        )
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)


def expected_counts(observed) -> np.ndarray:
    """E_ij = R_i C_j / N, vectorised over leading axes of ``observed`` (..., r, c)."""
    o = np.asarray(observed, dtype=float)
    return o.sum(axis=-1, keepdims=True) * o.sum(axis=-2, keepdims=True) / o.sum(axis=(-2, -1), keepdims=True)


def pearson_chi2(observed) -> np.ndarray:
    """Pearson's X^2 = sum (O - E)^2 / E over the last two axes (no continuity correction).

    Works on one table (r, c) or a stack (..., r, c); used where many candidate tables
    are scored at once (the reconstruction). See :func:`crosstab_tests` for the full test.
    """
    o = np.asarray(observed, dtype=float)
    e = expected_counts(o)
    return ((o - e) ** 2 / e).sum(axis=(-2, -1))


# --------------------------------------------------------------------------- pieces
def _likelihood_ratio(o: np.ndarray, e: np.ndarray) -> float:
    """G^2 = 2 sum O ln(O / E), with 0 ln 0 = 0 ([1] eq. 3.11)."""
    mask = o > 0
    return float(2.0 * np.sum(o[mask] * np.log(o[mask] / e[mask])))


def _yates(o: np.ndarray, e: np.ndarray) -> float:
    """Continuity-corrected X^2 for 2 x 2: sum (|O - E| - min(0.5, |O - E|))^2 / E (as R chisq.test)."""
    d = np.abs(o - e)
    return float(np.sum((d - np.minimum(0.5, d)) ** 2 / e))


def _scores_for(labels: pd.Index, given) -> np.ndarray | None:
    if given is not None:
        s = np.asarray(given, dtype=float)
        if s.shape != (len(labels),):
            raise ValueError(
                f"scores must have one value per category ({len(labels)}); got {s.shape[0] if s.ndim else 'a scalar'}"
            )
        if np.isnan(s).any():
            raise ValueError("scores must not be missing")
        return s
    if isinstance(labels, pd.CategoricalIndex) and labels.ordered:
        return labels.codes.astype(float) + 1.0
    if len(labels) == 2:
        return np.array([1.0, 2.0])
    return None


def _linear_by_linear(o: np.ndarray, u: np.ndarray, v: np.ndarray) -> float:
    """M^2 = (N - 1) r^2, r the Pearson correlation of the row and column scores ([1] sec. 3.4.1)."""
    n = o.sum()
    ru, cv = o.sum(axis=1), o.sum(axis=0)
    mu, mv = (ru @ u) / n, (cv @ v) / n
    cov = (u - mu) @ o @ (v - mv)
    su = math.sqrt(ru @ (u - mu) ** 2)
    sv = math.sqrt(cv @ (v - mv) ** 2)
    if su == 0 or sv == 0:
        return 0.0
    r = cov / (su * sv)
    return float((n - 1) * r * r)


def _fisher(o: np.ndarray, seconds: float | None) -> TestResult:
    """Fisher's exact test (Freeman-Halton for r x c) by :func:`cmestudy.analysis.exact.fisher_test`: exact, or
    by Monte Carlo with its 99% interval where the exact p cannot be had within
    ``seconds`` (default :data:`cmestudy.defaults.EXACT_SECONDS`)."""
    from cmestudy.analysis import exact

    seconds = defaults.EXACT_SECONDS if seconds is None else seconds
    res = exact.fisher_test(o.astype(np.int64), seconds)
    name = "Fisher's exact test"
    if res.method == "exact":
        return TestResult(name, np.nan, None, res.pvalue, "exact")
    ci = (res.ci_low, res.ci_high)
    return TestResult(name, np.nan, None, res.pvalue, "monte_carlo", ci, res.samples, res.seed, seconds)


def _noncentral_chi2_ci(stat: float, df: int, confidence: float) -> tuple[float, float]:
    """Confidence interval for the noncentrality parameter lambda of a chi-square ([4] ch. 4).

    lambda_low solves P(X >= stat | lambda) = alpha/2, lambda_high solves
    P(X <= stat | lambda) = alpha/2, X ~ noncentral chi2(df, lambda); 0 where no root.
    """
    a = (1 - confidence) / 2

    def cdf(lam):
        return sps.chi2.cdf(stat, df) if lam == 0 else sps.ncx2.cdf(stat, df, lam)

    def solve(target):
        if cdf(0.0) < target:
            return 0.0
        hi = max(1.0, stat)
        while cdf(hi) > target:
            hi *= 2
        return optimize.brentq(lambda lam: cdf(lam) - target, 0.0, hi, xtol=1e-10)

    return solve(1 - a), solve(a)


# --------------------------------------------------------------------------- public API
def crosstab_tests(
    observed,
    row_scores=None,
    col_scores=None,
    confidence: float = 0.95,
    fisher: bool = True,
    exact_seconds: float | None = None,
) -> CrosstabResult:
    """Tests of independence for an r x c table of counts, as SPSS Crosstabs reports them.

    Parameters
    ----------
    observed : array_like or DataFrame, shape (r, c)
        Counts: non-negative whole numbers, no missing values, no empty row or column.
    row_scores, col_scores : array_like, optional
        Scores for the linear-by-linear association test. By default a 2-category
        dimension is scored (1, 2) and an ordered categorical index 1..k; if either
        dimension has no scores the test is not computed (``None``).
    confidence : float
        Confidence level of the interval for Cramer's V.
    fisher : bool
        Compute Fisher's exact test (``False``: ``fisher`` is None, for callers that need only
        the other statistics and not the time an exact r x c test can take).
    exact_seconds : float, optional
        Time budget of the exact Fisher test before the Monte Carlo estimate is used instead
        (default :data:`cmestudy.defaults.EXACT_SECONDS`).

    Returns
    -------
    CrosstabResult
        ``pearson``, ``yates`` (2 x 2 only), ``likelihood_ratio``, ``linear_by_linear``,
        ``fisher``, ``phi``, ``cramers_v`` (with CI), ``contingency_coefficient``,
        ``expected``, ``residuals``, ``adjusted_residuals``, ``low_expected``; and
        ``to_frame()`` in the layout of SPSS's "Chi-Square Tests" table.

    Notes
    -----
    With :math:`E_{ij} = R_i C_j / N` and :math:`df = (r-1)(c-1)`:

    * Pearson :math:`X^2 = \\sum (O_{ij}-E_{ij})^2 / E_{ij}` ([1] eq. 3.10).
    * Yates (2 x 2) :math:`\\sum (|O-E| - \\min(0.5, |O-E|))^2 / E` (as R's ``chisq.test``).
    * Likelihood ratio :math:`G^2 = 2 \\sum O \\ln(O/E)` ([1] eq. 3.11).
    * Linear-by-linear :math:`M^2 = (N-1) r^2`, df = 1 ([1] sec. 3.4.1; SPSS [2]).
    * Fisher: 2 x 2 by the hypergeometric distribution; 2 x c by full enumeration
      (Freeman-Halton); otherwise a seeded Monte Carlo estimate, so repeated runs agree.
    * Phi :math:`\\sqrt{X^2/N}` (signed :math:`(ad-bc)/\\sqrt{R_1R_2C_1C_2}` for 2 x 2);
      Cramer's V :math:`\\sqrt{X^2 / (N (k-1))}`, k = min(r, c), with the interval
      :math:`\\sqrt{(\\lambda + df)/(N(k-1))}` from the noncentral chi-square interval
      for :math:`\\lambda` ([4]; as R's ``confintr::ci_cramersv``, except that a lower
      limit of :math:`\\lambda = 0` gives V = 0, not :math:`\\sqrt{df/(N(k-1))}`, which can
      exceed the estimate); contingency coefficient :math:`\\sqrt{X^2/(X^2+N)}`.
    * Pearson residuals :math:`(O-E)/\\sqrt{E}`; adjusted (standardised) residuals
      :math:`(O-E)/\\sqrt{E(1-R_i/N)(1-C_j/N)}` ([3]), approximately N(0, 1) under
      independence: |value| > 1.96 flags a cell at the 5% level.

    Examples
    --------
    >>> res = crosstab_tests([[12, 5], [7, 9]])
    >>> round(res.pearson.statistic, 4), res.pearson.df
    (2.4306, 1)
    """
    table = _as_table(observed)
    o = table.to_numpy()
    r, c = o.shape
    n = float(o.sum())
    e = expected_counts(o)
    df = (r - 1) * (c - 1)
    x2 = float(((o - e) ** 2 / e).sum())
    pearson = TestResult("Pearson chi-square", x2, df, float(sps.chi2.sf(x2, df)))
    yates = None
    if (r, c) == (2, 2):
        y = _yates(o, e)
        yates = TestResult("Continuity correction", y, 1, float(sps.chi2.sf(y, 1)))
    g2 = _likelihood_ratio(o, e)
    lr = TestResult("Likelihood ratio", g2, df, float(sps.chi2.sf(g2, df)))
    u = _scores_for(table.index, row_scores)
    v = _scores_for(table.columns, col_scores)
    lbl = None
    if u is not None and v is not None:
        m2 = _linear_by_linear(o, u, v)
        lbl = TestResult("Linear-by-linear association", m2, 1, float(sps.chi2.sf(m2, 1)))
    k = min(r, c)
    if (r, c) == (2, 2):
        a, b, cc, d = o.ravel()
        phi = float((a * d - b * cc) / math.sqrt(o.sum(1).prod() * o.sum(0).prod()))
    else:
        phi = math.sqrt(x2 / n)
    lam_lo, lam_hi = _noncentral_chi2_ci(x2, df, confidence)
    v_ci = EffectSize(
        math.sqrt(x2 / (n * (k - 1))),
        min(1.0, math.sqrt((lam_lo + df) / (n * (k - 1)))) if lam_lo > 0 else 0.0,
        min(1.0, math.sqrt((lam_hi + df) / (n * (k - 1)))),
        confidence,
    )
    resid = (o - e) / np.sqrt(e)
    rp, cp = o.sum(1, keepdims=True) / n, o.sum(0, keepdims=True) / n
    adj = (o - e) / np.sqrt(e * (1 - rp) * (1 - cp))
    low = e < 5
    as_frame = lambda a: pd.DataFrame(a, index=table.index, columns=table.columns)  # noqa: E731
    return CrosstabResult(
        observed=table.astype("int64"),
        n=int(n),
        expected=as_frame(e),
        pearson=pearson,
        yates=yates,
        likelihood_ratio=lr,
        linear_by_linear=lbl,
        fisher=_fisher(o, exact_seconds) if fisher else None,
        phi=phi,
        cramers_v=v_ci,
        contingency_coefficient=math.sqrt(x2 / (x2 + n)),
        residuals=as_frame(resid),
        adjusted_residuals=as_frame(adj),
        low_expected=LowExpected(int(low.sum()), float(low.mean()), float(e.min())),
    )
