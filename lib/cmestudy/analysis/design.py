"""Inference that respects the design: learners are clustered in projects.

Delivery mode is a project's attribute, and a project draws its own mix of titles, so the
enrolments of one project are not independent observations. This module gives the
design-based tests beside the naive ones, with projects as clusters (primary sampling units,
sampled with replacement, every learner weight 1), and a model-based check:

rao_scott             Rao-Scott first- and second-order corrected Pearson chi-square of an
                      r x c table from per-cluster counts (as R's ``survey::svychisq``)
cell_design_effects   the design effect of each cell proportion (``svymean(deff = "replace")``)
design_tests          the yearly mode x title tests and the pairwise 2 x 2 comparisons, naive
                      and design-based, with effective sample sizes
clustered_odds_ratios odds ratios of each title against the reference by mode, from a
                      logistic GEE with exchangeable correlation within projects, beside the
                      naive odds ratio
exchangeable_gee      that GEE from per-cluster counts, in closed form (its cost grows with projects)

The report lays them out (:mod:`cmestudy.report.association_tables`).

References
----------
.. [1] Rao, J. N. K. & Scott, A. J. (1984). On chi-squared tests for multiway contingency tables
       with cell proportions estimated from survey data. Annals of Statistics 12(1), 46-60.
.. [2] Lumley, T. (2010). Complex Surveys: A Guide to Analysis Using R. Wiley, sec. 6.2; and the
       documentation and source of ``svychisq`` in the R package survey 4.1.
.. [3] Liang, K.-Y. & Zeger, S. L. (1986). Longitudinal data analysis using generalized linear
       models. Biometrika 73(1), 13-22 (GEE; ``statsmodels.genmod.GEE``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from cmestudy.schema import GRADES, MODES

__all__ = [
    "RaoScott",
    "rao_scott",
    "cluster_tables",
    "DesignYear",
    "design_tests",
    "clustered_odds_ratios",
    "exchangeable_gee",
]


@dataclass(frozen=True)
class RaoScott:
    """Naive and design-based Pearson tests of one r x c table (see :func:`rao_scott`)."""

    n: int
    clusters: int
    df: int
    pearson: float  # naive X^2
    pearson_p: float
    f: float  # second-order: F = X^2 / tr(Delta) on (d0, d0 * nu) df
    ndf: float
    ddf: float
    p_f: float
    chisq: float  # first-order: X^2 / mean(delta) on df
    p_chisq: float
    deffs: np.ndarray  # generalized design effects: eigenvalues of Delta
    cell_deff: pd.DataFrame  # design effect of each cell proportion

    @property
    def mean_deff(self) -> float:
        """The mean generalized design effect, delta-bar = tr(Delta) / df."""
        return float(np.sum(self.deffs) / self.df)

    @property
    def n_effective(self) -> float:
        """The effective sample size of the test, N / delta-bar."""
        return self.n / self.mean_deff


class NotComputable(ValueError):
    """A design-based statistic that the data cannot give; ``reason`` is its code (``one_project``:
    fewer than two projects with learners; ``no_<row>`` or ``zero_cell``: a margin or cell without counts)."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


def _dummies(levels: np.ndarray) -> np.ndarray:
    """Treatment-coded dummies of a factor (first level the reference), as R's ``model.matrix``."""
    k = int(levels.max()) + 1
    return (levels[:, None] == np.arange(1, k)[None, :]).astype(float)


