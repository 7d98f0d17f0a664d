"""Small cells in an institution's own report: learner counts by mode and title below --min-cell are hidden
("<5"), with the cells that would give them away ("x"), in every table that shows them; none can be recovered
from the totals the report prints; the statistics stay those of the true counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmestudy import i18n, report
from cmestudy.analysis import association, describe, trends
from cmestudy.report import disclosure

from .test_institutions import _city_study, _recoverable

YEARS = [2021, 2022, 2023]


def _learners(table: list[list[int]], year: int = 2023) -> pd.DataFrame:
    """Learners of one year from a live / face-to-face x junior / intermediate / senior table."""
    rows = [
        {"year": year, "mode": mode, "grade": grade, "learners": n, "project_id": f"p{mode}"}
        for mode, counts in zip(("live", "face_to_face"), table, strict=True)
        for grade, n in zip(("junior", "intermediate", "senior"), counts, strict=True)
    ]
    return pd.DataFrame(rows)


def _lines(rows: int, cols: int, values: np.ndarray | None = None, hide: np.ndarray | None = None) -> list:
    """The totals a reader of a rows x cols table has: each row's and each column's. In a year with one mode
    only, a title's total is its one cell and the report hides it with the cell (disclosure.crosstab)."""
    cells = np.arange(rows * cols).reshape(rows, cols)
    one_mode = values is not None and (values.sum(axis=1) == 0).any()
    shown = [c for c in range(cols) if not (one_mode and hide[:, c].any())]
    return [cells[r] for r in range(rows)] + [cells[:, c] for c in shown]


def test_the_one_senior_nurse_is_hidden_with_a_rectangle_and_cannot_be_worked_out():
    # one senior learner in live projects: hidden "<5"; with the title of fewest learners, both modes, "x"
    hidden = disclosure.masks(_learners([[30, 40, 1], [12, 20, 9]]), [2023], 5)[2023]
    assert hidden.to_numpy().astype(int).tolist() == [[1, 0, 1], [1, 0, 1]]  # junior: the fewest learners (42)
    values = np.array([[30, 40, 1], [12, 20, 9]])
    assert _recoverable(values, np.zeros_like(values, dtype=bool) | (values == 1), _lines(2, 3)) == [2]
    assert _recoverable(values, hidden.to_numpy(), _lines(2, 3)) == []


@pytest.fixture(scope="module")
def city():
    return _city_study()


def test_no_hidden_count_of_any_institution_of_the_city_can_be_recovered(city):
    """Each institution of the city example as its own report: every count from 1 to 4 is hidden, and
    none of the hidden counts is pinned down by the rows' and columns' totals (linear programming)."""
    projects = city.projects
    checked = needed = 0
    for name in projects["institution"].dropna().unique():
        ids = set(projects.loc[projects["institution"] == name, "project_id"])
        own = city.learners[city.learners["project_id"].isin(ids)]
        for year, hide in disclosure.masks(own, YEARS, 5).items():
            values = describe.mode_by_title(own, year).to_numpy()
            small = (values > 0) & (values < 5)
            assert hide.to_numpy()[small].all(), (name, year)
            if small.any():
                checked += 1
                needed += hide.to_numpy().sum() > small.sum()
                lines = _lines(*values.shape, values, hide.to_numpy())
                pinned = [c for c in _recoverable(values, hide.to_numpy(), lines) if values.ravel()[c] > 0]
                assert pinned == [], (name, year)  # (a mode without learners: its zeros are known, and tell nothing)
    assert checked >= 5 and needed >= 1  # the example has small cells, and secondary suppression was needed


