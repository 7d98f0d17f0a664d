"""Pairwise comparisons after a test of an r x c table: 2 x 2 sub-tables, column proportions.

Public functions
----------------
pairwise_tests      chi-square tests of the sub-tables of two columns (or rows) at a time, with
                    Bonferroni or Holm adjusted p-values
column_proportions  SPSS's "compare column proportions" (z-tests, Bonferroni within rows), with
                    compact letters
compact_letters     the compact letter display of pairwise differences (Piepho 2004)
adjust_p            Bonferroni or Holm adjustment that leaves untested pairs out of the count
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmestudy import defaults
from cmestudy.analysis.crosstab import _as_table, crosstab_tests

__all__ = ["ColumnProportions", "adjust_p", "column_proportions", "compact_letters", "pairwise_tests"]


def adjust_p(p: np.ndarray, method: str) -> np.ndarray:
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
            adjusted = adjust_p(np.array([r["pvalue"] for r in rows]), "bonferroni")
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
    out.insert(out.columns.get_loc("pvalue") + 1, "pvalue_adjusted", adjust_p(out["pvalue"].to_numpy(), adjust))
    if out["not_computable"].isna().all():
        out = out.drop(columns="not_computable")
    out.attrs["adjust"] = adjust
    return out
