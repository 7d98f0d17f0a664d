"""Shared fixtures: an isolated linkage key, and one full run of the study on the default data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"


@pytest.fixture(autouse=True, scope="session")
def _linkage_key(tmp_path_factory):
    """Never touch the user's real linkage key from the tests."""
    key = tmp_path_factory.mktemp("key") / "linkage.key"
    old = os.environ.get("CMESTUDY_KEY_FILE")
    os.environ["CMESTUDY_KEY_FILE"] = str(key)
    yield key
    if old is None:
        os.environ.pop("CMESTUDY_KEY_FILE", None)
    else:
        os.environ["CMESTUDY_KEY_FILE"] = old


def run_cli(*args, timeout=900, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m cmestudy ARGS`` as a user would, capturing its output, in an English locale
    unless ``env`` says otherwise (the commands speak the locale's language)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES")}
    environ["LANG"] = "C.UTF-8"
    return subprocess.run(
        [sys.executable, "-m", "cmestudy", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=environ | (env or {}),
    )


@pytest.fixture(scope="session")
def study_run(tmp_path_factory, _linkage_key):
    """The study run once on the default data into a temporary output directory.

    Under pytest-xdist (``make test`` runs two workers) the run is made once for all workers: the
    first to need it makes it under the run's shared temporary directory, holding a lock, and the
    others wait for it and read the same files (no worker writes into them).
    """
    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else None
    if shared is None or os.name != "posix":
        return _study(tmp_path_factory.mktemp("study") / "out")
    import fcntl

    with open(shared / "study_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out, done = shared / "study_run" / "out", shared / "study_run" / "done.json"
        if not done.is_file():
            out.parent.mkdir(exist_ok=True)
            _, proc = _study(out)
            done.write_text(json.dumps({"stdout": proc.stdout, "stderr": proc.stderr}), encoding="utf-8")
        record = json.loads(done.read_text(encoding="utf-8"))
    return out, subprocess.CompletedProcess([], 0, record["stdout"], record["stderr"])


def _study(out):
    proc = run_cli("run", "--raw", RAW, "--out", out, "--no-progress")
    assert proc.returncode == 0, f"cmestudy run failed:\n{proc.stdout}\n{proc.stderr}"
    return out, proc
