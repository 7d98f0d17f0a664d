"""Monthly series from dated projects, count models with season and trend, and projections checked
against held-out months.

The prospects' annual models rest on three points. Where the project register has dates, each
project and its learners are dated by the project's start date, which gives a monthly (and
quarterly) series with as many points as months:

period_series        counts of projects and learners per month or quarter, by mode and level
fit_monthly          Poisson or negative binomial GLM with trend, month of year and an optional
                     step or slope change; growth per year with its CI
MonthlyModel.forecast  simulated prediction intervals that carry the parameters' uncertainty
holdout_check        fit on all but the last 12 months, forecast them; MAE, MASE and interval
                     coverage beside two naive baselines; rolling-origin where the series is long
monthly_models       all of it for the series of the report (None without usable dates)

References
----------
.. [1] Cameron, A. C. & Trivedi, P. K. (2013). Regression Analysis of Count Data, 2nd ed.
       Cambridge University Press, ch. 3 (Poisson and negative binomial NB2 models; the
       likelihood-ratio test of overdispersion on the boundary, sec. 3.4).
.. [2] Hyndman, R. J. & Koehler, A. B. (2006). Another look at measures of forecast accuracy.
       International Journal of Forecasting 22(4), 679-688 (MASE).
.. [3] Hyndman, R. J. & Athanasopoulos, G. (2021). Forecasting: Principles and Practice, 3rd ed.,
       OTexts, sec. 5.2 (seasonal naive and mean baselines), 5.10 (time-series cross-validation,
       "evaluation on a rolling forecasting origin").
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from cmestudy import defaults
from cmestudy.schema import LEVELS, MODES

#: Months held out for the check of the projections; months needed before the first forecast origin.
HOLDOUT = 12
MIN_TRAINING = 24
#: Simulated paths per forecast.
N_SIM = 4000
#: Range searched for log alpha, the negative binomial's dispersion.
LOG_ALPHA_MIN, LOG_ALPHA_MAX = -15.0, 6.0
#: The series modelled in the report (the others are tabulated).
MODELLED = ("live_projects", "face_to_face_projects", "live_learners", "face_to_face_learners")

__all__ = [
    "period_series",
    "MonthlyModel",
    "fit_monthly",
    "HoldoutCheck",
    "holdout_check",
    "MonthlyAnalysis",
    "monthly_models",
    "model_table",
    "check_table",
    "annual_projection_table",
    "series_table",
]


# ----------------------------------------------------------------------------- series
def dated_projects(projects: pd.DataFrame, years) -> pd.DataFrame:
    """The projects of ``years`` that have a start date, with ``date`` as a Timestamp."""
    p = projects[projects.year.isin([int(y) for y in years])].copy()
    p["date"] = pd.to_datetime(p["start_date"], errors="coerce")
    return p[p["date"].notna()]


def period_series(projects: pd.DataFrame, learners: pd.DataFrame, years, freq: str = "M") -> pd.DataFrame:
    """Projects and learners per month (``freq="M"``) or quarter (``"Q"``) of the study years.

    Learners are dated by their project's start date. Columns are (measure, mode, level) with
    measure ``projects`` or ``learners`` and level ``all`` for the mode's total; every period from
    January of the first study year to December of the last is present (zeros where nothing
    started). Projects without a date are left out (see :func:`date_coverage`).
    """
    years = sorted(int(y) for y in years)
    p = dated_projects(projects, years)
    p["period"] = p["date"].dt.to_period(freq)
    per_project = learners.groupby("project_id", observed=True).learners.sum()
    p["learners"] = p["project_id"].map(per_project).fillna(0).astype("int64")
    index = pd.period_range(f"{years[0]}-01", f"{years[-1]}-12", freq=freq, name="period")
    cols = {}
    for measure in ("projects", "learners"):
        for mode in MODES:
            pm = p[p["mode"] == mode]
            values = pm.groupby("period").size() if measure == "projects" else pm.groupby("period").learners.sum()
            cols[(measure, mode, "all")] = values
            for level in LEVELS:
                pl = pm[pm["level"] == level]
                v = pl.groupby("period").size() if measure == "projects" else pl.groupby("period").learners.sum()
                cols[(measure, mode, level)] = v
    out = pd.DataFrame({k: v.reindex(index, fill_value=0) for k, v in cols.items()}).fillna(0).astype("int64")
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=["measure", "mode", "level"])
    return out


def date_coverage(projects: pd.DataFrame, years) -> float:
    """The share of the study years' projects that have a usable start date."""
    p = projects[projects.year.isin([int(y) for y in years])]
    return len(dated_projects(projects, years)) / len(p) if len(p) else 0.0


