"""Trends across years: the live share of learners, and growth of counts.

The live share's trend is tested with the Cochran-Armitage test
(:func:`cmestudy.stats.cochran_armitage`), overall and for each title grade.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import describe, stats
from .schema import GRADES


def live_share_trend(learners: pd.DataFrame, years, variance: str = "N") -> pd.DataFrame:
    """Cochran-Armitage trend test of the live share across years, overall and per title grade.

    Rows: ``all titles`` and each grade. Columns: the live share (%) per year, the change in
    percentage points from first to last year, z, chi-square (df 1) and two-sided p.
    """
    years = [int(y) for y in years]
    rows = []
    groups = [("all titles", list(GRADES) + ["unknown"])] + [(g, [g]) for g in GRADES]
    for label, grades in groups:
        sub = learners[learners.grade.isin(grades) & learners.year.isin(years)]
        by = sub.groupby(["year", "mode"], observed=False).learners.sum().unstack("mode").reindex(years).fillna(0)
        live = by["live"].to_numpy()
        total = by.sum(axis=1).to_numpy()
        if np.any(total == 0):
            continue
        try:
            res = stats.cochran_armitage(live, total, scores=years, variance=variance)
        except ValueError:  # all live or none live: no trend to test
            continue
        row = {"group": label}
        for y, p in zip(years, live / total):
            row[f"live % {y}"] = 100 * p
        row["change (points)"] = 100 * (live[-1] / total[-1] - live[0] / total[0])
        row.update({"z": res.z, "χ² (trend)": res.statistic, "p": res.pvalue})
        rows.append(row)
    return pd.DataFrame(rows).set_index("group")


def growth(table: pd.DataFrame) -> pd.DataFrame:
    """Year-on-year change (%) of each column of a year-indexed table of counts."""
    return 100 * table.astype(float).pct_change()


def yearly_overview(projects: pd.DataFrame, learners: pd.DataFrame, years) -> pd.DataFrame:
    """Projects, learners and disciplines per year and mode, side by side."""
    p = describe.projects_by_year_mode(projects, years)
    lr = describe.learners_by_year_mode(learners, years)
    d = describe.disciplines_per_year_mode(projects, years)
    return pd.concat({"projects": p, "learners": lr, "disciplines": d}, axis=1)
