"""Institutions compared: the organisers of a city's or a province's projects side by side, fairly.

When the project register names the organising institution (举办单位, ``institution``), a regional
CME office asks which institutions moved to live delivery, which stand out beyond chance, and whether
the study's mode x title pattern holds within institutions or only in the pool. Everything here
returns numbers with canonical keys; :mod:`cmestudy.report.institution_tables` names them.

counts            projects and learners by institution, year and mode, with the live shares
funnel            live shares against their denominators (learner_funnel: of learners, all years) with exact binomial control limits
                  (Spiegelhalter 2005) and the over-dispersion-adjusted limits (Spiegelhalter 2005b)
exact_limits      the exact binomial limits themselves
cmh_test          generalised Cochran-Mantel-Haenszel test of r x c x K tables (R ``mantelhaen.test``)
mantel_haenszel   the common odds ratio of 2 x 2 x K tables with its interval, the MH test and the
                  Breslow-Day test of homogeneity with Tarone's correction
within            per year: the CMH test and the design-based test stratified by institution, the
                  pairwise common odds ratios and how many institutions show the pattern alone

References
    Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance. Stat Med
    24:1185-1202.
    Spiegelhalter DJ (2005b). Handling over-dispersion of performance indicators. Qual Saf Health
    Care 14:347-351.
    Landis JR, Heyman ER, Koch GG (1978). Average partial association in three-way contingency
    tables: a review and discussion of alternative tests. Int Stat Rev 46:237-254.
    Robins J, Breslow N, Greenland S (1986). Estimators of the Mantel-Haenszel variance consistent in
    both sparse data and large-strata limiting models. Biometrics 42:311-323.
    Breslow NE, Day NE (1980). Statistical Methods in Cancer Research, vol. I. IARC; Tarone RE (1985).
    On heterogeneity tests based on efficient scores. Biometrika 72:91-95.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from cmestudy.analysis import design
from cmestudy.schema import GRADES, MODES

#: Control limits of the funnel plot, as two-sided coverages (Spiegelhalter 2005: 95% "alert", 99.8% "alarm").
FUNNEL_LEVELS = (0.95, 0.998)
#: Share of z-scores winsorised at each end before the over-dispersion factor is estimated (Spiegelhalter 2005b).
WINSOR = 0.10


def present(projects: pd.DataFrame) -> bool:
    """Whether the register names two or more organising institutions (the comparison needs two)."""
    return "institution" in projects and projects["institution"].dropna().astype(str).nunique() >= 2


# --------------------------------------------------------------------------- counts
def counts(projects: pd.DataFrame, learners: pd.DataFrame, years) -> pd.DataFrame:
    """Projects and learners by institution, year and mode, and the live shares (0-1); projects without an
    organiser (an empty cell) are left out of the comparison.

    Index (institution, year); columns ``projects_live``, ``projects_face_to_face``, ``learners_live``,
    ``learners_face_to_face``, ``share_projects_live``, ``share_learners_live`` (NaN where a year has
    no project or learner of the institution)."""
    years = [int(y) for y in years]
    pr = projects[projects["year"].isin(years) & projects["institution"].notna()]  # no organiser: not compared
    lr = learners[learners["year"].isin(years)].merge(pr[["project_id", "institution"]], on="project_id")
    names = sorted(pr["institution"].astype(str).unique())
    index = pd.MultiIndex.from_product([names, years], names=["institution", "year"])
    out = pd.DataFrame(index=index)
    for what, frame, value in (("projects", pr, None), ("learners", lr, "learners")):
        g = frame.assign(institution=frame["institution"].astype(str), mode=frame["mode"].astype(str))
        g = g.groupby(["institution", "year", "mode"])
        n = (g.size() if value is None else g[value].sum()).unstack("mode")
        n = n.reindex(index=index, columns=list(MODES), fill_value=0).fillna(0).astype("int64")
        for mode in MODES:
            out[f"{what}_{mode}"] = n[mode]
        total = n.sum(axis=1)
        out[f"share_{what}_live"] = (n["live"] / total.where(total > 0)).astype(float)
    return out


# --------------------------------------------------------------------------- funnel
def exact_limits(n, p: float, q: float) -> np.ndarray:
    """The exact binomial control limit of a proportion at lower-tail probability ``q`` for
    denominators ``n`` (Spiegelhalter 2005, appendix A.1.1):

    :math:`r_q` is the smallest :math:`r` with :math:`P(R \\le r) \\ge q`, :math:`R \\sim B(n, p)`;
    interpolating, :math:`\\alpha = (P(R \\le r_q) - q) / (P(R \\le r_q) - P(R \\le r_q - 1))` and the
    limit is :math:`(r_q - \\alpha) / n`, a smooth curve in :math:`n`.

    >>> round(float(exact_limits(87, 0.6, 0.975)), 6)  # R: qbinom / pbinom as in the reference
    0.696423
    """
    n = np.asarray(n, dtype=float)
    r = sps.binom.ppf(q, n, p)
    upper, lower = sps.binom.cdf(r, n, p), sps.binom.cdf(r - 1, n, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(upper > lower, (upper - q) / (upper - lower), 0.0)
        return np.clip((r - a) / n, 0.0, 1.0)


@dataclass
class Funnel:
    """Live shares of the institutions against their denominators, with control limits."""

    table: pd.DataFrame  # per institution: events, n, share, z, z_winsorised, outside_95, outside_998, ...
    pooled: float  # the pooled share, sum of events / sum of n
    phi: float  # over-dispersion factor: mean of the squared winsorised z-scores
    tau2: float  # additive between-institution variance (0 when not over-dispersed)
    overdispersion_p: float  # P(chi2 on I - 1 df > I * phi)
    overdispersed: bool  # the test at ``alpha``
    measure: str  # "learners" or "projects"

    def curve(self, n, level: float, adjusted: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The (lower, upper) limits at two-sided coverage ``level`` for denominators ``n``: exact binomial,
        or with the additive random-effects adjustment (:math:`p \\pm z \\sqrt{p(1-p)/n + \\tau^2}`)."""
        n = np.asarray(n, dtype=float)
        tail = (1 - level) / 2
        if adjusted:
            half = sps.norm.ppf(1 - tail) * np.sqrt(self.pooled * (1 - self.pooled) / n + self.tau2)
            return np.clip(self.pooled - half, 0, 1), np.clip(self.pooled + half, 0, 1)
        return exact_limits(n, self.pooled, tail), exact_limits(n, self.pooled, 1 - tail)


