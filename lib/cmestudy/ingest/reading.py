"""Reading one raw export into its canonical table.

Each CSV or Excel file is read as a grid of strings (:mod:`cmestudy.ingest.textfiles`,
:mod:`cmestudy.ingest.spreadsheets`), its header found and its table recognised
(:mod:`cmestudy.ingest.recognise`), and its columns renamed to the codebook's canonical names.
Project registers and counts come out as strings; enrolments come out de-identified
(:mod:`cmestudy.ingest.privacy`) and column-encoded (pandas Categoricals for project id, title and
learner key, integer row numbers), so ten million rows stay a few hundred megabytes. CSV
files larger than ``LARGE_FILE_BYTES`` holding enrolments are parsed by Apache Arrow's
multi-threaded reader straight into such columns (see :mod:`cmestudy.ingest.columnar`).
Reading a whole directory, with the choice of engine, is :mod:`cmestudy.ingest`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cmestudy.fileio import sha256_and_nul, sha256_file
from cmestudy.ingest import privacy
from cmestudy.ingest.columnar import Encoded, encode_arrow, encode_series, union_categoricals
from cmestudy.ingest.recognise import column_problems, empty_problems, find_header
from cmestudy.ingest.spreadsheets import WORKBOOK_SUFFIXES, read_workbook
from cmestudy.ingest.textfiles import (
    LARGE_FILE_BYTES,
    CsvHead,
    check_nul_file,
    read_csv_grid,
    read_csv_head,
    read_csv_table,
)
from cmestudy.paths import CSV_SUFFIXES, GZIP_SUFFIXES, PARQUET_SUFFIXES, data_suffix
from cmestudy.problems import DataError, DataProblem, kind_name
from cmestudy.schema import Codebook


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
    skipped: str | None = None  # why a file or sheet was not read: not_recognised, empty_sheet, hidden_sheet

    @property
    def where(self) -> str:
        """The file, and the sheet of a workbook: ``register.xlsx [2021年]``."""
        return f"{self.name} [{self.sheet}]" if self.sheet else self.name

    def provenance(self) -> dict:
        return {
            "file": self.name,
            "table": self.kind or "not_recognised",
            "skipped": self.skipped,
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
    quarantine: pd.DataFrame | None = None  # rows set aside during ingest (summary rows; the Dask engine's)
    engine_counts: pd.DataFrame | None = None  # learners per project and grade counted by the Dask engine
    engine_rows: int = 0  # enrolment rows the Dask engine read
    engine_partitions: int = 0  # hash partitions of the Dask engine's de-duplication of (project, learner) pairs

    def provenance(self) -> pd.DataFrame:
        return pd.DataFrame([f.provenance() for f in self.files])


@dataclass
class Part:
    """One table read from a raw file (a CSV file, or one sheet of a workbook): its description,
    its canonical table (None when the file or sheet was skipped), and the rows set aside while
    reading it (summary and signature rows, as quarantine entries)."""

    raw: RawFile
    frame: pd.DataFrame | None
    aside: pd.DataFrame | None = None


#: Rows that close a table rather than hold data: totals ("合计", "Total") and signature lines.
SUMMARY = re.compile(r"^(?:合计|总计|小计|共计|总数|累计|总和|总人数|grandtotal|subtotal|total|sum)(?![a-z])", re.I)
SIGNATURE = re.compile(
    r"(?:制表人|制表|审核人|审核|填表人|填报人|负责人|复核人|统计人|经办人|制表日期|填表日期|填报日期|打印日期|报表日期|"
    r"签字|签名|盖章)\s*[:：(（]|[(（](?:签字|签名|盖章)[)）]"
)


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))


def closing_rows(body: pd.DataFrame, pid: int) -> np.ndarray:
    """Rows of a grid's body that are totals or signature lines, not data.

    A row is one when its project id cell is empty or itself a total or signature word, and its
    first non-empty cell is a total word ("合计", "小计", "Total", ...) or one of its cells is a
    signature field ("制表人：", "审核人：", "填表日期：", "（签字）", ...). Only the rows whose
    project id is empty or such a word are examined, so a large table costs one vectorised pass.
    """
    ids = body.iloc[:, pid].astype(str).str.strip()
    marked = ids.eq("") | ids.str.match(SUMMARY) | ids.str.contains(SIGNATURE) | ids.str.contains(r"\s")
    candidates = np.flatnonzero(marked.to_numpy())
    out = np.zeros(len(body), bool)
    for i in candidates:
        cells = [_squeeze(c) for c in body.iloc[i].tolist()]
        first = next((c for c in cells if c), "")
        out[i] = bool(SUMMARY.match(first)) or any(SIGNATURE.search(c) for c in cells)
    return out


def aside_rows(name: str, sheet: str | None, body: pd.DataFrame, rows: np.ndarray, pid: int) -> pd.DataFrame:
    """Quarantine entries for closing rows (see :func:`closing_rows`)."""
    from cmestudy.problems import reason_columns

    texts = [" ".join(c for c in (str(v).strip() for v in r) if c)[:120] for r in body.itertuples(index=False)]
    return pd.DataFrame(
        {
            "file": f"{name} [{sheet}]" if sheet else name,
            "row": rows,
            "project_id": body.iloc[:, pid].astype(str).str.strip().to_numpy(),
            "column": "",
            "value": texts,
            **reason_columns("summary_row"),
        }
    )


def read_raw_file(
    path: Path, codebook: Codebook, sheet: str | None = None, secret: bytes | Callable[[], bytes] | None = None
) -> list[Part]:
    """Read one file into its canonical tables: one for a CSV file, one per sheet of a workbook.

    A sheet whose headers match no table, an empty sheet and a hidden one are kept as parts
    with no table and the reason (``RawFile.skipped``). Project registers and counts come out
    as strings; enrolments come out de-identified and column-encoded (see
    :func:`enrolment_frame`), with ``secret`` the linkage key (or a function returning it,
    called only if the file holds identifying columns).
    """
    suffix = data_suffix(path)
    if suffix in PARQUET_SUFFIXES:
        grid = parquet_grid(path)
        raw = RawFile(path=path, name=path.name, kind=None, rows=0, sha256=sha256_file(path), encoding="parquet")
        return [read_table(raw, grid, codebook, secret)]
    if suffix in GZIP_SUFFIXES:
        return read_gzip_file(path, codebook, secret)
    if suffix in CSV_SUFFIXES and path.stat().st_size > LARGE_FILE_BYTES:
        head = read_csv_head(path)
        h, kind, mapping = find_header(head.grid, codebook)
        if kind == "enrolments":
            return [read_enrolments_arrow(path, head, h, mapping, codebook, secret)]
    if suffix in WORKBOOK_SUFFIXES:
        return read_workbook_file(path, codebook, sheet, secret)
    grid, how = read_csv_grid(path)
    if grid.empty:
        raise DataError([DataProblem.from_message(path.name, None, None, None, "problem.empty_file")])
    raw = RawFile(path=path, name=path.name, kind=None, rows=0, sha256=sha256_file(path), **how)
    return [read_table(raw, grid, codebook, secret)]


def parquet_grid(path: Path) -> pd.DataFrame:
    """A Parquet file as a grid of strings with its column names as the header row (empty cells '')."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = table.to_pandas().astype("string").fillna("").astype(object)
    header = pd.DataFrame([list(table.column_names)], columns=frame.columns)
    return pd.concat([header, frame], ignore_index=True).set_axis(range(frame.shape[1]), axis=1)


