"""The study's tests of association: professional title x delivery mode, year by year.

For each year, the 2 x 3 table of learners (live, face-to-face x junior, intermediate,
senior; unknown titles excluded) is tested with :func:`cmestudy.stats.crosstab_tests`,
and each other title is compared with the reference title (intermediate) in 2 x 2
sub-tables with :func:`cmestudy.stats.pairwise_tests`, as in the published study.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import describe, stats
from .schema import GRADES


@dataclass
class YearTests:
    year: int
    result: stats.CrosstabResult
    pairwise: pd.DataFrame


class TestsByYear(dict):
    """``{year: YearTests}`` for the years that can be tested; ``skipped`` says why others cannot."""

    def __init__(self):
        super().__init__()
        self.skipped: dict[int, str] = {}


def mode_title_tests(learners: pd.DataFrame, years, adjust: str = "bonferroni", reference: str = "intermediate") -> TestsByYear:
    """Crosstab tests and pairwise comparisons with ``reference`` for every year.

    Titles with no learners in a year are left out of that year's table; a year without
    learners in both modes, or with fewer than two titles, cannot be tested and is listed
    in ``skipped`` with the reason.
    """
    out = TestsByYear()
    for year in years:
        table = describe.mode_by_title(learners, year)
        table = table.loc[:, table.sum(axis=0) > 0]
        try:
            result = stats.crosstab_tests(table)
        except ValueError as exc:
            out.skipped[int(year)] = str(exc).replace("observed", "the mode × title table")
            continue
        pairs = [(g, reference) for g in table.columns if g != reference] if reference in table.columns else None
        out[int(year)] = YearTests(int(year), result, stats.pairwise_tests(table, pairs=pairs, adjust=adjust))
    return out


def summary_table(tests: dict[int, YearTests]) -> pd.DataFrame:
    """One row per year: N, Pearson chi-square, p, Cramér's V with CI, and the pairwise tests."""
    rows = []
    for year, t in tests.items():
        r = t.result
        row = {"year": year, "N": r.n, "χ²": r.pearson.statistic, "df": r.pearson.df, "p": r.pearson.pvalue,
               "Cramér's V": r.cramers_v.estimate, "V 95% CI": f"{r.cramers_v.ci_low:.3f}–{r.cramers_v.ci_high:.3f}",
               "cells E<5": r.low_expected.count}
        for _, pw in t.pairwise.iterrows():
            row[f"{pw['first']} vs {pw['second']} χ²"] = pw["statistic"]
            row[f"{pw['first']} vs {pw['second']} p adjusted"] = pw["pvalue_adjusted"]
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["year"]).set_index("year")


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
            rows.append({"year": int(year), "grade": g, "live": live, "total": total, "share": live / total,
                         "ci_low": float(lo), "ci_high": float(hi)})
    return pd.DataFrame(rows)