def test_every_table_shows_the_same_cells_hidden(city):
    """The year's crosstab, the title table, the live titles' mix and the live shares per title hide the
    same cells: a table that shows one would give away what another hides."""
    i18n.set_language("en")
    projects = city.projects
    small = projects["institution"].value_counts().index[-1]  # the smallest institution
    own = city.learners[city.learners["project_id"].isin(projects.loc[projects["institution"] == small, "project_id"])]
    hidden = disclosure.masks(own, YEARS, 5)
    assert disclosure.any_hidden(hidden)
    titles = disclosure.title_table(describe.title_table(own, YEARS), hidden, 5)
    mix = disclosure.live_title_mix(trends.live_title_mix(own, YEARS), hidden, 5)
    tests = association.mode_title_tests(own, YEARS)
    for year, hide in hidden.items():
        for mode in hide.index:
            for title in hide.columns:
                cell = titles.loc[(year, mode), (title, "n")]
                assert (cell in ("x", "<5")) == bool(hide.loc[mode, title]), (year, mode, title, cell)
                if mode == "live" and (year, title) in mix.index:
                    assert (mix.loc[(year, title), "learners"] in ("x", "<5")) == bool(hide.loc[mode, title])
        if year in tests:
            shown = disclosure.crosstab(tests[year].result.percentages_frame(), hide, 5)
            for mode in hide.index:
                for title in hide.columns:
                    for stat in ("count", "row_pct", "col_pct"):
                        value = shown.loc[(mode, stat), title]
                        assert (value in ("x", "<5")) == bool(hide.loc[mode, title]), (year, mode, title, stat)
            total = int(describe.mode_by_title(own, year).to_numpy().sum())
            assert shown.loc[("total", "count"), "total"] == i18n.integer(total)  # the totals stay


def test_small_counts_read_as_below_and_the_others_as_hidden():
    i18n.set_language("en")
    assert disclosure.written(3, True, 5, i18n.integer) == "<5"
    assert disclosure.written(40, True, 5, i18n.integer) == "x"  # a secondary cell is not "<5": it may be large
    assert disclosure.written(0, True, 5, i18n.integer) == "x"
    assert disclosure.written(2.5, True, 5, lambda v: f"{v:.1f}") == "x"  # a share of a hidden count
    assert disclosure.written(1234, False, 5, i18n.integer) == "1,234"


def test_hide_small_is_a_no_op_unless_asked(city):
    """The regional and single-hospital reports are unaffected: without small_cells(..., min_cell) the
    tables come back as they are; with it, the title table's hidden cells are written and noted."""
    table = describe.title_table(city.learners, YEARS)
    report.small_cells(city.learners, YEARS, None)
    assert report.hide_small(table) is table
    report.small_cells(city.learners, YEARS, 5)  # the region's counts: no small cell by mode and title
    assert report.hide_small(table) is table
    tiny = _learners([[30, 40, 1], [12, 20, 9]])
    report.small_cells(tiny, [2023], 5)
    shown = report.hide_small(describe.title_table(tiny, [2023]))
    assert shown.attrs["small_cells"] == 5 and shown.loc[(2023, "live"), ("senior", "n")] == "<5"
    report.small_cells(tiny, [2023], None)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sentences_give_no_share_of_a_hidden_count(lang):
    """The sentences of an institution's report do not write the title shares the tables hide."""
    from cmestudy.report import narrative

    i18n.set_language(lang)
    tiny = pd.concat([_learners([[30, 40, 1], [12, 20, 9]], 2022), _learners([[35, 42, 10], [15, 22, 9]], 2023)])
    tests = association.mode_title_tests(tiny, [2022, 2023])
    plain = narrative.association(tests, 0.05) + narrative.effect_sizes(tests, 0.05)
    senior_2022 = f"{100 * 1 / 10:.1f}"  # the one senior learner's live share of her title
    report.small_cells(tiny, [2022, 2023], 5)
    try:
        said = narrative.association(tests, 0.05) + narrative.effect_sizes(tests, 0.05)
        trend = narrative.trend(trends.live_share_trend(tiny, [2022, 2023]), 0.05)
    finally:
        report.small_cells(tiny, [2022, 2023], None)
    assert said[0] != plain[0] and said[1] == plain[1]  # 2022 reworded, 2023 (nothing hidden) as before
    assert all(f"{senior_2022}%" not in s for s in said + trend)
    hidden = "hidden" if lang == "en" else "隐藏"
    assert hidden in said[0] and hidden in said[2] and hidden not in said[3]
    assert sum(hidden in s for s in trend) == 2  # junior and senior (hidden in 2022); intermediate and all as before
