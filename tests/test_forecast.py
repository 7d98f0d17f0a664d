"""Monthly series, count models and projections checked against held-out months (cmestudy.analysis.forecast).

The models are checked on simulated series whose trend, season and dispersion are known, so that
what they should recover is known without any other software: the growth per year and the
month-of-year effects within their confidence intervals, and prediction intervals that cover
held-out months about as often as they say.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cmestudy.analysis import forecast

from .conftest import RAW, run_cli

SEASON = np.array([0.6, 0.5, 1.1, 1.2, 1.2, 1.1, 0.8, 0.7, 1.2, 1.3, 1.3, 1.0])  # January ... December


def _means(months: int, level: float = 40.0, growth: float = 0.2) -> np.ndarray:
    t = np.arange(months) / 12
    return level * (1 + growth) ** t * SEASON[np.arange(months) % 12]


def test_a_poisson_series_gives_back_its_trend_and_season():
    y = np.random.default_rng(3).poisson(_means(60))
    m = forecast.fit_monthly(y, "2019-01", confidence=0.99)
    assert m.family == "poisson"
    g, lo, hi, p = m.growth
    assert lo < 0.2 < hi and p < 0.001
    for month in range(2, 13):  # each month's rate ratio against January
        rr, rlo, rhi, _ = m.rate_ratio(f"month_{month}")
        assert rlo < SEASON[month - 1] / SEASON[0] < rhi, month


def test_an_overdispersed_series_is_negative_binomial_with_its_alpha():
    rng = np.random.default_rng(4)
    mu = _means(120, level=60)
    y = rng.poisson(rng.gamma(1 / 0.1, 0.1 * mu))  # NB2 with alpha = 0.1
    m = forecast.fit_monthly(y, "2015-01")
    assert m.family == "negative_binomial"
    assert 0.05 < m.alpha < 0.2
    g, lo, hi, _ = m.growth
    assert lo < 0.2 < hi


def test_a_step_change_is_estimated_where_it_was_put():
    rng = np.random.default_rng(5)
    mu = _means(48)
    mu[24:] *= 1.8  # the level rises by 80% from January 2021
    y = rng.poisson(mu)
    m = forecast.fit_monthly(y, "2019-01", change="2021-01", change_kind="step")
    rr, lo, hi, p = m.rate_ratio("step")
    assert lo < 1.8 < hi and p < 0.001
    with pytest.raises(ValueError, match="must fall inside the series"):
        forecast.fit_monthly(y, "2019-01", change="2030-01")


def test_prediction_intervals_cover_held_out_months_about_as_often_as_stated():
    # 80 simulated 36-month NB2 series (alpha 0.1): fit 24 months, forecast 12 -> 960 held-out months
    rng = np.random.default_rng(6)
    mu = _means(36)
    c80, c95 = [], []
    for _ in range(80):
        y = rng.poisson(rng.gamma(1 / 0.1, 0.1 * mu))
        check = forecast.holdout_check({"confidence": 0.95}, y, "2019-01")
        c80.append(check.coverage80)
        c95.append(check.coverage)
    assert 0.70 <= np.mean(c80) <= 0.90
    assert 0.90 <= np.mean(c95) <= 0.99


def test_the_holdout_check_scores_the_naive_forecasts_by_hand():
    # a series that repeats exactly each year: the same-month forecast is perfect, MAE 0
    y = np.tile(np.array([5, 3, 8, 9, 9, 8, 6, 5, 9, 10, 10, 7]), 3)
    check = forecast.holdout_check({"confidence": 0.95}, y, "2020-01")
    assert check.origins == 1
    assert check.errors.loc["seasonal_naive", "mae"] == 0
    # the mean of the fitted 24 months is 89 / 12; the held-out year sums to 89, so MAE = mean |y - 89/12|
    assert check.errors.loc["mean", "mae"] == pytest.approx(np.mean(np.abs(y[24:] - 89 / 12)))


def test_a_long_series_is_checked_from_a_rolling_origin():
    y = np.random.default_rng(7).poisson(_means(40))
    check = forecast.holdout_check({"confidence": 0.95}, y, "2019-01")
    assert check.origins == 40 - 12 - 24 + 1


def test_period_series_dates_learners_by_their_projects_start():
    projects = pd.DataFrame(
        {
            "project_id": ["a", "b", "c", "d"],
            "year": [2021, 2021, 2022, 2023],
            "level": ["national", "hospital", "hospital", "municipal"],
            "mode": ["live", "live", "face_to_face", "live"],
            "start_date": ["2021-03-05", "2021-03-28", "2022-11-01", None],
        }
    )
    learners = pd.DataFrame({"project_id": ["a", "a", "b", "c", "d"], "learners": [10, 5, 7, 4, 9]})
    monthly = forecast.period_series(projects, learners, [2021, 2022, 2023], "M")
    assert len(monthly) == 36
    assert monthly.loc[pd.Period("2021-03", "M"), ("learners", "live", "all")] == 22
    assert monthly.loc[pd.Period("2021-03", "M"), ("projects", "live", "national")] == 1
    assert monthly.loc[pd.Period("2022-11", "M"), ("learners", "face_to_face", "hospital")] == 4
    assert monthly[("learners", "live", "all")].sum() == 22  # d has no date
    quarterly = forecast.period_series(projects, learners, [2021, 2022, 2023], "Q")
    assert quarterly.loc[pd.Period("2021Q1", "Q"), ("projects", "live", "all")] == 2
    assert forecast.date_coverage(projects, [2021, 2022, 2023]) == 0.75
    assert forecast.monthly_models(projects, learners, [2021, 2022, 2023]) is None  # 75% dated < 80%


def test_without_dates_the_report_keeps_the_annual_models_with_their_caveat(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    projects = pd.read_csv(RAW / "projects.csv", dtype=str).drop(columns="start_date")
    projects.to_csv(raw / "projects.csv", index=False)
    (raw / "enrolments.csv").write_bytes((RAW / "enrolments.csv").read_bytes())
    out = tmp_path / "out"
    proc = run_cli("run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html")
    assert proc.returncode == 0, proc.stderr
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "no usable start dates" in page
    assert "Log-linear trends of yearly counts" in page and "Caveat: each trend rests on 3 annual counts" in page
    assert "Checked against held-out months" not in page


def test_the_default_report_shows_the_monthly_analysis(study_run):
    out, _ = study_run
    page = (out / "report.html").read_text(encoding="utf-8")
    for text in (
        "Monthly count models",
        "Checked against held-out months",
        "Projected yearly totals from the monthly models",
        "Same month last year",
    ):
        assert text in page, text
    assert "no usable start dates" not in page
    monthly = pd.read_csv(out / "tables" / "projects_and_learners_per_month_by_delivery_mode_and_level.csv")
    assert len(monthly) == 36
    totals = [c for c in monthly.columns if c.endswith("Learners Total")]
    assert len(totals) == 2  # live and face-to-face; every enrolment dated by its project's start
    assert monthly[totals].to_numpy().sum() == len(pd.read_csv(RAW / "enrolments.csv"))


def test_fit_monthly_rejects_bad_counts():
    with pytest.raises(ValueError, match="non-negative whole numbers"):
        forecast.fit_monthly([1, 2, -1] * 12, "2020-01")
    with pytest.raises(ValueError, match="cannot carry"):
        forecast.fit_monthly([1, 2, 3] * 4, "2020-01")
    assert math.isfinite(forecast.fit_monthly(np.zeros(36, int) + 3, "2020-01").growth[0])
