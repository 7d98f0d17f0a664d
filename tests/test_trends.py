"""Trends and projections on small data, against hand-derived values and independent fits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from cmestudy.analysis import proportions, trends
from cmestudy.report import narrative


def learners_frame(live_by_year: dict, f2f_by_year: dict, grade="intermediate") -> pd.DataFrame:
    rows = []
    for mode, counts in (("live", live_by_year), ("face_to_face", f2f_by_year)):
        for year, n in counts.items():
            rows.append(
                {
                    "project_id": f"{year}{mode}",
                    "year": year,
                    "level": "hospital",
                    "mode": mode,
                    "discipline": "Orthopaedics",
                    "grade": grade,
                    "learners": n,
                }
            )
    frame = pd.DataFrame(rows)
    frame["grade"] = pd.Categorical(frame["grade"], categories=["junior", "intermediate", "senior", "unknown"])
    frame["mode"] = pd.Categorical(frame["mode"], categories=["live", "face_to_face"])
    return frame


def test_cochran_armitage_two_groups_by_hand():
    # x = (5, 10) of n = (20, 20): p = .375; T = 2.5; Var = .375 * .625 * (100 - 60^2/40) = 2.34375
    res = proportions.cochran_armitage([5, 10], [20, 20])
    assert res.z == pytest.approx(2.5 / math.sqrt(2.34375), rel=1e-12)
    # with two groups it equals Pearson's X^2 of the 2 x 2 table: 40 (50 - 150)^2 / (20*20*15*25) = 8/3
    assert res.statistic == pytest.approx(8 / 3, rel=1e-12)


def test_live_share_trend_uses_the_yearly_counts():
    lr = learners_frame({2021: 5, 2022: 10}, {2021: 15, 2022: 10})
    table = trends.live_share_trend(lr, [2021, 2022])
    row = table.loc["all_titles"]
    assert row[("live_pct", 2021)] == 25 and row[("live_pct", 2022)] == 50 and row[("change_points", "")] == 25
    assert row[("chi2_trend", "")] == pytest.approx(8 / 3, rel=1e-12)


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339
    d, lo, hi = proportions.proportion_difference_ci(48, 80, 56, 70)
    assert d == pytest.approx(0.2)
    assert (lo, hi) == pytest.approx((0.0524, 0.3339), abs=5e-5)


def test_year_on_year_change_of_the_live_share():
    lr = learners_frame({2021: 48, 2022: 56}, {2021: 32, 2022: 14})
    ch = trends.live_share_changes(lr, [2021, 2022]).loc[("all_titles", 2021, 2022)]
    assert ch["change_points"] == pytest.approx(20.0)
    assert (ch["ci_low_points"], ch["ci_high_points"]) == pytest.approx((5.24, 33.39), abs=0.005)


def test_geometric_counts_give_exact_growth_and_no_overdispersion():
    m = trends.fit_count_trend([2021, 2022, 2023], [10, 20, 40], horizon=2)
    assert m.growth == pytest.approx(1.0, rel=1e-8)  # doubling: exp(b1) - 1 = 1
    assert m.fitted == pytest.approx([10, 20, 40], rel=1e-8)
    assert m.family == "poisson" and m.dispersion == pytest.approx(0, abs=1e-10)
    assert m.projection["expected"].tolist() == pytest.approx([80, 160], rel=1e-8)
    lo, hi = m.projection.loc[2024, "pi_low"], m.projection.loc[2024, "pi_high"]
    assert lo < 80 < hi


def test_poisson_trend_matches_an_independent_maximum_likelihood_fit():
    years, y = np.array([0.0, 1.0, 2.0]), np.array([30.0, 45.0, 50.0])

    def nll(b):  # Poisson negative log-likelihood, constants dropped
        eta = b[0] + b[1] * years
        return float(np.sum(np.exp(eta) - y * eta))

    b = optimize.minimize(nll, [3.0, 0.1], method="BFGS", options={"gtol": 1e-12}).x
    m = trends.fit_count_trend([2021, 2022, 2023], y.astype(int))
    assert m.growth == pytest.approx(math.exp(b[1]) - 1, rel=1e-6)
    mu = np.exp(b[0] + b[1] * years)
    pearson = float(np.sum((y - mu) ** 2 / mu))
    assert m.dispersion == pytest.approx(pearson / 1, rel=1e-5)  # n - 2 = 1 residual df
    assert m.family == ("quasi_poisson" if pearson > 1 else "poisson")
    assert m.projection.loc[2024, "expected"] == pytest.approx(math.exp(b[0] + 3 * b[1]), rel=1e-6)


def test_quasi_poisson_interval_uses_t_with_n_minus_2_df():
    m = trends.fit_count_trend([2021, 2022, 2023], [1000, 1600, 1900])
    assert m.family == "quasi_poisson" and m.df_resid == 1
    # the t(1) interval of growth is far wider than a Poisson one would be
    assert m.growth_low < 0 < m.growth < m.growth_high and m.growth_high - m.growth_low > 0.5


def test_projections_are_reproducible():
    a = trends.fit_count_trend([2021, 2022, 2023], [30, 45, 50])
    b = trends.fit_count_trend([2021, 2022, 2023], [30, 45, 50])
    pd.testing.assert_frame_equal(a.projection, b.projection)


@pytest.mark.parametrize(
    "counts, message", [([1, 2], "at least 3 years"), ([1, -2, 3], "non-negative"), ([0, 0, 0], "all counts are zero")]
)
def test_count_trend_rejects_bad_series(counts, message):
    with pytest.raises(ValueError, match=message):
        trends.fit_count_trend(list(range(2021, 2021 + len(counts))), counts)


def test_discipline_shift_by_hand():
    projects = pd.DataFrame(
        {
            "project_id": list("abcdefg"),
            "year": [2021, 2021, 2023, 2023, 2021, 2023, 2023],
            "mode": pd.Categorical(
                ["face_to_face", "face_to_face", "live", "face_to_face", "live", "live", "live"],
                categories=["live", "face_to_face"],
            ),
            "discipline": ["Spine", "Spine", "Spine", "Spine", "Nursing", "Nursing", "Nursing"],
        }
    )
    shift = trends.discipline_shift(projects, [2021, 2023])
    assert shift.index.tolist() == ["Spine", "Nursing"]
    assert shift.loc["Spine", [("live_pct", 2021), ("live_pct", 2023), ("change_points", "")]].tolist() == [0, 50, 50]
    assert shift.loc["Spine", ("first_live_year", "")] == 2023 and shift.loc["Nursing", ("first_live_year", "")] == 2021


def test_narrative_numbers_follow_the_data():
    a = learners_frame({2021: 50, 2022: 70, 2023: 90}, {2021: 50, 2022: 30, 2023: 10})
    b = learners_frame({2021: 20, 2022: 25, 2023: 35}, {2021: 80, 2022: 75, 2023: 65})
    years = [2021, 2022, 2023]
    text_a = " ".join(narrative.trend(trends.live_share_trend(a, years), 0.05))
    text_b = " ".join(narrative.trend(trends.live_share_trend(b, years), 0.05))
    assert text_a != text_b
    assert "from 50.0% in 2021 to 90.0% in 2023 (+40.0 points" in text_a
    assert "from 20.0% in 2021 to 35.0% in 2023 (+15.0 points" in text_b
    models_a = trends.count_trends(
        pd.DataFrame(columns=["project_id", "year", "level", "mode", "discipline"]), a, years
    )
    sentence = " ".join(narrative.count_models({k: v for k, v in models_a.items() if "learners" in k}))
    assert "50 in 2021 to 90 in 2023" in sentence and "1 residual degree of freedom" in sentence
