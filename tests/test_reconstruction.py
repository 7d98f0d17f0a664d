"""The reconstructed default data reproduce every published figure, and regenerate byte for byte.

The reference values below are copied from the study's abstract (Wei, Ye & Yu 2025,
Occupation and Health 41(6): 838-844), independently of data/raw/published.yml.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from cmestudy.analysis import describe
from cmestudy.clean import cleaning
from cmestudy.ingest import exports
from cmestudy.published import paper, reconstruct
from cmestudy.report import published_tables

from .conftest import RAW, run_cli

ABSTRACT_CHI2 = {  # year: (2 x 3, junior/intermediate, senior/intermediate)
    2021: (18.284, 6.490, 16.764),
    2022: (44.079, 41.692, 15.158),
    2023: (36.139, 31.148, 17.046),
}
ABSTRACT_LEARNERS = {"live": 40366, "face_to_face": 7330}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    processed = tmp_path_factory.mktemp("processed")
    cleaned = cleaning.clean(exports.read_raw_dir(RAW, key=b"test-key-0123456789abcdef"))
    cleaning.write_processed(cleaned, processed)
    return cleaning.load_processed(processed)


def test_published_yml_holds_the_abstract_figures():
    pub = paper.load(RAW)
    got = {(c["year"], tuple(c["titles"])): c["value"] for c in pub.chisquare}
    for year, (overall, ji, si) in ABSTRACT_CHI2.items():
        assert got[(year, ("junior", "intermediate", "senior"))] == overall
        assert got[(year, ("junior", "intermediate"))] == ji
        assert got[(year, ("senior", "intermediate"))] == si
    assert {t["mode"]: t["value"] for t in pub.totals} == ABSTRACT_LEARNERS


def test_learner_totals_reproduce_the_abstract(study):
    by_mode = describe.learners_by_year_mode(study.learners, [2021, 2022, 2023]).sum()
    assert by_mode.to_dict() == ABSTRACT_LEARNERS


@pytest.mark.parametrize("year", sorted(ABSTRACT_CHI2))
def test_chi_square_statistics_reproduce_the_abstract_to_three_decimals(study, year):
    table = describe.mode_by_title(study.learners, year).to_numpy()
    overall, ji, si = ABSTRACT_CHI2[year]
    # scipy as the independent reference implementation of Pearson's chi-square
    assert round(chi2_contingency(table, correction=False).statistic, 3) == overall
    assert round(chi2_contingency(table[:, [0, 1]], correction=False).statistic, 3) == ji
    assert round(chi2_contingency(table[:, [2, 1]], correction=False).statistic, 3) == si
    for sub in (table, table[:, [0, 1]], table[:, [2, 1]]):
        assert chi2_contingency(sub, correction=False).pvalue < 0.05


@pytest.mark.parametrize("year", sorted(ABSTRACT_CHI2))
def test_intermediate_is_largest_live_group_and_has_highest_live_share(study, year):
    t = describe.mode_by_title(study.learners, year)
    assert t.loc["live"].idxmax() == "intermediate"
    assert (t.loc["live"] / t.sum()).idxmax() == "intermediate"


def test_live_projects_learners_and_disciplines_rise_every_year(study):
    years = [2021, 2022, 2023]
    for series in (
        describe.projects_by_year_mode(study.projects, years)["live"],
        describe.learners_by_year_mode(study.learners, years)["live"],
        describe.live_disciplines_per_year(study.projects, years),
    ):
        assert np.all(np.diff(series.to_numpy()) > 0), series


def test_every_published_figure_matches_in_the_comparison_table(study):
    comparison = paper.compare(paper.load(RAW), study)
    assert len(comparison) == 16
    assert comparison["match"].all(), comparison.loc[~comparison["match"]]
    assert comparison["reported_p_consistent"].dropna().all()


@pytest.mark.slow
def test_the_reconstruction_regenerates_byte_identical_files():
    proc = run_cli("reconstruct", "--raw", RAW, "--check")
    assert proc.returncode == 0, proc.stderr
    fresh = reconstruct.generate(RAW)
    for name, data in fresh.items():
        assert (RAW / name).read_bytes() == data, f"{name} differs from a fresh reconstruction"


def test_reconstruction_is_labelled_in_readmes():
    assert "reconstruct" in (RAW / "README.md").read_text(encoding="utf-8").lower()
    assert "reconstruct" in (RAW.parents[1] / "README.md").read_text(encoding="utf-8").lower()


def test_matches_uses_the_published_precision():
    assert paper.matches(18.2844, 18.284, 3)
    assert not paper.matches(18.2846, 18.284, 3)
    assert paper.matches(40366, 40366, 0) and not paper.matches(40367, 40366, 0)


def test_comparison_tables_split_figures_and_statements(study):
    comparison = paper.compare(paper.load(RAW), study)
    figures = published_tables.comparison_table(comparison)
    claims = published_tables.comparison_table(comparison, "claims")
    assert len(figures) == 11 and len(claims) == 5
    chi2 = figures["figure"].str.startswith("χ²")
    assert chi2.sum() == 9 and figures.loc[chi2, "reported_p"].str.startswith("consistent").all()
    assert claims["holds"].all()


def test_the_reconstruction_clusters_titles_in_projects(study):
    # reconstruction.yml's title_mix: each project draws its own title mix, so the design effect of the
    # yearly mode x title test is well above 1 (it is about 1 when titles are drawn independently of
    # projects, as before: R survey::svychisq on that data gave F = 11.52 on 1.96 and 82.2 df for 2021)
    from cmestudy.analysis import association, design

    tests = association.mode_title_tests(study.learners, study.years)
    clustered = design.design_tests(study.learners, tests)
    for year, d in clustered.items():
        assert d.table.mean_deff > 2, year
        assert d.table.pearson == pytest.approx(ABSTRACT_CHI2[year][0], abs=0.0005)  # the naive X^2 is unchanged


def test_title_mixes_follow_the_concentration():
    # Dirichlet(kappa * m): the spread of a grade's share across projects shrinks as kappa grows,
    # var = m (1 - m) / (kappa + 1)
    register = pd.DataFrame({"discipline": ["Nursing"] * 4000})
    spec = {"concentration": 9.0, "default": {"junior": 0.3, "intermediate": 0.4, "senior": 0.3}}
    spec["disciplines"] = {"Nursing": {"junior": 0.5, "intermediate": 0.3, "senior": 0.2}}
    mix = reconstruct.title_mixes({"title_mix": spec}, register, np.random.default_rng(1))
    assert mix.sum(axis=1) == pytest.approx(1.0)
    assert mix.mean(axis=0) == pytest.approx([0.5, 0.3, 0.2], abs=0.01)
    assert mix[:, 0].var() == pytest.approx(0.5 * 0.5 / 10, rel=0.1)
