"""CSV and text exports: their encoding, their delimiter, and their rows as strings.

Encodings: UTF-8 with or without BOM, UTF-16 with BOM, and GB18030 (a superset of GBK
and GB2312), in that order of trial. A file that is UTF-8 except for a few bytes is an
export cut off or damaged, not a GBK file: it is refused naming the row of the first bad
byte, as is a byte invalid in GB18030, and a NUL byte (the mark of an interrupted
export or a binary file saved as .csv). Nothing is decoded "as well as it goes".

Delimiters: comma, tab or semicolon, whichever splits the first lines into the most
fields. Files larger than :data:`LARGE_FILE_BYTES` are parsed by Apache Arrow's
multi-threaded reader, after the encoding and delimiter are found on their first 64 KiB.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cmestudy.problems import DataError, DataProblem

ENCODINGS = ("utf-8", "gb18030")
HEADER_SCAN_ROWS = 10
LARGE_FILE_BYTES = 8 << 20  # CSV files larger than this are parsed by Arrow (see read_csv_arrow)
#: A file that fails as UTF-8 on at most this share of its non-ASCII characters is damaged UTF-8.
DAMAGED_UTF8_SHARE = 0.01


def _row_of(data: bytes, offset: int) -> int:
    """The row (1-based line) of a byte offset."""
    return data.count(b"\n", 0, offset) + 1


def _bad_bytes(name: str, data: bytes, offset: int, encoding: str) -> DataError:
    shown = data[offset : offset + 4].hex(" ")
    return DataError(
        [
            DataProblem.from_message(
                name,
                _row_of(data, offset),
                None,
                None,
                "problem.encoding",
                encoding=encoding,
                offset=f"{offset:,}",
                shown=shown,
            )  # fmt: skip
        ],
        headline="problem.headline.cannot_decode",
        file=name,
    )


def _damaged_utf8(data: bytes) -> bool:
    """True when bytes are UTF-8 but for a few invalid ones (not another encoding)."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return non_ascii - bad > 0 and bad <= max(1, DAMAGED_UTF8_SHARE * non_ascii)


def _nul_problem(name: str, row: int) -> DataError:
    return DataError(
        [DataProblem.from_message(name, row, None, None, "problem.nul")],
        headline="problem.headline.cannot_decode",
        file=name,
    )


def check_nul(name: str, text: str) -> None:
    """Refuse text holding a NUL character, naming its row."""
    at = text.find("\x00")
    if at >= 0:
        raise _nul_problem(name, text.count("\n", 0, at) + 1)


def check_nul_file(path: Path, block: int = 8 << 20) -> None:
    """Refuse a (large) file holding a NUL byte, naming its row: blocks read into one reused buffer
    (bounded memory, as :func:`cmestudy.fileio.sha256_and_nul`), rows counted as they pass."""
    buffer = bytearray(block)
    rows = 0
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            at = buffer.find(b"\x00", 0, n)
            if at >= 0:
                raise _nul_problem(path.name, rows + buffer.count(b"\n", 0, at) + 1)
            rows += buffer.count(b"\n", 0, n)


def locate_bad_byte(path: Path, encoding: str, chunk: int = 1 << 24) -> None:
    """Stream a file through a strict decoder; raise :class:`DataError` naming the row of the first
    byte invalid in ``encoding`` (or a file that ends in the middle of a character)."""
    name = path.name
    decoder = codecs.getincrementaldecoder("utf-8" if encoding.startswith("utf-8") else encoding)("strict")
    offset, rows = 0, 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                at = max(exc.start, 0)
                raise DataError(
                    [
                        DataProblem.from_message(
                            name,
                            rows + block.count(b"\n", 0, at) + 1,
                            None,
                            None,
                            "problem.encoding_block",
                            encoding=encoding,
                            offset=f"{offset + at:,}",
                        )  # fmt: skip
                    ],
                    headline="problem.headline.cannot_decode",
                    file=name,
                ) from None
            offset += len(block)
            rows += block.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise DataError(
            [DataProblem.from_message(name, rows + 1, None, None, "problem.truncated_char", encoding=encoding)],
            headline="problem.headline.cannot_decode",
            file=name,
        ) from None


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode CSV bytes: BOM -> UTF-8 or UTF-16; else UTF-8; else GB18030. Returns (text, encoding).

    Raises :class:`DataError` naming the row of the first invalid byte, or of a NUL byte.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            text, encoding = data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise _bad_bytes(name, data, exc.start + 3, "UTF-8") from None
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text, encoding = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise _bad_bytes(name, data, exc.start, "UTF-16") from None
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            if _damaged_utf8(data):
                raise _bad_bytes(name, data, exc.start, "UTF-8") from None
            try:
                text, encoding = data.decode("gb18030"), "gb18030"
            except UnicodeDecodeError as exc2:
                raise _bad_bytes(name, data, exc2.start, "UTF-8 or GBK/GB18030") from None
    check_nul(name, text)
    return text, encoding