# ----------------------------------------------------------------------------- model
def _design(n: int, start: pd.Period, change: pd.Period | None, kind: str) -> tuple[np.ndarray, list[str]]:
    """Columns: intercept, trend in years, 11 month-of-year indicators (January the reference), and
    the change term: a step (1 from ``change`` on) or a slope change (years since ``change``, 0 before)."""
    periods = pd.period_range(start, periods=n, freq="M")
    t = np.arange(n) / 12.0
    cols = [np.ones(n), t]
    names = ["const", "trend"]
    for m in range(2, 13):
        cols.append((periods.month == m).astype(float))
        names.append(f"month_{m}")
    if change is not None:
        k = (change - start).n
        if kind == "step":
            cols.append((np.arange(n) >= k).astype(float))
        else:
            cols.append(np.maximum(0, np.arange(n) - k) / 12.0)
        names.append(kind)
    return np.column_stack(cols), names


@dataclass
class MonthlyModel:
    """A count model of one monthly series (see :func:`fit_monthly`)."""

    series: str
    start: pd.Period
    counts: np.ndarray
    family: str  # "poisson" or "negative_binomial"
    params: np.ndarray
    cov: np.ndarray  # of params (and of log alpha, last, for the negative binomial)
    names: list[str]
    alpha: float  # NB2 dispersion: var = mu + alpha mu^2 (0 for Poisson)
    overdispersion_p: float  # likelihood-ratio test of NB2 against Poisson (halved on the boundary)
    change: pd.Period | None
    change_kind: str
    confidence: float
    fitted: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def _coef(self, name: str) -> tuple[float, float]:
        i = self.names.index(name)
        return float(self.params[i]), float(math.sqrt(self.cov[i, i]))

    def rate_ratio(self, name: str) -> tuple[float, float, float, float]:
        """exp(coefficient) with its Wald CI at the model's confidence, and its p-value."""
        b, se = self._coef(name)
        z = sps.norm.ppf(0.5 + self.confidence / 2)
        with np.errstate(over="ignore"):  # an unbounded limit is infinite, not an error
            rr, lo, hi = (float(np.exp(v)) for v in (b, b - z * se, b + z * se))
        return rr, lo, hi, float(2 * sps.norm.sf(abs(b / se))) if se > 0 else float("nan")

    @property
    def df_resid(self) -> int:
        return len(self.counts) - len(self.names) - (1 if self.alpha > 0 else 0)

    @property
    def growth(self) -> tuple[float, float, float, float]:
        """Growth per year, exp(b_trend) - 1, with its CI and p."""
        g, lo, hi, p = self.rate_ratio("trend")
        return g - 1, lo - 1, hi - 1, p

    def forecast(self, months: int, n_sim: int = N_SIM, seed: int = defaults.SEED) -> pd.DataFrame:
        """The next ``months`` months: expected count and simulated prediction intervals.

        Parameters are drawn from their asymptotic normal distribution (for the negative
        binomial, log alpha with them), then a count from the model's distribution given the
        drawn mean: Poisson, or gamma-Poisson with variance mu + alpha mu^2. So the intervals
        carry both the parameters' uncertainty and the counts' own variation. Columns:
        ``expected`` (at the estimates), ``median``, ``pi50_*``, ``pi80_*``, ``pi_*`` (the model's
        confidence), and ``sims`` is kept in ``attrs`` for sums over months.
        """
        n = len(self.counts)
        x, _ = _design(n + months, self.start, self.change, self.change_kind)
        xf = x[n:]
        rng = np.random.default_rng(seed)
        k = len(self.names)
        mean = np.concatenate([self.params[:k], [math.log(self.alpha)]]) if self.alpha > 0 else self.params[:k]
        draws = rng.multivariate_normal(np.zeros(len(mean)), self.cov, size=n_sim, method="eigh", check_valid="ignore")
        if self.df_resid > 0:  # multivariate t with the residual df: small samples
            draws = draws / np.sqrt(rng.chisquare(self.df_resid, size=n_sim) / self.df_resid)[:, None]
        draws = draws + mean
        mu = np.exp(np.clip(draws[:, :k] @ xf.T, -50, 30))
        if self.alpha > 0:
            a = np.exp(draws[:, k])[:, None]
            mu = rng.gamma(1 / a, a * mu)
        sims = rng.poisson(mu)
        tail = 100 * (1 - self.confidence) / 2
        out = pd.DataFrame(
            {"expected": np.exp(xf @ self.params[:k]), "median": np.median(sims, axis=0)},
            index=pd.period_range(self.start + n, periods=months, freq="M", name="period"),
        )
        for name, (lo, hi) in {"pi50": (25, 75), "pi80": (10, 90), "pi": (tail, 100 - tail)}.items():
            out[f"{name}_low"] = np.percentile(sims, lo, axis=0)
            out[f"{name}_high"] = np.percentile(sims, hi, axis=0)
        out.attrs["sims"] = sims
        return out


