"""cmestudy.analysis.crosstab against published worked examples, hand-derived values, and invariances.

Sources of reference values (cited beside each):
* [Agresti2007] Agresti, A. An Introduction to Categorical Data Analysis, 2nd ed., Wiley 2007:
  Table 2.5 (party identification by gender), Table 2.6 (standardised residuals),
  Section 2.5.3 (X^2 = 30.1, G^2 = 30.0, df = 2).
* [Agresti2013] Agresti, A. Categorical Data Analysis, 3rd ed., Wiley 2013, Table 3.8
  (alcohol consumption and infant malformation; M^2 = 6.57 with scores 0, .5, 1.5, 4, 7).
* [R chisq.test] R documentation, ?chisq.test, example `M`: X-squared = 30.07, df = 2,
  p-value = 2.954e-07; `Xsq$stdres` F: 4.5020535, 0.6994517, -5.3159455.
* [R fisher.test] R documentation, ?fisher.test: TeaTasting p = 0.4857; Convictions
  p = 0.0005367; Job satisfaction (4 x 4) p = 0.7827.
* [confintr] R package confintr, tests/testthat/test_ci_chisq_ncp.R: mtcars am x vs
  (12, 7 / 6, 7), chi-square without correction: ncp interval (0, 8.475743), Cramer's V
  upper limit 0.5441663.
* [R prop.trend.test] R documentation, ?prop.trend.test: smokers/patients,
  X-squared = 8.2249, df = 1, p-value = 0.004132.
"""

from __future__ import annotations

import math
from itertools import product
from math import comb

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cmestudy.analysis import crosstab, pairwise, proportions
from cmestudy.published import statcheck
from cmestudy.report import association_tables

PARTY = pd.DataFrame(
    [[762, 327, 468], [484, 239, 477]], index=["F", "M"], columns=["Democrat", "Independent", "Republican"]
)


# --------------------------------------------------------------------- worked examples
def test_pearson_and_likelihood_ratio_match_agresti_and_r():
    res = crosstab.crosstab_tests(PARTY)
    assert res.pearson.statistic == pytest.approx(30.07, abs=0.005)  # [R chisq.test], [Agresti2007] 30.1
    assert res.pearson.df == 2
    assert res.pearson.pvalue == pytest.approx(2.954e-07, rel=1e-3)  # [R chisq.test]
    assert res.likelihood_ratio.statistic == pytest.approx(30.0, abs=0.05)  # [Agresti2007] G^2 = 30.0
    assert res.n == 2757
    assert res.yates is None  # 2 x 3: no continuity correction


def test_adjusted_residuals_match_agresti_table_2_6_and_r_stdres():
    adj = crosstab.crosstab_tests(PARTY).adjusted_residuals
    assert adj.loc["F"].tolist() == pytest.approx([4.5020535, 0.6994517, -5.3159455], abs=1e-6)  # [R chisq.test]
    assert adj.loc["M"].tolist() == pytest.approx([-4.5020535, -0.6994517, 5.3159455], abs=1e-6)


def test_linear_by_linear_matches_agresti_malformation_example():
    table = [[17066, 14464, 788, 126, 37], [48, 38, 5, 1, 1]]
    res = crosstab.crosstab_tests(table, row_scores=[0, 1], col_scores=[0, 0.5, 1.5, 4.0, 7.0])
    assert res.linear_by_linear.statistic == pytest.approx(6.57, abs=0.005)  # [Agresti2013] M^2 = 6.57
    assert res.linear_by_linear.pvalue == pytest.approx(0.0104, abs=0.0005)  # P = 0.01


@pytest.mark.parametrize(
    "table, p",
    [
        ([[3, 1], [1, 3]], 0.4857),  # [R fisher.test] TeaTasting
        ([[2, 15], [10, 3]], 0.0005367),  # [R fisher.test] Convictions
    ],
)
def test_fisher_2x2_matches_r(table, p):
    assert crosstab.crosstab_tests(table).fisher.pvalue == pytest.approx(p, rel=1e-3)


