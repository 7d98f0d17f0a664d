"""Tables as the report prints them: labelled, formatted, three-line, in HTML.

Library functions return tables with codes (``live``, ``row_pct``, ``p_adjusted``) in
their index and columns, so that a table means the same in every language and its CSV
is stable. :func:`layout` turns such a table into what a reader sees: every code replaced
by its label from the message catalogue (:func:`cmestudy.i18n.label`), every number
formatted by what its column holds (counts with digit groups, percentages with one
decimal, p-values as the language's journals write them, years as they are), and the
index names placed in the header's corner, never on a row of their own.
:func:`to_html` writes the result as a three-line table (三线表: a rule above and below
the table and one under the header, no vertical rules), which the Word report
(:mod:`cmestudy.report.word`) reads back.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from cmestudy import i18n

#: Column codes and how their values are written.
P_CODES = {
    "p",
    "p_adjusted",
    "p_asymptotic",
    "p_exact",
    "p_monte_carlo",
    "p_mc_low",
    "p_mc_high",
    "p_trend",
    "p_naive",
    "p_design",
    "p_f",
    "p_chisq",
    "p_f_adjusted",
    "p_reproduced",
}
YEAR_CODES = {"year", "from", "to", "first_live_year", "first_year", "last_year"}
INT_CODES = {"df", "cells_low_expected", "header_row", "rows", "n"}


@dataclass
class Layout:
    """A table ready to print: header rows, row labels and cells as text."""

    header: list[list[tuple[str, int, int]]]  # rows of (label, colspan, rowspan)
    corner: list[str]  # labels of the index levels (the header's corner)
    rows: list[tuple[list[tuple[str, int] | None], list[str]]]  # (row-label cells with rowspan or None, cells)
    numeric: list[bool]  # per column: right-aligned numbers
    marks: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, column) -> subscript letters


def _code(col) -> str:
    """The code that says what a column holds: its last text level."""
    parts = col if isinstance(col, tuple) else (col,)
    for part in reversed(parts):
        if isinstance(part, str) and part:
            return part
    return ""


def _is_missing(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def formatter(code: str, series: pd.Series) -> Callable:
    """How the values of a column are written, from its code and its type; a column already written as
    text (counts hidden as "<5", an estimate with its interval) is printed as it is."""
    if pd.api.types.is_string_dtype(series) and series.map(lambda v: isinstance(v, str) or _is_missing(v)).all():
        return lambda v: "" if _is_missing(v) else str(i18n.label(v))
    if pd.api.types.is_bool_dtype(series):
        return lambda v: "" if _is_missing(v) else i18n.t("label.yes" if v else "label.no")
    if code in P_CODES:
        return lambda v: "" if _is_missing(v) else i18n.p_value(float(v))
    if "pct" in code or code.endswith("points"):
        return lambda v: "" if _is_missing(v) else i18n.number(v, 1)
    if code in YEAR_CODES:
        return lambda v: "" if _is_missing(v) else str(int(v)) if isinstance(v, (int, float)) else str(v)
    if pd.api.types.is_integer_dtype(series) or code in INT_CODES:
        return lambda v: "" if _is_missing(v) else (i18n.integer(v) if float(v).is_integer() else i18n.number(v, 3))
    if pd.api.types.is_float_dtype(series):
        values = series.dropna()
        if len(values) and (values == values.round()).all():  # counts held as floats
            return lambda v: "" if _is_missing(v) else i18n.integer(v)
        return lambda v: (
            "" if _is_missing(v) else i18n.integer(v) if float(v).is_integer() and abs(v) >= 1000 else i18n.number(v, 3)
        )
    return lambda v: "" if _is_missing(v) else str(i18n.label(v)) if isinstance(v, str) else str(v)


#: A number already written as text: "1,234", "12.5", "<5", "0.59 (0.55–0.65)", "22/28", "71.6–79.6" (thin
#: spaces in Chinese), or "x", a count hidden in an institution's report (:mod:`cmestudy.report.disclosure`).
WRITTEN_NUMBER = re.compile(r"^(?:[<>]?-?[\d.,\u2009]+(?:/\d+|–[\d.,\u2009]+| \([\d.,\u2009–-]+\))?|x)$")


def _written_numbers(series: pd.Series) -> bool:
    """Whether a text column holds numbers written by the report (right-aligned as numbers are)."""
    if not pd.api.types.is_string_dtype(series):
        return False
    values = [v for v in series if isinstance(v, str) and v]
    return bool(values) and all(WRITTEN_NUMBER.match(v) for v in values)


def _as_callable(fmt) -> Callable:
    if callable(fmt):
        return fmt
    return lambda v: "" if _is_missing(v) else fmt.format(v)


def label_text(value) -> str:
    """A header or row label as printed: codes labelled, whole-number floats without decimals."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if _is_missing(value):
        return ""
    return str(i18n.label(value))


def _runs(values: list) -> list[tuple[object, int]]:
    """Consecutive equal values as (value, length)."""
    out: list[tuple[object, int]] = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1] = (v, out[-1][1] + 1)
        else:
            out.append((v, 1))
    return out


