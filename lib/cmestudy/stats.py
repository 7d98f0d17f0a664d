"""Tests of association for contingency tables, at the level of SPSS Crosstabs and R.

Public functions
----------------
crosstab_tests      all the statistics of SPSS's Crosstabs "Chi-Square Tests" and
                    "Symmetric Measures" tables for an r x c table of counts
pairwise_tests      2 x 2 (or r x 2) sub-table tests between chosen columns or rows,
                    with Bonferroni or Holm adjusted p-values
cochran_armitage    Cochran-Armitage test for trend in proportions
check_reported      statcheck-style consistency of a reported chi-square and p-value
pearson_chi2        the Pearson statistic, vectorised over stacks of tables
apa_chi2            a result in APA style

References
----------
.. [1] Agresti, A. (2013). Categorical Data Analysis, 3rd ed. Wiley.
.. [2] IBM SPSS Statistics 29 Algorithms, "CROSSTABS".
.. [3] Haberman, S. J. (1973). The analysis of residuals in cross-classified tables.
       Biometrics 29(1), 205-220.
.. [4] Smithson, M. (2003). Confidence Intervals. Sage (noncentral chi-square intervals).
.. [5] Armitage, P. (1955). Tests for linear trends in proportions and frequencies.
       Biometrics 11(3), 375-386.
.. [6] Nuijten, M. B. et al. (2016). The prevalence of statistical reporting errors in
       psychology (1985-2013). Behavior Research Methods 48, 1205-1226 (statcheck).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

from . import defaults

__all__ = [
    "TestResult",
    "EffectSize",
    "LowExpected",
    "CrosstabResult",
    "TrendResult",
    "ReportCheck",
    "crosstab_tests",
    "pairwise_tests",
    "cochran_armitage",
    "check_reported",
    "pearson_chi2",
    "expected_counts",
    "apa_chi2",
    "format_p",
]


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
        """The numbers of the footnote, as the catalogue's ``note.low_expected`` template takes them."""
        return {"cells": self.count, "share": f"{100 * self.share:.1f}", "minimum": f"{self.minimum:.2f}"}

    def footnote(self, lang: str | None = None) -> str:
        """SPSS's footnote a, e.g. "0 cells (0.0%) have expected count less than 5. ..."."""
        from . import i18n

        return i18n.t("note.low_expected", lang, **self.values())


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
        """The footnotes of the chi-square tests table, as (message id, values): cells with small
        expected counts (SPSS's a.), and how Fisher's p-value was obtained (b.)."""
        out = [("note.low_expected", self.low_expected.values())]
        f = self.fisher
        if f is None:
            return out
        if f.method == "monte_carlo":
            from . import exact, i18n

            values = {
                "samples": i18n.integer(f.samples),
                "seed": f.seed,
                "low": i18n.p_value(f.ci[0]),
                "high": i18n.p_value(f.ci[1]),
                "seconds": i18n.integer(f.seconds),
                "level_mc": i18n.level(exact.MC_CONFIDENCE),
            }
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
        from .describe import crosstab_with_percentages

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
    """Fisher's exact test (Freeman-Halton for r x c) by :func:`cmestudy.exact.fisher_test`: exact, or
    by Monte Carlo with its 99% interval where the exact p cannot be had within
    ``seconds`` (default :data:`cmestudy.defaults.EXACT_SECONDS`)."""
    from . import exact

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


def _adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Bonferroni (min(1, m p)) or Holm's step-down adjustment, by ``statsmodels.stats.multitest``."""
    from statsmodels.stats.multitest import multipletests

    if method == "none":
        return np.asarray(p, dtype=float).copy()
    if method not in ("bonferroni", "holm"):
        raise ValueError(f"adjust must be 'bonferroni', 'holm' or 'none'; got {method!r}")
    p = np.asarray(p, dtype=float)
    out = np.full(len(p), np.nan)
    tested = ~np.isnan(p)  # pairs that could not be tested are not counted among the comparisons
    if tested.any():
        out[tested] = multipletests(p[tested], method=method)[1]
    return out


@dataclass(frozen=True)
class ColumnProportions:
    """SPSS's "compare column proportions" of one table (see :func:`column_proportions`)."""

    letters: pd.DataFrame  # indexed as the table: each cell's subscript letters ("" = not compared)
    tests: pd.DataFrame  # one row per row and pair of columns compared
    alpha: float

    @property
    def any_excluded(self) -> bool:
        """Whether some cell was not compared (its column proportion is 0 or 1)."""
        return bool((self.letters == "").to_numpy().any())


