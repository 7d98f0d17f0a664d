"""Incremental runs: unchanged inputs re-execute nothing; a change re-runs what depends on it."""

from __future__ import annotations

import re

import pytest

from .conftest import ROOT, run_cli
from .exports import valid_raw

ALL = {"01_ingest", "02_clean", "03_descriptive", "04_chisquare", "05_prospects"}


def executed(stderr: str) -> set[str]:
    skipped = set(re.findall(r"\] (\w+): up to date", stderr))
    assert skipped <= ALL
    ran = set(re.findall(r"      (\w+) done in", stderr))
    assert not skipped & ran
    return ran


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cache")
    raw = valid_raw(tmp)
    out = tmp / "out"
    first = run_cli("run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html")
    assert first.returncode == 0, first.stderr
    assert executed(first.stderr) == ALL
    return raw, out


def test_a_rerun_with_nothing_changed_executes_nothing(small_study):
    raw, out = small_study
    before = {p: p.stat().st_mtime_ns for p in (out / "report.html",)}
    again = run_cli("run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html")
    assert again.returncode == 0, again.stderr
    assert executed(again.stderr) == set()
    assert "nothing changed" in again.stderr
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_changing_a_parameter_reruns_the_notebooks_that_use_it(small_study):
    raw, out = small_study
    proc = run_cli("run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html", "--alpha", "0.01")
    assert proc.returncode == 0, proc.stderr
    assert executed(proc.stderr) == {"04_chisquare", "05_prospects"}
    assert "0.01" in (out / "report.html").read_text(encoding="utf-8")


def test_changing_a_raw_file_reruns_ingest_and_only_what_its_outputs_change(small_study):
    raw, out = small_study
    # a new alias in the user's codebook: ingest and cleaning re-run, their outputs are identical,
    # so the analysis notebooks do not
    (raw / "codebook.yml").write_text("values:\n  title_grade:\n    junior: [规培医师]\n", encoding="utf-8")
    proc = run_cli("run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html", "--alpha", "0.01")
    assert proc.returncode == 0, proc.stderr
    assert executed(proc.stderr) == {"01_ingest", "02_clean"}
    # a changed enrolment row changes the cleaned counts: everything downstream re-runs
    path = raw / "学员名单.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace("P21L,S00001,住院医师", "P21L,S00001,主治医师"), encoding="utf-8"
    )
    proc = run_cli("run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html", "--alpha", "0.01")
    assert proc.returncode == 0, proc.stderr
    assert executed(proc.stderr) == ALL


def test_the_package_digest_covers_every_stage_folder(tmp_path, monkeypatch):
    """A change to any module of the package (a statistic in analysis/, a label in messages/) reruns the
    notebooks: the digest hashes the whole package, not the folder of the module that computes it."""
    import shutil

    from cmestudy.run import cache

    copy = tmp_path / "cmestudy"
    shutil.copytree(cache.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "PACKAGE_DIR", copy)
    before = cache.package_digest()
    for changed in ("analysis/crosstab.py", "report/templates/report.css", "messages/zh.yml", "schema.py"):
        path = copy / changed
        path.write_bytes(path.read_bytes() + b"\n")
        after = cache.package_digest()
        assert after != before, changed
        before = after
    monkeypatch.undo()
    assert (cache.PACKAGE_DIR / "__init__.py").read_text(encoding="utf-8").startswith('"""cmestudy:')


def test_force_runs_everything(small_study):
    raw, out = small_study
    proc = run_cli(
        "run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html", "--alpha", "0.01", "--force"
    )
    assert proc.returncode == 0, proc.stderr
    assert executed(proc.stderr) == ALL


def test_the_longest_notebook_keeps_its_priority_when_notebooks_share_the_processors(tmp_path):
    import os
    import subprocess
    import sys

    from cmestudy.run.kernels import SHARING_NICENESS, KernelPool

    procs = {n: subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) for n in ("a", "b", "c")}
    try:
        pool = KernelPool("python3", tmp_path)
        pool.pids = {n: p.pid for n, p in procs.items()}
        base = {n: os.getpriority(os.PRIO_PROCESS, p.pid) for n, p in procs.items()}
        pool.prioritise(["a", "b", "c"], {"a": 1.0, "b": 2.0})  # no timing for c: nothing changes
        assert {n: os.getpriority(os.PRIO_PROCESS, p.pid) for n, p in procs.items()} == base
        pool.prioritise(["a", "b", "c"], {"a": 1.0, "b": 5.0, "c": 2.0})
        nice = {n: os.getpriority(os.PRIO_PROCESS, p.pid) for n, p in procs.items()}
        assert nice == {"a": max(base["a"], SHARING_NICENESS), "b": base["b"], "c": max(base["c"], SHARING_NICENESS)}
    finally:
        pool.shutdown()
        for p in procs.values():
            p.kill()
            p.wait()


def _pid_of_kernel(km) -> int:
    """Ask a kernel for its process id, through a client of its own connection file."""
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient()
    client.load_connection_info(km.get_connection_info())
    client.start_channels()
    printed = []
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(
            "import os; print(os.getpid())",
            timeout=60,
            output_hook=lambda m: printed.append(m["content"]["text"]) if m["msg_type"] == "stream" else None,
        )
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
    return int("".join(printed))


