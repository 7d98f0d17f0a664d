"""File helpers: atomic writes, checksums and spreadsheet-safe CSV.

Every file cmestudy writes goes through :func:`atomic_write`: the content is written
to a temporary file in the target directory, flushed, and renamed over the target
(``os.replace`` is atomic on POSIX and Windows), so a reader never sees half a file
and a crash leaves the previous version intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a table is written, not by every user of this module
    import pandas as pd


def read_yaml(text: str):
    """Parse YAML text safely (``yaml.safe_load``), with libyaml's C parser where PyYAML has it:
    the same result, about ten times faster (the codebook and the message catalogues are read on
    every run)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


#: The errors of a full disk (ENOSPC) or an exhausted quota (EDQUOT).
FULL = {28, 122}

#: Leading characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[io.IOBase]:
    """Open a temporary file beside ``path``; on success rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding, **({"newline": ""} if "b" not in mode else {})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if exc.errno in FULL and exc.filename != str(path):  # name the file meant, not its temporary twin
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> Path:
    return write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n")


def write_parquet(path: str | os.PathLike, table, row_group_size: int | None = None) -> Path:
    """Write a DataFrame or an Arrow table as Parquet, atomically.

    Parquet repeats a dictionary-encoded column's dictionary in every row group, so a table
    with millions of categories (learner keys) is best written as one row group
    (``row_group_size=len(table)``).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    with atomic_write(path, "wb") as fh:  # straight into the file: no copy of the whole file in memory
        pq.write_table(table, fh, row_group_size=row_group_size)
    return Path(path)


def defuse_formula(value):
    """Prefix a string that a spreadsheet would run as a formula with an apostrophe.

    >>> defuse_formula("=SUM(A1)"), defuse_formula("骨科")
    ("'=SUM(A1)", '骨科')
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_csv(path: str | os.PathLike, frame: pd.DataFrame, index: bool = False) -> Path:
    """Write ``frame`` as UTF-8 CSV (with BOM, so Excel reads Chinese text) atomically.

    String cells (and the header) that could start a spreadsheet formula are defused.
    """
    from pandas.api.types import is_string_dtype

    safe = frame.copy()
    for col in safe.columns:
        if safe[col].dtype == object or is_string_dtype(safe[col]):
            safe[col] = safe[col].map(defuse_formula)
    safe.columns = [defuse_formula(str(c)) for c in safe.columns]
    text = safe.to_csv(index=index, lineterminator="\n")
    return write_bytes(path, b"\xef\xbb\xbf" + text.encode("utf-8"))


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file (see :func:`sha256_and_nul`, which reads it)."""
    return sha256_and_nul(path)[0]


#: The block a checksum reads at a time, into one buffer used again for every block.
CHECKSUM_BLOCK = 8 << 20


def sha256_and_nul(path: str | os.PathLike, block: int = CHECKSUM_BLOCK) -> tuple[str, int]:
    """The SHA-256 of a file and the offset of its first NUL byte (-1 if none), in one pass.

    The file is read in blocks into one buffer that is used again for every block, so the memory
    the checksum takes is the block's whatever the file's size (a memory map of the whole file
    would leave every page it hashed in the process's resident memory, which a worker's memory
    limit counts), and no fresh page is touched after the first block (on a virtual machine fresh
    pages cost more than the hashing)."""
    digest, nul, offset = hashlib.sha256(), -1, 0
    buffer = bytearray(block)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while True:
            n = fh.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
            if nul < 0:
                at = buffer.find(b"\x00", 0, n)
                if at >= 0:
                    nul = offset + at
            offset += n
    return digest.hexdigest(), nul


def checksums(directory: str | os.PathLike) -> dict[str, str]:
    """SHA-256 of every file below ``directory``, keyed by relative path."""
    directory = Path(directory)
    return {str(p.relative_to(directory)): sha256_file(p) for p in sorted(directory.rglob("*")) if p.is_file()}
