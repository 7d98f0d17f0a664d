"""Read raw platform exports into canonical tables.

Files are recognised by their headers, never by their names: each CSV or Excel file
under the raw directory is opened, its header row found (a title row may sit above
it), its headers matched against the codebook's aliases, and the table it holds
(project register, enrolments, or aggregated counts) decided by which columns it has.
Several files of one kind are read and stacked.

CSV encodings: UTF-8, UTF-8 with BOM, and GB18030 (a superset of GBK and GB2312), in
that order of trial. Delimiters: comma, tab or semicolon, whichever splits the header
line into the most fields. Excel: ``.xlsx``/``.xlsm``, the first sheet unless one is named.

Identifying columns (names, ID numbers, phones, e-mails, learner ids) are turned into
a keyed-hash ``learner_key`` here, file by file, and dropped: they never leave this module.

Enrolment tables come out column-encoded (pandas Categoricals for project id, title and
learner key, integer row numbers), so ten million rows stay a few hundred megabytes. CSV
files larger than ``LARGE_FILE_BYTES`` holding enrolments are parsed by Apache Arrow's
multi-threaded reader straight into such columns (see :mod:`cmestudy.columnar`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import privacy
from .columnar import Encoded, encode_arrow, encode_series, union_categoricals
from .fileio import sha256_file
from .paths import CSV_SUFFIXES, DATA_SUFFIXES, EXCEL_SUFFIXES, check_raw_dir, list_data_files  # noqa: F401
from .problems import DataError, DataProblem
from .schema import Codebook, load_codebook, normalise_label

ENCODINGS = ("utf-8", "gb18030")
HEADER_SCAN_ROWS = 10
LARGE_FILE_BYTES = 8 << 20  # CSV files larger than this are parsed by Arrow (see read_csv_arrow)
MAX_EMPTY_REPORTED = 200


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

    def provenance(self) -> pd.DataFrame:
        return pd.DataFrame([f.provenance() for f in self.files])


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode CSV bytes: BOM -> UTF-8; else UTF-8; else GB18030. Returns (text, encoding)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    for enc in ENCODINGS:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError as exc:
            last = exc
    raise DataError(
        [DataProblem(name, None, None, None, f"text in UTF-8 or GBK/GB18030 (undecodable byte at offset {last.start})")],
        headline=f"{name}: cannot decode",
    )


def sniff_delimiter(text: str) -> str:
    head = [ln for ln in text.splitlines()[:HEADER_SCAN_ROWS] if ln.strip()]
    best, best_n = ",", 0
    for d in (",", "\t", ";"):
        n = max((len(next(csv.reader([ln], delimiter=d))) for ln in head), default=0)
        if n > best_n:
            best, best_n = d, n
    return best


def read_excel_grid(path: Path, sheet: str | None = None) -> tuple[pd.DataFrame, dict, list[DataProblem]]:
    """Read a workbook sheet as strings. Merged cells take the value of their top-left cell
    (exports often merge a project's cells across its learner rows); a formula whose result
    was never computed (file never opened in Excel) is reported, not read as empty."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # corrupt, encrypted, or not really an xlsx
        raise DataError([DataProblem(path.name, None, None, None, f"a readable .xlsx workbook ({type(exc).__name__}: {exc})")],
                        headline=f"{path.name}: cannot open") from None
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
                problems.append(DataProblem(path.name, i + 1, openpyxl.utils.get_column_letter(j + 1), f,
                                            "a value: the cell holds a formula whose result was never computed "
                                            "(open and save the file in Excel, or paste values)"))
    width = max((len(r) for r in rows), default=0)
    grid = pd.DataFrame([[_cell_to_str(v) for v in r] + [""] * (width - len(r)) for r in rows], dtype=object)
    return grid, {"sheet": name}, problems


def read_grid(path: Path, sheet: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Read a file as a grid of strings, no header interpreted. Empty cells are ''."""
    if path.suffix.lower() in EXCEL_SUFFIXES:
        grid, how, problems = read_excel_grid(path, sheet)
        if problems:
            raise DataError(problems, headline=f"{path.name}: formulas without values")
        return grid, how
    if path.stat().st_size > LARGE_FILE_BYTES:
        return read_csv_arrow(path)
    data = path.read_bytes()
    text, encoding = decode(data, path.name)
    if not text.strip():
        return pd.DataFrame(), {"encoding": encoding}
    delimiter = sniff_delimiter(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise DataError([DataProblem(path.name, None, None, None, f"well-formed CSV ({exc})")],
                        headline=f"{path.name}: cannot parse") from None
    width = max((len(r) for r in rows), default=0)
    grid = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)
    return grid, {"encoding": encoding, "delimiter": delimiter}


@dataclass
class CsvHead:
    """How a CSV file is read, as found from its first 64 KiB."""

    encoding: str
    delimiter: str
    width: int  # fields in the widest of the first rows
    grid: pd.DataFrame  # the first rows as strings


def read_csv_head(path: Path) -> CsvHead:
    """Detect encoding, delimiter and width from the first 64 KiB, and parse its first rows."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    cut = head.rfind(b"\n")  # cut at the last newline so a multi-byte character is not split
    text, encoding = decode(head[: cut + 1] if cut > 0 else head, path.name)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text.replace("\r\n", "\n")), delimiter=delimiter)
    rows = [r for _, r in zip(range(HEADER_SCAN_ROWS), reader)]
    width = max((len(r) for r in rows if any(c.strip() for c in r)), default=0)
    grid = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)
    if encoding == "utf-8-sig" and len(grid):
        grid.iloc[0, 0] = str(grid.iloc[0, 0]).lstrip("\ufeff")
    return CsvHead(encoding, delimiter, width, grid)