def test_kernels_of_two_runs_in_one_folder_never_share_a_socket_and_a_dead_one_is_started_again(tmp_path):
    """The failure this guards against: kernels bound TCP ports that another process could take
    between their choice and their binding ("Address already in use", a traceback on the user's
    terminal), and jupyter_client's default IPC prefix is one name in the working directory, so
    kernels of two runs started there would share socket files and answer each other's clients."""
    import os
    import signal

    from cmestudy.run.kernels import KernelPool

    pools = [KernelPool("python3", tmp_path, tmp_path / f"logs{i}") for i in range(2)]
    try:
        for pool in pools:
            for name in ("a", "b"):
                pool.start(name, "import json", nice=False)
        kms = [pool.managers[n] for pool in pools for n in ("a", "b")]
        if os.name == "posix":
            assert {km.transport for km in kms} == {"ipc"}
            assert len({km.ip for km in kms}) == 4 and not list(tmp_path.glob("kernel-ipc*"))
        for pool in pools:  # every kernel answers its own client: the pid it prints is its own
            for name in ("a", "b"):
                assert _pid_of_kernel(pool.managers[name]) == pool.pids[name]
        dead = pools[0].pids["a"]
        os.kill(dead, signal.SIGKILL)
        pools[0].managers["a"].provisioner.process.wait()
        km = pools[0].take("a")
        assert km.is_alive() and pools[0].pids["a"] != dead
        assert _pid_of_kernel(km) == pools[0].pids["a"]
    finally:
        for pool in pools:
            pool.shutdown()
    assert not any(os.path.exists(pool.sockets) for pool in pools if pool.sockets)
    assert not list((tmp_path / "logs0").glob("*.log")), "a kernel with nothing to say leaves no log"


def test_asking_for_more_formats_builds_the_report_again_without_running_a_notebook(small_study, tmp_path):
    import shutil

    from cmestudy.run import pipeline

    raw, html_only = small_study  # a run with --formats html
    out = tmp_path / "out"
    shutil.copytree(html_only, out)
    assert (out / "report.html").is_file() and not (out / "report.pdf").exists() and not (out / "report.docx").exists()
    every = pipeline.run(pipeline.RunConfig(raw_dir=raw, out_dir=out, processed_dir=out / "processed", progress=False))
    assert sorted(every) == ["docx", "html", "pdf"] and all(p.is_file() for p in every.values())
    assert "nothing changed" in run_cli("run", "--raw", raw, "--out", out, "--no-progress").stderr


def test_a_notebook_run_by_hand_with_other_parameters_never_mixes_with_the_study(tmp_path):
    """The worst case of a notebook run in JupyterLab: pointed at the study's own directories, with other
    study years and in Chinese. The next `cmestudy run` notices that the files it wrote changed, runs
    again what wrote them, and leaves output/ as a clean run does."""
    from cmestudy.run import inprocess

    raw = valid_raw(tmp_path)
    out, clean = tmp_path / "out", tmp_path / "clean"
    for folder in (out, clean):
        proc = run_cli("run", "--raw", raw, "--out", folder, "--no-progress", "--formats", "html")
        assert proc.returncode == 0, proc.stderr
    by_hand = {"raw_dir": str(raw), "processed_dir": str(out / "processed"), "output_dir": str(out), "lang": "zh",
               "years": [2022, 2023]}  # fmt: skip
    for notebook in ("02_clean", "04_chisquare"):
        with inprocess.collected(dpi=0):
            inprocess.run_notebook(ROOT / "notebooks" / f"{notebook}.ipynb", by_hand)
    assert any("年" in p.read_text(encoding="utf-8-sig") for p in (out / "tables").glob("*.csv"))
    again = run_cli("run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html")
    assert again.returncode == 0, again.stderr
    assert "changed outside a run" in again.stderr and executed(again.stderr) == ALL
    for part in ("tables", "findings"):
        mine = sorted(p.relative_to(out) for p in (out / part).rglob("*") if p.is_file())
        theirs = sorted(p.relative_to(clean) for p in (clean / part).rglob("*") if p.is_file())
        assert mine == theirs
        for rel in mine:
            assert (out / rel).read_bytes() == (clean / rel).read_bytes(), rel
    assert "nothing changed" in run_cli("run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html").stderr


@pytest.mark.parametrize("notebook", sorted(ALL))
def test_every_parameter_a_notebook_uses_is_declared_for_its_fingerprint(notebook):
    """A parameter a notebook's cells read but its metadata does not declare would leave the notebook "up to
    date" when that parameter changes (e.g. --suppress-small-cells keeping a report's small counts shown)."""
    import ast
    import json

    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    params = {t.id for t in ast.walk(ast.parse("".join(code[0]["source"]))) if isinstance(t, ast.Name)}
    used = {
        n.id
        for cell in code[1:]
        for n in ast.walk(ast.parse("".join(cell["source"])))
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in params
    }
    declared = set(nb["metadata"]["cmestudy"]["parameters"])
    assert used - declared == set(), f"{notebook} uses {sorted(used - declared)} without declaring them"


def test_suppressing_small_cells_reruns_the_notebooks_that_show_learners_by_title(small_study):
    raw, out = small_study
    result = run_cli("run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html", "--suppress-small-cells")
    assert result.returncode == 0, result.stderr
    assert executed(result.stderr) == {"03_descriptive", "04_chisquare", "05_prospects"}
    again = run_cli("run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html")  # back as it was
    assert again.returncode == 0 and executed(again.stderr) == {"03_descriptive", "04_chisquare", "05_prospects"}