def compact_letters(n: int, differ) -> list[str]:
    """Letters for n groups such that two groups share a letter unless their pair is in ``differ``
    (the compact letter display; insert-and-absorb algorithm of Piepho 2004).

    Start from one letter for all; for each pair (i, j) that differs, every letter held by both is
    split in two, one without i and one without j; letters whose groups are within another's are
    absorbed. Letters are then named a, b, ... in the order of their first group.

    >>> compact_letters(3, {(0, 2)})
    ['a', 'ab', 'b']
    >>> compact_letters(2, set())
    ['a', 'a']

    Piepho, H.-P. (2004). An algorithm for a letter-based representation of all-pairwise
    comparisons. Journal of Computational and Graphical Statistics 13(2), 456-466.
    """
    groups = [frozenset(range(n))] if n else []
    for i, j in sorted(differ):
        split = []
        for g in groups:
            split += [g - {i}, g - {j}] if i in g and j in g else [g]
        groups = [g for k, g in enumerate(split) if not any(g < h or (g == h and m < k) for m, h in enumerate(split))]
    groups.sort(key=sorted)
    names = [chr(ord("a") + k) if k < 26 else chr(ord("A") + k - 26) for k in range(len(groups))]
    return ["".join(name for name, g in zip(names, groups) if i in g) for i in range(n)]


def column_proportions(observed, alpha: float = defaults.ALPHA) -> ColumnProportions:
    """SPSS's "compare column proportions" (CROSSTABS ``/CELLS=BPROP``; Custom Tables): within each row,
    every pair of columns is compared by a two-sided z-test of two independent proportions with the
    pooled variance,

    .. math:: z = \\frac{\\hat p_j - \\hat p_k}{\\sqrt{\\hat p (1 - \\hat p)(1/n_j + 1/n_k)}}, \\quad
              \\hat p_j = n_{ij}/n_{+j}, \\quad \\hat p = (n_{ij} + n_{ik}) / (n_{+j} + n_{+k}),

    (``statsmodels.stats.proportion.proportions_ztest``), its p-value Bonferroni-adjusted for the
    pairs compared in that row (``statsmodels.stats.multitest``). A column whose proportion in the row
    is 0 or 1 is not compared (SPSS's footnote). Cells that share no letter differ at ``alpha``
    (:func:`compact_letters`).

    >>> cats = pd.DataFrame([[28, 48], [10, 114]], index=["danced", "not"], columns=["food", "affection"])
    >>> column_proportions(cats).letters.loc["danced"].tolist()   # Field (2018), chapter 19: a vs b
    ['a', 'b']

    IBM SPSS Statistics 29 Algorithms, "CTABLES: Column proportions tests"; Field, A. (2018).
    Discovering Statistics Using IBM SPSS Statistics, 5th ed., chapter 19 (cats trained with food or
    affection, by whether they danced: the crosstab's counts carry the subscripts a and b).
    """
    from statsmodels.stats.proportion import proportions_ztest

    t = _as_table(observed)
    n_col = t.sum(axis=0).to_numpy()
    letters = pd.DataFrame("", index=t.index, columns=t.columns)
    records = []
    for row in t.index:
        counts = t.loc[row].to_numpy()
        share = np.divide(counts, n_col, out=np.full(len(counts), np.nan), where=n_col > 0)
        compared = [j for j in range(len(counts)) if n_col[j] > 0 and 0 < share[j] < 1]
        pairs = list(itertools.combinations(compared, 2))
        rows = []
        for j, k in pairs:
            z, p = proportions_ztest([counts[j], counts[k]], [n_col[j], n_col[k]])
            rows.append(
                {
                    "row": row,
                    "column_a": t.columns[j],
                    "column_b": t.columns[k],
                    "prop_a": share[j],
                    "prop_b": share[k],
                    "z": float(z),
                    "pvalue": float(p),
                }
            )
        if rows:
            adjusted = _adjust(np.array([r["pvalue"] for r in rows]), "bonferroni")
            for r, p in zip(rows, adjusted):
                r["pvalue_adjusted"] = float(p)
                r["significant"] = bool(p < alpha)
        differ = {(compared.index(j), compared.index(k)) for (j, k), r in zip(pairs, rows) if r["significant"]}
        for j, mark in zip(compared, compact_letters(len(compared), differ)):
            letters.iat[t.index.get_loc(row), j] = mark
        records += rows
    columns = ["row", "column_a", "column_b", "prop_a", "prop_b", "z", "pvalue", "pvalue_adjusted", "significant"]
    return ColumnProportions(letters, pd.DataFrame(records, columns=columns), alpha)