def test_fisher_r_by_c_is_exact_and_matches_r_job_satisfaction():
    job = np.array([[1, 2, 1, 0], [3, 3, 6, 1], [10, 10, 14, 9], [6, 7, 12, 11]]).T  # R fills by column
    res = crosstab.crosstab_tests(job)
    assert res.fisher.method == "exact"
    assert res.fisher.pvalue == pytest.approx(0.782684938965693, rel=1e-6)  # [R fisher.test] (tests/test_exact.py)
    frame = res.to_frame()
    assert frame.loc["fisher", "p_exact"] == res.fisher.pvalue
    assert [code for code, _ in res.notes()] == ["note.low_expected", "note.fisher_exact"]


def _fisher_by_brute_force(table):
    """Sum the multivariate hypergeometric probabilities of every 2 x c table no likelier than the observed."""
    t = np.asarray(table)
    cols, r0, n = t.sum(axis=0), int(t[0].sum()), int(t.sum())

    def prob(row):
        return math.prod(comb(int(c), int(x)) for c, x in zip(cols, row)) / comb(n, r0)

    p_obs = prob(t[0])
    total = 0.0
    for row in product(*(range(int(c) + 1) for c in cols)):
        if sum(row) == r0:
            p = prob(row)
            if p <= p_obs * (1 + 1e-7):
                total += p
    return total


@pytest.mark.parametrize("table", [[[3, 1, 4], [2, 6, 1]], [[0, 5, 2, 1], [4, 1, 3, 2]], [[7, 1, 1], [1, 1, 7]]])
def test_fisher_2_by_c_exact_equals_brute_force_enumeration(table):
    res = crosstab.crosstab_tests(table)
    assert res.fisher.method == "exact"
    assert res.fisher.pvalue == pytest.approx(_fisher_by_brute_force(table), rel=1e-9)


def test_cramers_v_interval_matches_confintr():
    res = crosstab.crosstab_tests([[12, 7], [6, 7]])  # mtcars: am (rows) x vs (columns)
    assert res.pearson.statistic == pytest.approx(0.9068826, abs=1e-7)
    lam = crosstab._noncentral_chi2_ci(res.pearson.statistic, 1, 0.95)
    assert lam == pytest.approx((0.0, 8.475743), abs=1e-5)  # [confintr]
    assert res.cramers_v.ci_high == pytest.approx(0.5441663, abs=1e-6)  # [confintr]
    assert res.cramers_v.ci_low == 0.0  # lambda_low = 0 -> V_low = 0 (documented deviation)


def test_cochran_armitage_matches_r_prop_trend_test():
    res = proportions.cochran_armitage([83, 90, 129, 70], [86, 93, 136, 82])
    assert res.statistic == pytest.approx(8.2249, abs=5e-5)  # [R prop.trend.test]
    assert res.pvalue == pytest.approx(0.004132, abs=5e-7)
    assert res.df == 1 and res.z < 0


def test_cochran_armitage_n_minus_1_equals_linear_by_linear():
    x, n = np.array([83, 90, 129, 70]), np.array([86, 93, 136, 82])
    ca = proportions.cochran_armitage(x, n, variance="N-1")
    lbl = crosstab.crosstab_tests(np.vstack([x, n - x]), col_scores=[1, 2, 3, 4]).linear_by_linear
    assert ca.statistic == pytest.approx(lbl.statistic, rel=1e-12)
    big_n = n.sum()
    assert ca.statistic == pytest.approx(proportions.cochran_armitage(x, n).statistic * (big_n - 1) / big_n, rel=1e-12)