def fit_monthly(
    counts,
    start,
    series: str = "",
    change=None,
    change_kind: str = "step",
    confidence: float = 0.95,
) -> MonthlyModel:
    """Fit log E[y_t] = b0 + b1 t + s(month) [+ c d_t] to a monthly count series.

    ``t`` is time in years from the first month, ``s`` the month-of-year effects (January the
    reference), ``d_t`` an optional change at the month ``change`` (a date or ``YYYY-MM``): a step
    (``change_kind="step"``, 1 from that month on) or a change of slope (``"slope"``, years since).
    The Poisson GLM is fitted first. Where its Pearson dispersion X^2 / (n - p) exceeds 1 (the
    quasi-Poisson rule of McCullagh & Nelder 1989, sec. 4.5), the negative binomial NB2 (variance
    mu + alpha mu^2, [1] ch. 3) is used, with alpha from the degrees-of-freedom-corrected Pearson
    moment equation sum (y - mu)^2 / (mu + alpha mu^2) = n - p ([1] sec. 3.2.3; as MASS's
    ``theta.md``), the mean refitted by statsmodels' GLM at that alpha until both settle, and the
    variance of log alpha from the curvature of the log-likelihood in it. (Maximum likelihood
    underestimates alpha in short series, and the likelihood-ratio test, kept as ``overdispersion_p``
    for the record, has little power with 24 months and 13 parameters: both made the prediction
    intervals too narrow in simulations.) Growth per
    year is exp(b1) - 1 with its Wald CI at ``confidence``.
    """
    import statsmodels.api as sm
    from scipy import optimize
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    y = np.asarray(counts, dtype=float)
    if (y < 0).any() or (y != np.round(y)).any():
        raise ValueError(f"{series or 'series'}: counts must be non-negative whole numbers")
    start = pd.Period(start, freq="M")
    chg = pd.Period(change, freq="M") if change is not None else None
    if chg is not None and not (start < chg < start + len(y)):
        raise ValueError(f"the change date {chg} must fall inside the series ({start} to {start + len(y) - 1})")
    if change_kind not in ("step", "slope"):
        raise ValueError(f"change_kind must be 'step' or 'slope'; got {change_kind!r}")
    x, names = _design(len(y), start, chg, change_kind)
    if len(y) <= x.shape[1] + 2:
        raise ValueError(f"{series or 'series'}: {len(y)} months cannot carry {x.shape[1]} parameters")
    dof = len(y) - x.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=PerfectSeparationWarning)
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        try:
            pois = sm.GLM(y, x, family=sm.families.Poisson()).fit()
        except (ValueError, np.linalg.LinAlgError) as exc:  # statsmodels: "the deviance ... returned a nan"
            raise FitFailed(f"{series or 'series'}: {exc}") from exc

        def nb_fit(log_alpha: float):
            family = sm.families.NegativeBinomial(alpha=math.exp(log_alpha))
            return sm.GLM(y, x, family=family).fit(start_params=pois.params)

        def pearson_excess(mu: np.ndarray, log_alpha: float) -> float:
            return float(np.sum((y - mu) ** 2 / (mu + math.exp(log_alpha) * mu**2)) - dof)

        dispersion = float(pois.pearson_chi2 / dof)
        log_a, nb = LOG_ALPHA_MIN, None
        if dispersion > 1:  # alpha by the df-corrected Pearson moment, refitting the mean until both settle
            mu = pois.fittedvalues
            for _ in range(50):
                if pearson_excess(mu, LOG_ALPHA_MIN) <= 0:
                    break
                new = LOG_ALPHA_MAX
                if pearson_excess(mu, LOG_ALPHA_MAX) < 0:
                    new = optimize.brentq(lambda la, m=mu: pearson_excess(m, la), LOG_ALPHA_MIN, LOG_ALPHA_MAX)
                settled = abs(new - log_a) < 1e-8
                log_a, nb = new, nb_fit(new)
                mu = nb.fittedvalues
                if settled:
                    break
        information = 0.0
        if nb is not None:  # the observed information of log alpha, from the profile log-likelihood
            h = 1e-3
            information = (2 * nb.llf - nb_fit(log_a + h).llf - nb_fit(log_a - h).llf) / (h * h)
        ml = optimize.minimize_scalar(lambda la: -nb_fit(la).llf, bounds=(LOG_ALPHA_MIN, 3.0), method="bounded")
        p_over = 0.5 * float(sps.chi2.sf(max(0.0, 2 * (-ml.fun - pois.llf)), 1))
    if nb is not None and information > 0:
        family, alpha = "negative_binomial", math.exp(log_a)
        params = np.asarray(nb.params)
        k = x.shape[1]
        # beta and alpha are asymptotically independent in NB2 ([1] sec. 3.3)
        cov = np.zeros((k + 1, k + 1))
        cov[:k, :k] = np.asarray(nb.cov_params())
        cov[k, k] = 1 / information
    else:
        family, alpha = "poisson", 0.0
        params, cov = np.asarray(pois.params), np.asarray(pois.cov_params())
    if not (np.isfinite(params).all() and np.isfinite(cov).all()) or np.abs(params).max() > 50:
        raise FitFailed(f"{series or 'series'}: the model has no finite estimates")
    cov = (cov + cov.T) / 2  # symmetric and positive semi-definite up to rounding, as drawing needs
    w, v = np.linalg.eigh(cov)
    cov = (v * np.clip(w, 0, None)) @ v.T
    fitted = np.exp(x @ params)
    return MonthlyModel(
        series, start, y, family, params, cov, names, alpha, p_over, chg, change_kind, confidence, fitted
    )


