"""Trends across years and what they say about the years ahead.

* The live share of learners: Cochran-Armitage test for trend
  (:func:`cmestudy.analysis.proportions.cochran_armitage`), overall and per title grade, and the
  year-on-year change with Newcombe's interval.
* Yearly counts (projects, learners, disciplines): log-linear Poisson / quasi-Poisson
  models with growth per year and simulated prediction intervals (:func:`fit_count_trend`).
* Which disciplines moved to live delivery fastest; the title mix of live learners.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from cmestudy import defaults
from cmestudy.analysis import describe, proportions
from cmestudy.schema import GRADES, LEVELS, MODES


def _live_by_year(learners: pd.DataFrame, years):
    """For all titles and each grade: (label, table of learners by year x mode)."""
    groups = [("all_titles", list(GRADES) + ["unknown"])] + [(g, [g]) for g in GRADES]
    for label, grades in groups:
        sub = learners[learners.grade.isin(grades) & learners.year.isin(years)]
        yield (
            label,
            (
                sub.groupby(["year", "mode"], observed=False)
                .learners.sum()
                .unstack("mode")
                .reindex(index=years, columns=list(MODES))
                .fillna(0)
            ),
        )


def live_share_trend(learners: pd.DataFrame, years, variance: str = "N") -> pd.DataFrame:
    """Cochran-Armitage trend test of the live share across years, overall and per title grade.

    Rows: ``all_titles`` and each grade with learners. Columns: ``("live_pct", year)``, the live
    share (%) per year; ``change_points``, the change in percentage points from first to last year;
    ``z``, ``chi2_trend`` (df 1) and the two-sided ``p``. A group whose trend cannot be tested (a
    year without its learners; no live or no face-to-face learners in any year) has NaN there and a
    ``note`` with the reason's code; with fewer than two years the table is empty.
    """
    years = [int(y) for y in years]
    rows = []
    if len(years) < 2:  # no trend over one year (the report says so)
        return pd.DataFrame(index=pd.Index([], name="group"))
    for label, by in _live_by_year(learners, years):
        live = by["live"].to_numpy()
        total = by.sum(axis=1).to_numpy()
        if not total.any():
            continue  # a title without learners in any study year has no row
        row = {("group", ""): label}
        with np.errstate(divide="ignore", invalid="ignore"):
            for y, p in zip(years, live / total):
                row[("live_pct", y)] = 100 * p
            row[("change_points", "")] = 100 * (live[-1] / total[-1] - live[0] / total[0])
        if np.any(total == 0):
            row[("note", "")] = "nc_year_without_learners"
        elif live.sum() in (0, total.sum()):  # all live or none live: no trend to test
            row[("note", "")] = "nc_no_live" if live.sum() == 0 else "nc_no_face_to_face"
        else:
            res = proportions.cochran_armitage(live, total, scores=years, variance=variance)
            row.update({("z", ""): res.z, ("chi2_trend", ""): res.statistic, ("p", ""): res.pvalue})
        rows.append(row)
    if not rows:
        return pd.DataFrame(index=pd.Index([], name="group"))
    out = pd.DataFrame(rows)
    order = [("group", "")] + [("live_pct", y) for y in years] + [("change_points", ""), ("z", ""), ("chi2_trend", ""),
                                                                  ("p", "")]  # fmt: skip
    out = out.reindex(columns=order + ([("note", "")] if ("note", "") in out.columns else []))
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    out = out.set_index(("group", ""))
    out.index.name = "group"
    return out


# ----------------------------------------------------------------------------- changes in share
def live_share_changes(learners: pd.DataFrame, years, confidence: float = 0.95) -> pd.DataFrame:
    """Year-on-year change of the live share (percentage points) with Newcombe's interval at ``confidence``.

    One row per group (all titles, each grade) and pair of consecutive years; columns
    ``live_pct_from``, ``live_pct_to``, ``change_points``, ``ci_low_points``, ``ci_high_points``.
    """
    years = [int(y) for y in years]
    rows = []
    for label, by in _live_by_year(learners, years):
        for a, b in zip(years, years[1:]):
            n1, n2 = by.loc[a].sum(), by.loc[b].sum()
            if n1 == 0 or n2 == 0:
                continue
            d, lo, hi = proportions.proportion_difference_ci(by.loc[a, "live"], n1, by.loc[b, "live"], n2, confidence)
            rows.append(
                {
                    "group": label,
                    "from": a,
                    "to": b,
                    "live_pct_from": 100 * by.loc[a, "live"] / n1,
                    "live_pct_to": 100 * by.loc[b, "live"] / n2,
                    "change_points": 100 * d,
                    "ci_low_points": 100 * lo,
                    "ci_high_points": 100 * hi,
                }
            )
    cols = ["group", "from", "to", "live_pct_from", "live_pct_to", "change_points", "ci_low_points", "ci_high_points"]
    return pd.DataFrame(rows, columns=cols).set_index(["group", "from", "to"])


# ----------------------------------------------------------------------------- count models
@dataclass
class CountTrend:
    """A log-linear Poisson (or quasi-Poisson) trend of one yearly count series."""

    series: str
    years: list[int]
    counts: list[int]
    family: str
    dispersion: float
    df_resid: int
    growth: float
    growth_low: float
    growth_high: float
    pvalue: float
    fitted: list[float]
    projection: pd.DataFrame
    confidence: float = 0.95


def fit_count_trend(
    years,
    counts,
    series: str = "",
    horizon: int = 3,
    confidence: float = 0.95,
    n_sim: int = 20_000,
    seed: int = defaults.SEED,
) -> CountTrend:
    """Fit log E[y_t] = b0 + b1 (t - t0) by Poisson GLM and project ``horizon`` years ahead.

    Overdispersion is checked with the Pearson statistic, phi = X^2 / (n - 2). If phi > 1
    the model is quasi-Poisson: standard errors are scaled by sqrt(phi) and intervals use
    the t distribution with n - 2 degrees of freedom (McCullagh & Nelder 1989, sec. 4.5);
    otherwise Poisson with normal quantiles. Growth per year is exp(b1) - 1 with its CI.

    Prediction intervals for future counts are simulated (seeded): the linear predictor is
    drawn from its sampling distribution, then a count from a Poisson (phi <= 1) or a
    gamma-Poisson with variance phi * mu. The projection has the central 50% and 80% intervals
    and the one at ``confidence`` (columns ``pi50_low``, ``pi50_high``, ``pi80_*``, ``pi_low``,
    ``pi_high``). With three annual points (one residual degree of freedom) they are wide.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    y = np.asarray(counts, dtype=float)
    t = np.asarray(years, dtype=float)
    if len(y) < 3:
        raise ValueError(f"{series or 'series'}: a trend needs at least 3 years; got {len(y)}")
    if (y < 0).any() or (y != np.round(y)).any():
        raise ValueError(f"{series or 'series'}: counts must be non-negative whole numbers")
    if y.sum() == 0:
        raise ValueError(f"{series or 'series'}: all counts are zero")
    t0 = t[0]
    X = sm.add_constant(t - t0)
    with warnings.catch_warnings():  # an exact fit (e.g. 10, 20, 40) is fine here, not "separation"
        warnings.simplefilter("ignore", category=PerfectSeparationWarning)
        fit = sm.GLM(y, X, family=sm.families.Poisson()).fit()
    df_resid = int(fit.df_resid)
    dispersion = float(fit.pearson_chi2 / df_resid) if df_resid > 0 else float("nan")
    quasi = df_resid > 0 and dispersion > 1
    scale = dispersion if quasi else 1.0
    cov = np.asarray(fit.cov_params()) * scale
    b = np.asarray(fit.params)
    se = math.sqrt(cov[1, 1])
    dist = sps.t(df_resid) if quasi else sps.norm()
    q = dist.ppf(1 - (1 - confidence) / 2)
    pvalue = float(2 * dist.sf(abs(b[1] / se))) if se > 0 else 0.0
    future = np.arange(1, horizon + 1) + t[-1]
    Xf = np.column_stack([np.ones(horizon), future - t0])
    eta = Xf @ b
    se_eta = np.sqrt(np.einsum("ij,jk,ik->i", Xf, cov, Xf))
    rng = np.random.default_rng(seed)
    draws = eta[None, :] + se_eta[None, :] * dist.rvs(size=(n_sim, horizon), random_state=rng)
    mu = np.exp(np.clip(draws, -50, 50))
    if quasi:
        shape = mu / (dispersion - 1)
        mu = rng.gamma(shape, (dispersion - 1))
    sims = rng.poisson(np.minimum(mu, 1e15))
    tail = 100 * (1 - confidence) / 2
    qs = {"pi50": (25, 75), "pi80": (10, 90), "pi": (tail, 100 - tail)}
    proj = pd.DataFrame({"year": future.astype(int), "expected": np.exp(np.clip(eta, -50, 50))})
    for name, (lo, hi) in qs.items():
        proj[f"{name}_low"] = np.percentile(sims, lo, axis=0)
        proj[f"{name}_high"] = np.percentile(sims, hi, axis=0)

    def growth(log_rate):
        return math.exp(min(log_rate, 700.0)) - 1  # beyond e^700 the rate is meaningless anyway

    return CountTrend(
        series,
        [int(v) for v in t],
        [int(v) for v in y],
        "quasi_poisson" if quasi else "poisson",
        dispersion,
        df_resid,
        growth(b[1]),
        growth(b[1] - q * se),
        growth(b[1] + q * se),
        pvalue,
        [float(v) for v in fit.fittedvalues],
        proj.set_index("year"),
        confidence,
    )