def rao_scott(cluster_counts, index=None, columns=None, strata=None) -> RaoScott:
    """Rao-Scott corrected Pearson chi-square of an r x c table whose counts come in clusters.

    Parameters
    ----------
    cluster_counts : array_like, shape (C, r, c)
        The table's counts within each of C clusters (projects); units are weighted 1 and the
        clusters are taken as sampled with replacement, as ``svydesign(ids = ~cluster)``.
    index, columns : sequence, optional
        Labels of the rows and columns, for the cell design effects.
    strata : sequence of length C, optional
        The stratum of each cluster (e.g. the organising institution of each project), as
        ``svydesign(ids = ~cluster, strata = ~stratum)``; None: one stratum.

    Returns
    -------
    RaoScott

    Notes
    -----
    With :math:`N` units, cell proportions :math:`\\hat p_k = n_k / N` (cells in column-major
    order), cluster sizes :math:`m_c` and cluster counts :math:`n_{ck}`, the linearised covariance
    of :math:`\\hat p` is ([2] sec. 2.3)

    .. math:: V = \\sum_h \\frac{C_h}{C_h-1} \\sum_{c \\in h} (z_c - \\bar z_h)(z_c - \\bar z_h)^T,
              \\qquad z_{ck} = (n_{ck} - m_c \\hat p_k) / N,

    summed over the strata :math:`h` with their :math:`C_h` clusters (one stratum: :math:`\\bar z = 0`);
    a stratum with a single cluster adds nothing (as ``survey.lonely.psu = "certainty"``).

    Let :math:`X_C` be the interaction columns of the saturated model of the r x c layout made
    orthogonal to the main effects (``qr.resid``), :math:`D = \\mathrm{diag}(\\hat p)`. The
    generalized design effects are the eigenvalues :math:`\\delta_i` of

    .. math:: \\Delta = (X_C^T D^{-1} X_C / N)^{-1} \\, X_C^T D^{-1} V D^{-1} X_C

    ([1] eq. 3.2). With Pearson's :math:`X^2` of the table and :math:`\\nu = C - H` (clusters less strata):

    * first order ([1] eq. 3.3): :math:`X^2 / \\bar\\delta \\sim \\chi^2_{(r-1)(c-1)}`,
      :math:`\\bar\\delta = \\mathrm{tr}\\,\\Delta / ((r-1)(c-1))`;
    * second order, F form ([1] sec. 4; [2] sec. 6.2.1):
      :math:`F = X^2 / \\mathrm{tr}\\,\\Delta \\sim F(d_0, d_0 \\nu)`,
      :math:`d_0 = (\\mathrm{tr}\\,\\Delta)^2 / \\mathrm{tr}(\\Delta^2)`.

    These are ``svychisq(~row + col, svydesign(ids = ~cluster[, strata = ~stratum]), statistic = "Chisq")`` and
    ``statistic = "F"`` of the R package survey. The cell design effect is
    :math:`V_{kk} (N - 1) / (\\hat p_k (1 - \\hat p_k))`, as ``svymean(..., deff = "replace")``.
    With one unit per cluster every :math:`\\delta_i = N / (N - 1)`: the tests are the naive
    ones up to that factor.

    >>> one = np.zeros((4, 2, 2)); one[[0, 1, 2, 3], [0, 0, 1, 1], [0, 1, 0, 1]] = 1
    >>> res = rao_scott(np.concatenate([one] * 10))
    >>> round(res.mean_deff, 6), round(40 / 39, 6)   # one learner per cluster: N / (N - 1)
    (1.025641, 1.025641)
    """
    t = np.asarray(cluster_counts, dtype=float)
    if t.ndim != 3:
        raise ValueError(f"cluster counts of shape (clusters, rows, columns) are needed, got shape {t.shape}")
    kept = t.sum(axis=(1, 2)) > 0
    t = t[kept]
    stratum = np.zeros(len(t), dtype=int) if strata is None else pd.factorize(np.asarray(strata)[kept])[0]
    n_c, r, c = t.shape
    if n_c < 2:
        raise NotComputable("one_project", "a design-based test needs at least two clusters with counts")
    table = t.sum(axis=0)
    n = float(table.sum())
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        empty = np.flatnonzero(table.sum(axis=1) == 0)
        reason = f"no_{list(index)[empty[0]]}" if len(empty) and index is not None else "zero_cell"
        raise NotComputable(reason, "every row and column of the table needs a count")
    df = (r - 1) * (c - 1)

    counts = t.transpose(0, 2, 1).reshape(n_c, r * c)  # column-major cells, rows varying fastest
    p = counts.sum(axis=0) / n
    m = counts.sum(axis=1)
    z = (counts - m[:, None] * p[None, :]) / n
    v = np.zeros((r * c, r * c))
    for h in np.unique(stratum):
        zh = z[stratum == h]
        if len(zh) > 1:
            d = zh - zh.mean(axis=0) if strata is not None else zh  # one stratum: the z sum to 0 already
            v += len(zh) / (len(zh) - 1) * (d.T @ d)

    rows = np.tile(np.arange(r), c)
    cols = np.repeat(np.arange(c), r)
    x1 = np.column_stack([np.ones(r * c), _dummies(rows), _dummies(cols)])
    dr, dc = _dummies(rows), _dummies(cols)
    inter = np.column_stack([dr[:, i] * dc[:, j] for j in range(c - 1) for i in range(r - 1)])
    q, _ = np.linalg.qr(x1)
    cmat = inter - q @ (q.T @ inter)
    inv_p = np.where(p > 0, 1 / np.where(p > 0, p, 1), 0.0)
    denom = cmat.T @ (inv_p[:, None] / n * cmat)
    numer = cmat.T @ (inv_p[:, None] * v * inv_p[None, :]) @ cmat
    delta = np.linalg.solve(denom, numer)
    trace, trace2 = float(np.trace(delta)), float(np.trace(delta @ delta))
    deffs = np.sort(np.real(np.linalg.eigvals(delta)))[::-1]

    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    x2 = float(((table - expected) ** 2 / expected).sum())
    nu = n_c - len(np.unique(stratum))
    if trace2 > 0:
        d0 = trace * trace / trace2
        f = x2 / trace
        first = x2 / (trace / df)
    else:  # no cluster-to-cluster variation in the association: the design gives no test
        d0 = f = first = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):  # an empty cell has no design effect
        cell = np.where(p > 0, np.diag(v) * (n - 1) / (p * (1 - p)), np.nan)
    cell_deff = pd.DataFrame(
        cell.reshape(c, r).T,
        index=list(index) if index is not None else range(r),
        columns=list(columns) if columns is not None else range(c),
    )
    return RaoScott(
        n=int(round(n)),
        clusters=int(n_c),
        df=df,
        pearson=x2,
        pearson_p=float(sps.chi2.sf(x2, df)),
        f=f,
        ndf=d0,
        ddf=d0 * nu,
        p_f=float(sps.f.sf(f, d0, d0 * nu)),
        chisq=first,
        p_chisq=float(sps.chi2.sf(first, df)),
        deffs=deffs,
        cell_deff=cell_deff,
    )


