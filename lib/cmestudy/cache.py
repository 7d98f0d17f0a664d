"""Incremental runs: each notebook re-executes only when something it depends on changed.

A notebook's fingerprint is the SHA-256 of

* the notebook file itself,
* the run parameters it uses (:data:`PARAMETERS`),
* the source of the ``cmestudy`` package (every ``.py``, ``.yml`` and template file),
* its inputs: the raw files (``01_ingest``), or the files that upstream notebooks wrote
  (``02_clean`` reads ``processed/ingest/``; ``03``-``05`` read the cleaned tables; ``04``
  also reads ``published.yml``), by content checksum.

Because downstream fingerprints use the *content* of upstream outputs, a notebook that
re-runs but writes identical files does not make the next one re-run. The fingerprints
of the last successful run are kept in ``OUT/.cmestudy-cache.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .fileio import sha256_file, write_json

STATE_FILE = ".cmestudy-cache.json"
PACKAGE_DIR = Path(__file__).resolve().parent

#: What each notebook reads, besides its parameters: raw files, or files under the processed directory.
INPUTS = {
    "01_ingest": {"raw": ["*"]},
    "02_clean": {"processed": ["ingest/*"], "raw": ["codebook.yml"]},
    "03_descriptive": {"processed": ["projects.parquet", "learners.parquet", "cleaning.json"]},
    "04_chisquare": {"processed": ["projects.parquet", "learners.parquet", "cleaning.json"], "raw": ["published.yml"]},
    "05_prospects": {"processed": ["projects.parquet", "learners.parquet", "cleaning.json"]},
}
#: The run parameters each notebook uses (only these enter its fingerprint).
PARAMETERS = {
    "01_ingest": ["raw_dir", "processed_dir", "output_dir", "engine", "scheduler", "lang"],
    "02_clean": ["raw_dir", "processed_dir", "output_dir", "years", "lang"],
    "03_descriptive": ["processed_dir", "output_dir", "years", "lang"],
    "04_chisquare": ["raw_dir", "processed_dir", "output_dir", "years", "alpha", "confidence", "adjust", "lang"],
    "05_prospects": ["processed_dir", "output_dir", "years", "alpha", "confidence", "adjust", "lang"],
}
#: What each notebook writes under the processed directory (must exist for a skip).
OUTPUTS = {
    "01_ingest": ["ingest/projects.parquet", "ingest/enrolments.parquet", "ingest/counts.parquet",
                  "ingest/quarantine.parquet", "ingest/provenance.json"],
    "02_clean": ["projects.parquet", "learners.parquet", "quarantine.csv", "cleaning.json"],
}


def package_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(PACKAGE_DIR.rglob("*")):
        if p.is_file() and p.suffix in (".py", ".yml", ".j2", ".css") and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(PACKAGE_DIR)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _files(base: Path, patterns) -> list[Path]:
    out = []
    for pat in patterns:
        out += [p for p in sorted(base.glob(pat)) if p.is_file()] if any(c in pat for c in "*?[") else [base / pat]
    return out


def fingerprint(notebook: str, notebook_path: Path, params: dict, raw_dir: Path, processed_dir: Path,
                package: str) -> str:
    h = hashlib.sha256()
    h.update(notebook_path.read_bytes())
    used = PARAMETERS.get(notebook, sorted(params))
    h.update(json.dumps({k: params.get(k) for k in used}, sort_keys=True).encode())
    h.update(package.encode())
    for kind, base in (("raw", raw_dir), ("processed", processed_dir)):
        for p in _files(Path(base), INPUTS.get(notebook, {}).get(kind, [])):
            rel = f"{kind}:{p.relative_to(base) if p.is_relative_to(base) else p}"
            h.update(rel.encode())
            h.update(sha256_file(p).encode() if p.is_file() else b"missing")
    return h.hexdigest()


def outputs_present(notebook: str, processed_dir: Path, executed: Path) -> bool:
    return executed.is_file() and all((Path(processed_dir) / o).is_file() for o in OUTPUTS.get(notebook, []))


def load_state(out_dir: Path) -> dict:
    path = Path(out_dir) / STATE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_state(out_dir: Path, state: dict) -> None:
    write_json(Path(out_dir) / STATE_FILE, state)