def count_series(projects: pd.DataFrame, learners: pd.DataFrame, years) -> dict[str, pd.Series]:
    """The yearly count series modelled in the prospects, by code: ``{mode}_projects``,
    ``{mode}_learners``, ``{mode}_disciplines`` for each mode, and ``live_projects_{level}``."""
    p = describe.projects_by_year_mode(projects, years)
    lr = describe.learners_by_year_mode(learners, years)
    d = describe.disciplines_per_year_mode(projects, years)
    out = {}
    for mode in p.columns:
        out[f"{mode}_projects"] = p[mode]
        out[f"{mode}_learners"] = lr[mode]
        out[f"{mode}_disciplines"] = d[mode]
    lv = describe.projects_by_year_level_mode(projects, years)
    for level in LEVELS:
        out[f"live_projects_{level}"] = lv[("live", level)].drop("all_years")
    return out


def count_trends(
    projects: pd.DataFrame, learners: pd.DataFrame, years, horizon: int = 3, confidence: float = 0.95
) -> dict[str, CountTrend]:
    out = {}
    for name, series in count_series(projects, learners, years).items():
        if (series == 0).any():  # a zero year: a log-linear trend is not identified sensibly
            continue
        try:
            out[name] = fit_count_trend(series.index.tolist(), series.tolist(), name, horizon, confidence)
        except ValueError:
            continue
    return out


