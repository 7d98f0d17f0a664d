"""Recognising a raw file: where its header is, which table it holds, which columns are missing.

Files are recognised by their headers, never by their names: the first rows of a grid are
matched against the codebook's aliases (a title row may sit above the header), and the table
(project register, enrolments or counts) is the one whose key columns the header holds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmestudy.problems import DataProblem, kind_name
from cmestudy.schema import Codebook, normalise_label

HEADER_SCAN_ROWS = 10
MAX_EMPTY_REPORTED = 200


def find_header(grid: pd.DataFrame, codebook: Codebook) -> tuple[int, str | None, dict[str, int]]:
    """Locate the header row among the first rows and the table it belongs to.

    Returns (row index in the grid, table name or None, canonical column -> grid column).
    """
    best = (0, None, {}, 0)
    for i in range(min(HEADER_SCAN_ROWS, len(grid))):
        cells = [normalise_label(c) for c in grid.iloc[i].tolist()]
        for name, spec in codebook.tables.items():
            lookup = spec.header_lookup()
            mapping: dict[str, int] = {}
            for j, c in enumerate(cells):
                canon = lookup.get(c)
                if canon and canon not in mapping:
                    mapping[canon] = j
            hits = sum(r in mapping for r in spec.recognise_by)
            # Recognised with all but one of its key columns (so a missing one can be reported),
            # always with the project id, and with at least two known columns.
            if "project_id" in mapping and hits >= len(spec.recognise_by) - 1 and len(mapping) >= 2:
                score = 100 * hits + len(mapping)
                if score > best[3]:
                    best = (i, name, mapping, score)
    return best[0], best[1], best[2]


def column_problems(name: str, h: int, kind: str, spec, mapping: dict[str, int]) -> list[DataProblem]:
    return [
        DataProblem.from_message(
            name,
            h + 1,
            None,
            None,
            "problem.required_column",
            column=c,
            kind=kind_name(kind),
            aliases=", ".join((c,) + spec.columns[c].aliases),
        )  # fmt: skip
        for c in spec.required
        if c not in mapping
    ]


def empty_problems(name: str, columns: dict[str, str], spec, empty: dict[str, np.ndarray]) -> list[DataProblem]:
    """Rows (numbers as in the file) with an empty required id column."""
    return [
        DataProblem.from_message(name, int(row), columns[canon], "", "problem.required_value", column=canon)
        for canon, rows in empty.items()
        for row in rows[:MAX_EMPTY_REPORTED]
    ]