def cluster_tables(learners: pd.DataFrame, year: int, grades=GRADES) -> tuple[np.ndarray, list[str]]:
    """The mode x title counts of one year within each project: an array (projects, modes, grades)
    in the order of ``MODES`` and ``grades``, and the project ids. Projects without a learner of
    those grades are left out (they are not in the design of that table)."""
    lr = learners[(learners.year == int(year)) & learners.grade.isin(list(grades))]
    lr = lr[lr.learners > 0]
    cube = (
        lr.groupby(["project_id", "mode", "grade"], observed=True)
        .learners.sum()
        .unstack(["mode", "grade"], fill_value=0)
        .reindex(columns=pd.MultiIndex.from_product([list(MODES), list(grades)]), fill_value=0)
    )
    counts = cube.to_numpy(dtype=float).reshape(len(cube), len(MODES), len(grades))
    return counts, [str(p) for p in cube.index]


@dataclass
class DesignYear:
    """The naive and design-based tests of one year (see :func:`design_tests`). ``table`` is None when
    the year's design-based test cannot be computed; ``not_computable`` then gives the reason's code."""

    year: int
    table: RaoScott | None
    pairwise: pd.DataFrame  # one row per comparison: naive and design-based p, adjusted
    odds_ratios: pd.DataFrame = field(default_factory=pd.DataFrame)
    not_computable: str | None = None
    projects: int = 0  # projects with learners in the year's table


class DesignTests(dict):
    """``{year: DesignYear}``, and ``skipped``: the years the naive analysis could not test, with the
    reason's code (as :class:`cmestudy.analysis.association.TestsByYear`)."""

    def __init__(self, skipped=None):
        super().__init__()
        self.skipped: dict[int, str] = dict(skipped or {})


