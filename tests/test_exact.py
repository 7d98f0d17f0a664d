"""Fisher's exact test for r x c tables (cmestudy.analysis.exact) against R and against full enumeration.

Reference values: R 4.2.2 (Debian r-base-core), ``fisher.test(x, workspace = 2e8)$p.value`` printed
with ``format(p, digits = 15)``; the tables are written here as R's ``matrix(..., byrow = TRUE)`` rows.

* [R ?fisher.test] the examples of R's own documentation: ``Job`` (job satisfaction by income,
  4 x 4, N = 104): 0.782684938965693; ``MP6`` (the sixth example of Mehta & Patel 1983, 5 x 7,
  N = 41): 0.0392896436553332.
* [R random] tables drawn here with numpy (``default_rng(7)``): a 4 x 4 with N = 90 and a 3 x 4
  with N = 120, the sizes of the issue's speed targets; and 2 x c tables with N = 20,000 and
  N = 2,430, the size of the study's tables.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from cmestudy.analysis import exact

JOB = [[1, 3, 10, 6], [2, 3, 10, 7], [1, 6, 14, 12], [0, 1, 9, 11]]  # matrix(c(...), 4, 4): R fills columns
MP6 = [
    [1, 2, 2, 1, 1, 0, 1],
    [2, 0, 0, 2, 3, 0, 0],
    [0, 1, 1, 1, 2, 7, 3],
    [1, 1, 2, 0, 0, 0, 1],
    [0, 1, 1, 1, 1, 0, 0],
]

#: [R random] 5 x 5, N = 100: fisher.test(R_HARD, workspace = 2e8) took R 226 s; p = 0.000475163252812858
R_HARD = [
    [5, 3, 5, 2, 4],
    [3, 11, 3, 8, 2],
    [1, 2, 9, 3, 5],
    [7, 4, 1, 6, 3],
    [4, 0, 2, 0, 7],
]

R_VALUES = [
    (JOB, 0.782684938965693),  # [R ?fisher.test] fisher.test(Job)
    (MP6, 0.0392896436553332),  # [R ?fisher.test] fisher.test(MP6)
    ([[6, 9, 7, 4], [4, 8, 1, 8], [7, 5, 4, 4], [4, 6, 7, 6]], 0.403277666358384),  # [R random] 4 x 4, N = 90
    ([[10, 19, 11, 10], [16, 6, 5, 9], [4, 6, 12, 12]], 0.00763536518419369),  # [R random] 3 x 4, N = 120
    ([[3000, 4200, 2800], [2900, 4100, 3000]], 0.00746390715472289),  # [R random] 2 x 3, N = 20,000
    ([[300, 420, 280, 150, 60], [290, 410, 300, 180, 40]], 0.104845351301928),  # [R random] 2 x 5
    ([[3, 1], [1, 3]], 0.485714285714286),  # [R ?fisher.test] TeaTasting
    ([[2, 10], [15, 3]], 0.000536724119143436),  # [R ?fisher.test] Convictions
]


@pytest.mark.parametrize("table, p", R_VALUES)
def test_exact_p_equals_r_fisher_test(table, p):
    res = exact.fisher_test(table)
    assert res.method == "exact"
    assert res.pvalue == pytest.approx(p, rel=1e-6)


def test_transposing_or_permuting_the_table_does_not_change_p():
    t = np.array(MP6)
    p = exact.fisher_exact_rxc(t)
    assert exact.fisher_exact_rxc(t.T) == pytest.approx(p, rel=1e-12)
    assert exact.fisher_exact_rxc(t[::-1, [3, 0, 6, 1, 5, 2, 4]]) == pytest.approx(p, rel=1e-12)


def _all_tables(rows, cols):
    """Every table of counts with these row and column sums (recursively, row by row)."""
    if len(rows) == 1:
        yield [list(cols)]
        return
    for first in itertools.product(*(range(min(c, rows[0]) + 1) for c in cols)):
        if sum(first) == rows[0]:
            for rest in _all_tables(rows[1:], [c - x for c, x in zip(cols, first)]):
                yield [list(first), *rest]


def _fisher_by_enumeration(table):
    """p = sum of P(T) over every table T with the margins and P(T) <= P(observed) (1 + 1e-7), with
    P(T) = prod R_i! prod C_j! / (N! prod n_ij!) computed in exact integers."""
    t = np.asarray(table)
    rows, cols = [int(v) for v in t.sum(axis=1)], [int(v) for v in t.sum(axis=0)]
    n = sum(rows)
    numerator = math.prod(math.factorial(v) for v in rows + cols)

    def prob(tab):
        return numerator / (math.factorial(n) * math.prod(math.factorial(int(x)) for r in tab for x in r))

    p_obs = prob(t)
    return sum(p for tab in _all_tables(rows, cols) if (p := prob(tab)) <= p_obs * (1 + 1e-7))


small_tables = st.integers(2, 4).flatmap(
    lambda r: st.integers(2, 4).flatmap(
        lambda c: st.lists(st.lists(st.integers(0, 3), min_size=c, max_size=c), min_size=r, max_size=r)
    )
)


@settings(max_examples=150, deadline=None)
@given(small_tables)
def test_exact_p_equals_full_enumeration(table):
    t = np.array(table)
    if not 0 < t.sum() <= 16:  # beyond, the enumeration in Python takes too long
        return
    assert exact.fisher_exact_rxc(t) == pytest.approx(_fisher_by_enumeration(t), rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 400), min_size=4, max_size=4))
def test_two_by_two_equals_scipy(cells):
    t = np.array(cells).reshape(2, 2)
    if (t.sum(axis=0) == 0).any() or (t.sum(axis=1) == 0).any():
        return
    assert exact.fisher_exact_rxc(t) == pytest.approx(sps.fisher_exact(t).pvalue, rel=1e-9)


def test_beyond_the_limit_monte_carlo_gives_p_with_its_99_percent_interval():
    exact_p = exact.fisher_exact_rxc(JOB)
    res = exact.fisher_test(JOB, limit=10)  # ten node expansions: the network cannot finish
    assert res.method == "monte_carlo"
    assert res.samples == exact.MC_SAMPLES
    assert res.ci_low < exact_p < res.ci_high
    half = (res.ci_high - res.ci_low) / 2
    assert half == pytest.approx(sps.norm.ppf(0.995) * math.sqrt(res.pvalue * (1 - res.pvalue) / res.samples))
    assert exact.fisher_test(JOB, limit=10) == res  # seeded: the same estimate every run


def test_beyond_the_time_budget_monte_carlo():
    # a 5 x 5 table with N = 100 that takes R 226 s (and the exact test here seconds): none are given
    res = exact.fisher_test(R_HARD, seconds=0.0)
    assert res.method == "monte_carlo"
    assert res.ci_low <= 0.000475163252812858 <= res.ci_high  # [R random] fisher.test(R_HARD)


def test_degenerate_tables():
    assert exact.fisher_exact_rxc([[5, 0], [3, 0]]) == 1.0  # one non-empty column
    assert exact.fisher_exact_rxc([[0, 0, 0], [1, 2, 3], [0, 0, 0]]) == 1.0
    with pytest.raises(ValueError, match="counts >= 0"):
        exact.fisher_exact_rxc([[1, -1], [2, 3]])
