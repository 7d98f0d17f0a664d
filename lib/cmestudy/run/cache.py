"""Incremental runs: each notebook re-executes only when something it depends on changed.

What a notebook uses is declared beside it, in its metadata (``metadata.cmestudy``):

* ``parameters`` -- the run parameters it uses (only these enter its fingerprint);
* ``reads`` -- its inputs: patterns of raw files (``raw``) and of files under the processed
  directory that upstream notebooks wrote (``processed``);
* ``writes`` -- the files it writes under the processed directory (they must exist for it to
  be skipped).

A notebook's fingerprint is the SHA-256 of what the notebook runs (:func:`notebook_digest`: its
cells' sources and tags and its ``metadata.cmestudy``; not its outputs, execution counts or the
metadata JupyterLab adds when it saves), the values of its parameters, the source of the ``cmestudy`` package (every ``.py``, ``.yml`` and template
file), and the content checksums of its inputs. Because downstream fingerprints use the
*content* of upstream outputs, a notebook that re-runs but writes identical files does not
make the next one re-run. A notebook that starts reading a new file declares it, and its
fingerprint follows. The fingerprints of the last successful run are kept in
``OUT/.cmestudy-cache.json``.

A run trusts only files it wrote itself: beside each fingerprint it keeps the checksums of the
files the notebook wrote under the processed directory (:func:`writes_digest`), and of the study's
tables, figures and findings under ``OUT`` (:func:`output_digest`). A notebook run by hand (in
JupyterLab, with other parameters) that rewrote one of them makes the next run execute again what
wrote it, so the report never mixes an interactive run's files with the study's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cmestudy.fileio import sha256_file, write_json

STATE_FILE = ".cmestudy-cache.json"
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # lib/cmestudy: every stage's folder


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


def notebook_digest(notebook_path: Path) -> str:
    """The SHA-256 of what a notebook runs: each cell's type, source and tags, and ``metadata.cmestudy``.
    Outputs, execution counts, cell ids and any other metadata (what JupyterLab writes when it saves)
    leave it unchanged; an edit to a cell or a parameter changes it."""
    nb = json.loads(Path(notebook_path).read_text(encoding="utf-8"))
    cells = [
        [
            c.get("cell_type"),
            "".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", ""),
            c.get("metadata", {}).get("tags", []),
        ]
        for c in nb.get("cells", [])
    ]
    what = {"cells": cells, "cmestudy": nb.get("metadata", {}).get("cmestudy", {})}
    return hashlib.sha256(json.dumps(what, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def fingerprint(notebook_path: Path, params: dict, raw_dir: Path, processed_dir: Path, package: str) -> str:
    """The fingerprint of a notebook for these parameters and inputs (see the module docstring)."""
    uses = declared(notebook_path)
    h = hashlib.sha256()
    h.update(notebook_digest(notebook_path).encode())
    used = uses.get("parameters", sorted(params))
    h.update(json.dumps({k: params.get(k) for k in used}, sort_keys=True).encode())
    h.update(package.encode())
    for kind, base in (("raw", raw_dir), ("processed", processed_dir)):
        for p in _files(Path(base), uses.get("reads", {}).get(kind, [])):
            rel = f"{kind}:{p.relative_to(base) if p.is_relative_to(base) else p}"
            h.update(rel.encode())
            h.update(sha256_file(p).encode() if p.is_file() else b"missing")
    return h.hexdigest()


def outputs_present(notebook_path: Path, processed_dir: Path, executed: Path, recorded: dict | None = None) -> bool:
    """The executed copy and every file the notebook declares it writes exist, and (when ``recorded``
    holds the checksums the run kept, :func:`writes_digest`) are the files the run wrote."""
    writes = declared(notebook_path).get("writes", {}).get("processed", [])
    if not (executed.is_file() and all((Path(processed_dir) / o).is_file() for o in writes)):
        return False
    return recorded is None or writes_digest(notebook_path, processed_dir) == recorded


def writes_digest(notebook_path: Path, processed_dir: Path) -> dict[str, str]:
    """The checksum of each file a notebook declares it writes under the processed directory."""
    out = {}
    for pattern in declared(notebook_path).get("writes", {}).get("processed", []):
        path = Path(processed_dir) / pattern
        out[pattern] = sha256_file(path) if path.is_file() else "missing"
    return out


def written(executed: Path) -> set[str]:
    """The tables and figures an executed notebook wrote under ``OUT``, from the markers of what it shows
    (``data-csv`` on a table or a CSV-only marker, ``data-name`` on a figure): ``tables/<name>.csv``,
    ``figures/<name>.png`` and ``.svg``."""
    import re

    try:
        text = Path(executed).read_text(encoding="utf-8")
    except OSError:
        return set()
    out = {f"tables/{m}.csv" for m in re.findall(r'data-csv=\\"([^"\\]+)\\"', text)}
    for m in re.findall(r'data-name=\\"([^"\\]+)\\"', text):
        out |= {f"figures/{m}.png", f"figures/{m}.svg"}
    return out


def prune(out_dir: Path, keep: set[str]) -> list[Path]:
    """Remove the files under ``OUT/tables`` and ``OUT/figures`` that no notebook of the run wrote (a
    table of an earlier run or of a notebook run by hand); returns them."""
    gone = []
    for part in ("tables", "figures"):
        base = Path(out_dir) / part
        for p in sorted(base.iterdir()) if base.is_dir() else []:
            if p.is_file() and f"{part}/{p.name}" not in keep:
                p.unlink()
                gone.append(p)
    return gone


#: The study's own files under OUT that a notebook run by hand could overwrite.
OUTPUT_PARTS = ("tables", "figures", "findings")


def output_digest(out_dir: Path) -> str:
    """One SHA-256 of every file under ``OUT/tables``, ``OUT/figures`` and ``OUT/findings`` (names and contents)."""
    h = hashlib.sha256()
    for part in OUTPUT_PARTS:
        base = Path(out_dir) / part
        for p in sorted(base.rglob("*")) if base.is_dir() else []:
            if p.is_file():
                h.update(str(p.relative_to(out_dir)).encode())
                h.update(sha256_file(p).encode())
    return h.hexdigest()


def load_state(out_dir: Path) -> dict:
    path = Path(out_dir) / STATE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_state(out_dir: Path, state: dict) -> None:
    write_json(Path(out_dir) / STATE_FILE, state)
