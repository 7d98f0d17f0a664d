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
a keyed-hash ``learner_key`` here and dropped: they never leave this module.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import privacy
from .fileio import sha256_file
from .problems import DataError, DataProblem
from .schema import Codebook, load_codebook, normalise_label

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
DATA_SUFFIXES = CSV_SUFFIXES | EXCEL_SUFFIXES
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
            "table": self.kind or "not recognised",
            "rows": self.rows,
            "sha256": self.sha256,
            "encoding": self.encoding or (f"Excel sheet {self.sheet!r}" if self.sheet else None),
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


def list_data_files(raw_dir: Path) -> list[Path]:
    return sorted(
        p for p in Path(raw_dir).rglob("*")
        if p.is_file() and p.suffix.lower() in DATA_SUFFIXES and not p.name.startswith((".", "~$"))
    )


def check_raw_dir(raw_dir) -> list[Path]:
    """The data files of ``raw_dir``; a clear error if it is missing or holds none."""
    raw_dir = Path(raw_dir)
    if not raw_dir.exists():
        raise FileNotFoundError(f"raw data directory {str(raw_dir)!r} does not exist")
    if not raw_dir.is_dir():
        raise NotADirectoryError(f"raw data path {str(raw_dir)!r} is not a directory")
    files = list_data_files(raw_dir)
    if not files:
        raise FileNotFoundError(
            f"raw data directory {str(raw_dir)!r} holds no data files "
            f"(expected CSV or Excel exports: {', '.join(sorted(DATA_SUFFIXES))})"
        )
    return files


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


def read_csv_arrow(path: Path) -> tuple[pd.DataFrame, dict]:
    """Large CSV files: the same grid of strings, parsed by Apache Arrow's multi-threaded reader.

    Encoding and delimiter are detected on the first 64 KiB as for small files; cells are kept
    as Arrow-backed strings, so ten million rows fit in a few hundred megabytes.
    """
    import pyarrow as pa
    from pyarrow import csv as pacsv

    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    # cut at the last newline so a multi-byte character is not split
    cut = head.rfind(b"\n")
    head_text, encoding = decode(head[: cut + 1] if cut > 0 else head, path.name)
    delimiter = sniff_delimiter(head_text)
    width = max(len(next(csv.reader([ln], delimiter=delimiter))) for ln in head_text.splitlines()[:HEADER_SCAN_ROWS] if ln.strip())
    names = [f"c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, encoding="utf8" if encoding.startswith("utf-8") else encoding,
                                           block_size=16 << 20, skip_rows=0),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise DataError([DataProblem(path.name, None, None, None, f"well-formed CSV with {width} columns per row ({exc})")],
                        headline=f"{path.name}: cannot parse") from None
    grid = table.to_pandas(types_mapper=pd.ArrowDtype)
    grid.columns = range(width)
    if encoding == "utf-8-sig":
        grid.iloc[0, 0] = str(grid.iloc[0, 0]).lstrip("\ufeff")
    return grid, {"encoding": encoding, "delimiter": delimiter}


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


def read_raw_file(path: Path, codebook: Codebook, sheet: str | None = None) -> tuple[RawFile, pd.DataFrame | None]:
    """Read one file into its canonical table (strings), or report it as not recognised."""
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
    missing = [c for c in spec.required if c not in mapping]
    problems = [
        DataProblem(path.name, h + 1, None, None,
                    f"a column {c!r} for the {kind} table (headers accepted: {', '.join((c,) + spec.columns[c].aliases)})")
        for c in missing
    ]
    if raw.rows == 0:
        problems.append(DataProblem(path.name, h + 2, None, None, "at least one data row below the header"))
    if problems:
        raise DataError(problems, headline=f"{path.name}: cannot be read as the {kind} table")
    frame = pd.DataFrame({canon: body.iloc[:, j].astype("string").str.strip() for canon, j in mapping.items()})
    frame["_file"] = path.name
    frame["_row"] = body.index.to_numpy() + 1  # grid index is 0-based; Excel rows are 1-based
    short = [canon for canon in spec.required if spec.columns[canon].type not in ("count", "title")]
    for canon in short:
        empty = frame[canon].eq("")
        for row in frame.loc[empty, "_row"].head(MAX_EMPTY_REPORTED):
            problems.append(DataProblem(path.name, int(row), raw.columns[canon], "",
                                        f"a value in the required column {canon!r} (the row may be truncated)"))
    if problems:
        raise DataError(problems, headline=f"{path.name}: required values missing")
    return raw, frame.reset_index(drop=True)


def deidentify(enrolments: pd.DataFrame, spec, key: bytes) -> pd.DataFrame:
    """Replace identifying columns by ``learner_key``, a keyed hash (see :mod:`privacy`).

    The identity used is the learner id when given, else the national ID number, else
    name with phone or e-mail. Rows with none of them get no key (and cannot be
    de-duplicated).
    """
    ident_cols = [c for c in spec.identifying if c in enrolments.columns]
    out = enrolments.drop(columns=ident_cols)
    if not ident_cols:
        out["learner_key"] = pd.NA
        return out
    parts = pd.Series("", index=enrolments.index, dtype="string[pyarrow]")
    chosen = pd.Series(False, index=enrolments.index)
    for fields in (("learner_id",), ("id_number",), ("name", "phone"), ("name", "email"), ("phone",), ("email",)):
        if not all(f in enrolments.columns for f in fields):
            continue
        vals = [enrolments[f].fillna("").astype("string[pyarrow]").str.strip() for f in fields]
        ok = ~chosen
        for v in vals:
            ok &= v.ne("")
        if ok.any():
            text = fields[0] + "=" + vals[0]
            for f, v in zip(fields[1:], vals[1:]):
                text = text + f"|{f}=" + v
            parts = parts.where(~ok, text)
            chosen |= ok
    keys = privacy.keyed_hash(parts, key)
    out["learner_key"] = keys.where(chosen.to_numpy(), pd.NA)
    return out


