"""Column widths of the Word report's tables that hold in every office suite.

Word may re-fit an autofit table when it opens it; LibreOffice and WPS (what most Chinese hospitals
use) keep the widths the file gives. So the file gives widths that fit: each column at least as wide
as its widest piece that must not break (a number, a percentage, a year, a word, a Chinese label of
four characters or fewer; :mod:`cmestudy.report.textwidth`) plus the cells' left and right margins, the
table laid out ``fixed`` with those widths, and every cell whose text must not wrap marked
``w:noWrap``. Where the text of a column may wrap (sentences, long labels), the column gets its
one-line width when there is room and shares what room is left otherwise, as browsers lay out an
automatic table (CSS 2.1 sec. 17.5.2.2).

A table whose unbreakable pieces do not fit the text block at the report's table size (小五, 9 pt)
gets a smaller font (8, then 7.5 pt); one that does not fit even so is set on a landscape page
(:data:`LANDSCAPE_WIDTH_PT`), at the largest of those sizes that fits. A number is never broken.
"""

from __future__ import annotations

from dataclasses import dataclass

from cmestudy.report.textwidth import max_width_pt, min_width_pt

#: The text block of the A4 portrait page (21 cm less 2 x 2.5 cm) and of the landscape one (29.7 cm less 2 x 2.5 cm).
PORTRAIT_WIDTH_PT = 16.0 / 2.54 * 72
LANDSCAPE_WIDTH_PT = 24.7 / 2.54 * 72
#: The cells' left and right margins, written into every table (``w:tblCellMar``): 0.15 cm each side.
CELL_MARGIN_PT = 0.15 / 2.54 * 72
#: Room for rounding in the clients' layout, per column.
SLACK_PT = 1.5
#: A column of text that wraps is at least this many ems wide (four Chinese characters), or its one-line width.
MIN_TEXT_EM = 4.0
#: The sizes tried, largest first: 小五 (9 pt), then smaller.
SIZES = (9.0, 8.0, 7.5)


@dataclass(frozen=True)
class Cell:
    """A cell of the table: its text (lines separated by newlines), where it sits and what it holds."""

    text: str
    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1
    header: bool = False
    numeric: bool = False


@dataclass(frozen=True)
class Plan:
    """How a table is set: its font size, its orientation and the width of each column (points)."""

    size: float
    landscape: bool
    widths: list[float]

    @property
    def total(self) -> float:
        return sum(self.widths)


def _needs(cells: list[Cell], n_cols: int, size: float) -> tuple[list[float], list[float]]:
    """Per column, the narrowest it may be (widest unbreakable piece) and its one-line width, margins included."""
    pad = 2 * CELL_MARGIN_PT + SLACK_PT
    low, high = [pad] * n_cols, [pad] * n_cols
    for cell in sorted(cells, key=lambda c: c.colspan):
        bold = cell.header
        hi = max_width_pt(cell.text, size, bold) + pad
        lo = (max_width_pt if cell.numeric else min_width_pt)(cell.text, size, bold) + pad
        lo = max(lo, min(hi, MIN_TEXT_EM * size + pad))  # a text column never narrower than a few characters
        cols = range(cell.col, cell.col + cell.colspan)
        if cell.colspan == 1:
            low[cell.col], high[cell.col] = max(low[cell.col], lo), max(high[cell.col], hi)
            continue
        for need, want in ((low, lo), (high, hi)):  # a spanning cell widens its columns evenly when they are short
            short = want - sum(need[c] for c in cols)
            if short > 0:
                for c in cols:
                    need[c] += short / cell.colspan
    high = [max(h, lo) for h, lo in zip(high, low, strict=True)]
    return low, high


def _fit(low: list[float], high: list[float], room: float) -> list[float]:
    """One-line widths when they fit; else every column its minimum and the rest shared in proportion
    to what each would still like (CSS's automatic table layout)."""
    if sum(high) <= room:
        return list(high)
    extra = room - sum(low)
    wanted = sum(h - lo for h, lo in zip(high, low, strict=True))
    share = extra / wanted if wanted > 0 else 0.0
    return [lo + (h - lo) * share for h, lo in zip(high, low, strict=True)]


def plan(cells: list[Cell], n_cols: int) -> Plan:
    """The largest size, on a portrait page if it can, at which no unbreakable piece is broken.

    >>> cells = [Cell(str(12476 + i), 0, i, numeric=True) for i in range(12)]
    >>> p = plan(cells, 12)
    >>> p.size, p.landscape, round(p.total) <= round(PORTRAIT_WIDTH_PT)
    (9.0, False, True)
    >>> wide = plan([Cell("0.023–0.056 (95% CI)", 0, i, numeric=True) for i in range(9)], 9)
    >>> wide.landscape, wide.total <= LANDSCAPE_WIDTH_PT
    (True, True)
    """
    for landscape, room in ((False, PORTRAIT_WIDTH_PT), (True, LANDSCAPE_WIDTH_PT)):
        for size in SIZES:
            low, high = _needs(cells, n_cols, size)
            if sum(low) <= room:
                return Plan(size, landscape, _fit(low, high, room))
    size = SIZES[-1]  # wider than a landscape page even so: the unbreakable minimum, past the margin
    low, _ = _needs(cells, n_cols, size)
    return Plan(size, True, low)
