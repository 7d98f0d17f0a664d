"""Spreadsheet exports: every sheet of a workbook as a grid of strings.

Workbooks are read by calamine (the Rust reader behind pandas' ``engine="calamine"``, through
``python-calamine``): ``.xlsx``, ``.xlsm``, ``.xls`` (Excel 97-2003, still the default of
many hospital systems and WPS), ``.xlsb`` and ``.ods``, about ten times faster than openpyxl
on large sheets. Cells come out as strings: whole numbers without a decimal point (``2021``,
not ``2021.0``), dates as ISO dates (``2021-05-14``), times of day kept. Merged cells take
the value of their top-left cell (exports often merge a project's cells across its learner
rows). A formula whose result was never computed (a file written by a program and never
opened in Excel) is reported, not read as empty: calamine reads the stored results only, so
``.xlsx``/``.xlsm`` sheets are checked for formulas without a stored value in their XML.
A title row above the header is found by :func:`cmestudy.ingest.recognise.find_header`.
"""

from __future__ import annotations

import datetime as _dt
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from cmestudy.problems import DataError, DataProblem

#: Workbook formats calamine reads.
WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}


@dataclass
class Sheet:
    """One sheet of a workbook, as strings."""

    name: str
    grid: pd.DataFrame
    visible: bool = True
    problems: list[DataProblem] = field(default_factory=list)


def cell_to_str(v) -> str:
    """A cell as text: '' for empty, whole numbers without '.0', dates as ISO dates."""
    if v is None or v == "" or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if v.time() == _dt.time() else v.isoformat(sep=" ")
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, _dt.timedelta):
        return str(v)
    return str(v)


def _grid(rows: list[list]) -> pd.DataFrame:
    """Rows of cell values as a frame of strings; columns converted at once where they are all text."""
    width = max((len(r) for r in rows), default=0)
    ragged = any(len(r) != width for r in rows)
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows] if ragged else rows, dtype=object)
    for c in frame.columns:
        col = frame[c]
        is_text = col.map(type).eq(str)
        if not is_text.all():
            frame.loc[~is_text, c] = col[~is_text].map(cell_to_str)
    return frame


def _fill_merged(rows: list[list], ranges) -> None:
    for (r0, c0), (r1, c1) in ranges or []:
        if r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        anchor = rows[r0][c0]
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            for c in range(c0, min(c1, len(rows[r]) - 1) + 1):
                rows[r][c] = anchor


_CELL = re.compile(rb"<c\b([^>]*)>(.*?)</c>", re.S)
_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_VALUE = re.compile(rb"<v>[^<]+</v>|<is>", re.S)


def _sheet_xml_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> path of its XML part inside an .xlsx/.xlsm package."""
    workbook = zf.read("xl/workbook.xml").decode("utf-8", "replace")
    rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    targets = dict(re.findall(r'<Relationship\b[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"', rels))
    targets |= {i: t for t, i in re.findall(r'<Relationship\b[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"', rels)}
    out = {}
    for attrs in re.findall(r"<sheet\b([^>]*)/?>", workbook):
        name = re.search(r'\bname="([^"]*)"', attrs)
        rid = re.search(r'\br:id="([^"]*)"', attrs) or re.search(r'\bid="([^"]*)"', attrs)
        if name and rid and rid.group(1) in targets:
            target = targets[rid.group(1)].lstrip("/")
            out[_unescape(name.group(1))] = target if target.startswith("xl/") else str(PurePosixPath("xl") / target)
    return out


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def uncomputed_formulas(path: Path, sheet: str) -> list[DataProblem]:
    """Formulas of an .xlsx/.xlsm sheet with no stored result (calamine would read them as empty)."""
    try:
        with zipfile.ZipFile(path) as zf:
            part = _sheet_xml_paths(zf).get(sheet)
            if part is None:
                return []
            xml = zf.read(part)
    except (zipfile.BadZipFile, KeyError):
        return []
    if b"<f" not in xml:  # most exports hold no formula at all
        return []
    problems = []
    for attrs, body in _CELL.findall(xml):
        if b"<f" in body and not _VALUE.search(body):
            ref = _REF.search(attrs)
            formula = re.search(rb"<f[^>]*>(.*?)</f>", body, re.S)
            problems.append(
                DataProblem.from_message(
                    f"{path.name} [{sheet}]",
                    int(ref.group(2)) if ref else None,
                    ref.group(1).decode() if ref else None,
                    "=" + (formula.group(1).decode("utf-8", "replace") if formula else ""),
                    "problem.formula",
                )
            )
    return problems


def read_workbook(path: Path, sheets: list[str] | None = None) -> list[Sheet]:
    """Every sheet of a workbook (or the named ``sheets``) as grids of strings, in workbook order.

    Raises :class:`DataError` for a file that is not a readable workbook, or a named sheet that
    does not exist.
    """
    import python_calamine

    try:
        wb = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # corrupt, encrypted, or not a workbook at all
        raise DataError(
            [
                DataProblem.from_message(
                    path.name,
                    None,
                    None,
                    None,
                    "problem.workbook",
                    suffix=path.suffix.lower(),
                    error=f"{type(exc).__name__}: {exc}",
                )  # fmt: skip
            ],
            headline="problem.headline.cannot_open",
            file=path.name,
        ) from None
    names = list(wb.sheet_names)
    missing = [s for s in sheets or [] if s not in names]
    if missing:
        raise DataError(
            [DataProblem.from_message(path.name, None, "sheet", missing[0], "problem.sheet_names", names=str(names))]
        )
    visible = {
        m.name: str(m.visible).endswith("Visible") and "Hidden" not in str(m.visible) for m in wb.sheets_metadata
    }
    out = []
    for name in sheets or names:
        ws = wb.get_sheet_by_name(name)
        rows = ws.to_python(skip_empty_area=False)
        try:
            merged = ws.merged_cell_ranges
        except Exception:  # not every format carries merged ranges
            merged = None
        _fill_merged(rows, merged)
        problems = uncomputed_formulas(path, name) if path.suffix.lower() in (".xlsx", ".xlsm") else []
        out.append(Sheet(name, _grid(rows), visible.get(name, True), problems))
    wb.close()
    return out