def pairwise_tests(observed, pairs=None, axis: str = "columns", adjust: str = "bonferroni") -> pd.DataFrame:
    """Chi-square tests on the sub-tables of two columns (or two rows) at a time.

    Parameters
    ----------
    observed : DataFrame or array_like, shape (r, c)
    pairs : list of (label, label), optional
        The columns (or rows) to compare; all pairs by default.
    axis : {"columns", "rows"}
    adjust : {"bonferroni", "holm", "none"}
        Adjustment of the p-values for the number of pairs tested.

    Returns
    -------
    DataFrame, one row per pair: ``pair``, ``n``, ``statistic`` (Pearson, no continuity
    correction, as the published study), ``df``, ``pvalue``, ``pvalue_adjusted``,
    ``yates`` and ``fisher_p`` for 2 x 2 sub-tables. A pair whose sub-table has a row without
    counts (no live learners of either title) cannot be tested: its statistics are NaN, a
    ``not_computable`` column gives the reason's code (``no_<row>``), and the adjustment counts
    only the pairs tested.
    """
    if axis not in ("columns", "rows"):
        raise ValueError(f"axis must be 'columns' or 'rows'; got {axis!r}")
    table = _as_table(observed)
    if axis == "rows":
        table = table.T
    labels = list(table.columns)
    if pairs is None:
        pairs = list(itertools.combinations(labels, 2))
    if not pairs:
        raise ValueError("pairs must name at least one pair")
    rows = []
    for pair in pairs:
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ValueError(f"each pair must name two different {axis}; got {pair!r}")
        missing = [p for p in pair if p not in labels]
        if missing:
            raise ValueError(f"pair {pair!r} names unknown {axis} {missing}; expected labels from {labels}")
        sub = table[list(pair)]
        empty = [str(label) for label in sub.index[sub.to_numpy().sum(axis=1) == 0]]
        row = {"pair": f"{pair[0]} vs {pair[1]}", "first": pair[0], "second": pair[1], "n": int(sub.to_numpy().sum())}
        if empty:  # a row of the sub-table without counts: the statistic is undefined (0/0), not zero
            row |= dict.fromkeys(["statistic", "pvalue", "yates", "fisher_p", "cramers_v"], np.nan)
            row |= {"df": 1, "not_computable": f"no_{empty[0]}"}
        else:
            res = crosstab_tests(sub)
            row |= {
                "statistic": res.pearson.statistic,
                "df": res.pearson.df,
                "pvalue": res.pearson.pvalue,
                "yates": res.yates.statistic if res.yates else np.nan,
                "fisher_p": res.fisher.pvalue,
                "cramers_v": res.cramers_v.estimate,
                "not_computable": None,
            }
        rows.append(row)
    out = pd.DataFrame(rows)
    out.insert(out.columns.get_loc("pvalue") + 1, "pvalue_adjusted", _adjust(out["pvalue"].to_numpy(), adjust))
    if out["not_computable"].isna().all():
        out = out.drop(columns="not_computable")
    out.attrs["adjust"] = adjust
    return out


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


@dataclass(frozen=True)
class ReportCheck:
    statistic: float
    df: int
    decimals: int
    reported_p: str
    p_computed: float
    p_low: float
    p_high: float
    consistent: bool
    note: str


_P_RE = re.compile(r"^\s*[pP]?\s*(<=|>=|<|>|=|≤|≥)?\s*(0?\.\d+|1(?:\.0+)?|0)\s*$")


