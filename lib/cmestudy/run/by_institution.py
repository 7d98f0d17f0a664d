"""One study report per organising institution beside the regional one (``cmestudy run --by institution``).

After the regional run, the de-identified tables its ingest wrote (``PROCESSED/ingest/``) are split by the
projects' institution into ``OUT/institutions/NAME/raw/``: the institution's projects, aggregated counts and
enrolments, learners identified by the keyed hash of the regional ingest, never by a name or an ID number
(those never leave the ingest step). Each institution's folder is then a study of its own: the same five
notebooks run on it into ``OUT/institutions/NAME/`` (report, tables, figures), several at a time within the
machine's cores. A file is rewritten only when its bytes change, so a rerun with one institution's rows
changed reruns that institution (and the regional report) and finds the others up to date.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cmestudy.fileio import write_bytes
from cmestudy.ingest import storage
from cmestudy.published.paper import SYNTHETIC

SUBDIR = "institutions"
#: Characters a folder name cannot hold on Windows, macOS or Linux.
UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f]+')


@dataclass
class InstitutionRun:
    name: str
    folder: Path
    returncode: int
    executed: list[str]  # notebooks executed (the others were up to date)
    message: str  # the last lines the run printed when it failed


def folder_name(name: str, taken: set[str]) -> str:
    """A folder name for an institution: its name without the characters file systems refuse, made unique.

    >>> folder_name("示例医院01", set()), folder_name("A/B: C", set()), folder_name("x", {"x"})
    ('示例医院01', 'A_B_ C', 'x-2')
    """
    base = UNSAFE.sub("_", str(name)).strip(" .") or "institution"
    out, k = base, 1
    while out.lower() in {t.lower() for t in taken}:
        k += 1
        out = f"{base}-{k}"
    return out


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    write_bytes(path, data)
    return True


def split(processed_dir, raw_dir, out_dir) -> dict[str, Path]:
    """Write each institution's de-identified tables as a raw folder of its own; returns {name: folder}.

    Projects keep their canonical columns (the codebook reads them as they are), enrolments are
    (project_id, learner_id, professional_title) with the learner's keyed hash as its id, and a
    ``codebook.yml`` beside the regional exports is copied so that spellings are coded alike."""
    ingested = storage.load_ingested(processed_dir)
    projects = ingested.projects
    if "institution" not in projects.columns:
        raise ValueError("--by institution needs an organising institution column in the project register "
                         "(举办单位, 主办单位, organiser, ...)")  # fmt: skip
    names = projects["institution"].astype("string").str.strip()
    enrol = ingested.enrolments
    key = enrol["learner_key"].cat  # each learner's keyed hash once, as 16 hex digits; "" for a row without identity
    written = np.array([f"{int(k):016x}" for k in key.categories] + [""], dtype=object)
    enrolments = pd.DataFrame({
        "project_id": enrol["project_id"].astype(str),
        "learner_id": written[key.codes.to_numpy()],
        "professional_title": enrol["professional_title"].astype(str).where(enrol["professional_title"].notna(), ""),
    })  # fmt: skip
    counts = ingested.counts
    codebook = Path(raw_dir) / "codebook.yml"
    folders: dict[str, Path] = {}
    taken: set[str] = set()
    root = Path(out_dir) / SUBDIR
    for name in sorted(names.dropna().unique()):
        if not name:
            continue
        folder = root / folder_name(name, taken)
        taken.add(folder.name)
        raw = folder / "raw"
        ids = set(projects.loc[names == name, "project_id"].astype(str))
        own = projects[names == name].drop(columns=[c for c in ("_file", "_row") if c in projects.columns])
        _write_if_changed(raw / "projects.csv", own.to_csv(index=False, lineterminator="\n").encode("utf-8"))
        rows = enrolments[enrolments["project_id"].isin(ids)]
        _write_if_changed(raw / "enrolments.csv", rows.to_csv(index=False, lineterminator="\n").encode("utf-8"))
        if counts is not None and len(counts):
            own_counts = counts[counts["project_id"].astype(str).isin(ids)]
            own_counts = own_counts.drop(columns=[c for c in ("_file", "_row") if c in own_counts.columns])
            if len(own_counts):
                _write_if_changed(raw / "counts.csv", own_counts.to_csv(index=False, lineterminator="\n").encode())
        for beside in (codebook, Path(raw_dir) / SYNTHETIC):  # the coding, and the synthetic label
            if beside.is_file():
                _write_if_changed(raw / beside.name, beside.read_bytes())
        folders[str(name)] = folder
    return folders


def run_all(cfg, parallel: int | None = None) -> list[InstitutionRun]:
    """Split the regional run's tables by institution and run the study on each, ``parallel`` at a time
    (default: the machine's cores), each in a process of its own with the regional run's settings."""
    folders = split(cfg.processed_dir, cfg.raw_dir, cfg.out_dir)
    workers = max(1, parallel or os.cpu_count() or 1)

    def one(item) -> InstitutionRun:
        name, folder = item
        args = [sys.executable, "-m", "cmestudy", "run", "--raw", str(folder / "raw"), "--out", str(folder),
                "--lang", cfg.lang, "--alpha", str(cfg.alpha), "--confidence", str(cfg.confidence),
                "--adjust", cfg.adjust, "--horizon", str(cfg.horizon_months), "--change-kind", cfg.change_kind,
                "--min-cell", str(cfg.min_cell), "--suppress-small-cells", "--jobs", "1", "--no-progress",
                "--cell-timeout", str(cfg.cell_timeout), "--formats", ",".join(cfg.formats)]  # fmt: skip
        if cfg.kernel:
            args += ["--kernel", cfg.kernel]
        if cfg.years:
            args += ["--years", ",".join(str(y) for y in cfg.years)]
        if cfg.change_date:
            args += ["--change-date", cfg.change_date]
        if cfg.force:
            args.append("--force")
        done = subprocess.run(args, capture_output=True, text=True, encoding="utf-8", errors="replace")
        executed = re.findall(r"^\s+(\d\d_\w+) (?:done in|完成)", done.stderr, flags=re.M)
        tail = "\n".join(done.stderr.strip().splitlines()[-4:]) if done.returncode else ""
        return InstitutionRun(name, folder, done.returncode, executed, tail)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, folders.items()))