def read_gzip_file(path: Path, codebook: Codebook, secret) -> list[Part]:
    """A gzip-compressed CSV, read as its CSV after decompressing it to a temporary file (the raw file
    itself is never touched); provenance names the compressed file and its checksum."""
    import gzip
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / path.name[: -len(".gz")]
        with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        parts = read_raw_file(plain, codebook, None, secret)
    checksum = sha256_file(path)
    for part in parts:
        part.raw.path, part.raw.name, part.raw.sha256 = path, path.name, checksum
    return parts


def read_workbook_file(path: Path, codebook: Codebook, sheet: str | None, secret) -> list[Part]:
    """Every sheet of a workbook (or the one named in the codebook's ``read.sheet``)."""
    sheets = read_workbook(path, [sheet] if sheet else None)
    checksum = sha256_file(path)
    parts, problems = [], []
    for sh in sheets:
        raw = RawFile(path=path, name=path.name, kind=None, rows=0, sha256=checksum, sheet=sh.name)
        if not sh.visible:
            raw.skipped = "hidden_sheet"
            parts.append(Part(raw, None))
            continue
        if sh.grid.empty or not (sh.grid != "").to_numpy().any():
            raw.skipped = "empty_sheet"
            parts.append(Part(raw, None))
            continue
        try:
            part = read_table(raw, sh.grid, codebook, secret)
        except DataError as exc:  # formulas without a stored result explain the empty cells they leave
            problems += sh.problems or exc.problems
            continue
        if part.frame is not None:
            problems += sh.problems  # formulas without a computed value, in a sheet that is read
        parts.append(part)
    if problems:
        raise DataError(problems, headline="problem.headline.cannot_read", file=path.name)
    return parts