# ----------------------------------------------------------------------------- checked against held-out months
@dataclass
class HoldoutCheck:
    """Forecast errors on held-out months: the model beside two naive baselines."""

    series: str
    months: int  # held-out months per origin
    origins: int  # forecast origins (1: the last 12 months only)
    errors: pd.DataFrame  # rows: model, seasonal_naive, mean; columns: mae, mase
    coverage80: float
    coverage: float  # at the model's confidence
    confidence: float
    forecast: pd.DataFrame | None = None  # the single-origin forecast of the held-out months
    actual: pd.Series | None = None


def _scale(train: np.ndarray) -> float:
    """The in-sample MAE of the seasonal naive forecast (lag 12; lag 1 for shorter series), MASE's scale [2]."""
    lag = 12 if len(train) > 12 else 1
    d = np.abs(train[lag:] - train[:-lag])
    return float(d.mean()) if len(d) and d.mean() > 0 else float("nan")


def holdout_check(model_args: dict, counts, start, months: int = HOLDOUT, min_training: int = MIN_TRAINING):
    """Fit on all but the last ``months`` months and forecast them; where the series is long enough,
    repeat from every origin with at least ``min_training`` months before it (a rolling origin, [3]
    sec. 5.10) and average the errors.

    Baselines: the seasonal naive forecast (each month as the same month a year before) and the
    mean of the fitted period ([3] sec. 5.2). MAE is the mean absolute error of the point forecast
    (the model's expected count); MASE divides it by the in-sample MAE of the seasonal naive forecast
    ([2]), so a MASE below 1 beats that forecast's in-sample accuracy. Coverage is the share of held-out
    months inside the model's 80% and ``confidence`` prediction intervals. Returns None when the series
    is shorter than ``min_training + months``.
    """
    y = np.asarray(counts, dtype=float)
    start = pd.Period(start, freq="M")
    last_origin = len(y) - months
    if last_origin < min_training:
        return None
    origins = list(range(min_training, last_origin + 1))
    abs_err = {"model": [], "seasonal_naive": [], "mean": []}
    scaled = {k: [] for k in abs_err}
    inside80, inside = [], []
    single = None
    for o in origins:
        train, test = y[:o], y[o : o + months]
        kw = dict(model_args)
        if kw.get("change") is not None and not (start < pd.Period(kw["change"], freq="M") < start + o):
            kw["change"] = None  # the change falls in the held-out months: it cannot be estimated yet
        m = fit_monthly(train, start, **kw)
        fc = m.forecast(months)
        points = {
            "model": fc["expected"].to_numpy(),
            "seasonal_naive": np.array([train[o - 12 + (h % 12)] if o >= 12 else train[-1] for h in range(months)]),
            "mean": np.full(months, train.mean()),
        }
        sc = _scale(train)
        for k, p in points.items():
            e = float(np.mean(np.abs(test - p)))
            abs_err[k].append(e)
            scaled[k].append(e / sc)
        inside80.append(np.mean((test >= fc["pi80_low"]) & (test <= fc["pi80_high"])))
        inside.append(np.mean((test >= fc["pi_low"]) & (test <= fc["pi_high"])))
        if o == last_origin:
            single = fc
    errors = pd.DataFrame(
        {
            "mae": {k: float(np.mean(v)) for k, v in abs_err.items()},
            "mase": {k: float(np.mean(v)) for k, v in scaled.items()},
        }
    )
    errors.index.name = "method"
    actual = pd.Series(y[last_origin:], index=single.index)
    return HoldoutCheck(
        model_args.get("series", ""),
        months,
        len(origins),
        errors,
        float(np.mean(inside80)),
        float(np.mean(inside)),
        model_args.get("confidence", 0.95),
        single,
        actual,
    )