_PAIR_COLUMNS = ["n", "clusters", "chi2", "p", "p_adjusted", "f", "ndf", "ddf", "p_f", "p_chisq", "mean_deff",
                 "n_effective"]  # fmt: skip


def _two_projects_per_mode(counts: np.ndarray) -> None:
    """Delivery mode is a project's attribute: with a single project in a mode, that mode's learners
    are that project's, and the variation between projects within the mode, which the design-based
    variance rests on, cannot be estimated (Rao-Scott's design effects collapse towards zero and the
    GEE's robust standard error of the mode effect to zero). Such a test is not computable."""
    per_mode = (counts.sum(axis=2) > 0).sum(axis=0)  # projects with learners, by mode
    if (per_mode[per_mode > 0] < 2).any():
        raise NotComputable("single_project_mode", "a delivery mode has a single project")


def design_tests(learners: pd.DataFrame, tests, adjust: str = "bonferroni", confidence: float = 0.95) -> DesignTests:
    """Design-based tests beside the naive ones, for every year in ``tests``
    (:func:`cmestudy.analysis.association.mode_title_tests`): the mode x title table by :func:`rao_scott`
    with projects as clusters; each pairwise 2 x 2 comparison of the naive analysis on the
    learners of its two titles (projects with a learner of either are its clusters), its
    design-based p adjusted by ``adjust`` within the year as the naive ones are; and the
    clustered odds ratios (:func:`clustered_odds_ratios`).

    Where a test cannot be computed (one project in the year, or a delivery mode with a single
    project, in the year or among the pair's learners; a pair the naive analysis could not test) its
    numbers are NaN and ``not_computable`` holds the reason's code.
    """
    from cmestudy.analysis.pairwise import adjust_p

    out = DesignTests(getattr(tests, "skipped", {}))
    for year, t in tests.items():
        grades = [str(g) for g in t.result.observed.columns]
        counts, _ = cluster_tables(learners, year, grades)
        try:
            _two_projects_per_mode(counts)
            table, why = rao_scott(counts, index=list(MODES), columns=grades), None
        except NotComputable as exc:
            table, why = None, exc.reason
        rows = []
        for _, pw in t.pairwise.iterrows():
            pair = [str(pw["first"]), str(pw["second"])]
            row = {"first": pair[0], "second": pair[1], "p_adjusted": pw["pvalue_adjusted"], "not_computable": None}
            sub, _ = cluster_tables(learners, year, pair)
            try:
                if isinstance(pw.get("not_computable"), str):
                    raise NotComputable(pw["not_computable"], "the naive comparison could not be made")
                _two_projects_per_mode(sub)
                rs = rao_scott(sub, index=list(MODES), columns=pair)
            except NotComputable as exc:
                row |= {"n": int(sub.sum()), "clusters": int((sub.sum(axis=(1, 2)) > 0).sum())}
                row |= {k: np.nan for k in _PAIR_COLUMNS if k not in row and k != "p_adjusted"}
                row["not_computable"] = exc.reason
            else:
                row |= {
                    "n": rs.n,
                    "clusters": rs.clusters,
                    "chi2": rs.pearson,
                    "p": rs.pearson_p,
                    "f": rs.f,
                    "ndf": rs.ndf,
                    "ddf": rs.ddf,
                    "p_f": rs.p_f,
                    "p_chisq": rs.p_chisq,
                    "mean_deff": rs.mean_deff,
                    "n_effective": rs.n_effective,
                }
            rows.append(row)
        pairwise = pd.DataFrame(rows, columns=["first", "second", *_PAIR_COLUMNS, "not_computable"])
        if len(pairwise):
            pairwise["p_f_adjusted"] = adjust_p(pairwise["p_f"].to_numpy(dtype=float), adjust)
        ors = clustered_odds_ratios(learners, year, [(r["first"], r["second"]) for r in rows], confidence)
        projects = int((counts.sum(axis=(1, 2)) > 0).sum())
        out[int(year)] = DesignYear(int(year), table, pairwise, ors, why, projects)
    return out