def read_csv_table(path: Path, head: CsvHead, skip_rows: int = 0):
    """Parse a CSV file with Apache Arrow's multi-threaded reader: every cell a string, no nulls,
    columns ``c0``, ``c1``, ...; the first ``skip_rows`` rows are skipped."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    names = [f"c{i}" for i in range(head.width)]
    encoding = "utf8" if head.encoding.startswith("utf-8") else head.encoding
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, encoding=encoding, block_size=16 << 20, skip_rows=skip_rows),
            parse_options=pacsv.ParseOptions(delimiter=head.delimiter, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise DataError([DataProblem(path.name, None, None, None, f"well-formed CSV with {head.width} columns per row ({exc})")],
                        headline=f"{path.name}: cannot parse") from None


def read_csv_arrow(path: Path) -> tuple[pd.DataFrame, dict]:
    """Large CSV files: the same grid of strings as for small files, parsed by Arrow.

    Encoding and delimiter are detected on the first 64 KiB as for small files; cells are kept
    as Arrow-backed strings.
    """
    head = read_csv_head(path)
    grid = read_csv_table(path, head).to_pandas(types_mapper=pd.ArrowDtype)
    grid.columns = range(head.width)
    if head.encoding == "utf-8-sig":
        grid.iloc[0, 0] = str(grid.iloc[0, 0]).lstrip("\ufeff")
    return grid, {"encoding": head.encoding, "delimiter": head.delimiter}


def _cell_to_str(v) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    return str(v)


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


def _column_problems(name: str, h: int, kind: str, spec, mapping: dict[str, int]) -> list[DataProblem]:
    return [
        DataProblem(name, h + 1, None, None,
                    f"a column {c!r} for the {kind} table (headers accepted: {', '.join((c,) + spec.columns[c].aliases)})")
        for c in spec.required if c not in mapping
    ]


def _empty_problems(name: str, raw: RawFile, spec, empty: dict[str, np.ndarray]) -> list[DataProblem]:
    """Rows (numbers as in the file) with an empty required id column."""
    return [DataProblem(name, int(row), raw.columns[canon], "", f"a value in the required column {canon!r} (the row may be truncated)")
            for canon, rows in empty.items() for row in rows[:MAX_EMPTY_REPORTED]]


def read_raw_file(path: Path, codebook: Codebook, sheet: str | None = None,
                  secret: bytes | Callable[[], bytes] | None = None) -> tuple[RawFile, pd.DataFrame | None]:
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
        raise DataError([DataProblem(path.name, None, None, None, "a header row and at least one data row (the file is empty)")])
    h, kind, mapping = find_header(grid, codebook)
    if kind is None:
        return raw, None
    raw.kind, raw.header_row = kind, h + 1
    header = [str(c) for c in grid.iloc[h].tolist()]
    body = grid.iloc[h + 1:]
    blank = pd.concat([body[c].astype(str).str.strip().eq("") for c in body.columns], axis=1).all(axis=1)
    body = body[~blank.to_numpy()]
    raw.rows = len(body)
    spec = codebook.tables[kind]
    raw.columns = {canon: header[j] for canon, j in mapping.items()}
    raw.ignored_columns = [c for j, c in enumerate(header) if j not in mapping.values() and c.strip()]
    problems = _column_problems(path.name, h, kind, spec, mapping)
    if raw.rows == 0:
        problems.append(DataProblem(path.name, h + 2, None, None, "at least one data row below the header"))
    if problems:
        raise DataError(problems, headline=f"{path.name}: cannot be read as the {kind} table")
    frame = pd.DataFrame({canon: body.iloc[:, j].astype("string").str.strip() for canon, j in mapping.items()})
    rows = body.index.to_numpy() + 1  # grid index is 0-based; Excel rows are 1-based
    short = [canon for canon in spec.required if spec.columns[canon].type not in ("count", "title")]
    problems = _empty_problems(path.name, raw, spec, {c: rows[frame[c].eq("").to_numpy()] for c in short})
    if problems:
        raise DataError(problems, headline=f"{path.name}: required values missing")
    if kind == "enrolments":
        return raw, enrolment_frame({c: encode_series(frame[c]) for c in mapping}, rows, spec, secret)
    frame["_file"] = path.name
    frame["_row"] = rows
    return raw, frame.reset_index(drop=True)


def read_enrolments_arrow(path: Path, head: CsvHead, h: int, mapping: dict[str, int], codebook: Codebook,
                          secret) -> tuple[RawFile, pd.DataFrame]:
    """A large enrolment CSV, parsed by Arrow and encoded column by column (never as Python strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    spec = codebook.tables["enrolments"]
    header = [str(c) for c in head.grid.iloc[h].tolist()]
    raw = RawFile(path=path, name=path.name, kind="enrolments", rows=0, sha256="", encoding=head.encoding,
                  delimiter=head.delimiter, header_row=h + 1, columns={canon: header[j] for canon, j in mapping.items()},
                  ignored_columns=[c for j, c in enumerate(header) if j not in mapping.values() and c.strip()])
    problems = _column_problems(path.name, h, "enrolments", spec, mapping)
    if problems:
        raise DataError(problems, headline=f"{path.name}: cannot be read as the enrolments table")
    checksums = ThreadPoolExecutor(1)  # the checksum is computed while the file is parsed and encoded
    checksum = checksums.submit(sha256_file, path)
    checksums.shutdown(wait=False)
    table = read_csv_table(path, head, skip_rows=h + 1)
    with ThreadPoolExecutor(len(mapping)) as pool:  # columns side by side: Arrow and NumPy release the GIL
        cols = dict(zip(mapping, pool.map(lambda j: encode_arrow(table.column(j)), mapping.values())))
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
        raise DataError([DataProblem(path.name, h + 2, None, None, "at least one data row below the header")],
                        headline=f"{path.name}: cannot be read as the enrolments table")
    problems = _empty_problems(path.name, raw, spec, {"project_id": rows[~cols["project_id"].nonempty()]})
    if problems:
        raise DataError(problems, headline=f"{path.name}: required values missing")
    frame = enrolment_frame(cols, rows, spec, secret)
    raw.sha256 = checksum.result()
    return raw, frame


def enrolment_frame(cols: dict[str, Encoded], rows: np.ndarray, spec, secret) -> pd.DataFrame:
    """The de-identified enrolment table of one file: project id, professional title and
    ``learner_key`` (Categoricals) and the row number in the file. Identifying columns are
    used for the key (see :func:`privacy.pseudonymise`) and go no further."""
    ident = {c: cols[c] for c in spec.identifying if c in cols}
    n = len(rows)
    if ident:
        key = privacy.pseudonymise(ident, n, _resolve(secret))
    else:
        key = pd.Categorical.from_codes(np.full(n, -1, np.int64), dtype=privacy.KEY_DTYPE)
    return pd.DataFrame({
        "project_id": cols["project_id"].categorical(),
        "professional_title": cols["professional_title"].categorical(),
        "learner_key": key,
        "_row": np.asarray(rows, dtype=np.int64),
    })


def _resolve(secret) -> bytes:
    if callable(secret):
        return secret()
    return secret if secret is not None else privacy.load_or_create_key()


def deidentify(enrolments: pd.DataFrame, spec, key: bytes) -> pd.DataFrame:
    """Replace the identifying columns of a table of strings by ``learner_key`` (a keyed hash,
    see :mod:`privacy`); rows with no identity get no key (and cannot be de-duplicated)."""
    ident = [c for c in spec.identifying if c in enrolments.columns]
    out = enrolments.drop(columns=ident)
    out["learner_key"] = privacy.pseudonymise({c: encode_series(enrolments[c]) for c in ident}, len(enrolments), key)
    return out


ENROLMENT_COLUMNS = ("project_id", "professional_title", "learner_key", "_file")


def empty_enrolments() -> pd.DataFrame:
    text = pd.CategoricalDtype(pd.Index([], dtype="string"))
    return pd.DataFrame({"project_id": pd.Series(dtype=text), "professional_title": pd.Series(dtype=text),
                         "learner_key": pd.Series(dtype=privacy.KEY_DTYPE), "_file": pd.Series(dtype=text),
                         "_row": pd.Series(dtype="int64")})


def stack_enrolments(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack the enrolment tables of several files (their categories differ file by file)."""
    if not frames:
        return empty_enrolments()
    out = pd.DataFrame({c: union_categoricals([f[c] for f in frames]) for c in ENROLMENT_COLUMNS})
    out["_row"] = np.concatenate([f["_row"].to_numpy() for f in frames])
    return out


def sniff_csv(path: Path, codebook: Codebook):
    """Recognise a CSV file from its first 64 KiB: (table, CsvSource) without reading it whole."""
    from .engines import CsvSource

    head = read_csv_head(path)
    h, kind, mapping = find_header(head.grid, codebook)
    header = [str(c) for c in head.grid.iloc[h].tolist()] if kind else []
    return kind, CsvSource(path, path.name, head.encoding, head.delimiter, h + 1, {c: header[j] for c, j in mapping.items()})


def read_raw_dir(raw_dir, key: bytes | None = None, engine: str = "pandas", scheduler: str | None = None) -> Ingested:
    """Read every data file under ``raw_dir`` into de-identified canonical tables.

    ``key`` is the linkage secret (default: :func:`privacy.load_or_create_key`, read only if
    some file holds identifying columns). ``engine="dask"`` reads enrolment CSV files with
    dask.dataframe and turns them into aggregated counts at once (see
    :mod:`cmestudy.engines`); ``scheduler`` is the address of a Dask cluster. Raises
    :class:`DataError` listing every file that cannot be read.
    """
    if engine not in ("pandas", "dask"):
        raise ValueError(f"engine must be 'pandas' or 'dask'; got {engine!r}")
    raw_dir = Path(raw_dir)
    paths = check_raw_dir(raw_dir)
    codebook = load_codebook(raw_dir)
    secret = key if key is not None else privacy.load_or_create_key
    files: list[RawFile] = []
    tables: dict[str, list[pd.DataFrame]] = {name: [] for name in codebook.tables}
    problems: list[DataProblem] = []
    warnings: list[DataProblem] = []
    dask_sources = []
    for path in paths:
        if engine == "dask" and path.suffix.lower() in CSV_SUFFIXES:
            try:
                kind, source = sniff_csv(path, codebook)
            except DataError as exc:
                problems.extend(exc.problems)
                continue
            if kind == "enrolments":
                source.name = str(path.relative_to(raw_dir))
                missing = [c for c in codebook.tables["enrolments"].required if c not in source.columns]
                if missing:
                    problems.append(DataProblem(source.name, source.header_row, None, None,
                                                f"a column {missing[0]!r} for the enrolments table"))
                dask_sources.append(source)
                continue
        try:
            raw, frame = read_raw_file(path, codebook, codebook.read.get("sheet"), secret)
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        raw.name = str(path.relative_to(raw_dir))
        files.append(raw)
        if frame is None:
            warnings.append(DataProblem.from_message(raw.name, None, None, None, "problem.not_recognised"))
            continue
        if raw.kind == "enrolments":
            frame["_file"] = pd.Categorical.from_codes(np.zeros(len(frame), np.int8),
                                                       dtype=pd.CategoricalDtype(pd.Index([raw.name], dtype="string")))
        else:
            frame["_file"] = raw.name
        tables[raw.kind].append(frame)
    if problems:
        raise DataError(problems)
    if not tables["projects"]:
        raise DataError([DataProblem(str(raw_dir), None, None, None,
                                     "a project register (headers such as 项目编号/project_id, 年度/year, 授课方式/mode)")])
    out = {}
    for name in ("projects", "counts"):
        frames = tables[name]
        cols = list(codebook.tables[name].columns)
        out[name] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols + ["_file", "_row"])
    out["enrolments"] = stack_enrolments(tables["enrolments"])
    quarantine = None
    if dask_sources:
        from .engines import counts_to_wide, enrolment_counts_dask

        register = set(out["projects"]["project_id"].astype(str).str.strip())
        counts, quarantine, n_rows = enrolment_counts_dask(dask_sources, codebook, _resolve(secret), register, scheduler)
        origin = ", ".join(s.name for s in dask_sources) + " (Dask engine)"
        out["counts"] = pd.concat([out["counts"], counts_to_wide(counts, origin)], ignore_index=True)
        for s in dask_sources:
            files.append(RawFile(path=s.path, name=s.name, kind="enrolments", rows=-1, sha256=sha256_file(s.path),
                                 encoding=s.encoding, delimiter=s.delimiter, header_row=s.header_row, columns=s.columns))
        files[-1].rows = n_rows  # rows of all partitions together
    return Ingested(out["projects"], out["enrolments"], out["counts"], files, warnings, quarantine)


INGEST_SUBDIR = "ingest"


def write_ingested(ingested: Ingested, processed_dir) -> Path:
    """Write the de-identified canonical tables and the file provenance (atomically)."""
    from .fileio import write_json, write_parquet

    out = Path(processed_dir) / INGEST_SUBDIR
    for name in ("projects", "counts"):
        frame = getattr(ingested, name).copy()
        for c in frame.columns:
            if c != "_row":
                frame[c] = frame[c].astype("string")
        write_parquet(out / f"{name}.parquet", frame)
    _write_enrolments(out / "enrolments.parquet", ingested.enrolments)
    q = ingested.quarantine if ingested.quarantine is not None else pd.DataFrame(
        columns=["file", "row", "project_id", "column", "value", "reason", "action", "code"])
    write_parquet(out / "quarantine.parquet", q.astype({"row": "Int64"}).astype({c: "string" for c in q.columns if c != "row"}))
    write_json(out / "provenance.json", {
        "files": [f.provenance() for f in ingested.files],
        "warnings": [w.to_dict() for w in ingested.warnings],
    })
    return out


def load_ingested(processed_dir) -> Ingested:
    import json

    src = Path(processed_dir) / INGEST_SUBDIR
    if not (src / "projects.parquet").is_file():
        raise FileNotFoundError(f"{src} holds no ingested tables: run notebooks/01_ingest first")
    frames = {n: pd.read_parquet(src / f"{n}.parquet") for n in ("projects", "counts")}
    frames["enrolments"] = _read_enrolments(src / "enrolments.parquet")
    prov = json.loads((src / "provenance.json").read_text(encoding="utf-8"))
    files = [RawFile(path=Path(f["file"]), name=f["file"], kind=f["table"], rows=f["rows"], sha256=f["sha256"]) for f in prov["files"]]
    warnings = [DataProblem.from_dict(w) for w in prov["warnings"]]
    q = pd.read_parquet(src / "quarantine.parquet") if (src / "quarantine.parquet").is_file() else None
    return Ingested(frames["projects"], frames["enrolments"], frames["counts"], files, warnings, q)


def _write_enrolments(path: Path, frame: pd.DataFrame) -> Path:
    """Store the enrolment table: categorical columns dictionary-encoded, ``learner_key`` as its
    16-hexadecimal-digit text (:func:`privacy.key_array`), in one row group (Parquet repeats a
    dictionary in every row group, and there may be millions of keys)."""
    import pyarrow as pa

    from .fileio import write_parquet

    key = frame["learner_key"]
    table = pa.Table.from_pandas(frame.drop(columns=["learner_key"]), preserve_index=False)
    cats = key.cat.categories
    dictionary = privacy.key_array(cats.to_numpy()) if cats.dtype == "uint64" else pa.array(cats.astype(str), pa.string())
    codes = np.asarray(key.cat.codes, dtype=np.int32)
    keys = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), dictionary)
    table = table.add_column(frame.columns.get_loc("learner_key"), "learner_key", keys)
    return write_parquet(path, table, row_group_size=max(len(frame), 1))


def _read_enrolments(path: Path) -> pd.DataFrame:
    """The stored enrolment table, with ``learner_key`` back as 64-bit keys: its categories (16
    hexadecimal digits each, see :func:`privacy.key_array`) are decoded as one buffer, not as
    millions of Python strings."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    position = table.schema.get_field_index("learner_key")
    keys = table.column("learner_key").combine_chunks()
    frame = table.drop_columns(["learner_key"]).to_pandas()
    if pa.types.is_dictionary(keys.type) and len(keys.dictionary):
        text = keys.dictionary.cast(pa.string())
        if text.offset == 0 and pc.min(pc.utf8_length(text)).as_py() == pc.max(pc.utf8_length(text)).as_py() == 16:
            digits = np.frombuffer(text.buffers()[2], dtype=np.uint8)[: 16 * len(text)].tobytes().decode("ascii")
            ints = np.frombuffer(bytes.fromhex(digits), dtype=">u8").astype(np.uint64)
        else:
            ints = np.array([int(v, 16) for v in text.to_pylist()], dtype=np.uint64)
        codes = keys.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        key = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(ints, dtype="uint64")))
    else:
        key = pd.Categorical.from_codes(np.full(len(frame), -1), dtype=privacy.KEY_DTYPE)
    frame.insert(position, "learner_key", key)
    return frame


def load_provenance(processed_dir) -> pd.DataFrame:
    import json

    prov = json.loads((Path(processed_dir) / INGEST_SUBDIR / "provenance.json").read_text(encoding="utf-8"))
    return pd.DataFrame(prov["files"])


def provenance_table(ingested: Ingested) -> pd.DataFrame:
    """Raw files as the report lists them: file, sheet, table (``kind_<table>``), rows, encoding,
    header row and the first 16 digits of the checksum."""
    rows = []
    for f in ingested.files:
        p = f.provenance()
        rows.append({"file": p["file"], "sheet": p.get("sheet") or "", "table": f"kind_{p['table']}",
                     "rows": int(p["rows"]), "encoding": p["encoding"] or "", "header_row": int(p["header_row"]),
                     "sha256_16": p["sha256"][:16]})
    return pd.DataFrame(rows, columns=["file", "sheet", "table", "rows", "encoding", "header_row", "sha256_16"]).set_index("file")
