"""Ingest a raw directory: every export read, de-identified and recognised, by the chosen engine.

:func:`read_raw_dir` lists the data files of the raw directory and reads each into its
canonical table (:mod:`cmestudy.ingest.reading`); with ``engine="dask"``, enrolment CSV files are
not loaded but counted by :mod:`cmestudy.ingest.engines` in blocks. The engine choice is made here,
above both engines, which know nothing of each other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cmestudy.fileio import sha256_file
from cmestudy.ingest import privacy
from cmestudy.ingest.reading import Ingested, RawFile, read_raw_file, stack_enrolments
from cmestudy.ingest.recognise import find_header
from cmestudy.ingest.textfiles import read_csv_head
from cmestudy.paths import CSV_SUFFIXES, GZIP_SUFFIXES, PARQUET_SUFFIXES, check_raw_dir, data_suffix, list_unread_files
from cmestudy.problems import DataError, DataProblem, kind_name
from cmestudy.schema import Codebook, load_codebook

ENGINES = ("pandas", "dask")


def sniff_csv(path: Path, codebook: Codebook):
    """Recognise a CSV file from its first 64 KiB (decompressed, for ``.csv.gz``), or a Parquet file from
    its column names: (table, CsvSource) without reading it whole."""
    from cmestudy.ingest.engines import CsvSource

    if data_suffix(path) in PARQUET_SUFFIXES:
        import pyarrow.parquet as pq

        names = list(pq.read_schema(path).names)
        h, kind, mapping = find_header(pd.DataFrame([names], dtype=object), codebook)
        used = set(mapping.values())
        ignored = [c for j, c in enumerate(names) if j not in used and c.strip()]
        return kind, CsvSource(path, path.name, "parquet", "", 1, {c: names[j] for c, j in mapping.items()}, ignored)
    head = read_csv_head(path)
    h, kind, mapping = find_header(head.grid, codebook)
    header = [str(c) for c in head.grid.iloc[h].tolist()] if kind else []
    return kind, CsvSource(
        path,
        path.name,
        head.encoding,
        head.delimiter,
        h + 1,
        {c: header[j] for c, j in mapping.items()},
        [c for j, c in enumerate(header) if j not in mapping.values() and c.strip()],
    )


def read_raw_dir(
    raw_dir,
    key: bytes | None = None,
    engine: str = "pandas",
    scheduler: str | None = None,
    quarantine_dir=None,
) -> Ingested:
    """Read every data file under ``raw_dir`` into de-identified canonical tables.

    ``key`` is the linkage secret (default: :func:`privacy.load_or_create_key`, read only if
    some file holds identifying columns). ``engine="dask"`` reads enrolment CSV files with
    dask.dataframe and turns them into counts of learners per project and grade at once (see
    :mod:`cmestudy.ingest.engines`); ``scheduler`` is the address of a Dask cluster, and
    ``quarantine_dir`` where its workers write the enrolment rows set aside, in full, as
    partitioned Parquet (the quarantine itself holds them summarised). Raises
    :class:`DataError` listing every file that cannot be read.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be {' or '.join(repr(e) for e in ENGINES)}; got {engine!r}")
    raw_dir = Path(raw_dir)
    paths = check_raw_dir(raw_dir)
    codebook = load_codebook(raw_dir)
    secret = key if key is not None else privacy.load_or_create_key
    files: list[RawFile] = []
    tables: dict[str, list[pd.DataFrame]] = {name: [] for name in codebook.tables}
    problems: list[DataProblem] = []
    warnings: list[DataProblem] = []
    dask_sources = []
    aside: list[pd.DataFrame] = []  # summary and signature rows set aside while reading
    for path in paths:
        if engine == "dask" and data_suffix(path) in CSV_SUFFIXES | GZIP_SUFFIXES | PARQUET_SUFFIXES:
            try:
                kind, source = sniff_csv(path, codebook)
            except DataError as exc:
                problems.extend(exc.problems)
                continue
            if kind == "enrolments":
                source.name = str(path.relative_to(raw_dir))
                missing = [c for c in codebook.tables["enrolments"].required if c not in source.columns]
                if missing:
                    problems.append(
                        DataProblem.from_message(
                            source.name,
                            source.header_row,
                            None,
                            None,
                            "problem.required_column",
                            column=missing[0],
                            kind=kind_name("enrolments"),
                            aliases=", ".join(
                                (missing[0],) + codebook.tables["enrolments"].columns[missing[0]].aliases
                            ),
                        )  # fmt: skip
                    )
                dask_sources.append(source)
                continue
        try:
            parts = read_raw_file(path, codebook, codebook.read.get("sheet"), secret)
        except DataError as exc:
            problems.extend(exc.problems)
            continue
        for part in parts:
            raw, frame = part.raw, part.frame
            raw.name = str(path.relative_to(raw_dir))
            where = raw.where
            files.append(raw)
            if part.aside is not None:
                aside.append(part.aside.assign(file=where))
            if frame is None:
                warnings.append(DataProblem.from_message(where, None, None, None, f"problem.{raw.skipped}"))
                continue
            frame["_file"] = where
            if raw.kind == "enrolments":
                frame["_file"] = pd.Categorical.from_codes(
                    np.zeros(len(frame), np.int8), dtype=pd.CategoricalDtype(pd.Index([where], dtype="string"))
                )
            tables[raw.kind].append(frame)
    for path in list_unread_files(raw_dir):
        name = str(path.relative_to(raw_dir))
        message = "problem.lock_file" if path.name.startswith("~$") else "problem.unsupported_format"
        warnings.append(DataProblem.from_message(name, None, None, None, message, suffix=path.suffix.lower() or "—"))
    if problems:
        raise DataError(problems)
    if not tables["projects"]:
        raise DataError([DataProblem.from_message(str(raw_dir), None, None, None, "problem.no_register")])
    out = {}
    for name in ("projects", "counts"):
        frames = tables[name]
        cols = list(codebook.tables[name].columns)
        out[name] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols + ["_file", "_row"])
    ingested = Ingested(
        out["projects"],
        stack_enrolments(tables["enrolments"]),
        out["counts"],
        files,
        warnings,
        pd.concat(aside, ignore_index=True) if aside else None,
    )
    if dask_sources:
        from cmestudy.ingest.engines import enrolment_counts_dask

        register = set(out["projects"]["project_id"].astype(str).str.strip())
        result = enrolment_counts_dask(
            dask_sources, codebook, privacy.resolve_secret(secret), register, scheduler, quarantine_dir=quarantine_dir
        )
        ingested.engine_counts = result.counts
        ingested.quarantine = pd.concat(
            [q for q in (ingested.quarantine, result.quarantine) if q is not None], ignore_index=True
        )
        ingested.engine_rows = sum(result.rows_by_file.values())
        ingested.engine_partitions = result.partitions
        for s in dask_sources:
            files.append(
                RawFile(
                    path=s.path,
                    name=s.name,
                    kind="enrolments",
                    rows=result.rows_by_file[s.name],
                    sha256=sha256_file(s.path),
                    encoding=s.encoding,
                    delimiter=s.delimiter,
                    header_row=s.header_row,
                    columns=s.columns,
                    ignored_columns=s.ignored_columns,
                )
            )
        files.sort(key=lambda f: paths.index(f.path) if f.path in paths else len(paths))
    return ingested