# ----------------------------------------------------------------------------- the report's analysis
@dataclass
class MonthlyAnalysis:
    """The monthly analysis of the prospects (see :func:`monthly_models`)."""

    monthly: pd.DataFrame  # period_series(..., "M")
    quarterly: pd.DataFrame
    models: dict[str, MonthlyModel]
    forecasts: dict[str, pd.DataFrame]
    checks: dict[str, HoldoutCheck]
    coverage: float  # share of projects dated
    horizon: int
    confidence: float
    not_modelled: dict[str, str] = field(default_factory=dict)  # series -> why no model (a reason's code)
    not_checked: dict[str, str] = field(default_factory=dict)  # modelled series -> why no held-out check


def monthly_models(
    projects: pd.DataFrame,
    learners: pd.DataFrame,
    years,
    horizon: int = 24,
    change=None,
    change_kind: str = "step",
    confidence: float = 0.95,
    min_coverage: float = 0.8,
) -> MonthlyAnalysis | None:
    """The monthly series, their models, projections ``horizon`` months ahead (12 to 36) and the
    held-out checks, for the series in :data:`MODELLED`; None when fewer than ``min_coverage`` of the
    projects have a date or the study spans fewer than ``MIN_TRAINING + HOLDOUT`` months (the
    report then keeps the annual models)."""
    if not 12 <= int(horizon) <= 36:
        raise ValueError(f"the projection horizon must be 12 to 36 months; got {horizon}")
    years = sorted(int(y) for y in years)
    cover = date_coverage(projects, years)
    if cover < min_coverage or 12 * len(years) < MIN_TRAINING + HOLDOUT:
        return None
    monthly = period_series(projects, learners, years, "M")
    quarterly = period_series(projects, learners, years, "Q")
    start = monthly.index[0]
    models, forecasts, checks = {}, {}, {}
    not_modelled, not_checked = {}, {}
    for name in MODELLED:
        mode, measure = name.rsplit("_", 1)
        y = monthly[(measure, mode, "all")].to_numpy()
        why = estimable(y, start)
        args = {"series": name, "change": change, "change_kind": change_kind, "confidence": confidence}
        if why is None:
            try:
                models[name] = fit_monthly(y, start, **args)
                forecasts[name] = models[name].forecast(int(horizon))
            except FitFailed:
                models.pop(name, None)
                why = "fit_failed"
        if why is not None:
            not_modelled[name] = why
            continue
        try:
            check = holdout_check(args, y, start)
        except FitFailed:  # the training months alone cannot carry the model: the check is left out
            check, not_checked[name] = None, "fit_failed"
        if check is not None:
            checks[name] = check
        else:
            not_checked.setdefault(name, "too_short")
    return MonthlyAnalysis(
        monthly, quarterly, models, forecasts, checks, cover, int(horizon), confidence, not_modelled, not_checked
    )


