"""Small cells in an institution's own report: learner counts by delivery mode and title below ``min_cell``
hidden, with the cells that would give them away.

A small hospital's table of learners by mode and title can point at one person (the one senior nurse in a
live project). When a report is made at institution level (``cmestudy run --by institution``, or
``--suppress-small-cells``), each year's mode x title table (:func:`cmestudy.analysis.describe.mode_by_title`,
titles known) is protected once (:func:`masks`) and every table that shows its cells, or a share computed from
one, hides the same cells:

* primary suppression: a count from 1 to ``min_cell - 1`` is written "<5";
* secondary suppression: with the reader holding the table's row and column totals (learners by mode, by
  title), each small cell is covered by a rectangle of two titles x both modes
  (:func:`suppress`, the hypercube method of tau-ARGUS), whose other cells
  are written "x". Adding one to two opposite corners and taking one from the other two changes no total, so
  no hidden count can be worked out.

Percentages of a hidden cell (within row, within column, the live share of a title) and the adjusted
residual of a hidden cell are hidden with it ("x"), as is a figure that would draw them. The tests and their
statistics are computed on the true counts and shown as they are. Learners whose title is unknown are not
hidden: they tell nothing about a person and are the difference of two published totals.

Reference: Hundepool A et al. (2012). Statistical Disclosure Control. Wiley, sec. 4.4 (secondary cell
suppression); Office for National Statistics (2006). Review of the dissemination of health statistics:
confidentiality guidance (counts below 5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmestudy import i18n
from cmestudy.analysis import describe

#: How a cell hidden to protect a small count (secondary suppression), or a share of a hidden count, is written.
HIDDEN = "x"


def suppress(values, min_cell: int) -> np.ndarray:
    """Cells of an institution x year x mode table of counts to hide so that no count below ``min_cell``
    can be recovered from the totals a reader has (:func:`learner_lines`: by institution and year, by year
    and mode, by institution and mode).

    Primary suppression hides the counts 1 to ``min_cell - 1``. Each of them is then protected by a
    hypercube (Repsilber 1994; the method of tau-ARGUS's GHMITER): with a second institution and a second
    year, the 2 x 2 x 2 cells of those institutions, years and both modes are hidden. Adding one to the
    cube's cells of one parity and taking one from the others changes no total, so while the cells to take
    from have counts, each hidden cell could be another value: none is pinned down. The cube is the one
    that can move both ways (every cell a count), else one way, and then hides the fewest learners not
    hidden yet.

    Returns a boolean mask of the cells to hide, in the shape of ``values`` ((I, Y, M); a table of one year
    is (I, 1, M), where the cube is a 2 x 2 rectangle).

    >>> suppress(np.array([[[3, 40]], [[12, 30]], [[25, 7]]]), 5)[:, 0].astype(int).tolist()
    [[1, 1], [0, 0], [1, 1]]

    Reference: Repsilber D (1994). Preservation of confidentiality in aggregated data. Second International
    Seminar on Statistical Confidentiality, Luxembourg; Hundepool A et al. (2012). Statistical Disclosure
    Control. Wiley, sec. 4.4.
    """
    v = np.asarray(values)
    n_inst, n_year, n_mode = v.shape
    hide = (v > 0) & (v < min_cell)
    if min_cell <= 1:
        return hide
    for i, y, _mode in zip(*np.nonzero(hide.copy()), strict=True):
        others_y = [y2 for y2 in range(n_year) if y2 != y] or [y]
        best = None
        for i2 in range(n_inst):
            if i2 == i:
                continue
            for y2 in others_y:
                cube = np.ix_([i, i2], sorted({y, y2}), range(n_mode))
                cells = v[cube]
                parity = np.indices(cells.shape).sum(axis=0) % 2 == 0
                up, down = (cells[~parity] > 0).all(), (cells[parity] > 0).all()  # the two ways cells can move
                cost = (not (up or down), not (up and down), int(cells[~hide[cube]].sum()))
                if best is None or cost < best[0]:
                    best = (cost, cube)
        if best is not None:
            hide[best[1]] = True
    return hide


def masks(learners: pd.DataFrame, years, min_cell: int) -> dict[int, pd.DataFrame]:
    """Per year, the mode x title cells to hide (True), indexed by mode and title codes.

    >>> learners = pd.DataFrame({"year": 2023, "mode": ["live"] * 3 + ["face_to_face"] * 3,
    ...                          "grade": ["junior", "intermediate", "senior"] * 2, "learners": [30, 40, 1, 12, 20, 9]})
    >>> masks(learners, [2023], 5)[2023].astype(int).to_dict("split")["data"]
    [[1, 0, 1], [1, 0, 1]]
    """
    out = {}
    for year in years:
        obs = describe.mode_by_title(learners, year)
        values = obs.to_numpy().T[:, None, :]  # (title, 1, mode): a cube is two titles x both modes
        hide = suppress(values, min_cell)[:, 0, :].T
        out[int(year)] = pd.DataFrame(hide, index=obs.index.astype(str), columns=obs.columns.astype(str))
    return out


def written(value, hidden: bool, min_cell: int, fmt) -> str:
    """A count or share as printed: "<5" for a small count, "x" for any other hidden cell, else ``fmt(value)``."""
    if hidden:
        return f"<{min_cell}" if fmt is i18n.integer and 0 < value < min_cell else HIDDEN
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else fmt(value)


def _pct(v) -> str:
    return i18n.number(v, 1)


def any_hidden(hidden: dict[int, pd.DataFrame] | None) -> bool:
    """Whether any cell of any year is hidden."""
    return bool(hidden) and any(m.to_numpy().any() for m in hidden.values())


def crosstab(frame: pd.DataFrame, hide: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """A year's table as SPSS prints it (:meth:`cmestudy.analysis.crosstab.CrosstabResult.percentages_frame`:
    rows (mode, count | row_pct | col_pct), titles and ``total`` as columns) with the hidden cells written.

    When one mode has no learners, its zeros are known and each title's total is its other cell: the totals
    of the hidden titles are hidden too."""
    out = frame.astype(object).copy()
    fmts = {"count": i18n.integer, "row_pct": _pct, "col_pct": _pct}
    empty_mode = [m for m in hide.index if (m, "count") in frame.index and frame.loc[(m, "count"), "total"] == 0]
    for (mode, stat), row in frame.iterrows():
        for col, value in row.items():
            m, c = str(mode), str(col)
            hidden = c in hide.columns and (
                (m in hide.index and hide.loc[m, c]) or (m == "total" and bool(empty_mode) and hide[c].any())
            )
            out.loc[(mode, stat), col] = written(value, hidden, min_cell, fmts.get(str(stat), _pct))
    return out


def residuals(frame: pd.DataFrame, hide: pd.DataFrame) -> pd.DataFrame:
    """Expected counts and adjusted residuals (columns (expected | adjusted_residual, title), rows modes): the
    residual of a hidden cell gives it away (with the expected count and the totals) and is written "x"."""
    out = frame.astype(object).copy()
    for mode in frame.index:
        for col in frame.columns:
            kind, title = col
            hidden = kind == "adjusted_residual" and bool(hide.loc[str(mode), str(title)])
            out.loc[mode, col] = written(frame.loc[mode, col], hidden, 0, lambda v: i18n.number(v, 2))
    return out


def title_table(frame: pd.DataFrame, hidden: dict[int, pd.DataFrame], min_cell: int) -> pd.DataFrame:
    """Learners by (year, mode) and title (:func:`cmestudy.analysis.describe.title_table`: columns (title, n |
    row_pct | col_pct) and (total, n)) with the hidden cells and their percentages written."""
    out = frame.astype(object).copy()
    fmts = {"n": i18n.integer, "row_pct": _pct, "col_pct": _pct}
    for (year, mode), row in frame.iterrows():
        hide = hidden.get(int(year))
        for col, value in row.items():
            title, stat = str(col[0]), str(col[1])
            cell = hide is not None and title in hide.columns and bool(hide.loc[str(mode), title])
            out.loc[(year, mode), col] = written(value, cell, min_cell, fmts.get(stat, _pct))
    return out


def live_title_mix(frame: pd.DataFrame, hidden: dict[int, pd.DataFrame], min_cell: int) -> pd.DataFrame:
    """Live learners' titles by (year, title) with shares and intervals: a hidden live cell is written with
    its share and interval hidden."""
    out = frame.astype(object).copy()
    for (year, title), row in frame.iterrows():
        hide = hidden.get(int(year))
        cell = hide is not None and str(title) in hide.columns and bool(hide.loc["live", str(title)])
        for col, value in row.items():
            out.loc[(year, title), col] = written(value, cell, min_cell, i18n.integer if col == "learners" else _pct)
    return out


def _share_hidden(hidden: dict[int, pd.DataFrame], group, year) -> bool:
    """Whether a title's live share in a year is a share of a hidden count (all titles together never are)."""
    hide = hidden.get(int(year))
    return hide is not None and str(group) in hide.columns and bool(hide[str(group)].any())