def check_reported(statistic: float, df: int, reported_p: str, decimals: int = 3) -> ReportCheck:
    """Is a reported p-value consistent with a reported chi-square statistic? ([6])

    The reported statistic is rounded to ``decimals``, so the true value lies in
    [s - h, s + h], h = 0.5 * 10**-decimals; the p-value then lies in
    [sf(s + h), sf(s - h)] of the chi-square distribution with ``df``. The report is
    consistent if that range meets what was reported: ``"<0.05"`` (any bound, with
    ``<``, ``<=``, ``>``, ``>=``) or an exact value ``"0.032"`` (itself taken as rounded
    to its own decimals).

    Examples
    --------
    >>> check_reported(18.284, 2, "<0.05").consistent   # the study's 2021 value
    True
    >>> check_reported(2.0, 1, "<0.05", decimals=1).consistent   # p = .157
    False
    """
    if not np.isfinite(statistic) or statistic < 0:
        raise ValueError(f"statistic must be a non-negative number; got {statistic!r}")
    if int(df) != df or df < 1:
        raise ValueError(f"df must be a positive whole number; got {df!r}")
    if int(decimals) != decimals or decimals < 0:
        raise ValueError(f"decimals must be a non-negative whole number; got {decimals!r}")
    m = _P_RE.match(str(reported_p))
    if not m:
        raise ValueError(f"reported_p must look like '<0.05', '=0.032' or '0.032'; got {reported_p!r}")
    op, val = m.group(1) or "=", float(m.group(2))
    op = {"≤": "<=", "≥": ">="}.get(op, op)
    h = 0.5 * 10.0 ** (-decimals)
    p = float(sps.chi2.sf(statistic, df))
    p_low = float(sps.chi2.sf(statistic + h, df))
    p_high = float(sps.chi2.sf(max(0.0, statistic - h), df))
    if op == "<":
        ok = p_low < val
    elif op == "<=":
        ok = p_low <= val
    elif op == ">":
        ok = p_high > val
    elif op == ">=":
        ok = p_high >= val
    else:
        d = len(m.group(2).split(".")[1]) if "." in m.group(2) else 0
        hp = 0.5 * 10.0 ** (-d)
        ok = p_low <= val + hp and p_high >= val - hp
    note = (
        f"chi2({df}) = {statistic:.{decimals}f} gives p between {p_low:.3g} and {p_high:.3g}; "
        f"reported p {op} {m.group(2)}: {'consistent' if ok else 'INCONSISTENT'}"
    )
    return ReportCheck(float(statistic), int(df), int(decimals), str(reported_p), p, p_low, p_high, bool(ok), note)


def format_p(p: float) -> str:
    """APA style: no leading zero, three decimals, ``< .001`` below that.

    Examples
    --------
    >>> format_p(0.0004), format_p(0.032)
    ('p < .001', 'p = .032')
    """
    if p < 0.001:
        return "p < .001"
    return "p = " + f"{p:.3f}".lstrip("0")


def report_chi2(result: CrosstabResult, decimals: int = 3, lang: str | None = None) -> str:
    """The chi-square test as the report's language writes it: APA style in English
    (:func:`apa_chi2`), ``χ²=18.284，P<0.001，Cramér V=0.04`` in Chinese journals' style."""
    from . import i18n

    t = result.pearson
    return i18n.t(
        "stat.chi2_full",
        lang,
        df=t.df,
        n=i18n.integer(result.n, lang),
        chi2=f"{t.statistic:.{decimals}f}",
        p=i18n.p_clause(t.pvalue, lang),
        v=f"{result.cramers_v.estimate:.2f}",
    )


def pairwise_frame(pairwise: pd.DataFrame) -> pd.DataFrame:
    """The pairwise comparisons as the report shows them: one row per pair, codes as column names."""
    from . import i18n

    pairs = [
        i18n.t("label.pair", first=i18n.label(a), second=i18n.label(b))
        for a, b in zip(pairwise["first"], pairwise["second"])
    ]
    keep = ["n", "statistic", "df", "pvalue", "pvalue_adjusted", "cramers_v"]
    out = pairwise[keep + (["not_computable"] if "not_computable" in pairwise else [])].copy()
    out.columns = ["n", "chi2", "df", "p", "p_adjusted", "cramers_v"] + (["note"] if "not_computable" in out else [])
    if "note" in out:
        out["note"] = [f"nc_{c}" if isinstance(c, str) else None for c in out["note"]]
    out.index = pd.Index(pairs, name="pair_compared")
    return out


def apa_chi2(result: CrosstabResult, decimals: int = 3) -> str:
    """APA-style sentence fragment, e.g. ``χ²(2, N = 12,345) = 18.284, p < .001, V = 0.04``."""
    t = result.pearson
    return (
        f"χ²({t.df}, N = {result.n:,}) = {t.statistic:.{decimals}f}, {format_p(t.pvalue)}, "
        f"V = {result.cramers_v.estimate:.2f}"
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
