"""Incremental runs: each notebook re-executes only when something it depends on changed.

What a notebook uses is declared beside it, in its metadata (``metadata.cmestudy``):

* ``parameters`` -- the run parameters it uses (only these enter its fingerprint);
* ``reads`` -- its inputs: patterns of raw files (``raw``) and of files under the processed
  directory that upstream notebooks wrote (``processed``);
* ``writes`` -- the files it writes under the processed directory (they must exist for it to
  be skipped).

A notebook's fingerprint is the SHA-256 of the notebook file itself, the values of its
parameters, the source of the ``cmestudy`` package (every ``.py``, ``.yml`` and template
file), and the content checksums of its inputs. Because downstream fingerprints use the
*content* of upstream outputs, a notebook that re-runs but writes identical files does not
make the next one re-run. A notebook that starts reading a new file declares it, and its
fingerprint follows. The fingerprints of the last successful run are kept in
``OUT/.cmestudy-cache.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .fileio import sha256_file, write_json

STATE_FILE = ".cmestudy-cache.json"
PACKAGE_DIR = Path(__file__).resolve().parent


def declared(notebook_path: Path) -> dict:
    """What a notebook declares it uses: ``{"parameters": [...], "reads": {...}, "writes": {...}}``."""
    nb = json.loads(Path(notebook_path).read_text(encoding="utf-8"))
    return nb.get("metadata", {}).get("cmestudy", {})


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


def fingerprint(notebook_path: Path, params: dict, raw_dir: Path, processed_dir: Path, package: str) -> str:
    """The fingerprint of a notebook for these parameters and inputs (see the module docstring)."""
    uses = declared(notebook_path)
    h = hashlib.sha256()
    h.update(Path(notebook_path).read_bytes())
    used = uses.get("parameters", sorted(params))
    h.update(json.dumps({k: params.get(k) for k in used}, sort_keys=True).encode())
    h.update(package.encode())
    for kind, base in (("raw", raw_dir), ("processed", processed_dir)):
        for p in _files(Path(base), uses.get("reads", {}).get(kind, [])):
            rel = f"{kind}:{p.relative_to(base) if p.is_relative_to(base) else p}"
            h.update(rel.encode())
            h.update(sha256_file(p).encode() if p.is_file() else b"missing")
    return h.hexdigest()


def outputs_present(notebook_path: Path, processed_dir: Path, executed: Path) -> bool:
    """The executed copy and every file the notebook declares it writes exist."""
    writes = declared(notebook_path).get("writes", {}).get("processed", [])
    return executed.is_file() and all((Path(processed_dir) / o).is_file() for o in writes)


def load_state(out_dir: Path) -> dict:
    path = Path(out_dir) / STATE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_state(out_dir: Path, state: dict) -> None:
    write_json(Path(out_dir) / STATE_FILE, state)
