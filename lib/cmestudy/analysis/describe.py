"""Descriptive tables of the study: projects, disciplines and learners by year and mode.

Every function takes the cleaned tables (:func:`cmestudy.clean.cleaning.load_processed`) and
returns a DataFrame with labelled categories in codebook order. Percentages are
computed from the counts shown: row percentages divide by the row total, column
percentages by the column total (as SPSS Crosstabs' "% within").
"""

from __future__ import annotations

import pandas as pd

from cmestudy.schema import GRADES, GRADES_WITH_UNKNOWN, LEVELS, MODES


def _years(frame: pd.DataFrame, years) -> list[int]:
    return sorted(int(y) for y in (years if years is not None else frame["year"].dropna().unique()))


def projects_by_year_level_mode(projects: pd.DataFrame, years=None) -> pd.DataFrame:
    """Number of projects: rows year, columns (mode, level), with totals per mode and overall."""
    years = _years(projects, years)
    p = projects[projects.year.isin(years)]
    t = pd.crosstab(p["year"], [p["mode"], p["level"]], dropna=False)
    t = t.reindex(
        index=years, columns=pd.MultiIndex.from_product([MODES, LEVELS], names=["mode", "level"]), fill_value=0
    )
    for m in MODES:
        t[(m, "total")] = t[m].sum(axis=1)
    t = t[[(m, lv) for m in MODES for lv in (*LEVELS, "total")]]
    t[("all_modes", "total")] = t.xs("total", axis=1, level=1).sum(axis=1)
    t.loc["all_years"] = t.sum()
    t.index.name = "year"
    return t.astype("int64")


def projects_by_year_mode(projects: pd.DataFrame, years=None) -> pd.DataFrame:
    years = _years(projects, years)
    p = projects[projects.year.isin(years)]
    return (
        pd.crosstab(p["year"], p["mode"], dropna=False)
        .reindex(index=years, columns=list(MODES), fill_value=0)
        .astype("int64")
    )


def disciplines_by_year_mode(projects: pd.DataFrame, years=None) -> pd.DataFrame:
    """Projects per discipline (rows) and (year, mode) (columns); disciplines sorted by total."""
    years = _years(projects, years)
    p = projects[projects.year.isin(years)]
    t = pd.crosstab(p["discipline"], [p["year"], p["mode"]], dropna=False)
    t = t.reindex(columns=pd.MultiIndex.from_product([years, MODES], names=["year", "mode"]), fill_value=0)
    t = t.loc[t.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    t.index.name = "discipline"
    return t.astype("int64")


def live_disciplines_per_year(projects: pd.DataFrame, years=None) -> pd.Series:
    """Number of distinct disciplines with at least one live project, per year."""
    years = _years(projects, years)
    live = projects[(projects["mode"] == "live") & projects.year.isin(years)]
    return live.groupby("year").discipline.nunique().reindex(years, fill_value=0).rename("live_disciplines")


def disciplines_per_year_mode(projects: pd.DataFrame, years=None) -> pd.DataFrame:
    """Number of distinct disciplines per year and mode."""
    years = _years(projects, years)
    p = projects[projects.year.isin(years)]
    return (
        p.groupby(["year", "mode"], observed=False)
        .discipline.nunique()
        .unstack("mode")
        .reindex(index=years, columns=list(MODES), fill_value=0)
        .astype("int64")
    )


def learners_by_year_mode(learners: pd.DataFrame, years=None) -> pd.DataFrame:
    years = _years(learners, years)
    lr = learners[learners.year.isin(years)]
    return (
        lr.groupby(["year", "mode"], observed=False)
        .learners.sum()
        .unstack("mode")
        .reindex(index=years, columns=list(MODES), fill_value=0)
        .astype("int64")
    )


def mode_by_title(learners: pd.DataFrame, year: int, grades=GRADES) -> pd.DataFrame:
    """The 2 x k table of learners in one year: delivery mode (rows) x title grade (columns).

    ``unknown`` titles are left out by default (they cannot enter the title tests).
    """
    lr = learners[learners.year == int(year)]
    t = (
        lr.groupby(["mode", "grade"], observed=False)
        .learners.sum()
        .unstack("grade")
        .reindex(index=list(MODES), columns=list(grades), fill_value=0)
        .astype("int64")
    )
    t.index = pd.CategoricalIndex(t.index, categories=list(MODES), ordered=True, name="mode")
    t.columns = pd.CategoricalIndex(t.columns, categories=list(grades), ordered=True, name="grade")
    return t


def learners_by_title(learners: pd.DataFrame, years=None, include_unknown: bool = True) -> pd.DataFrame:
    """Learners by (year, mode) and title grade: counts, row and column percentages.

    Returns a long DataFrame indexed by (year, mode, grade) with columns ``learners``,
    ``row_pct`` (share of the year-and-mode's learners with that title) and ``col_pct``
    (share of the year-and-title's learners in that mode).
    """
    years = _years(learners, years)
    grades = list(GRADES_WITH_UNKNOWN if include_unknown else GRADES)
    lr = learners[learners.year.isin(years) & learners.grade.isin(grades)]
    t = (
        lr.groupby(["year", "mode", "grade"], observed=False)
        .learners.sum()
        .reindex(pd.MultiIndex.from_product([years, MODES, grades], names=["year", "mode", "grade"]), fill_value=0)
    )
    row_tot = t.groupby(level=["year", "mode"]).transform("sum")
    col_tot = t.groupby(level=["year", "grade"]).transform("sum")
    out = pd.DataFrame(
        {
            "learners": t.astype("int64"),
            "row_pct": 100 * t / row_tot.where(row_tot > 0),
            "col_pct": 100 * t / col_tot.where(col_tot > 0),
        }
    )
    return out


def crosstab_with_percentages(table: pd.DataFrame) -> pd.DataFrame:
    """An r x c table of counts as SPSS prints it: count, % within row, % within column, with totals.

    Rows are (row category, statistic) with statistics ``count``, ``row_pct``, ``col_pct``; the
    totals are the row and column ``total``.
    """
    t = table.copy()
    t.columns = pd.Index([str(c) for c in t.columns], name=None)
    t.index = pd.Index([str(i) for i in t.index])
    t["total"] = t.sum(axis=1)
    t.loc["total"] = t.sum(axis=0)
    row_pct = 100 * t.div(t["total"], axis=0)
    col_pct = 100 * t / t.loc["total"]
    parts = {"count": t, "row_pct": row_pct, "col_pct": col_pct}
    out = pd.concat(parts, names=["statistic"]).swaplevel(0, 1)
    order = [(i, s) for i in t.index for s in parts]
    out = out.reindex(order)
    out.index.names = [table.index.name or "mode", "statistic"]
    return out


def title_table(learners: pd.DataFrame, years=None) -> pd.DataFrame:
    """Rows (year, mode); for each title grade: n, row % and column %; then the row total.

    Row % is the share of the year-and-mode's learners with the title; column % the share
    of the year-and-title's learners in the mode. ``unknown`` is shown only if present.
    """
    long = learners_by_title(learners, years)
    grades = [
        g
        for g in long.index.get_level_values("grade").unique()
        if g != "unknown" or long.xs("unknown", level="grade")["learners"].sum() > 0
    ]
    cols = {}
    for g in grades:
        sub = long.xs(g, level="grade")
        cols[(str(g), "n")] = sub["learners"]
        cols[(str(g), "row_pct")] = sub["row_pct"]
        cols[(str(g), "col_pct")] = sub["col_pct"]
    out = pd.DataFrame(cols)
    out[("total", "n")] = long["learners"].groupby(level=["year", "mode"]).sum()
    return out
