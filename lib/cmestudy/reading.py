"""Reading one raw export into its canonical table.

Each CSV or Excel file is read as a grid of strings (:mod:`cmestudy.textfiles`,
:mod:`cmestudy.spreadsheets`), its header found and its table recognised
(:mod:`cmestudy.recognise`), and its columns renamed to the codebook's canonical names.
Project registers and counts come out as strings; enrolments come out de-identified
(:mod:`cmestudy.privacy`) and column-encoded (pandas Categoricals for project id, title and
learner key, integer row numbers), so ten million rows stay a few hundred megabytes. CSV
files larger than ``LARGE_FILE_BYTES`` holding enrolments are parsed by Apache Arrow's
multi-threaded reader straight into such columns (see :mod:`cmestudy.columnar`).
Reading a whole directory, with the choice of engine, is :mod:`cmestudy.ingest`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import privacy
from .columnar import Encoded, encode_arrow, encode_series, union_categoricals
from .fileio import sha256_file
from .paths import CSV_SUFFIXES, EXCEL_SUFFIXES
from .problems import DataError, DataProblem
from .recognise import column_problems, empty_problems, find_header
from .schema import Codebook
from .spreadsheets import read_excel_grid
from .textfiles import LARGE_FILE_BYTES, CsvHead, read_csv_grid, read_csv_head, read_csv_table


@dataclass
class RawFile:
    """One raw file as read: what it holds and how it was read."""

    path: Path
    name: str
    kind: str | None
    rows: int
    sha256: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int = 1
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> header as in the file
    ignored_columns: list[str] = field(default_factory=list)

    def provenance(self) -> dict:
        return {
            "file": self.name,
            "table": self.kind or "not_recognised",
            "rows": self.rows,
            "sha256": self.sha256,
            "encoding": self.encoding,
            "sheet": self.sheet,
            "header_row": self.header_row,
            "columns": ", ".join(f"{v} -> {k}" for k, v in self.columns.items()),
            "column_map": dict(self.columns),
            "ignored_columns": ", ".join(self.ignored_columns),
        }


@dataclass
class Ingested:
    """Canonical tables read from a raw directory, de-identified."""

    projects: pd.DataFrame
    enrolments: pd.DataFrame
    counts: pd.DataFrame
    files: list[RawFile]
    warnings: list[DataProblem]
    quarantine: pd.DataFrame | None = None  # rows set aside during ingest (Dask engine)
    engine_counts: pd.DataFrame | None = None  # learners per project and grade counted by the Dask engine
    engine_rows: int = 0  # enrolment rows the Dask engine read

    def provenance(self) -> pd.DataFrame:
        return pd.DataFrame([f.provenance() for f in self.files])


def read_grid(path: Path, sheet: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Read a file as a grid of strings, no header interpreted. Empty cells are ''."""
    if path.suffix.lower() in EXCEL_SUFFIXES:
        grid, how, problems = read_excel_grid(path, sheet)
        if problems:
            raise DataError(problems, headline=f"{path.name}: formulas without values")
        return grid, how
    return read_csv_grid(path)


def read_raw_file(
    path: Path, codebook: Codebook, sheet: str | None = None, secret: bytes | Callable[[], bytes] | None = None
) -> tuple[RawFile, pd.DataFrame | None]:
    """Read one file into its canonical table, or report it as not recognised.

    Project registers and counts come out as strings; enrolments come out de-identified and
    column-encoded (see :func:`enrolment_frame`), with ``secret`` the linkage key (or a
    function returning it, called only if the file holds identifying columns).
    """
    if path.suffix.lower() in CSV_SUFFIXES and path.stat().st_size > LARGE_FILE_BYTES:
        head = read_csv_head(path)
        h, kind, mapping = find_header(head.grid, codebook)
        if kind == "enrolments":
            return read_enrolments_arrow(path, head, h, mapping, codebook, secret)
    grid, how = read_grid(path, sheet)
    raw = RawFile(path=path, name=path.name, kind=None, rows=0, sha256=sha256_file(path), **how)
    if grid.empty:
        raise DataError(
            [DataProblem(path.name, None, None, None, "a header row and at least one data row (the file is empty)")]
        )
    h, kind, mapping = find_header(grid, codebook)
    if kind is None:
        return raw, None
    raw.kind, raw.header_row = kind, h + 1
    header = [str(c) for c in grid.iloc[h].tolist()]
    body = grid.iloc[h + 1 :]
    blank = pd.concat([body[c].astype(str).str.strip().eq("") for c in body.columns], axis=1).all(axis=1)
    body = body[~blank.to_numpy()]
    raw.rows = len(body)
    spec = codebook.tables[kind]
    raw.columns = {canon: header[j] for canon, j in mapping.items()}
    raw.ignored_columns = [c for j, c in enumerate(header) if j not in mapping.values() and c.strip()]
    problems = column_problems(path.name, h, kind, spec, mapping)
    if raw.rows == 0:
        problems.append(DataProblem(path.name, h + 2, None, None, "at least one data row below the header"))
    if problems:
        raise DataError(problems, headline=f"{path.name}: cannot be read as the {kind} table")
    frame = pd.DataFrame({canon: body.iloc[:, j].astype("string").str.strip() for canon, j in mapping.items()})
    rows = body.index.to_numpy() + 1  # grid index is 0-based; Excel rows are 1-based
    short = [canon for canon in spec.required if spec.columns[canon].type not in ("count", "title")]
    problems = empty_problems(path.name, raw.columns, spec, {c: rows[frame[c].eq("").to_numpy()] for c in short})
    if problems:
        raise DataError(problems, headline=f"{path.name}: required values missing")
    if kind == "enrolments":
        return raw, enrolment_frame({c: encode_series(frame[c]) for c in mapping}, rows, spec, secret)
    frame["_file"] = path.name
    frame["_row"] = rows
    return raw, frame.reset_index(drop=True)