# --------------------------------------------------------------------- hand-derived
def test_tiny_table_by_hand():
    # [[10, 20], [30, 40]]: margins 30, 70 / 40, 60, N = 100; E = 12, 18, 28, 42.
    res = crosstab.crosstab_tests([[10, 20], [30, 40]])
    assert res.expected.to_numpy().tolist() == [[12, 18], [28, 42]]
    x2 = 4 / 12 + 4 / 18 + 4 / 28 + 4 / 42
    assert res.pearson.statistic == pytest.approx(x2, rel=1e-12)
    # Yates: |O - E| = 2 -> (2 - 0.5)^2 / E
    assert res.yates.statistic == pytest.approx(2.25 * (1 / 12 + 1 / 18 + 1 / 28 + 1 / 42), rel=1e-12)
    g2 = 2 * (10 * math.log(10 / 12) + 20 * math.log(20 / 18) + 30 * math.log(30 / 28) + 40 * math.log(40 / 42))
    assert res.likelihood_ratio.statistic == pytest.approx(g2, rel=1e-12)
    phi = (10 * 40 - 20 * 30) / math.sqrt(30 * 70 * 40 * 60)
    assert res.phi == pytest.approx(phi, rel=1e-12)
    assert res.cramers_v.estimate == pytest.approx(abs(phi), rel=1e-12)
    assert res.contingency_coefficient == pytest.approx(math.sqrt(x2 / (x2 + 100)), rel=1e-12)
    assert res.residuals.iloc[0, 0] == pytest.approx(-2 / math.sqrt(12), rel=1e-12)
    adj = -2 / math.sqrt(12 * (1 - 0.3) * (1 - 0.4))
    assert res.adjusted_residuals.iloc[0, 0] == pytest.approx(adj, rel=1e-12)
    assert res.low_expected.count == 0 and res.low_expected.minimum == 12


def test_low_expected_footnote_counts_cells_below_five():
    res = crosstab.crosstab_tests([[1, 9], [4, 6]])  # E = 2.5, 7.5, 2.5, 7.5
    assert (res.low_expected.count, res.low_expected.share, res.low_expected.minimum) == (2, 0.5, 2.5)
    assert res.low_expected.values() == {"cells": 2, "share": 0.5, "minimum": 2.5}  # numbers; the report words them
    assert (
        association_tables.low_expected_note(res.low_expected, "en")
        == "a. 2 cells (50.0%) have expected count less than 5. The minimum expected count is 2.50."
    )
    assert (
        association_tables.low_expected_note(res.low_expected, "zh")
        == "a. 2个格子（50.0%）的理论频数小于5。最小理论频数为2.50。"
    )


def test_to_frame_has_the_spss_layout():
    from cmestudy import i18n
    from cmestudy.report import tables

    frame = crosstab.crosstab_tests([[10, 20], [30, 40]]).to_frame()
    assert list(frame.index) == ["pearson", "yates", "likelihood_ratio", "fisher", "linear_by_linear", "n_valid"]
    assert frame.loc["n_valid", "value"] == 100
    shown = tables.layout(frame)  # as the English report prints it: SPSS's own words
    assert [h[0][0] for h, _ in shown.rows] == [
        "Pearson Chi-Square",
        "Continuity Correction",
        "Likelihood Ratio",
        "Fisher's Exact Test",
        "Linear-by-Linear Association",
        "N of Valid Cases",
    ]
    assert [c[0] for c in shown.header[0]] == [
        "Value",
        "df",
        "Asymptotic significance (2-sided)",
        "Exact significance (2-sided)",
    ]
    assert i18n.label("pearson", "zh") == "Pearson χ²"


def test_pairwise_tests_and_adjustments():
    table = pd.DataFrame([[10, 20, 30], [30, 20, 10]], columns=["a", "b", "c"])
    pw = pairwise.pairwise_tests(table, pairs=[("a", "b"), ("c", "b")], adjust="bonferroni")
    raw = [
        crosstab.crosstab_tests(table[["a", "b"]]).pearson.pvalue,
        crosstab.crosstab_tests(table[["c", "b"]]).pearson.pvalue,
    ]
    assert pw["pvalue"].tolist() == pytest.approx(raw)
    assert pw["pvalue_adjusted"].tolist() == pytest.approx([min(1, 2 * p) for p in raw])
    holm = pairwise.pairwise_tests(table, adjust="holm")
    p = holm["pvalue"].to_numpy()
    order = np.argsort(p)
    expected = np.minimum(1, np.maximum.accumulate((3 - np.arange(3)) * p[order]))
    assert holm["pvalue_adjusted"].to_numpy()[order] == pytest.approx(expected)
    assert len(pairwise.pairwise_tests(table, adjust="none")) == 3