def read_table(raw: RawFile, grid: pd.DataFrame, codebook: Codebook, secret) -> Part:
    """A grid of strings as its canonical table: header found, columns renamed, values normalised
    (full-width digits and letters, ideographic spaces: NFKC) in id, year, count, number and date
    columns, summary and signature rows set aside, required values checked."""
    name = raw.where
    h, kind, mapping = find_header(grid, codebook)
    if kind is None:
        raw.skipped = "not_recognised"
        return Part(raw, None)
    raw.kind, raw.header_row = kind, h + 1
    header = [str(c) for c in grid.iloc[h].tolist()]
    body = grid.iloc[h + 1 :]
    blank = pd.concat([body[c].astype(str).str.strip().eq("") for c in body.columns], axis=1).all(axis=1)
    body = body[~blank.to_numpy()]
    closing = closing_rows(body, mapping["project_id"]) if "project_id" in mapping and len(body) else np.zeros(0, bool)
    aside = None
    if closing.any():
        aside = aside_rows(
            raw.name, raw.sheet, body[closing], body.index.to_numpy()[closing] + 1, mapping["project_id"]
        )
        body = body[~closing]
    raw.rows = len(body)
    spec = codebook.tables[kind]
    raw.columns = {canon: header[j] for canon, j in mapping.items()}
    raw.ignored_columns = [c for j, c in enumerate(header) if j not in mapping.values() and c.strip()]
    problems = column_problems(name, h, kind, spec, mapping)
    if raw.rows == 0:
        problems.append(DataProblem.from_message(name, h + 2, None, None, "problem.data_row"))
    if problems:
        raise DataError(problems, headline="problem.headline.cannot_read_as", file=name, kind=kind_name(kind))
    frame = pd.DataFrame({canon: body.iloc[:, j].astype("string").str.strip() for canon, j in mapping.items()})
    for canon in frame.columns:
        if spec.columns[canon].type in NORMALISED_TYPES:  # ２０２１ -> 2021, ＡＢ-01 -> AB-01
            frame[canon] = frame[canon].str.normalize("NFKC").str.strip()
    rows = body.index.to_numpy() + 1  # grid index is 0-based; Excel rows are 1-based
    short = [canon for canon in spec.required if spec.columns[canon].type not in ("count", "title")]
    problems = empty_problems(name, raw.columns, spec, {c: rows[frame[c].eq("").to_numpy()] for c in short})
    if problems:
        raise DataError(problems, headline="problem.headline.required_missing", file=name)
    if kind == "enrolments":
        return Part(raw, enrolment_frame({c: encode_series(frame[c]) for c in mapping}, rows, spec, secret), aside)
    frame["_file"] = name
    frame["_row"] = rows
    return Part(raw, frame.reset_index(drop=True), aside)


#: Column types whose values are normalised (NFKC) before they are checked and matched.
NORMALISED_TYPES = ("id", "year", "count", "number", "date")


def read_enrolments_arrow(
    path: Path, head: CsvHead, h: int, mapping: dict[str, int], codebook: Codebook, secret
) -> Part:
    """A large enrolment CSV, parsed by Arrow and encoded column by column (never as Python strings)."""

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
        raise DataError(
            problems, headline="problem.headline.cannot_read_as", file=path.name, kind=kind_name("enrolments")
        )
    # the columns that are neither identifying nor free text (project ids, titles) are encoded while parsed
    few_values = [j for canon, j in mapping.items() if canon not in spec.identifying]
    parsed = [read_csv_table(path, head, skip_rows=h + 1, check_nul=False, dictionary_columns=few_values)]
    # checksum and NUL bytes in one pass, on a thread of its own: after the parse, which uses every core,
    # beside the encoding and the keyed hashes below, which leave a core idle
    checksums = ThreadPoolExecutor(1)
    checksum = checksums.submit(sha256_and_nul, path)
    checksums.shutdown(wait=False)
    try:  # the parsed table is handed over (popped), so that it is freed as soon as it is encoded
        part = _enrolments_part(path, h, parsed.pop(), mapping, spec, raw, secret)
    finally:
        digest, nul = checksum.result()
        if nul >= 0 and head.encoding != "utf-16":
            check_nul_file(path)  # names the row of the NUL byte (the cause of any other problem found)
    part.raw.sha256 = digest
    return part


