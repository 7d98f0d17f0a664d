"""Exploring in JupyterLab, as a user does after `make report`: open the study notebooks in a real
browser (Debian's Chromium, driven by Playwright), Run All, save; the repository stays clean, the
cached run stays fresh, and tables, figures and the warning box look as in the report.

The project is a copy (a git repository of its own) so that nothing here can dirty this one; the
kernels see it through ``CMESTUDY_ROOT``. Chromium comes from Debian (``.ci/run`` installs it;
``playwright install`` cannot download here); where it is missing the test is skipped and says so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
#: The notebook in front (JupyterLab hides the others).
CURRENT = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run does)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _git(project: Path, *args) -> str:
    return subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A copy of the project with the study run once, and JupyterLab on it as `make lab` starts it."""
    project = tmp_path_factory.mktemp("lab") / "project"
    project.mkdir()
    for name in ("notebooks", "jupyter_server_config.py", "pyproject.toml", ".gitignore"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, project / name)
    shutil.copytree(ROOT / "data" / "raw", project / "data" / "raw")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "-c", "user.email=lab@test", "-c", "user.name=lab", "commit", "-qm", "copy")
    settings = project.parent / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)  # every cell in the page (no virtual scrolling), so that the test sees them all
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}', encoding="utf-8")
    env = dict(os.environ, CMESTUDY_ROOT=str(project), JUPYTER_RUNTIME_DIR=str(project.parent / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(project.parent / "settings"))  # fmt: skip
    first = run_cli("run", "--raw", project / "data" / "raw", "--out", project / "output", "--formats", "html",
                    "--no-progress", env={"CMESTUDY_ROOT": str(project)})  # fmt: skip
    assert first.returncode == 0, first.stderr
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", f"--config={project / 'jupyter_server_config.py'}", "--no-browser",
           f"--port={port}", "--IdentityProvider.token=", "--ServerApp.password="]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # as `make lab` does, only as root
    log = (project.parent / "lab.log").open("w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=project)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail(f"JupyterLab did not start: {(project.parent / 'lab.log').read_text()[-2000:]}")
    yield project, url
    server.terminate()
    server.wait(timeout=30)
    log.close()


#: Every code cell's prompt as the page shows it ("[ ]:", "[*]:", "[3]:").
PROMPTS = "(scope) => [...document.querySelectorAll(scope + ' .jp-CodeCell .jp-InputPrompt')].map(e => e.textContent)"


def _run_all(page, shots: Path | None, notebook: str, lab_log: Path) -> None:
    """Run All Cells and wait until every cell has run or one shows an error.

    JupyterLab runs nothing when Run All comes before the notebook's session has its kernel (it clears
    the cells' execution and the prompts stay "[ ]"), which a first start on a fresh, busy machine
    (CI's) can make happen: Run All is chosen again until a cell is queued or running. A timeout fails
    with the prompts, any dialog, a screenshot and the end of JupyterLab's log, so that CI says why."""
    started = "(scope) => [...document.querySelectorAll(scope + ' .jp-CodeCell .jp-InputPrompt')].some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))"
    done = """(scope) => { const ps = [...document.querySelectorAll(scope + ' .jp-CodeCell .jp-InputPrompt')]
                        .map(e => e.textContent);
                        return document.querySelector(scope + " [data-mime-type='application/vnd.jupyter.stderr']")
                            || (ps.length > 0 && ps.every(t => /\\[\\d+\\]/.test(t))); }"""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        for attempt in range(4):
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            try:
                page.wait_for_function(started, arg=CURRENT, timeout=30_000)
                break
            except PlaywrightTimeout:
                if page.locator(".jp-Dialog").count() or attempt == 3:
                    raise
        page.wait_for_function(done, arg=CURRENT, timeout=300_000)
    except PlaywrightTimeout:
        where = (shots or lab_log.parent) / f"{notebook}-timeout.png"
        page.screenshot(path=str(where))
        dialogs = [d.inner_text() for d in page.locator(".jp-Dialog").all()]
        log = lab_log.read_text(encoding="utf-8", errors="replace")[-3000:] if lab_log.exists() else ""
        pytest.fail(f"{notebook}: cells did not all run; prompts {page.evaluate(PROMPTS, CURRENT)}, "
                    f"dialogs {dialogs}, screenshot {where}\nJupyterLab log:\n{log}")  # fmt: skip


def _run_all_and_save(page, url: str, notebook: str, parameters: str | None = None, shots: Path | None = None,
                      lab_log: Path = Path("lab.log")):  # fmt: skip
    """Open a notebook, optionally replace its parameters cell, Run All, wait for every cell, restore
    the parameters and save. Returns the errors shown and the text of the outputs."""
    page.goto(f"{url}/lab/tree/notebooks/{notebook}.ipynb?reset")  # ?reset: only this notebook open
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    first = page.locator(f"{CURRENT} .jp-CodeCell").first
    original = first.locator(".cm-content").inner_text()
    if parameters is not None:
        _replace_source(page, first, original.replace('lang = "en"', parameters))
    _run_all(page, shots, notebook, lab_log)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    errors = [
        e.inner_text() for e in page.locator(f"{CURRENT} [data-mime-type='application/vnd.jupyter.stderr']").all()
    ]
    shown = page.locator(CURRENT).inner_text()
    if shots is not None:
        for selector, name in ((".cme-table-wrap", "table"), ("figure.cme-figure", "figure"),
                               (".cme-callout.cme-warning", "warning")):  # fmt: skip
            found = page.locator(f"{CURRENT} {selector}")
            if found.count():
                found.first.scroll_into_view_if_needed()
                found.first.screenshot(path=str(shots / f"{notebook}-{name}.png"))
    if parameters is not None:
        _replace_source(page, first, original)
    page.locator(CURRENT).first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')", timeout=30_000
    )
    return errors, shown


