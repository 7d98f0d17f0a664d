"""The study's tests of association: professional title x delivery mode, year by year.

For each year, the 2 x 3 table of learners (live, face-to-face x junior, intermediate,
senior; unknown titles excluded) is tested with :func:`cmestudy.stats.crosstab_tests`,
and each other title is compared with the reference title (intermediate) in 2 x 2
sub-tables with :func:`cmestudy.stats.pairwise_tests`, as in the published study.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import describe, i18n, stats
from .schema import GRADES


@dataclass
class YearTests:
    year: int
    result: stats.CrosstabResult
    pairwise: pd.DataFrame


class TestsByYear(dict):
    """``{year: YearTests}`` for the years that can be tested; ``skipped`` gives the code of the reason
    why others cannot (``no_learners``, ``no_live``, ``no_face_to_face``, ``one_title``), and
    ``learners`` the number of graded learners of every year."""

    def __init__(self):
        super().__init__()
        self.skipped: dict[int, str] = {}
        self.learners: dict[int, int] = {}


def mode_title_tests(
    learners: pd.DataFrame, years, adjust: str = "bonferroni", reference: str = "intermediate", confidence: float = 0.95
) -> TestsByYear:
    """Crosstab tests and pairwise comparisons with ``reference`` for every year.

    ``confidence`` is the level of the interval of Cramér's V.

    Titles with no learners in a year are left out of that year's table; a year without
    learners in both modes, or with fewer than two titles, cannot be tested and is listed
    in ``skipped`` with the reason's code (``no_learners``, ``no_live``, ``no_face_to_face``,
    ``one_title``).
    """
    out = TestsByYear()
    for year in years:
        table = describe.mode_by_title(learners, year)
        out.learners[int(year)] = int(table.to_numpy().sum())
        table = table.loc[:, table.sum(axis=0) > 0]
        if table.to_numpy().sum() == 0:
            out.skipped[int(year)] = "no_learners"
            continue
        if (table.sum(axis=1) > 0).sum() < 2:
            out.skipped[int(year)] = "no_" + str(table.index[table.sum(axis=1).to_numpy() == 0][0])
            continue
        if table.shape[1] < 2:
            out.skipped[int(year)] = "one_title"
            continue
        result = stats.crosstab_tests(table, confidence=confidence)
        pairs = [(g, reference) for g in table.columns if g != reference] if reference in table.columns else None
        out[int(year)] = YearTests(int(year), result, stats.pairwise_tests(table, pairs=pairs, adjust=adjust))
    return out


def summary_table(tests: dict[int, YearTests]) -> pd.DataFrame:
    """One row per year: N, Pearson chi-square, df, p, Cramér's V with its CI, cells with E < 5, and
    the pairwise tests (chi-square and adjusted p). Columns are (test, statistic) codes. A year that
    cannot be tested (``tests.skipped``) has its N and, in a ``note`` column, the reason's code
    (``nc_no_face_to_face``, ...)."""
    rows = {}
    for year, t in tests.items():
        r = t.result
        row = {
            ("mode_by_title", "n"): r.n,
            ("mode_by_title", "chi2"): r.pearson.statistic,
            ("mode_by_title", "df"): r.pearson.df,
            ("mode_by_title", "p"): r.pearson.pvalue,
            ("mode_by_title", "cramers_v"): r.cramers_v.estimate,
            ("mode_by_title", "v_ci"): f"{i18n.number(r.cramers_v.ci_low)}–{i18n.number(r.cramers_v.ci_high)}",
            ("mode_by_title", "cells_low_expected"): r.low_expected.count,
        }
        for _, pw in t.pairwise.iterrows():
            pair = i18n.t("label.pair", first=i18n.label(pw["first"]), second=i18n.label(pw["second"]))
            row[(pair, "chi2")] = pw["statistic"]
            row[(pair, "p_adjusted")] = pw["pvalue_adjusted"]
        rows[year] = row
    skipped = getattr(tests, "skipped", {})
    for year, why in skipped.items():  # a row that says why the year could not be tested
        rows[year] = {("mode_by_title", "n"): tests.learners.get(year, 0), ("note", ""): f"nc_{why}"}
    out = pd.DataFrame.from_dict(rows, orient="index")
    if len(out):
        out = out.sort_index()
        if skipped:
            out = out[[c for c in out.columns if c != ("note", "")] + [("note", "")]]
        out.columns = pd.MultiIndex.from_tuples(out.columns)
    out.index.name = "year"
    return out


def live_share(learners: pd.DataFrame, years, confidence: float = 0.95) -> pd.DataFrame:
    """Share of each title's learners who attended live projects, per year, with Wilson CIs."""
    rows = []
    for year in years:
        t = describe.mode_by_title(learners, year)
        for g in GRADES:
            total = int(t[g].sum())
            if total == 0:
                continue
            live = int(t.loc["live", g])
            lo, hi = stats.proportion_ci(live, total, confidence)
            rows.append(
                {
                    "year": int(year),
                    "grade": g,
                    "live": live,
                    "total": total,
                    "share": live / total,
                    "ci_low": float(lo),
                    "ci_high": float(hi),
                }
            )
    return pd.DataFrame(rows, columns=["year", "grade", "live", "total", "share", "ci_low", "ci_high"])