def trusted(analysis: MonthlyAnalysis, tolerance: float = 1 / 6) -> dict[str, bool]:
    """Which series' projections can be read as the recent trend continuing: the model beat both
    naive forecasts over the held-out months ([3] sec. 5.2) and its outer interval held at least the
    stated share of them less ``tolerance`` (with 12 months, one or two misses are chance)."""
    out = {}
    for name, c in analysis.checks.items():
        e = c.errors["mae"]
        beats = e["model"] < e["seasonal_naive"] and e["model"] < e["mean"]
        out[name] = bool(beats and c.coverage >= analysis.confidence - tolerance)
    return out


class FitFailed(ValueError):
    """A monthly model could not be estimated from its series (no finite estimates)."""


def estimable(counts, start) -> str | None:
    """Why a monthly series cannot carry the model of :func:`fit_monthly`, or None when it can.

    ``no_counts``: the series is all zeros. ``month_without_counts``: a month of the year (January,
    ...) has no count in any year, so its month-of-year effect is minus infinity (the Poisson
    likelihood has no maximum; statsmodels returns a huge negative coefficient and, in a series
    shorter still, no fit at all).

    >>> estimable([0] * 36, "2021-01"), estimable([1] * 35 + [0], "2021-01"), estimable([1] * 36, "2021-01")
    ('no_counts', None, None)
    >>> estimable([0, 1] * 18, "2021-01")
    'month_without_counts'
    """
    y = np.asarray(counts, dtype=float)
    if y.sum() == 0:
        return "no_counts"
    months = (pd.Period(start, freq="M").month - 1 + np.arange(len(y))) % 12
    seen = np.bincount(months, weights=y, minlength=12)
    if (seen[np.bincount(months, minlength=12) > 0] == 0).any():
        return "month_without_counts"
    return None