def layout(
    frame: pd.DataFrame, formats: dict | None = None, row_formats: dict | None = None, marks: pd.DataFrame | None = None
) -> Layout:
    """Label and format a table (see the module docstring). ``marks``, a frame of text indexed like part of
    ``frame``, are printed as subscripts after the values they share an index and column with (SPSS's
    column-proportion letters)."""
    cols = list(frame.columns)
    fmt = {c: formatter(_code(c), frame[c]) for c in cols}
    fmt.update({c: _as_callable(f) for c, f in (formats or {}).items() if c in fmt})
    row_fmt = {k: _as_callable(f) for k, f in (row_formats or {}).items()}
    n_levels = frame.columns.nlevels
    tuples = [c if isinstance(c, tuple) else (c,) for c in cols]
    header = []
    for level in range(n_levels):
        row = []
        for key, n in _runs([t[: level + 1] for t in tuples]):
            deeper = [t[level + 1 :] for t in tuples if t[: level + 1] == key]
            if level and all(v == "" for v in key[-1:]) and all(all(v == "" for v in d) for d in deeper):
                continue  # covered by a header cell above that spans down
            depth = n_levels - level if all(all(v == "" for v in d) for d in deeper) else 1
            row.append((label_text(key[-1]), n, depth))
        header.append(row)
    show_index = not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None)
    corner = [label_text(n) if n is not None else "" for n in frame.index.names] if show_index else []
    idx = [i if isinstance(i, tuple) else (i,) for i in frame.index]
    rows = []
    spans: dict[tuple[int, int], int] = {}
    if show_index:
        for level in range(frame.index.nlevels):
            start = 0
            for _key, n in _runs([t[: level + 1] for t in idx]):
                spans[(start, level)] = n
                start += n
    for r, (key, values) in enumerate(zip(idx, frame.itertuples(index=False, name=None))):
        last = key[-1]
        cells = [row_fmt[last](v) if last in row_fmt else fmt[c](v) for c, v in zip(cols, values)]
        heads = (
            [(label_text(key[lv]), spans[(r, lv)]) if (r, lv) in spans else None for lv in range(len(key))]
            if show_index
            else []
        )
        rows.append((heads, cells))
    numeric = [(pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])) or _written_numbers(frame[c])
               for c in cols]  # fmt: skip
    placed = {}
    if marks is not None:
        for r, key in enumerate(frame.index):
            for j, c in enumerate(cols):
                if key in marks.index and c in marks.columns and (m := marks.at[key, c]) and not _is_missing(m):
                    placed[(r, j)] = str(m)
    return Layout(header, corner, rows, numeric, placed)


# *italic* between any characters but Latin letters and digits (so that Chinese text may touch it: 校正后*P*=0.02)
_EM = re.compile(r"(?<![A-Za-z0-9*])\*(?!\s)(.+?)(?<!\s)\*(?![A-Za-z0-9*])")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def inline(text: str) -> str:
    """Escape text, then allow the catalogue's ``**bold**``, ``*italic*`` and ```code```."""
    s = html.escape(str(text))
    s = _CODE.sub(lambda m: "<code>" + m.group(1).replace("*", "&#42;") + "</code>", s)
    s = _STRONG.sub(r"<strong>\1</strong>", s)
    return _EM.sub(r"<em>\1</em>", s)


def _nowrap(label: str) -> str:
    """``nw`` for a label that must stay on one line (a word, a year, a Chinese label of four characters
    or fewer: :func:`cmestudy.report.textwidth.pieces`), else nothing."""
    from cmestudy.report.textwidth import pieces

    return "nw" if len(pieces(label)) <= 1 else ""


def to_html(table: Layout, caption: str, note: str | list[str] | None = None) -> str:
    """A three-line HTML table with its caption and note, or notes one per line (both may carry markup)."""
    # the caption is a paragraph above the table, not a <caption>, so that it may be wider than a narrow table
    out = [
        '<div class="cme-table-wrap">',
        f'<p class="cme-caption">{inline(caption)}</p>',
        '<table class="cme-table">',
        "<thead>",
    ]
    n_head = len(table.header)
    for i, row in enumerate(table.header):
        out.append("<tr>")
        if i == 0:
            for name in table.corner:
                out.append(
                    f'<th class="corner{_nowrap(name) and " nw"}"{f" rowspan={n_head}" if n_head > 1 else ""}>{inline(name)}</th>'
                )
        for label, span, depth in row:
            attrs = (f" colspan={span}" if span > 1 else "") + (f" rowspan={depth}" if depth > 1 else "")
            classes = " ".join(c for c in ("spans-down" if depth > 1 else "", _nowrap(label)) if c)
            out.append(f"<th{attrs}{f' class={chr(34)}{classes}{chr(34)}' if classes else ''}>{inline(label)}</th>")
        out.append("</tr>")
    out.append("</thead><tbody>")
    for r, (heads, cells) in enumerate(table.rows):
        out.append("<tr>")
        for h in heads:
            if h is not None:
                label, span = h
                out.append(
                    f'<th class="row{_nowrap(label) and " nw"}"{f" rowspan={span}" if span > 1 else ""}>{inline(label)}</th>'
                )
        for j, (value, num) in enumerate(zip(cells, table.numeric)):
            mark = table.marks.get((r, j))
            sub = f'<sub class="cme-letters">{html.escape(mark)}</sub>' if mark else ""
            out.append(f"<td{' class=num' if num else ''}>{html.escape(value)}{sub}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    for line in [note] if isinstance(note, str) else note or []:
        out.append(f'<p class="cme-note">{inline(line)}</p>')
    out.append("</div>")
    return "".join(out)


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with its codes replaced by labels (for the CSV beside the report); values unchanged."""
    out = frame.copy()

    def relabel(index: pd.Index) -> pd.Index:
        if isinstance(index, pd.MultiIndex):
            return pd.MultiIndex.from_tuples(
                [tuple(label_text(v) for v in t) for t in index], names=[label_text(n) if n else n for n in index.names]
            )
        if isinstance(index, pd.RangeIndex) and index.name is None:
            return index
        return pd.Index([label_text(v) for v in index], name=label_text(index.name) if index.name else None)

    out.index = relabel(out.index)
    out.columns = relabel(out.columns)
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(lambda v: i18n.label(v) if isinstance(v, str) else v)
    return out