def sniff_csv(path: Path, codebook: Codebook):
    """Recognise a CSV file from its first 64 KiB: (table, CsvSource) without reading it whole."""
    from .engines import CsvSource

    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    cut = head.rfind(b"\n")
    text, encoding = decode(head[: cut + 1] if cut > 0 else head, path.name)
    delimiter = sniff_delimiter(text)
    rows = list(csv.reader(io.StringIO(text.replace("\r\n", "\n")), delimiter=delimiter))[:HEADER_SCAN_ROWS]
    width = max((len(r) for r in rows), default=0)
    grid = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)
    h, kind, mapping = find_header(grid, codebook)
    header = [str(c) for c in grid.iloc[h].tolist()] if kind else []
    return kind, CsvSource(path, path.name, encoding, delimiter, h + 1, {c: header[j] for c, j in mapping.items()})


def read_raw_dir(raw_dir, key: bytes | None = None, engine: str = "pandas", scheduler: str | None = None) -> Ingested:
    """Read every data file under ``raw_dir`` into de-identified canonical tables.

    ``engine="dask"`` reads enrolment CSV files with dask.dataframe and turns them into
    aggregated counts at once (see :mod:`cmestudy.engines`); ``scheduler`` is the address
    of a Dask cluster. Raises :class:`DataError` listing every file that cannot be read.
    """
    if engine not in ("pandas", "dask"):
        raise ValueError(f"engine must be 'pandas' or 'dask'; got {engine!r}")
    raw_dir = Path(raw_dir)
    paths = check_raw_dir(raw_dir)
    codebook = load_codebook(raw_dir)
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
            raw, frame = read_raw_file(path, codebook, codebook.read.get("sheet"))
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        raw.name = str(path.relative_to(raw_dir))
        files.append(raw)
        if frame is None:
            warnings.append(DataProblem(raw.name, None, None, None,
                                        "headers of a project register, enrolment list or counts table; file ignored"))
            continue
        frame["_file"] = raw.name
        tables[raw.kind].append(frame)
    if problems:
        raise DataError(problems)
    if not tables["projects"]:
        raise DataError([DataProblem(str(raw_dir), None, None, None,
                                     "a project register (headers such as 项目编号/project_id, 年度/year, 授课方式/mode)")])
    out = {}
    for name, frames in tables.items():
        cols = list(codebook.tables[name].columns)
        out[name] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols + ["_file", "_row"])
    spec = codebook.tables["enrolments"]
    key = key if key is not None else (privacy.load_or_create_key() if len(out["enrolments"]) or dask_sources else b"")
    out["enrolments"] = deidentify(out["enrolments"], spec, key)
    quarantine = None
    if dask_sources:
        from .engines import counts_to_wide, enrolment_counts_dask

        register = set(out["projects"]["project_id"].astype(str).str.strip())
        counts, quarantine, n_rows = enrolment_counts_dask(dask_sources, codebook, key, register, scheduler)
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
    for name in ("projects", "enrolments", "counts"):
        frame = getattr(ingested, name).copy()
        for c in frame.columns:
            if c != "_row":
                frame[c] = frame[c].astype("string")
        write_parquet(out / f"{name}.parquet", frame)
    q = ingested.quarantine if ingested.quarantine is not None else pd.DataFrame(
        columns=["file", "row", "project_id", "column", "value", "reason", "action"])
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
    frames = {n: pd.read_parquet(src / f"{n}.parquet") for n in ("projects", "enrolments", "counts")}
    prov = json.loads((src / "provenance.json").read_text(encoding="utf-8"))
    files = [RawFile(path=Path(f["file"]), name=f["file"], kind=f["table"], rows=f["rows"], sha256=f["sha256"]) for f in prov["files"]]
    warnings = [DataProblem(**w) for w in prov["warnings"]]
    q = pd.read_parquet(src / "quarantine.parquet") if (src / "quarantine.parquet").is_file() else None
    return Ingested(frames["projects"], frames["enrolments"], frames["counts"], files, warnings, q)


def load_provenance(processed_dir) -> pd.DataFrame:
    import json

    prov = json.loads((Path(processed_dir) / INGEST_SUBDIR / "provenance.json").read_text(encoding="utf-8"))
    return pd.DataFrame(prov["files"])


def provenance_table(ingested: Ingested) -> pd.DataFrame:
    """Raw files as the report lists them: file, table, rows, how read, checksum."""
    rows = []
    for f in ingested.files:
        p = f.provenance()
        rows.append({"file": p["file"], "table": p["table"], "rows": int(p["rows"]), "read as": p["encoding"] or "",
                     "header row": int(p["header_row"]), "SHA-256 (first 16)": p["sha256"][:16]})
    return pd.DataFrame(rows).set_index("file")