# ----------------------------------------------------------------------------- the report's tables
def model_table(analysis: MonthlyAnalysis) -> pd.DataFrame:
    """One row per series: months, model, alpha, growth per year (%) with its CI and p, the busiest and
    quietest month (by the month-of-year effects) and, with a change date, the change's rate ratio."""
    rows = []
    for name, m in analysis.models.items():
        g, lo, hi, p = m.growth
        season = np.concatenate([[0.0], m.params[2:13]])
        row = {
            "series": name,
            "months": len(m.counts),
            "model": m.family,
            "alpha_nb": m.alpha if m.alpha > 0 else np.nan,
            "growth_pct": 100 * g,
            "growth_ci_low_pct": 100 * lo,
            "growth_ci_high_pct": 100 * hi,
            "p": p,
            "peak_month": f"month_{int(np.argmax(season)) + 1}",
            "low_month": f"month_{int(np.argmin(season)) + 1}",
        }
        if m.change is not None:
            rr, rlo, rhi, rp = m.rate_ratio(m.change_kind)
            row |= {"change_rr": rr, "change_ci_low": rlo, "change_ci_high": rhi, "p_change": rp}
        rows.append(row)
    for name, why in analysis.not_modelled.items():  # a row that says why there is no model
        rows.append({"series": name, "months": len(analysis.monthly), "note": f"nc_{why}"})
    return pd.DataFrame(rows).set_index("series") if rows else pd.DataFrame(index=pd.Index([], name="series"))


def check_table(analysis: MonthlyAnalysis) -> pd.DataFrame:
    """The held-out check: per series and method (model, seasonal naive, mean), MAE and MASE; for the
    model, the coverage (%) of its 80% and ``confidence`` prediction intervals."""
    frames = []
    for name, c in analysis.checks.items():
        e = c.errors.copy()
        e["coverage80_pct"] = [100 * c.coverage80, np.nan, np.nan]
        e["coverage_pct"] = [100 * c.coverage, np.nan, np.nan]
        e["origins"] = c.origins
        e.index = pd.MultiIndex.from_tuples([(name, m) for m in e.index], names=["series", "method"])
        frames.append(e)
    if frames and analysis.not_checked:  # a row per modelled series without a check, saying why
        index = pd.MultiIndex.from_tuples([(n, "model") for n in analysis.not_checked], names=["series", "method"])
        frames.append(pd.DataFrame({"note": [f"nc_{w}" for w in analysis.not_checked.values()]}, index=index))
    return pd.concat(frames) if frames else pd.DataFrame()


def annual_projection_table(analysis: MonthlyAnalysis) -> pd.DataFrame:
    """Projected totals of each full calendar year within the horizon, summed over the simulated monthly
    paths: expected count and the 50%, 80% and ``confidence`` prediction intervals. Columns are
    (interval, bound) as in :func:`cmestudy.analysis.trends.projection_table`, ``("pi", ...)`` at the
    analysis' confidence (``attrs["confidence"]``)."""
    tail = 100 * (1 - analysis.confidence) / 2
    rows = {}
    for name, fc in analysis.forecasts.items():
        sims = fc.attrs["sims"]
        for year in sorted(set(fc.index.year)):
            in_year = np.asarray(fc.index.year == year)
            if in_year.sum() < 12:
                continue
            total = sims[:, in_year].sum(axis=1)
            row = {("expected", ""): float(fc["expected"][in_year].sum())}
            for band, (lo, hi) in {"pi50": (25, 75), "pi80": (10, 90), "pi": (tail, 100 - tail)}.items():
                row[(band, "low")] = float(np.percentile(total, lo))
                row[(band, "high")] = float(np.percentile(total, hi))
            rows[(name, int(year))] = row
    out = pd.DataFrame.from_dict(rows, orient="index").round(0)
    if len(out):
        out.columns = pd.MultiIndex.from_tuples(out.columns)
        out.index = pd.MultiIndex.from_tuples(out.index, names=["series", "year"])
    out.attrs["confidence"] = analysis.confidence
    return out


def series_table(analysis: MonthlyAnalysis, freq: str = "M") -> pd.DataFrame:
    """The monthly (``"M"``) or quarterly (``"Q"``) counts for the CSV: columns (mode, measure, level),
    level ``total`` for the mode's total."""
    frame = analysis.monthly if freq == "M" else analysis.quarterly
    out = frame.copy()
    out.columns = pd.MultiIndex.from_tuples(
        [(mode, measure, "total" if level == "all" else level) for measure, mode, level in out.columns]
    )
    out.index = out.index.astype(str)
    out.index.name = "period"
    return out