def sniff_delimiter(text: str) -> str:
    head = [ln for ln in text.splitlines()[:HEADER_SCAN_ROWS] if ln.strip()]
    best, best_n = ",", 0
    for d in (",", "\t", ";"):
        n = max((len(next(csv.reader([ln], delimiter=d))) for ln in head), default=0)
        if n > best_n:
            best, best_n = d, n
    return best


def read_csv_grid(path: Path) -> tuple[pd.DataFrame, dict]:
    """A CSV file as a grid of strings, no header interpreted (empty cells are ''), and how it was read."""
    if path.stat().st_size > LARGE_FILE_BYTES:
        return read_csv_arrow(path)
    text, encoding = decode(path.read_bytes(), path.name)
    if not text.strip():
        return pd.DataFrame(), {"encoding": encoding}
    delimiter = sniff_delimiter(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise DataError(
            [DataProblem.from_message(path.name, None, None, None, "problem.csv", error=str(exc))],
            headline="problem.headline.cannot_parse",
            file=path.name,
        ) from None
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
    import gzip

    with (gzip.open if path.name.lower().endswith(".gz") else open)(path, "rb") as fh:
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


def read_csv_table(path: Path, head: CsvHead, skip_rows: int = 0, check_nul: bool = True, dictionary_columns=()):
    """Parse a CSV file with Apache Arrow's multi-threaded reader: every cell a string, no nulls,
    columns ``c0``, ``c1``, ...; the first ``skip_rows`` rows are skipped. Invalid bytes and NUL
    bytes are refused naming their row (:func:`locate_bad_byte`, :func:`check_nul_file`; with
    ``check_nul=False`` the caller looks for NUL bytes itself, e.g. in its checksum pass).

    The columns numbered in ``dictionary_columns`` are dictionary-encoded while they are parsed,
    block by block in the parsing threads (each chunk with its own dictionary): for columns with
    few distinct values, such as project ids and titles, this costs less than parsing the strings
    and encoding them afterwards."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    names = [f"c{i}" for i in range(head.width)]
    text = {n: pa.string() for n in names}
    text.update({names[j]: pa.dictionary(pa.int32(), pa.string()) for j in dictionary_columns})
    encoding = "utf8" if head.encoding.startswith("utf-8") else head.encoding
    try:  # parsed where the page cache holds the file (memory-mapped), without copying it first
        with pa.memory_map(str(path)) as source:
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(
                    column_names=names, encoding=encoding, block_size=16 << 20, skip_rows=skip_rows
                ),
                parse_options=pacsv.ParseOptions(delimiter=head.delimiter, ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(
                    column_types=text,
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        locate_bad_byte(path, head.encoding)  # an invalid byte is named by its row
        raise DataError(
            [
                DataProblem.from_message(
                    path.name, None, None, None, "problem.csv_columns", width=head.width, error=str(exc)
                )
            ],
            headline="problem.headline.cannot_parse",
            file=path.name,
        ) from None
    if check_nul and head.encoding != "utf-16":
        check_nul_file(path)  # Arrow reads a NUL byte into a string
    return table


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
