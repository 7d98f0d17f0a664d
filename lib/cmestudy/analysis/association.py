"""The study's tests of association: professional title x delivery mode, year by year.

For each year, the 2 x 3 table of learners (live, face-to-face x junior, intermediate,
senior; unknown titles excluded) is tested with :func:`cmestudy.analysis.crosstab.crosstab_tests`,
and each other title is compared with the reference title (intermediate) in 2 x 2
sub-tables with :func:`cmestudy.analysis.pairwise.pairwise_tests`, as in the published study.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cmestudy.analysis import crosstab, describe, pairwise, proportions
from cmestudy.schema import GRADES


@dataclass
class YearTests:
    year: int
    result: crosstab.CrosstabResult
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
        result = crosstab.crosstab_tests(table, confidence=confidence)
        pairs = [(g, reference) for g in table.columns if g != reference] if reference in table.columns else None
        out[int(year)] = YearTests(int(year), result, pairwise.pairwise_tests(table, pairs=pairs, adjust=adjust))
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
            lo, hi = proportions.proportion_ci(live, total, confidence)
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