def test_check_reported_accepts_the_published_and_catches_an_inconsistent_report():
    ok = statcheck.check_reported(18.284, 2, "<0.05", decimals=3)
    assert ok.consistent and ok.p_low <= ok.p_computed <= ok.p_high
    bad = statcheck.check_reported(2.0, 1, "<0.05", decimals=1)  # p = 0.157
    assert not bad.consistent
    # chi2(1) = 3.84 rounds from [3.835, 3.845]: p spans 0.0500 -> consistent with "= .05"
    assert statcheck.check_reported(3.84, 1, "0.05", decimals=2).consistent
    assert not statcheck.check_reported(3.84, 1, "0.01", decimals=2).consistent


def test_apa_sentence():
    res = crosstab.crosstab_tests(PARTY)
    assert association_tables.apa_chi2(res) == "χ²(2, N = 2,757) = 30.070, p < .001, V = 0.10"


def test_wilson_interval_by_hand():
    lo, hi = proportions.proportion_ci(8, 10)
    z = 1.959963984540054
    c = (0.8 + z * z / 20) / (1 + z * z / 10)
    h = z * math.sqrt(0.8 * 0.2 / 10 + z * z / 400) / (1 + z * z / 10)
    assert (float(lo), float(hi)) == pytest.approx((c - h, c + h))


# --------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "table, message",
    [
        ([[1, -2], [3, 4]], "negative counts"),
        ([[1.5, 2], [3, 4]], "whole-number counts"),
        ([[1, np.nan], [3, 4]], "missing counts"),
        ([[1, 2, 3]], "at least 2 rows and 2 columns"),
        ([[0, 0], [3, 4]], "row(s) [0] of zeros"),
        (pd.DataFrame([[1, 0], [3, 0]], columns=["junior", "senior"]), "column(s) ['senior'] of zeros"),
        ([["a", 2], [3, 4]], "numbers only"),
        ([1, 2, 3], "two-dimensional"),
    ],
)
def test_crosstab_rejects_bad_tables_saying_what_is_wrong(table, message):
    with pytest.raises(ValueError) as exc:
        crosstab.crosstab_tests(table)
    assert message in str(exc.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"successes": [1, 2], "totals": [1]}, "equal length"),
        ({"successes": [3, 2], "totals": [2, 2]}, "exceed totals"),
        ({"successes": [0, 2], "totals": [0, 2]}, "totals must be positive"),
        ({"successes": [-1, 2], "totals": [3, 2]}, "non-negative"),
        ({"successes": [1.5, 2], "totals": [3, 2]}, "whole numbers"),
        ({"successes": [0, 0], "totals": [3, 2]}, "no trend"),
        ({"successes": [1, 2], "totals": [3, 4], "variance": "n"}, "'N' or 'N-1'"),
    ],
)
def test_cochran_armitage_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError) as exc:
        proportions.cochran_armitage(**kwargs)
    assert message in str(exc.value)


@pytest.mark.parametrize(
    "args, message",
    [
        ((18.284, 2, "p is small"), "reported_p must look like"),
        ((-1.0, 2, "<0.05"), "non-negative"),
        ((18.284, 0, "<0.05"), "df must be a positive"),
    ],
)
def test_check_reported_rejects_bad_input(args, message):
    with pytest.raises(ValueError) as exc:
        statcheck.check_reported(*args)
    assert message in str(exc.value)


def test_pairwise_rejects_unknown_labels_and_bad_adjustment():
    table = pd.DataFrame([[1, 2, 3], [4, 5, 6]], columns=["a", "b", "c"])
    with pytest.raises(ValueError, match="unknown columns"):
        pairwise.pairwise_tests(table, pairs=[("a", "z")])
    with pytest.raises(ValueError, match="adjust must be"):
        pairwise.pairwise_tests(table, adjust="sidak")


# --------------------------------------------------------------------- invariances
tables = st.tuples(st.integers(2, 4), st.integers(2, 4)).flatmap(
    lambda shape: arrays(np.int64, shape, elements=st.integers(1, 60))
)