def funnel(events, totals, names, measure: str = "learners", alpha: float = 0.05, levels=FUNNEL_LEVELS) -> Funnel:
    """Each institution's share ``events / totals`` against the pooled share, with exact binomial control
    limits at ``levels`` (Spiegelhalter 2005) and, for over-dispersion, the additive random-effects
    adjustment of Spiegelhalter (2005b):

    :math:`z_i = (y_i - p) / s_i`, :math:`s_i = \\sqrt{p(1-p)/n_i}`, winsorised at the 10th and 90th
    percentiles; :math:`\\hat\\phi = \\frac1I \\sum z_i^2`; over-dispersed when :math:`I\\hat\\phi` exceeds
    the :math:`1-\\alpha` point of :math:`\\chi^2_{I-1}`; then
    :math:`\\hat\\tau^2 = (I\\hat\\phi - (I-1)) / (\\sum w_i - \\sum w_i^2 / \\sum w_i)`, :math:`w_i = 1/s_i^2`,
    and the adjusted limits are :math:`p \\pm z_{1-\\alpha/2} \\sqrt{s_i^2 + \\hat\\tau^2}`.
    Institutions with no denominator are left out.
    """
    events, totals = np.asarray(events, dtype=float), np.asarray(totals, dtype=float)
    keep = totals > 0
    names = np.asarray(list(names), dtype=object)[keep]
    y, n = events[keep], totals[keep]
    p = y.sum() / n.sum()
    share = y / n
    s = np.sqrt(p * (1 - p) / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (share - p) / s, 0.0)
    lo, hi = np.percentile(z, [100 * WINSOR, 100 * (1 - WINSOR)])
    zw = np.clip(z, lo, hi)
    k = len(z)
    phi = float(np.mean(zw**2)) if k else np.nan
    test_p = float(sps.chi2.sf(k * phi, k - 1)) if k > 1 else np.nan
    over = bool(k > 1 and test_p < alpha)
    w = np.where(s > 0, 1 / np.where(s > 0, s, 1) ** 2, 0.0)
    tau2 = max(0.0, (k * phi - (k - 1)) / (w.sum() - (w**2).sum() / w.sum())) if over and w.sum() > 0 else 0.0
    table = pd.DataFrame({"events": y.astype("int64"), "n": n.astype("int64"), "share": share, "z": z,
                          "z_winsorised": zw}, index=pd.Index(names, name="institution"))  # fmt: skip
    result = Funnel(table, float(p), phi, float(tau2), test_p, over, measure)
    for level in levels:
        key = f"{1000 * level:g}".replace(".", "_")
        low, high = result.curve(n, level)
        table[f"low_{key}"], table[f"high_{key}"] = low, high
        table[f"outside_{key}"] = np.where(share < low, -1, np.where(share > high, 1, 0))
        if over:
            alow, ahigh = result.curve(n, level, adjusted=True)
            table[f"outside_{key}_adjusted"] = np.where(share < alow, -1, np.where(share > ahigh, 1, 0))
    return result