def read_enrolments_arrow(
    path: Path, head: CsvHead, h: int, mapping: dict[str, int], codebook: Codebook, secret
) -> tuple[RawFile, pd.DataFrame]:
    """A large enrolment CSV, parsed by Arrow and encoded column by column (never as Python strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    spec = codebook.tables["enrolments"]
    header = [str(c) for c in head.grid.iloc[h].tolist()]
    raw = RawFile(
        path=path,
        name=path.name,
        kind="enrolments",
        rows=0,
        sha256="",
        encoding=head.encoding,
        delimiter=head.delimiter,
        header_row=h + 1,
        columns={canon: header[j] for canon, j in mapping.items()},
        ignored_columns=[c for j, c in enumerate(header) if j not in mapping.values() and c.strip()],
    )
    problems = column_problems(path.name, h, "enrolments", spec, mapping)
    if problems:
        raise DataError(problems, headline=f"{path.name}: cannot be read as the enrolments table")
    checksums = ThreadPoolExecutor(1)  # the checksum is computed while the file is parsed and encoded
    checksum = checksums.submit(sha256_file, path)
    checksums.shutdown(wait=False)
    table = read_csv_table(path, head, skip_rows=h + 1)
    cols = _encode_columns(table, mapping)
    rows = np.arange(table.num_rows, dtype=np.int64) + h + 2  # the header is row h + 1
    # A blank row (every cell empty or white space) has an empty project id: only those rows are checked.
    candidates = np.flatnonzero(~cols["project_id"].nonempty())
    if len(candidates):
        blank = np.ones(len(candidates), bool)
        for col in table.columns:
            cells = col.take(pa.array(candidates))
            blank &= pc.or_(pc.equal(pc.utf8_length(cells), 0), pc.utf8_is_space(cells)).to_numpy(zero_copy_only=False)
        if blank.any():
            keep = np.ones(len(rows), bool)
            keep[candidates[blank]] = False
            rows = rows[keep]
            cols = {canon: c.take(keep) for canon, c in cols.items()}
    del table
    raw.rows = len(rows)
    if raw.rows == 0:
        raise DataError(
            [DataProblem(path.name, h + 2, None, None, "at least one data row below the header")],
            headline=f"{path.name}: cannot be read as the enrolments table",
        )
    problems = empty_problems(path.name, raw.columns, spec, {"project_id": rows[~cols["project_id"].nonempty()]})
    if problems:
        raise DataError(problems, headline=f"{path.name}: required values missing")
    frame = enrolment_frame(cols, rows, spec, secret)
    raw.sha256 = checksum.result()
    return raw, frame


def _encode_columns(table, mapping: dict[str, int]) -> dict[str, Encoded]:
    """Encode the mapped columns of an Arrow table side by side (Arrow and NumPy release the GIL)."""
    with ThreadPoolExecutor(len(mapping)) as pool:
        return dict(zip(mapping, pool.map(lambda j: encode_arrow(table.column(j)), mapping.values())))


def enrolment_frame(cols: dict[str, Encoded], rows: np.ndarray, spec, secret) -> pd.DataFrame:
    """The de-identified enrolment table of one file: project id, professional title and
    ``learner_key`` (Categoricals) and the row number in the file. Identifying columns are
    used for the key (see :func:`privacy.pseudonymise`) and go no further."""
    ident = {c: cols[c] for c in spec.identifying if c in cols}
    n = len(rows)
    if ident:
        key = privacy.pseudonymise(ident, n, privacy.resolve_secret(secret))
    else:
        key = pd.Categorical.from_codes(np.full(n, -1, np.int64), dtype=privacy.KEY_DTYPE)
    return pd.DataFrame(
        {
            "project_id": cols["project_id"].categorical(),
            "professional_title": cols["professional_title"].categorical(),
            "learner_key": key,
            "_row": np.asarray(rows, dtype=np.int64),
        }
    )


ENROLMENT_COLUMNS = ("project_id", "professional_title", "learner_key", "_file")


def empty_enrolments() -> pd.DataFrame:
    text = pd.CategoricalDtype(pd.Index([], dtype="string"))
    return pd.DataFrame(
        {
            "project_id": pd.Series(dtype=text),
            "professional_title": pd.Series(dtype=text),
            "learner_key": pd.Series(dtype=privacy.KEY_DTYPE),
            "_file": pd.Series(dtype=text),
            "_row": pd.Series(dtype="int64"),
        }
    )


def stack_enrolments(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack the enrolment tables of several files (their categories differ file by file)."""
    if not frames:
        return empty_enrolments()
    out = pd.DataFrame({c: union_categoricals([f[c] for f in frames]) for c in ENROLMENT_COLUMNS})
    out["_row"] = np.concatenate([f["_row"].to_numpy() for f in frames])
    return out


def provenance_table(ingested: Ingested) -> pd.DataFrame:
    """Raw files as the report lists them: file, sheet, table (``kind_<table>``), rows, encoding,
    header row and the first 16 digits of the checksum."""
    rows = []
    for f in ingested.files:
        p = f.provenance()
        rows.append(
            {
                "file": p["file"],
                "sheet": p.get("sheet") or "",
                "table": f"kind_{p['table']}",
                "rows": int(p["rows"]),
                "encoding": p["encoding"] or "",
                "header_row": int(p["header_row"]),
                "sha256_16": p["sha256"][:16],
            }
        )
    return pd.DataFrame(
        rows, columns=["file", "sheet", "table", "rows", "encoding", "header_row", "sha256_16"]
    ).set_index("file")
