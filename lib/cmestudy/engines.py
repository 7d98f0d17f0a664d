"""The Dask engine: ingest and aggregate enrolment exports too large for one machine's memory.

With ``engine="dask"`` the enrolment CSV files (one file or many partitions) are not
loaded whole: :func:`enrolment_counts_dask` reads them with ``dask.dataframe`` in blocks,
de-identifies each block (the keyed hash of :mod:`cmestudy.privacy`), grades titles by the
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

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .schema import Codebook


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
    project_id, grade, learners), the rows set aside (``quarantine``; a row standing for several
    carries their number in ``rows``), and the data rows of each file (``rows_by_file``)."""

    counts: pd.DataFrame
    quarantine: pd.DataFrame
    rows_by_file: dict[str, int]


def _grade_partition(part: pd.DataFrame, codebook: Codebook, key: bytes) -> pd.DataFrame:
    from .privacy import deidentify

    part = part.fillna("").astype(str)
    for c in part.columns:
        part[c] = part[c].str.strip()
    out = deidentify(part, codebook.tables["enrolments"], key)
    out["grade"] = codebook.grade_titles(out["professional_title"])
    out["learner_key"] = out["learner_key"].astype("string").fillna("")
    return out[["project_id", "learner_key", "professional_title", "grade"]].astype(str)


def enrolment_counts_dask(
    sources: list[CsvSource],
    codebook: Codebook,
    key: bytes,
    register: set[str],
    scheduler: str | None = None,
    blocksize: str = "64MB",
) -> DaskCounts:
    """Learners per project and grade from enrolment CSVs with dask.dataframe (see :class:`DaskCounts`)."""
    import dask
    import dask.dataframe as dd

    frames = []
    for s in sources:
        rename = {header: canon for canon, header in s.columns.items()}
        df = dd.read_csv(
            str(s.path),
            sep=s.delimiter,
            encoding="utf-8-sig" if s.encoding == "utf-8-sig" else s.encoding,
            skiprows=s.header_row - 1,
            header=0,
            dtype=str,
            keep_default_na=False,
            usecols=list(rename),
            blocksize=blocksize,
        )
        frames.append(df.rename(columns=rename))
    df = dd.concat(frames) if len(frames) > 1 else frames[0]
    meta = pd.DataFrame({c: pd.Series(dtype=str) for c in ["project_id", "learner_key", "professional_title", "grade"]})
    graded = df.map_partitions(_grade_partition, codebook, key, meta=meta)
    known = graded["project_id"].isin(sorted(register))
    orphans = graded[~known]
    kept = graded[known]
    keyed = kept[kept["learner_key"].ne("")]
    unkeyed = kept[kept["learner_key"].eq("")]
    deduped = dd.concat([keyed.drop_duplicates(subset=["project_id", "learner_key"]), unkeyed])
    counts = deduped.groupby(["project_id", "grade"]).size()
    rows = [f.shape[0] for f in frames]
    n_keyed = keyed.shape[0]
    n_dedup = keyed.drop_duplicates(subset=["project_id", "learner_key"]).shape[0]
    unknown = deduped[deduped["grade"].eq("unknown")][["project_id", "professional_title"]]

    def compute(*things):
        if scheduler:
            from dask.distributed import Client

            with Client(scheduler) as client:
                return client.compute(list(things), sync=True)
        return dask.compute(*things, scheduler="threads")

    counts, n_keyed, n_dedup, orphan_rows, unknown_rows, *rows = compute(
        counts, n_keyed, n_dedup, orphans[["project_id", "professional_title"]], unknown, *rows
    )
    counts = counts.rename("learners").reset_index()
    origin = ", ".join(s.name for s in sources)
    from .problems import reason_columns

    q = [
        pd.DataFrame(
            {
                "file": origin,
                "row": pd.NA,
                "project_id": orphan_rows["project_id"],
                "column": "project_id",
                "value": orphan_rows["project_id"],
                **reason_columns("orphan"),
            }
        ),
        pd.DataFrame(
            {
                "file": origin,
                "row": pd.NA,
                "project_id": unknown_rows["project_id"],
                "column": "professional_title",
                "value": unknown_rows["professional_title"],
                **reason_columns("unknown_title"),
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
    quarantine["rows"] = quarantine["rows"].fillna(1).astype("int64") if "rows" in quarantine else 1
    return DaskCounts(counts, quarantine, {s.name: int(n) for s, n in zip(sources, rows)})