def model_table(trends: dict[str, CountTrend]) -> pd.DataFrame:
    """One row per series: counts by year, model, dispersion, growth per year (%) with its CI, and p."""
    rows = []
    for name, m in trends.items():
        row = {"series": name}
        for y, c in zip(m.years, m.counts):
            row[int(y)] = c
        row.update(
            {
                "model": m.family,
                "dispersion": m.dispersion,
                "growth_pct": 100 * m.growth,
                "growth_ci_low_pct": 100 * m.growth_low,
                "growth_ci_high_pct": 100 * m.growth_high,
                "p": m.pvalue,
            }
        )
        rows.append(row)
    return pd.DataFrame(rows).set_index("series") if rows else pd.DataFrame(index=pd.Index([], name="series"))


def projection_table(trends: dict[str, CountTrend]) -> pd.DataFrame:
    """One row per series and projected year: the expected count and the 50%, 80% and ``confidence``
    prediction intervals. Columns are (interval, bound): ``("expected", "")``, ``("pi50", "low")``, ...,
    ``("pi", "low")`` for the interval at the models' confidence level (``attrs["confidence"]``)."""
    frames = {name: m.projection for name, m in trends.items()}
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, names=["series", "year"]).round(0)
    out.columns = pd.MultiIndex.from_tuples(
        [("expected", "") if c == "expected" else tuple(c.split("_", 1)) for c in out.columns]
    )
    out.attrs["confidence"] = next(iter(trends.values())).confidence
    return out


# ----------------------------------------------------------------------------- disciplines and titles
def discipline_shift(projects: pd.DataFrame, years) -> pd.DataFrame:
    """Per discipline: share of its projects delivered live in the first and last year, and the change.

    Sorted by the change (fastest move to live first); disciplines without projects in one of
    the two years show the share of the years they have.
    """
    years = [int(y) for y in years]
    p = projects[projects.year.isin(years)]
    t = p.groupby(["discipline", "year", "mode"], observed=False).size().unstack("mode").fillna(0)
    share = (t["live"] / t.sum(axis=1)).unstack("year").reindex(columns=years)
    n = t.sum(axis=1).unstack("year").reindex(columns=years).fillna(0).astype(int)
    out = pd.DataFrame({("live_pct", y): 100 * share[y] for y in years})
    out[("change_points", "")] = out[("live_pct", years[-1])] - out[("live_pct", years[0])]
    out[("projects", "")] = n.sum(axis=1)
    first_live = {d: next((y for y in years if share.loc[d, y] > 0), None) for d in share.index}
    out[("first_live_year", "")] = pd.Series(first_live).astype("Int64")
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    out.index.name = "discipline"
    return out.sort_values([("change_points", ""), ("projects", "")], ascending=[False, False], na_position="last")


def live_title_mix(learners: pd.DataFrame, years, confidence: float = 0.95) -> pd.DataFrame:
    """Share of each title among live learners per year, with Wilson intervals (unknown excluded)."""
    rows = []
    for year in years:
        t = describe.mode_by_title(learners, year).loc["live"]
        n = int(t.sum())
        if n == 0:
            continue
        for g in t.index:
            lo, hi = proportions.proportion_ci(int(t[g]), n, confidence)
            rows.append(
                {
                    "year": int(year),
                    "grade": str(g),
                    "learners": int(t[g]),
                    "share_pct": 100 * t[g] / n,
                    "ci_low_pct": 100 * float(lo),
                    "ci_high_pct": 100 * float(hi),
                }
            )
    cols = ["year", "grade", "learners", "share_pct", "ci_low_pct", "ci_high_pct"]
    return pd.DataFrame(rows, columns=cols).set_index(["year", "grade"])


def largest_share_difference(result) -> tuple[str, float]:
    """The title whose share differs most between the two modes, and by how many points."""
    obs = result.observed
    shares = 100 * obs.div(obs.sum(axis=1), axis=0)
    diff = (shares.iloc[0] - shares.iloc[1]).abs()
    return str(diff.idxmax()), float(diff.max())