def _enrolments_part(path: Path, h: int, table, mapping: dict[str, int], spec, raw: RawFile, secret) -> Part:
    """The rows of a parsed enrolment table, encoded, checked and de-identified (see :func:`read_enrolments_arrow`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = _encode_columns(table, mapping)
    cols["project_id"] = cols["project_id"].normalised()  # ＡＢ-01 is AB-01
    rows = np.arange(table.num_rows, dtype=np.int64) + h + 2  # the header is row h + 1
    drop = np.zeros(len(rows), bool)
    # A blank row (every cell empty or white space) has an empty project id: only those rows are checked.
    candidates = np.flatnonzero(~cols["project_id"].nonempty())
    if len(candidates):
        blank = np.ones(len(candidates), bool)
        for col in table.columns:
            cells = col.take(pa.array(candidates))
            if pa.types.is_dictionary(cells.type):
                cells = cells.cast(pa.string())
            blank &= pc.or_(pc.equal(pc.utf8_length(cells), 0), pc.utf8_is_space(cells)).to_numpy(zero_copy_only=False)
        drop[candidates[blank]] = True
        candidates = candidates[~blank]
    # Totals and signature lines: a total or signature word as project id, or an empty id beside one.
    pid = cols["project_id"]
    word = np.array([bool(SUMMARY.match(_squeeze(v)) or SIGNATURE.search(_squeeze(v))) for v in pid.values.to_pylist()])
    examine = np.union1d(candidates, np.flatnonzero(word[pid.codes])) if word.any() else candidates
    aside = None
    if len(examine):
        body = pd.DataFrame({j: table.column(j).take(pa.array(examine)).to_pylist() for j in range(table.num_columns)})
        closing = closing_rows(body, mapping["project_id"])
        if closing.any():
            aside = aside_rows(path.name, None, body[closing], rows[examine[closing]], mapping["project_id"])
            drop[examine[closing]] = True
    if drop.any():
        keep = ~drop
        rows = rows[keep]
        cols = {canon: c.take(keep) for canon, c in cols.items()}
    del table
    raw.rows = len(rows)
    if raw.rows == 0:
        raise DataError(
            [DataProblem.from_message(path.name, h + 2, None, None, "problem.data_row")],
            headline="problem.headline.cannot_read_as",
            file=path.name,
            kind=kind_name("enrolments"),
        )
    problems = empty_problems(path.name, raw.columns, spec, {"project_id": rows[~cols["project_id"].nonempty()]})
    if problems:
        raise DataError(problems, headline="problem.headline.required_missing", file=path.name)
    frame = enrolment_frame(cols, rows, spec, secret)
    return Part(raw, frame, aside)


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
    if len(frames) == 1:  # nothing to stack: the columns are taken as they are (copy-on-write, no copy)
        return frames[0][[*ENROLMENT_COLUMNS, "_row"]].reset_index(drop=True)
    out = pd.DataFrame({c: union_categoricals([f[c] for f in frames]) for c in ENROLMENT_COLUMNS})
    out["_row"] = np.concatenate([f["_row"].to_numpy() for f in frames])
    return out


def provenance_table(ingested: Ingested) -> pd.DataFrame:
    """Raw files and sheets as the report lists them: file, sheet, table (``kind_<table>``, or
    ``skipped_<reason>`` for a file or sheet not read), rows, encoding, header row and the first
    16 digits of the checksum."""
    rows = []
    for f in ingested.files:
        p = f.provenance()
        rows.append(
            {
                "file": p["file"],
                "sheet": p.get("sheet") or "",
                "table": f"kind_{p['table']}" if not p.get("skipped") else f"skipped_{p['skipped']}",
                "rows": int(p["rows"]),
                "encoding": p["encoding"] or "",
                "header_row": int(p["header_row"]) if not p.get("skipped") else None,
                "sha256_16": p["sha256"][:16],
            }
        )
    cols = ["file", "sheet", "table", "rows", "encoding", "header_row", "sha256_16"]
    out = pd.DataFrame(rows, columns=cols).set_index("file")
    out["header_row"] = out["header_row"].astype("Int64")
    return out