def learner_funnel(counts_frame: pd.DataFrame, alpha: float = 0.05) -> Funnel:
    """The funnel of the institutions' live share of learners over all study years (from :func:`counts`)."""
    total = counts_frame.groupby(level="institution")[["learners_live", "learners_face_to_face"]].sum()
    n = total["learners_live"] + total["learners_face_to_face"]
    return funnel(total["learners_live"], n, total.index, "learners", alpha)


# --------------------------------------------------------------------------- stratified tests
@dataclass
class CMHResult:
    statistic: float
    df: int
    pvalue: float
    strata: int  # strata used (those with two learners or more)


def cmh_test(tables) -> CMHResult:
    """Generalised Cochran-Mantel-Haenszel test of general association in r x c x K tables (Landis,
    Heyman & Koch 1978), as R's ``mantelhaen.test`` for tables larger than 2 x 2 x K.

    With :math:`n_k` the first :math:`(r-1)(c-1)` cells of stratum :math:`k` (column-major), their
    expectation :math:`m_k = (\\text{row sums} \\otimes \\text{col sums}) / N_k` and covariance
    :math:`V_k = [(N_k D_c - c c^T) \\otimes (N_k D_r - r r^T)] / (N_k^2 (N_k - 1))` (row and column sums
    without the last), :math:`Q = (\\sum n_k - m_k)^T (\\sum V_k)^{-1} (\\sum n_k - m_k) \\sim
    \\chi^2_{(r-1)(c-1)}`. Strata with fewer than two units carry no information and are skipped (R
    refuses them).
    """
    t = np.asarray(tables, dtype=float)
    k, r, c = t.shape
    diff = np.zeros((r - 1) * (c - 1))
    v = np.zeros((len(diff), len(diff)))
    used = 0
    for f in t:
        total = f.sum()
        if total < 2:
            continue
        used += 1
        rows, cols = f.sum(axis=1)[:-1], f.sum(axis=0)[:-1]
        diff += f[:-1, :-1].T.ravel() - np.outer(cols, rows).ravel() / total
        v += np.kron(np.diag(total * cols) - np.outer(cols, cols), np.diag(total * rows) - np.outer(rows, rows)) / (
            total**2 * (total - 1)
        )
    df = (r - 1) * (c - 1)
    stat = float(diff @ np.linalg.lstsq(v, diff, rcond=None)[0]) if used else np.nan
    return CMHResult(stat, df, float(sps.chi2.sf(stat, df)), used)


@dataclass
class MantelHaenszel:
    odds_ratio: float  # the Mantel-Haenszel common odds ratio
    ci_low: float  # Robins-Breslow-Greenland interval at ``confidence``
    ci_high: float
    statistic: float  # MH chi-square with continuity correction (R's default)
    pvalue: float
    breslow_day: float  # Breslow-Day statistic with Tarone's correction
    breslow_day_df: int
    breslow_day_p: float
    strata: int


def mantel_haenszel(tables, confidence: float = 0.95) -> MantelHaenszel:
    """Common odds ratio of 2 x 2 x K tables and the tests of R's ``mantelhaen.test`` (with continuity
    correction) and of homogeneity (Breslow-Day with Tarone's correction, as ``DescTools::BreslowDayTest(
    correct = TRUE)``), by ``statsmodels``' ``StratifiedTable``. The interval of the odds ratio is Robins,
    Breslow & Greenland's (1986), as R's. Strata without learners in a row or column are left out (they
    carry no information on the odds ratio)."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    t = np.asarray(tables, dtype=float)
    t = t[(t.sum(axis=2) > 0).all(axis=1) & (t.sum(axis=1) > 0).all(axis=1)]
    if len(t) == 0:
        nan = float("nan")
        return MantelHaenszel(nan, nan, nan, nan, nan, nan, 0, nan, 0)
    st = StratifiedTable(np.moveaxis(t, 0, 2))
    low, high = st.oddsratio_pooled_confint(alpha=1 - confidence)
    mh = st.test_null_odds(correction=True)
    bd = st.test_equal_odds(adjust=True)
    return MantelHaenszel(float(st.oddsratio_pooled), float(low), float(high), float(mh.statistic), float(mh.pvalue),
                          float(bd.statistic), len(t) - 1, float(bd.pvalue), len(t))  # fmt: skip


def _year_tables(learners: pd.DataFrame, projects: pd.DataFrame, year: int):
    """Learners of ``year`` with known titles as (institution x mode x title) tables and (project x mode x
    title) cluster counts with each project's institution."""
    lr = learners[(learners["year"] == year) & learners["grade"].astype(str).isin(GRADES)]
    lr = lr.merge(projects.loc[projects["institution"].notna(), ["project_id", "institution"]], on="project_id")
    lr = lr.assign(institution=lr["institution"].astype(str), mode=lr["mode"].astype(str),
                   grade=lr["grade"].astype(str))  # fmt: skip
    cube = lr.groupby(["institution", "mode", "grade"])["learners"].sum()
    names = sorted(lr["institution"].unique())
    idx = pd.MultiIndex.from_product([names, list(MODES), list(GRADES)])
    strata = cube.reindex(idx, fill_value=0).to_numpy().reshape(len(names), len(MODES), len(GRADES))
    per = lr.groupby(["project_id", "institution", "mode", "grade"])["learners"].sum().unstack("grade")
    per = per.reindex(columns=list(GRADES), fill_value=0).fillna(0)
    clusters = np.zeros((len(per), len(MODES), len(GRADES)))
    modes = per.index.get_level_values("mode")
    for i, mode in enumerate(MODES):
        clusters[np.asarray(modes == mode), i, :] = per.to_numpy()[np.asarray(modes == mode)]
    return names, strata, clusters, per.index.get_level_values("institution").to_numpy()