def exchangeable_gee(n, s, x, maxiter: int = 200, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, float]:
    """Logistic GEE with exchangeable correlation within clusters, from per-cluster counts.

    The model is :math:`\\mathrm{logit}\\, P(y_{ij} = 1) = \\beta_0 + \\beta_1 x_i`, with the binary
    covariate constant within cluster :math:`i` (delivery mode is a project's), so a cluster is
    summed up by its size :math:`n_i`, its successes :math:`s_i` and :math:`x_i`. With the
    exchangeable working correlation :math:`R = (1-\\rho) I + \\rho J` the inverse has the closed
    form :math:`R^{-1} = (I - \\rho J / (1 + (n-1)\\rho)) / (1-\\rho)`, so
    :math:`\\mathbf 1^T R^{-1} = \\mathbf 1^T / (1 + (n_i-1)\\rho)` and the estimating equations of
    Liang & Zeger ([3]) become :math:`\\sum_i w_i\\, (1, x_i)^T (s_i - n_i \\mu_i) = 0` with
    :math:`w_i = 1 / (1 + (n_i - 1)\\rho)`: for each value of :math:`x` the fitted mean is the weighted
    share :math:`\\mu = \\sum w_i s_i / \\sum w_i n_i`. :math:`\\rho` is statsmodels' moment estimator
    (``Exchangeable.update``): with Pearson residuals summed within clusters,
    :math:`\\hat\\rho = \\sum_i ((\\sum_j r_{ij})^2 - \\sum_j r_{ij}^2)/2 \\big/ (\\phi\\, (P - p))`, :math:`P`
    the number of within-cluster pairs, :math:`\\phi = \\sum r^2 / (N - p)`; the two are iterated to a
    fixed point. The covariance is the robust sandwich :math:`B^{-1} M B^{-1}`,
    :math:`B = \\sum_i w_i n_i v_i\\, z_i z_i^T`, :math:`M = \\sum_i w_i^2 (s_i - n_i\\mu_i)^2 z_i z_i^T`,
    :math:`z_i = (1, x_i)`, :math:`v_i = \\mu_i (1 - \\mu_i)`, computed as :math:`H^T H` with
    :math:`H_i = w_i (s_i - n_i\\mu_i) z_i^T B^{-1}` so that no variance is negative by rounding (a value
    of ``x`` held by one cluster has variance 0 there).

    Its cost grows with the clusters, not the learners; the result equals ``statsmodels.genmod.GEE``
    on the learner-level rows (a test compares them on random clustered data). Each value of ``x``
    needs a success and a failure (else a fitted mean of 0 or 1 has no logit).

    Returns (params, robust covariance, rho).
    """
    n, s, x = (np.asarray(a, dtype=float) for a in (n, s, x))
    big_n, p = n.sum(), 2
    z = np.column_stack([np.ones_like(x), x])
    pairs = 0.5 * n * (n - 1)
    rho = 0.0
    for _ in range(maxiter):
        w = 1.0 / (1.0 + (n - 1.0) * rho)
        mu = np.empty_like(n)
        for g in (0.0, 1.0):
            m = x == g
            mu[m] = (w[m] * s[m]).sum() / (w[m] * n[m]).sum()
        v = mu * (1 - mu)
        ssr = (s * (1 - mu) ** 2 + (n - s) * mu**2) / v  # sum of squared Pearson residuals per cluster
        summed = (s - n * mu) / np.sqrt(v)  # their sum per cluster
        scale = ssr.sum() / (big_n - p)
        total = pairs.sum()
        new = ((summed**2 - ssr) / 2).sum() / scale / (total - p) if total > p else 0.0
        done = abs(new - rho) < tol
        rho = new
        if done:
            break
    w = 1.0 / (1.0 + (n - 1.0) * rho)
    for g in (0.0, 1.0):
        m = x == g
        mu[m] = (w[m] * s[m]).sum() / (w[m] * n[m]).sum()
    v = mu * (1 - mu)
    m0, m1 = mu[x == 0][0], mu[x == 1][0]
    params = np.array([np.log(m0 / (1 - m0)), np.log(m1 / (1 - m1)) - np.log(m0 / (1 - m0))])
    bread = np.linalg.inv((z * (w * n * v)[:, None]).T @ z)
    h = (z * (w * (s - n * mu))[:, None]) @ bread  # per-cluster influence: the sandwich is h^T h
    return params, h.T @ h, float(rho)


