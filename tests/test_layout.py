"""How the code is laid out: no import cycle, one place for the study's defaults, and each notebook's inputs
declared beside it."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

from cmestudy import cli, defaults, i18n, pipeline

from .conftest import ROOT, run_cli
from .exports import valid_raw
from .test_cache import executed

PACKAGE = ROOT / "lib" / "cmestudy"


def _imports(path: Path) -> set[str]:
    """The cmestudy modules a module imports, at its top or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cmestudy"):
            parts = node.module.split(".")
            out |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("cmestudy.")}
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    return {m for m in out if m in modules} - {path.stem}


def test_the_package_has_no_import_cycle():
    graph = {p.stem: _imports(p) for p in PACKAGE.glob("*.py")}
    assert "engines" not in graph["reading"] and "reading" not in graph["engines"]
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_de_identification_lives_in_privacy_alone():
    for path in PACKAGE.glob("*.py"):
        if path.stem != "privacy":
            assert "def pseudonymise" not in path.read_text() and "def deidentify" not in path.read_text(), path.name


def _parameters_cell(path: Path) -> dict:
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {
        t.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
    }


def test_the_notebooks_the_command_line_and_the_pipeline_share_one_set_of_defaults():
    expected = {
        "years": defaults.YEARS,
        "alpha": defaults.ALPHA,
        "confidence": defaults.CONFIDENCE,
        "adjust": defaults.ADJUST,
        "lang": defaults.LANG,
        "engine": defaults.ENGINE,
        "scheduler": defaults.SCHEDULER,
    }
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cell = _parameters_cell(path)
        assert {k: cell[k] for k in expected} == expected, path.name
    args = cli.build_parser().parse_args(["run"])
    # the commands' language is the locale's when --lang is not given, the default one when the locale says nothing
    assert args.lang is None and i18n.from_locale({}) == defaults.LANG
    assert {k: getattr(args, k) for k in expected if k != "lang"} == {k: v for k, v in expected.items() if k != "lang"}
    assert (args.cell_timeout, args.jobs) == (defaults.CELL_TIMEOUT, defaults.JOBS)
    cfg = pipeline.RunConfig()
    assert {k: getattr(cfg, k) for k in expected} == expected


def test_a_notebook_that_declares_a_new_input_reruns_when_it_changes(tmp_path):
    raw = valid_raw(tmp_path)
    nbdir = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", nbdir)
    out = tmp_path / "out"
    first = run_cli("run", "--raw", raw, "--out", out, "--notebooks", nbdir, "--no-progress", "--formats", "html")
    assert first.returncode == 0, first.stderr
    notes = out / "processed" / "notes.json"  # a file no notebook reads yet
    notes.write_text("first", encoding="utf-8")
    again = run_cli("run", "--raw", raw, "--out", out, "--notebooks", nbdir, "--no-progress", "--formats", "html")
    assert executed(again.stderr) == set()
    path = nbdir / "03_descriptive.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["metadata"]["cmestudy"]["reads"]["processed"].append("notes.json")
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    declared = run_cli("run", "--raw", raw, "--out", out, "--notebooks", nbdir, "--no-progress", "--formats", "html")
    assert executed(declared.stderr) == {"03_descriptive"}
    notes.write_text("changed", encoding="utf-8")
    changed = run_cli("run", "--raw", raw, "--out", out, "--notebooks", nbdir, "--no-progress", "--formats", "html")
    assert executed(changed.stderr) == {"03_descriptive"}, changed.stderr