def _own_test(table: np.ndarray) -> float:
    """An institution's own Pearson chi-square p-value, NaN when a row or column is empty."""
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        return np.nan
    return float(sps.chi2_contingency(table, correction=False)[1])


def within(learners: pd.DataFrame, projects: pd.DataFrame, years, pairs=None, alpha: float = 0.05,
           confidence: float = 0.95) -> dict:  # fmt: skip
    """The study's question within institutions, per year: ``{"tests": frame, "pairs": frame}``.

    ``tests`` (index year): the pooled Pearson chi-square of mode x title, the generalised CMH test
    stratified by institution (:func:`cmh_test`), the Rao-Scott test with institutions as strata and
    projects as clusters (:func:`cmestudy.analysis.design.rao_scott`, ``strata=``), the institutions whose
    own table could be tested and how many of them are significant at ``alpha``, and ``pattern``: where
    the association holds (``pool_only``: in the pool but not within institutions; ``most``: within
    institutions and in at least half of those tested alone; ``few``: within institutions overall but in
    fewer than half alone; ``none``: nowhere).

    ``pairs`` (index year, first, second): for each pair of titles (default: each title against the
    intermediate one, as the study's pairwise tests), the Mantel-Haenszel common odds ratio
    of the first title against the second, live vs face-to-face, its interval, the MH test and the
    Breslow-Day test of homogeneity across institutions (:func:`mantel_haenszel`).
    """
    pairs = pairs if pairs is not None else [(g, "intermediate") for g in GRADES if g != "intermediate"]
    rows, pair_rows = {}, []
    for year in [int(y) for y in years]:
        names, strata, clusters, cluster_inst = _year_tables(learners, projects, year)
        pooled = strata.sum(axis=0)
        row = {"institutions": len(names)}
        if (pooled.sum(axis=0) == 0).any() or (pooled.sum(axis=1) == 0).any():
            rows[year] = row | {"not_computable": "no_" + ("face_to_face" if pooled[1].sum() == 0 else "live")
                                if (pooled.sum(axis=1) == 0).any() else "zero_cell"}  # fmt: skip
            continue
        chi2, p, _, _ = sps.chi2_contingency(pooled, correction=False)
        cmh = cmh_test(strata)
        row |= {"pooled_chi2": float(chi2), "pooled_p": float(p), "cmh": cmh.statistic, "cmh_df": cmh.df,
                "cmh_p": cmh.pvalue}  # fmt: skip
        try:
            rs = design.rao_scott(clusters, strata=cluster_inst)
            row |= {"rs_f": rs.f, "rs_ndf": rs.ndf, "rs_ddf": rs.ddf, "rs_p": rs.p_f}
        except design.NotComputable:
            row |= {"rs_f": np.nan, "rs_ndf": np.nan, "rs_ddf": np.nan, "rs_p": np.nan}
        own = np.array([_own_test(s) for s in strata])
        tested = int(np.isfinite(own).sum())
        significant = int((own[np.isfinite(own)] < alpha).sum())
        row |= {"tested_alone": tested, "significant_alone": significant}
        if not np.isfinite(cmh.pvalue):
            pass  # no institution with two learners: no pattern to tell
        elif cmh.pvalue >= alpha:
            row["pattern"] = "pool_only" if p < alpha else "none"
        else:
            row["pattern"] = "most" if tested and significant >= tested / 2 else "few"
        rows[year] = row
        for first, second in pairs:
            i, j = GRADES.index(first), GRADES.index(second)
            mh = mantel_haenszel(strata[:, :, [i, j]], confidence)
            pair_rows.append({"year": year, "first": first, "second": second, **mh.__dict__})
    tests = pd.DataFrame.from_dict(rows, orient="index")
    tests.index.name = "year"
    pairs_frame = pd.DataFrame(pair_rows)
    if len(pairs_frame):
        pairs_frame = pairs_frame.set_index(["year", "first", "second"])
    return {"tests": tests, "pairs": pairs_frame}
