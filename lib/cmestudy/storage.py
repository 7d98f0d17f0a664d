"""The ingested tables on disk: de-identified canonical tables and provenance, as Parquet and JSON.

``01_ingest`` writes them under ``PROCESSED/ingest/`` (atomically) and ``02_clean`` reads
them back. Enrolments keep their column encoding: Categoricals, with ``learner_key`` stored
as 16-hexadecimal-digit text in one row group.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import privacy
from .problems import DataProblem
from .reading import Ingested, RawFile

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
    write_enrolments(out / "enrolments.parquet", ingested.enrolments)
    q = (
        ingested.quarantine
        if ingested.quarantine is not None
        else pd.DataFrame(columns=["file", "row", "project_id", "column", "value", "reason", "action", "code", "rows"])
    )
    q = q.astype({"row": "Int64", "rows": "Int64"} if "rows" in q else {"row": "Int64"})
    write_parquet(out / "quarantine.parquet", q.astype({c: "string" for c in q.columns if c not in ("row", "rows")}))
    engine = (
        ingested.engine_counts
        if ingested.engine_counts is not None
        else pd.DataFrame(
            {
                "project_id": pd.Series(dtype="string"),
                "grade": pd.Series(dtype="string"),
                "learners": pd.Series(dtype="int64"),
            }
        )
    )
    write_parquet(out / "engine_counts.parquet", engine)
    write_json(
        out / "provenance.json",
        {
            "files": [f.provenance() for f in ingested.files],
            "warnings": [w.to_dict() for w in ingested.warnings],
            "engine_rows": int(ingested.engine_rows),
        },
    )
    return out


def load_ingested(processed_dir) -> Ingested:
    src = Path(processed_dir) / INGEST_SUBDIR
    if not (src / "projects.parquet").is_file():
        raise FileNotFoundError(f"{src} holds no ingested tables: run notebooks/01_ingest first")
    frames = {n: pd.read_parquet(src / f"{n}.parquet") for n in ("projects", "counts")}
    frames["enrolments"] = read_enrolments(src / "enrolments.parquet")
    prov = json.loads((src / "provenance.json").read_text(encoding="utf-8"))
    files = [
        RawFile(
            path=Path(f["file"]),
            name=f["file"],
            kind=f["table"],
            rows=f["rows"],
            sha256=f["sha256"],
            sheet=f.get("sheet"),
            columns=f.get("column_map") or {},
            skipped=f.get("skipped"),
        )
        for f in prov["files"]
    ]
    warnings = [DataProblem.from_dict(w) for w in prov["warnings"]]
    q = pd.read_parquet(src / "quarantine.parquet") if (src / "quarantine.parquet").is_file() else None
    engine = pd.read_parquet(src / "engine_counts.parquet")
    return Ingested(
        frames["projects"],
        frames["enrolments"],
        frames["counts"],
        files,
        warnings,
        q if q is not None and len(q) else None,
        engine if len(engine) else None,
        int(prov.get("engine_rows", 0)),
    )


def write_enrolments(path: Path, frame: pd.DataFrame) -> Path:
    """Store the enrolment table: categorical columns dictionary-encoded, ``learner_key`` as its
    16-hexadecimal-digit text (:func:`privacy.key_array`), in one row group (Parquet repeats a
    dictionary in every row group, and there may be millions of keys)."""
    import pyarrow as pa

    from .fileio import write_parquet

    key = frame["learner_key"]
    table = pa.Table.from_pandas(frame.drop(columns=["learner_key"]), preserve_index=False)
    cats = key.cat.categories
    dictionary = (
        privacy.key_array(cats.to_numpy()) if cats.dtype == "uint64" else pa.array(cats.astype(str), pa.string())
    )
    codes = np.asarray(key.cat.codes, dtype=np.int32)
    keys = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), dictionary)
    table = table.add_column(frame.columns.get_loc("learner_key"), "learner_key", keys)
    return write_parquet(path, table, row_group_size=max(len(frame), 1))


def read_enrolments(path: Path) -> pd.DataFrame:
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
    prov = json.loads((Path(processed_dir) / INGEST_SUBDIR / "provenance.json").read_text(encoding="utf-8"))
    return pd.DataFrame(prov["files"])


def load_ingested_warnings(processed_dir) -> list[DataProblem]:
    """The warnings of the last ingest: files and sheets not read, with the reason."""
    prov = json.loads((Path(processed_dir) / INGEST_SUBDIR / "provenance.json").read_text(encoding="utf-8"))
    return [DataProblem.from_dict(w) for w in prov["warnings"]]