def _replace_source(page, cell, source: str) -> None:
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)
    page.keyboard.press("Escape")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_jupyterlab_runs_the_notebooks_saves_them_clean_and_the_cached_run_stays_fresh(lab, lang, tmp_path):
    from playwright.sync_api import sync_playwright

    project, url = lab
    shots = Path(os.environ.get("CMESTUDY_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    notebooks = (
        ["01_ingest", "02_clean", "03_descriptive", "04_chisquare", "05_prospects"]
        if lang == "en"
        else ["04_chisquare"]
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for notebook in notebooks:
            errors, shown = _run_all_and_save(
                page,
                url,
                notebook,
                'lang = "zh"' if lang == "zh" else None,
                shots if lang == "en" else None,
                project.parent / "lab.log",
            )
            assert errors == [], f"{notebook}: {errors}"
            if lang == "zh":
                assert "职称与授课方式" in shown and "各年份检验汇总" in shown
        browser.close()
    assert _git(project, "status", "--porcelain", "notebooks") == ""  # saving wrote the notebooks as committed
    again = run_cli("run", "--raw", project / "data" / "raw", "--out", project / "output", "--formats", "html",
                    "--no-progress", env={"CMESTUDY_ROOT": str(project)})  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stderr, again.stderr  # the cached run still counts as fresh


def test_an_edited_parameter_is_saved_and_reruns_what_uses_it(lab):
    from playwright.sync_api import sync_playwright

    project, url = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/lab/tree/notebooks/04_chisquare.ipynb?reset")
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        first = page.locator(f"{CURRENT} .jp-CodeCell").first
        source = first.locator(".cm-content").inner_text()
        _replace_source(page, first, source.replace("alpha = 0.05 ", "alpha = 0.01 "))
        page.keyboard.press("Control+s")
        page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')")
        browser.close()
    changed = _git(project, "status", "--porcelain", "notebooks").split()
    assert changed == ["M", "notebooks/04_chisquare.ipynb"]
    assert "alpha = 0.01" in (project / "notebooks" / "04_chisquare.ipynb").read_text(encoding="utf-8")
    again = run_cli("run", "--raw", project / "data" / "raw", "--out", project / "output", "--formats", "html",
                    "--no-progress", env={"CMESTUDY_ROOT": str(project)})  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "04_chisquare done in" in again.stderr and "03_descriptive: up to date" in again.stderr
    _git(project, "checkout", "notebooks")
