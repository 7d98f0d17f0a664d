"""Excel exports: a workbook sheet as a grid of strings.

``.xlsx``/``.xlsm`` are read with openpyxl: merged cells take the value of their top-left
cell (exports often merge a project's cells across its learner rows), and a formula whose
result was never computed (a file written by a program and never opened in Excel) is
reported, not read as empty. A title row above the header is found by
:func:`cmestudy.recognise.find_header`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .problems import DataError, DataProblem


def read_excel_grid(path: Path, sheet: str | None = None) -> tuple[pd.DataFrame, dict, list[DataProblem]]:
    """Read a workbook sheet as strings. Merged cells take the value of their top-left cell
    (exports often merge a project's cells across its learner rows); a formula whose result
    was never computed (file never opened in Excel) is reported, not read as empty."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # corrupt, encrypted, or not really an xlsx
        raise DataError(
            [DataProblem(path.name, None, None, None, f"a readable .xlsx workbook ({type(exc).__name__}: {exc})")],
            headline=f"{path.name}: cannot open",
        ) from None
    name = sheet if sheet is not None else wb.sheetnames[0]
    if name not in wb.sheetnames:
        raise DataError([DataProblem(path.name, None, "sheet", name, f"one of the sheets {wb.sheetnames}")])
    ws = wb[name]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    for rng in ws.merged_cells.ranges:
        anchor = ws.cell(rng.min_row, rng.min_col).value
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                if r - 1 < len(rows) and c - 1 < len(rows[r - 1]):
                    rows[r - 1][c - 1] = anchor
    problems = []
    missing = [(i, j) for i, r in enumerate(rows) for j, v in enumerate(r) if v is None]
    if missing:
        formulas = openpyxl.load_workbook(path, data_only=False)[name]
        for i, j in missing:
            f = formulas.cell(i + 1, j + 1).value
            if isinstance(f, str) and f.startswith("="):
                problems.append(
                    DataProblem(
                        path.name,
                        i + 1,
                        openpyxl.utils.get_column_letter(j + 1),
                        f,
                        "a value: the cell holds a formula whose result was never computed "
                        "(open and save the file in Excel, or paste values)",
                    )
                )
    width = max((len(r) for r in rows), default=0)
    grid = pd.DataFrame([[cell_to_str(v) for v in r] + [""] * (width - len(r)) for r in rows], dtype=object)
    return grid, {"sheet": name}, problems


def cell_to_str(v) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    return str(v)