@settings(max_examples=60, deadline=None)
@given(tables)
def test_transposing_leaves_the_statistics_unchanged(t):
    a, b = crosstab.crosstab_tests(t, fisher=False), crosstab.crosstab_tests(t.T, fisher=False)
    assert a.pearson.statistic == pytest.approx(b.pearson.statistic, rel=1e-9)
    assert a.likelihood_ratio.statistic == pytest.approx(b.likelihood_ratio.statistic, rel=1e-9, abs=1e-12)
    assert a.cramers_v.estimate == pytest.approx(b.cramers_v.estimate, rel=1e-9)
    assert a.adjusted_residuals.to_numpy() == pytest.approx(b.adjusted_residuals.to_numpy().T)


@settings(max_examples=60, deadline=None)
@given(tables, st.randoms(use_true_random=False))
def test_permuting_categories_leaves_the_statistics_unchanged(t, rnd):
    rows, cols = list(range(t.shape[0])), list(range(t.shape[1]))
    rnd.shuffle(rows)
    rnd.shuffle(cols)
    a, b = crosstab.crosstab_tests(t, fisher=False), crosstab.crosstab_tests(t[rows][:, cols], fisher=False)
    assert a.pearson.statistic == pytest.approx(b.pearson.statistic, rel=1e-9)
    assert a.likelihood_ratio.statistic == pytest.approx(b.likelihood_ratio.statistic, rel=1e-9, abs=1e-12)
    assert a.pearson.pvalue == pytest.approx(b.pearson.pvalue, rel=1e-9, abs=1e-300)


@settings(max_examples=60, deadline=None)
@given(tables, st.integers(2, 7))
def test_scaling_counts_scales_chi_square_and_keeps_effect_sizes(t, k):
    a, b = crosstab.crosstab_tests(t, fisher=False), crosstab.crosstab_tests(t * k, fisher=False)
    assert b.pearson.statistic == pytest.approx(k * a.pearson.statistic, rel=1e-9, abs=1e-9)
    assert b.likelihood_ratio.statistic == pytest.approx(k * a.likelihood_ratio.statistic, rel=1e-9, abs=1e-9)
    assert b.cramers_v.estimate == pytest.approx(a.cramers_v.estimate, rel=1e-9, abs=1e-12)
    assert b.expected.to_numpy() == pytest.approx(k * a.expected.to_numpy())


@settings(max_examples=40, deadline=None)
@given(tables)
def test_cramers_v_interval_contains_the_estimate(t):
    v = crosstab.crosstab_tests(t, fisher=False).cramers_v
    assert 0 <= v.ci_low <= v.estimate + 1e-12 and v.estimate <= v.ci_high + 1e-12 and v.ci_high <= 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 50)), min_size=2, max_size=6))
def test_cochran_armitage_reverse_order_flips_z(groups):
    x = [min(a, n) for a, n in groups]
    n = [n for _, n in groups]
    p = sum(x) / sum(n)
    if p in (0, 1):
        return
    fwd, rev = proportions.cochran_armitage(x, n), proportions.cochran_armitage(x[::-1], n[::-1])
    assert rev.z == pytest.approx(-fwd.z, rel=1e-9, abs=1e-9)
    assert rev.pvalue == pytest.approx(fwd.pvalue, rel=1e-9)


# ----------------------------------------------------------- compare column proportions (SPSS BPROP)
def test_column_letters_match_field_cats_example():
    # [Field2018] Field, A. Discovering Statistics Using IBM SPSS Statistics, 5th ed., Sage 2018, ch. 19:
    # 38 cats trained with food (28 danced), 162 with affection (48 danced); SPSS's crosstab gives the
    # counts of each row the subscripts a (food) and b (affection): the proportions differ.
    cats = pd.DataFrame([[28, 48], [10, 114]], index=["danced", "not"], columns=["food", "affection"])
    res = pairwise.column_proportions(cats)
    assert res.letters.to_numpy().tolist() == [["a", "b"], ["a", "b"]]
    # by hand: p = 76/200 pooled, z = (28/38 - 48/162) / sqrt(p (1 - p) (1/38 + 1/162)) = 5.035; for a
    # 2 x 2 table z^2 is Pearson's chi-square, which Field reports as chi^2(1) = 25.36
    p = 76 / 200
    z = (28 / 38 - 48 / 162) / math.sqrt(p * (1 - p) * (1 / 38 + 1 / 162))
    assert res.tests.loc[0, "z"] == pytest.approx(z)
    assert z * z == pytest.approx(25.36, abs=0.005)