def live_share_trend(frame: pd.DataFrame, hidden: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """The trend table (:func:`cmestudy.analysis.trends.live_share_trend`) with a title's live share in a
    year of hidden counts, and its change from the first year, written "x"."""
    out = frame.astype(object).copy()
    years = [y for kind, y in frame.columns if kind == "live_pct"]
    for group in frame.index:
        gone = [y for y in years if _share_hidden(hidden, group, y)]
        for y in years:
            out.loc[group, ("live_pct", y)] = written(frame.loc[group, ("live_pct", y)], y in gone, 0, _pct)
        if ("change_points", "") in frame.columns:
            change = frame.loc[group, ("change_points", "")]
            out.loc[group, ("change_points", "")] = written(change, bool({years[0], years[-1]} & set(gone)), 0, _pct)
    return out


def live_share_changes(frame: pd.DataFrame, hidden: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Year-on-year changes (:func:`cmestudy.analysis.trends.live_share_changes`): the shares, change and
    interval of a title hidden where either year's count is."""
    out = frame.astype(object).copy()
    for (group, a, b), row in frame.iterrows():
        gone = _share_hidden(hidden, group, a) or _share_hidden(hidden, group, b)
        for col, value in row.items():
            out.loc[(group, a, b), col] = written(value, gone, 0, _pct)
    return out
