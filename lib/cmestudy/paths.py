"""Project paths, anchored at the project root so notebooks and the CLI agree.

The root is the directory holding ``pyproject.toml`` above this package
(``lib/cmestudy`` -> project root). ``CMESTUDY_ROOT`` overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("CMESTUDY_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parent
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "notebooks").is_dir():
            return candidate
    return Path.cwd().resolve()


PROJECT_ROOT = _find_root()
RAW_DIR = PROJECT_ROOT / "data" / "raw"
PROCESSED_DIR = PROJECT_ROOT / "data" / "processed"
CONSISTENCY_FILE = "published-consistency.json"  # `cmestudy consistency`: beside published.yml or in PROCESSED_DIR
OUTPUT_DIR = PROJECT_ROOT / "output"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"

#: Raw exports: files with these suffixes under the raw directory are read.
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
#: Large exports also come as gzip-compressed CSV (``part-0001.csv.gz``) and as Parquet files.
GZIP_SUFFIXES = {s + ".gz" for s in CSV_SUFFIXES}
PARQUET_SUFFIXES = {".parquet"}
DATA_SUFFIXES = CSV_SUFFIXES | EXCEL_SUFFIXES | GZIP_SUFFIXES | PARQUET_SUFFIXES


def data_suffix(path: Path) -> str:
    """The suffix that says how a file is read: ``.csv``, ``.csv.gz``, ``.parquet``, ``.xlsx``, ...

    >>> data_suffix(Path("enrolments/part-0001.CSV.gz")), data_suffix(Path("register.xlsx"))
    ('.csv.gz', '.xlsx')
    """
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if len(suffixes) == 2 and "".join(suffixes) in GZIP_SUFFIXES:
        return "".join(suffixes)
    return path.suffix.lower()


#: Files that accompany the exports and are read for what they are, not as data.
COMPANION_FILES = {
    "codebook.yml",
    "published.yml",
    "reconstruction.yml",
    "synthetic.yml",
    "readme.md",
    CONSISTENCY_FILE,
}

#: The notebooks of the study, in the order the pipeline runs them.
NOTEBOOKS = ("01_ingest", "02_clean", "03_descriptive", "04_chisquare", "05_prospects")


def resolve(path: str | os.PathLike) -> Path:
    """Return ``path`` as an absolute path; relative paths are taken from the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (PROJECT_ROOT / p).resolve()


def list_data_files(raw_dir: Path) -> list[Path]:
    """The files of ``raw_dir`` (and below) that are read as data: CSV and spreadsheet exports."""
    return sorted(
        p
        for p in Path(raw_dir).rglob("*")
        if p.is_file() and data_suffix(p) in DATA_SUFFIXES and not p.name.startswith((".", "~$"))
    )


def list_unread_files(raw_dir: Path) -> list[Path]:
    """The files of ``raw_dir`` that are not read at all: other formats (.doc, .pdf, ...) and the lock
    files of open workbooks (``~$...``); hidden files and the companion files are left out."""
    return sorted(
        p
        for p in Path(raw_dir).rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and p.name.lower() not in COMPANION_FILES
        and (data_suffix(p) not in DATA_SUFFIXES or p.name.startswith("~$"))
    )


class RawDirMissing(FileNotFoundError):
    """The raw data directory is missing or holds no data; ``message_id`` and ``params`` say it in any
    language (``cli.raw_missing``, ``cli.raw_empty``), the message itself in English."""

    def __init__(self, message_id: str, text: str, **params):
        self.message_id, self.params = message_id, params
        super().__init__(text)


class RawNotDirectory(NotADirectoryError):
    def __init__(self, path: str):
        self.message_id, self.params = "cli.raw_not_dir", {"path": path}
        super().__init__(f"raw data path {path!r} is not a directory")


def check_raw_dir(raw_dir) -> list[Path]:
    """The data files of ``raw_dir``; a clear error if it is missing or holds none."""
    raw_dir = Path(raw_dir)
    if not raw_dir.exists():
        raise RawDirMissing("cli.raw_missing", f"raw data directory {str(raw_dir)!r} does not exist", path=str(raw_dir))
    if not raw_dir.is_dir():
        raise RawNotDirectory(str(raw_dir))
    files = list_data_files(raw_dir)
    if not files:
        suffixes = ", ".join(sorted(DATA_SUFFIXES))
        raise RawDirMissing(
            "cli.raw_empty",
            f"raw data directory {str(raw_dir)!r} holds no data files (expected CSV or Excel exports: {suffixes})",
            path=str(raw_dir),
            suffixes=suffixes,
        )
    return files