def test_column_letters_hand_worked_three_columns():
    # 30/100, 40/100, 50/100: only the first and last differ after Bonferroni (3 pairs in the row):
    # z13 = -0.2 / sqrt(0.4 * 0.6 * 0.02) = -2.887, p = 0.00389, x 3 = 0.0117 < 0.05;
    # z12 = -0.1 / sqrt(0.35 * 0.65 * 0.02) = -1.483, p = 0.138 (and z23 likewise): a, ab, b
    table = pd.DataFrame([[30, 40, 50], [70, 60, 50]], index=["yes", "no"], columns=["x", "y", "z"])
    res = pairwise.column_proportions(table)
    assert res.letters.loc["yes"].tolist() == ["a", "ab", "b"]
    assert res.letters.loc["no"].tolist() == ["a", "ab", "b"]
    row = res.tests[(res.tests["row"] == "yes") & (res.tests["column_a"] == "x") & (res.tests["column_b"] == "z")]
    assert row["z"].item() == pytest.approx(-0.2 / math.sqrt(0.4 * 0.6 * 0.02))
    assert row["pvalue_adjusted"].item() == pytest.approx(3 * 2 * scipy.stats.norm.sf(0.2 / math.sqrt(0.0048)))
    assert not res.any_excluded


def test_column_with_proportion_zero_or_one_is_not_compared():
    table = pd.DataFrame([[0, 10, 30], [5, 20, 10]], index=["yes", "no"], columns=["x", "y", "z"])
    res = pairwise.column_proportions(table)
    assert res.letters.loc["yes", "x"] == "" and res.letters.loc["no", "x"] == ""  # 0 and 1 in column x
    assert res.any_excluded
    assert set(res.tests["column_a"]) | set(res.tests["column_b"]) == {"y", "z"}


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 7).flatmap(
        lambda n: st.tuples(
            st.just(n), st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] < p[1]))
        )
    )
)
def test_compact_letters_share_a_letter_exactly_when_not_different(case):
    n, differ = case
    letters = pairwise.compact_letters(n, differ)
    for i in range(n):
        assert letters[i]
        for j in range(i + 1, n):
            shares = bool(set(letters[i]) & set(letters[j]))
            assert shares == ((i, j) not in differ)


def test_monte_carlo_fisher_shows_its_interval_and_says_so():
    from cmestudy import i18n

    hard = [[5, 3, 5, 2, 4], [3, 11, 3, 8, 2], [1, 2, 9, 3, 5], [7, 4, 1, 6, 3], [4, 0, 2, 0, 7]]
    res = crosstab.crosstab_tests(hard, exact_seconds=0.0)  # no time for the exact p
    assert res.fisher.method == "monte_carlo"
    # R: fisher.test(hard, workspace = 2e8) gives 0.000475163252812858 (226 s here); the 99% interval holds it
    assert res.fisher.ci[0] <= 0.000475163252812858 <= res.fisher.ci[1]
    frame = res.to_frame()
    assert frame.loc["fisher", "p_mc_low"] <= frame.loc["fisher", "p_monte_carlo"] <= frame.loc["fisher", "p_mc_high"]
    assert "p_exact" not in frame.columns
    for lang in ("en", "zh"):
        i18n.set_language(lang)
        try:
            notes = dict(association_tables.notes(res))  # numbers are written the way of the report's language
            text = i18n.t("note.fisher_monte_carlo", lang, **notes["note.fisher_monte_carlo"])
        finally:
            i18n.set_language("en")
        assert "99" in text and i18n.integer(res.fisher.samples, lang) in text
    assert crosstab.crosstab_tests(hard, fisher=False).to_frame().index.tolist() == [
        "pearson",
        "likelihood_ratio",
        "n_valid",
    ]
