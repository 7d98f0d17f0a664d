"""A run never waits forever: reruns of one notebook always finish, and a cell that runs too long, or a
kernel that dies, ends the run with a readable error naming the notebook and the cell."""

from __future__ import annotations

import json
import shutil
import time

import nbformat
import pytest

from cmestudy.run.cache import STATE_FILE

from .conftest import ROOT, run_cli
from .exports import valid_raw

#: Reruns in the test command (a regression shows at once) and in the slow tier (`make test-slow`, CI),
#: where a rare hang has more chances to show.
RERUNS, SOAK_RERUNS = 1, 30
#: Far longer than one rerun of a notebook takes (about 7 s here), far shorter than a hang.
RERUN_LIMIT = 120


def _notebooks_with(tmp_path, notebook: str, source: str, at: int = 3):
    """A copy of the study notebooks with a code cell inserted into ``notebook`` before cell ``at``;
    returns the directory and the number Jupyter gives the inserted cell when papermill runs it
    (its place among the code cells, counting the injected-parameters cell)."""
    nbdir = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", nbdir)
    path = nbdir / f"{notebook}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(at, nbformat.v4.new_code_cell(source))
    nbformat.write(nb, path)
    return nbdir, sum(c.cell_type == "code" for c in nb.cells[:at]) + 2


def _forget(out, notebook: str) -> None:
    """Make the next run re-execute ``notebook`` alone (as if its inputs had changed)."""
    state = json.loads((out / STATE_FILE).read_text(encoding="utf-8"))
    state.pop(notebook, None)
    (out / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")


@pytest.fixture(scope="module")
def small_raw(tmp_path_factory):
    return valid_raw(tmp_path_factory.mktemp("runs-end"))


@pytest.mark.parametrize("reruns", [RERUNS, pytest.param(SOAK_RERUNS, marks=pytest.mark.slow)])
def test_rerunning_a_single_notebook_always_finishes(small_raw, tmp_path, reruns):
    out = tmp_path / "out"
    first = run_cli("run", "--raw", small_raw, "--out", out, "--no-progress", "--formats", "html")
    assert first.returncode == 0, first.stderr
    for i in range(reruns):
        _forget(out, "05_prospects")
        t0 = time.perf_counter()
        proc = run_cli(
            "run", "--raw", small_raw, "--out", out, "--no-progress", "--formats", "html", timeout=RERUN_LIMIT
        )
        assert proc.returncode == 0, f"rerun {i + 1}: {proc.stderr}"
        assert "05_prospects done in" in proc.stderr and "03_descriptive: up to date" in proc.stderr, proc.stderr
        assert time.perf_counter() - t0 < RERUN_LIMIT


@pytest.mark.parametrize("reruns", [RERUNS, pytest.param(SOAK_RERUNS, marks=pytest.mark.slow)])
def test_rerunning_after_a_failing_notebook_always_finishes(small_raw, tmp_path, reruns):
    nbdir, _ = _notebooks_with(tmp_path, "05_prospects", "raise RuntimeError('the prospects failed on purpose')")
    out = tmp_path / "out"
    for i in range(reruns):
        proc = run_cli(
            "run", "--raw", small_raw, "--out", out, "--notebooks", nbdir, "--no-progress", timeout=RERUN_LIMIT
        )
        assert proc.returncode == 1, f"rerun {i + 1}: {proc.stderr}"
        assert "notebook 05_prospects failed in cell" in proc.stderr and "failed on purpose" in proc.stderr
        if i:  # after the first run only the failed notebook is left to run
            assert "04_chisquare: up to date" in proc.stderr, proc.stderr


def test_a_cell_that_runs_past_the_timeout_ends_the_run_with_a_readable_error(small_raw, tmp_path):
    nbdir, cell = _notebooks_with(tmp_path, "03_descriptive", "import time\ntime.sleep(600)  # a cell that never ends")
    out = tmp_path / "out"
    t0 = time.perf_counter()
    proc = run_cli(
        "run",
        "--raw",
        small_raw,
        "--out",
        out,
        "--notebooks",
        nbdir,
        "--no-progress",
        "--cell-timeout",
        "8",
        timeout=300,
    )
    assert time.perf_counter() - t0 < 300
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr
    assert f"notebook 03_descriptive failed in cell {cell} (`import time`)" in err, err
    assert "CellTimeoutError: the cell did not finish within 8 s (--cell-timeout)" in err
    assert "Traceback" not in err
    kept = out / "notebooks" / "03_descriptive.ipynb"
    assert str(kept) in err and kept.is_file()
    assert not (out / "report.html").exists()


def test_a_kernel_that_dies_ends_the_run_with_a_readable_error(small_raw, tmp_path):
    nbdir, cell = _notebooks_with(
        tmp_path,
        "02_clean",
        "import os, signal, sys\nprint('last words', file=sys.__stderr__, flush=True)\nos.kill(os.getpid(), signal.SIGKILL)",
    )
    out = tmp_path / "out"
    proc = run_cli(
        "run", "--raw", small_raw, "--out", out, "--notebooks", nbdir, "--no-progress", "--formats", "html", timeout=300
    )
    assert proc.returncode == 1, proc.stderr
    assert f"notebook 02_clean failed in cell {cell} (`import os, signal, sys`)" in proc.stderr, proc.stderr
    assert "DeadKernelError: the kernel died" in proc.stderr
    kernel_log = out / "logs" / "kernel-02_clean.log"  # what the kernel wrote is kept, not shown
    assert f"what it wrote is in {kernel_log}" in proc.stderr and "last words" not in proc.stderr
    assert "last words" in kernel_log.read_text()
    assert (out / "notebooks" / "02_clean.ipynb").is_file()
    assert not (out / "notebooks" / "03_descriptive.ipynb").exists()