def clustered_odds_ratios(learners: pd.DataFrame, year: int, pairs, confidence: float = 0.95) -> pd.DataFrame:
    """Odds of the first title of each pair against the second, live vs face-to-face: naive and
    with learners clustered in projects.

    For the learners of the two titles in ``year``, the logistic model
    :math:`\\mathrm{logit}\\, P(\\text{first}) = \\beta_0 + \\beta_1 \\cdot \\text{live}` is fitted
    by GEE ([3]) with an exchangeable working correlation within projects, from the counts of each
    project (:func:`exchangeable_gee`, equal to ``statsmodels.genmod.GEE`` on the learners' rows);
    :math:`e^{\\beta_1}` is the odds ratio, with its Wald interval at ``confidence`` from the robust
    covariance, and the exchangeable correlation is the estimated intra-project correlation of the
    title. The naive odds ratio is the 2 x 2 table's, with Woolf's interval (the same model fitted as
    if learners were independent).
    """
    z = sps.norm.ppf(0.5 + confidence / 2)
    rows = []
    lr = learners[(learners.year == int(year)) & (learners.learners > 0)]
    for first, second in pairs:
        sub = lr[lr.grade.isin([first, second])]
        per = (
            sub.assign(first=np.where(sub.grade.astype(str) == first, sub.learners, 0))
            .groupby("project_id", observed=True)
            .agg(n=("learners", "sum"), s=("first", "sum"), mode=("mode", "first"))
        )
        live = (per["mode"].astype(str) == "live").to_numpy(dtype=float)
        n, s = per["n"].to_numpy(dtype=float), per["s"].to_numpy(dtype=float)
        a, b = np.sum(s * live), np.sum((n - s) * live)
        c, d = np.sum(s * (1 - live)), np.sum((n - s) * (1 - live))
        projects = per.groupby(per["mode"].astype(str)).size()
        why = "zero_cell" if min(a, b, c, d) == 0 else "single_project_mode" if projects.min() < 2 else None
        if why:  # an odds ratio of 0 or infinity, or a mode's robust variance from one project: no estimate
            rows.append({"first": first, "second": second, **dict.fromkeys(_OR_COLUMNS, np.nan),
                         "not_computable": why})  # fmt: skip
            continue
        naive = np.log(a * d / (b * c))
        se_naive = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, cov, rho = exchangeable_gee(n, s, live)
        beta, se = float(params[1]), float(np.sqrt(cov[1, 1]))
        if not (np.isfinite(beta) and np.isfinite(se) and se > 0):
            rows.append({"first": first, "second": second, **dict.fromkeys(_OR_COLUMNS, np.nan),
                         "not_computable": "fit_failed"})  # fmt: skip
            continue
        rows.append(
            {
                "first": first,
                "second": second,
                "or_naive": np.exp(naive),
                "or_naive_low": np.exp(naive - z * se_naive),
                "or_naive_high": np.exp(naive + z * se_naive),
                "or_gee": np.exp(beta),
                "or_gee_low": np.exp(beta - z * se),
                "or_gee_high": np.exp(beta + z * se),
                "p_gee": float(2 * sps.norm.sf(abs(beta / se))),
                "icc": rho,
                "se_ratio": se / se_naive,
                "not_computable": None,
            }
        )
    return pd.DataFrame(rows, columns=["first", "second", *_OR_COLUMNS, "not_computable"])


_OR_COLUMNS = ["or_naive", "or_naive_low", "or_naive_high", "or_gee", "or_gee_low", "or_gee_high", "p_gee", "icc",
               "se_ratio"]  # fmt: skip
