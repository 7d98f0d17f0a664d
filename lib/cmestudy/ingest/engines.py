"""The Dask engine: ingest and aggregate enrolment exports too large for one machine's memory.

With ``engine="dask"`` the enrolment CSV files (one file or many partitions) are not
loaded whole: :func:`enrolment_counts_dask` reads them with ``dask.dataframe`` in blocks,
de-identifies each block (the keyed hash of :mod:`cmestudy.ingest.privacy`), grades titles by the
codebook, drops a learner's repeated enrolments in one project and sets aside enrolments
for projects missing from the register, then counts learners per project and title grade.
The counts enter the pipeline as aggregated counts (the raw-data contract's form b), so
the notebooks downstream are the same for both engines, and the counts are identical to
the default engine's (a test checks this on a local cluster of two workers).

``scheduler`` is the address of an existing Dask cluster (``tcp://host:8786``); without it
the work runs on this machine's threads. The linkage key travels to the workers inside
the task graph: use a cluster you trust with the personal data of the exports.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cmestudy.schema import Codebook

#: Bytes of shuffled rows the threaded engine keeps in memory before spilling them to disk.
#: dask's disk shuffle builds ``partd.Buffer(partd.Dict(), partd.File(path))`` and so takes
#: partd's default of 1 GB (no dask option sets it). At 200 MB the peak memory of a run of 30
#: million rows fell from 1,968 MB to 1,203 MB, in the same time (57 s against 55 s).
DISK_SHUFFLE_BUFFER = 200_000_000


@contextlib.contextmanager
def _disk_shuffle_buffer(nbytes: float):
    """While the block runs, partd buffers built without an explicit size keep at most ``nbytes``
    in memory (the default of ``partd.Buffer.__init__``'s ``available_memory``)."""
    import partd.buffer

    init = partd.buffer.Buffer.__init__
    saved = init.__defaults__
    init.__defaults__ = (float(nbytes),)
    try:
        yield
    finally:
        init.__defaults__ = saved


#: Seconds between two calls of glibc's ``malloc_trim`` while the threaded engine computes.
TRIM_INTERVAL = 1.0


@contextlib.contextmanager
def _returning_freed_memory(interval: float):
    """While the block runs, hand the heap's free pages back to the system after a task ends, at
    most once every ``interval`` seconds.

    Blocks of parsed rows are allocated and freed by several threads; glibc keeps the freed memory
    in per-thread arenas, where it counts as resident although nothing uses it, and the resident
    size then drifts upward with the number of blocks. ``malloc_trim(0)`` returns the free pages of
    every arena (``madvise(MADV_DONTNEED)``), as dask's distributed workers do through
    ``MALLOC_TRIM_THRESHOLD_``. A call takes tens of milliseconds, hence the interval. Without
    glibc this does nothing.
    """
    import ctypes
    import ctypes.util
    import time

    from dask.callbacks import Callback

    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        yield
        return
    last = [time.monotonic()]

    def posttask(key, result, dsk, state, worker_id):
        now = time.monotonic()
        if now - last[0] >= interval:
            trim(0)
            last[0] = time.monotonic()

    with Callback(posttask=posttask):
        yield


@dataclass
class CsvSource:
    """A CSV enrolment file as recognised from its first rows."""

    path: Path
    name: str
    encoding: str
    delimiter: str
    header_row: int  # 1-based
    columns: dict[str, str]  # canonical -> header in the file
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class DaskCounts:
    """What the Dask engine makes of the enrolment files: learners per project and grade (``counts``:
    project_id, grade, learners), the rows set aside (``quarantine``, summarised: a row stands for the
    ``rows`` rows of one reason and project, or project and title), and the data rows of each file
    (``rows_by_file``), and the number of hash partitions the (project, learner) pairs were
    de-duplicated in (``partitions``)."""

    counts: pd.DataFrame
    quarantine: pd.DataFrame
    rows_by_file: dict[str, int]
    partitions: int = 1  # hash partitions of the (project, learner) pairs


def _grade_partition(part: pd.DataFrame, codebook: Codebook, key: bytes) -> pd.DataFrame:
    from cmestudy.ingest.privacy import deidentify

    part = part.fillna("").astype(str)
    for c in part.columns:
        part[c] = part[c].str.strip()
    out = deidentify(part, codebook.tables["enrolments"], key)
    out["grade"] = codebook.grade_titles(out["professional_title"])
    out["learner_key"] = out["learner_key"].astype("string").fillna("")
    # Arrow-backed strings: a tenth of the memory of Python str objects, in blocks and in the shuffle
    return out[["project_id", "learner_key", "professional_title", "grade"]].astype("string[pyarrow]")


def _with_order(part: pd.DataFrame, partition_info=None) -> pd.DataFrame:
    """Each row's place in the whole export (partition number, then row), so that the first of a
    learner's repeated enrolments can be found after the rows have been hash-partitioned."""
    import numpy as np

    number = partition_info["number"] if partition_info else 0
    return part.assign(_order=np.int64(number) * (1 << 32) + np.arange(len(part), dtype=np.int64))


def _slim(part: pd.DataFrame) -> pd.DataFrame:
    return part.assign(professional_title=part["professional_title"].where(part["grade"].eq("unknown"), ""))


def _first_enrolments(part: pd.DataFrame) -> pd.DataFrame:
    """A learner's first enrolment in each project, within one hash partition (all of a pair's rows
    are in the same partition)."""
    return part.sort_values("_order", kind="stable").drop_duplicates(subset=["project_id", "learner_key"])


def enrolment_counts_dask(
    sources: list[CsvSource],
    codebook: Codebook,
    key: bytes,
    register: set[str],
    scheduler: str | None = None,
    blocksize: str = "16MB",
    quarantine_dir: Path | None = None,
) -> DaskCounts:
    """Learners per project and grade from enrolment CSVs with dask.dataframe (see :class:`DaskCounts`).

    Memory stays bounded by the block size, not by the export: blocks are read, de-identified and
    graded independently; the (project, learner) pairs are hash-partitioned with a shuffle (on disk
    with local threads, peer-to-peer on a cluster), so each output partition holds all the rows of
    its share of the pairs and drops a learner's repeated enrolments there (keeping the first, as the
    default engine does); counting is done per partition. Only aggregates return to the client:
    learners per project and grade, rows per file, enrolments of projects missing from the register
    per project, unknown titles per project and title. With ``quarantine_dir`` the workers also write
    those rows in full, as partitioned Parquet (``orphans/``, ``unknown_titles/``). Everything is
    computed in one pass over the data.
    """
    import dask
    import dask.dataframe as dd

    frames = []
    for s in sources:
        rename = {header: canon for canon, header in s.columns.items()}
        if s.encoding == "parquet":  # row groups as blocks
            frames.append(dd.read_parquet(str(s.path), columns=list(rename)).rename(columns=rename))
            continue
        df = dd.read_csv(
            str(s.path),
            sep=s.delimiter,
            encoding="utf-8-sig" if s.encoding == "utf-8-sig" else s.encoding,
            skiprows=s.header_row - 1,
            header=0,
            dtype=str,
            keep_default_na=False,
            usecols=list(rename),
            blocksize=None if str(s.path).lower().endswith(".gz") else blocksize,
            compression="infer",
        )
        frames.append(df.rename(columns=rename))
    df = dd.concat(frames) if len(frames) > 1 else frames[0]
    columns = ["project_id", "learner_key", "professional_title", "grade"]
    meta = pd.DataFrame({c: pd.Series(dtype="string[pyarrow]") for c in columns})
    graded = df.map_partitions(_grade_partition, codebook, key, meta=meta)
    known = graded["project_id"].isin(sorted(register))
    orphans = graded[~known][["project_id", "professional_title"]]
    kept = graded[known]
    # only what the de-duplication needs crosses the shuffle: a title only where it is unknown (for the quarantine)
    keyed = kept[kept["learner_key"].ne("")].map_partitions(_slim).map_partitions(_with_order)
    unkeyed = kept[kept["learner_key"].eq("")]
    method = "p2p" if scheduler else "disk"  # never all pairs in memory: peer-to-peer, or partd files on disk
    pairs = keyed.shuffle(
        on=["project_id", "learner_key"], npartitions=max(1, keyed.npartitions), shuffle_method=method
    )
    first = pairs.map_partitions(_first_enrolments, meta=keyed._meta)
    deduped = dd.concat([first.drop(columns="_order"), unkeyed])
    counts = deduped.groupby(["project_id", "grade"]).size(split_out=1)
    unknown = deduped[deduped["grade"].eq("unknown")][["project_id", "professional_title"]]
    unknown_summary = unknown.groupby(["project_id", "professional_title"]).size(split_out=1)
    orphan_summary = orphans.groupby("project_id").size(split_out=1)
    rows = [f.shape[0] for f in frames]
    n_keyed, n_dedup = keyed.shape[0], first.shape[0]
    writes = []
    if quarantine_dir is not None:
        for name, frame in (("orphans", orphans), ("unknown_titles", unknown)):
            target = str(Path(quarantine_dir) / name)
            writes.append(frame.to_parquet(target, write_index=False, overwrite=True, compute=False))

    def compute(*things):
        if scheduler:
            from dask.distributed import Client

            with Client(scheduler) as client:
                return client.compute(list(things), sync=True)
        with _disk_shuffle_buffer(DISK_SHUFFLE_BUFFER), _returning_freed_memory(TRIM_INTERVAL):
            return dask.compute(*things, scheduler="threads")

    counts, n_keyed, n_dedup, orphan_summary, unknown_summary, *rest = compute(
        counts, n_keyed, n_dedup, orphan_summary, unknown_summary, *rows, *writes
    )
    rows = rest[: len(rows)]
    counts = counts.rename("learners").reset_index()
    origin = ", ".join(s.name for s in sources)
    from cmestudy.problems import reason_columns

    orphan_summary = orphan_summary.rename("rows").reset_index()
    unknown_summary = unknown_summary.rename("rows").reset_index()
    q = [
        pd.DataFrame(
            {
                "file": origin,
                "row": pd.NA,
                "project_id": orphan_summary["project_id"],
                "column": "project_id",
                "value": orphan_summary["project_id"],
                **reason_columns("orphan"),
                "rows": orphan_summary["rows"],
            }
        ),
        pd.DataFrame(
            {
                "file": origin,
                "row": pd.NA,
                "project_id": unknown_summary["project_id"],
                "column": "professional_title",
                "value": unknown_summary["professional_title"],
                **reason_columns("unknown_title"),
                "rows": unknown_summary["rows"],
            }
        ),
    ]
    n_dup = int(n_keyed) - int(n_dedup)
    if n_dup:
        q.append(
            pd.DataFrame(
                {
                    "file": [origin],
                    "row": [pd.NA],
                    "project_id": [""],
                    "column": ["learner"],
                    "value": [f"{n_dup} rows"],
                    **{k: [v] for k, v in reason_columns("duplicate").items()},
                    "rows": [n_dup],
                }
            )
        )
    quarantine = pd.concat(q, ignore_index=True)
    quarantine["rows"] = quarantine["rows"].fillna(1).astype("int64")
    return DaskCounts(counts, quarantine, {s.name: int(n) for s, n in zip(sources, rows)}, pairs.npartitions)
