"""How the code is laid out: folders by stage with imports in one direction, no import cycle, no module
over 600 lines, one place for the study's defaults, and each notebook's inputs declared beside it."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from cmestudy import defaults, i18n
from cmestudy.run import cli, pipeline

from .conftest import ROOT, run_cli
from .exports import valid_raw
from .test_cache import executed

PACKAGE = ROOT / "lib" / "cmestudy"
#: The stages in the order a study runs; a stage may import the shared modules and the stages before it.
STAGES = ("ingest", "clean", "analysis", "published", "report", "run")
#: Shared modules at the top of the package: they import only each other.
SHARED = {"paths", "fileio", "defaults", "i18n", "schema", "problems", "lockfile"}
#: Stages whose results are numbers in no language: they import neither the catalogue nor the report.
NO_LANGUAGE = {"analysis", "published"}
MAX_LINES = 600


def package_sources(root: Path = PACKAGE) -> dict[str, str]:
    """Every module of the package by dotted name (``cmestudy.analysis.design``; a package by its name)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path.read_text(encoding="utf-8")
    return out


def imported_modules(name: str, source: str, modules: set[str]) -> set[str]:
    """The package's modules that ``name`` imports, at its top or inside functions (lazy imports count):
    ``from cmestudy.report import tables`` is ``cmestudy.report.tables`` when that is a module."""
    packages = {m.rpartition(".")[0] for m in modules if "." in m}
    package = name if name in packages else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            if module.startswith("cmestudy"):
                out |= {f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("cmestudy")}
    return {m for m in out if m in modules and m != name}


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import cycle of ``graph`` (module -> modules it imports), or None (depth-first search)."""
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [module])):
            return found
    return None


def _graph(sources: dict[str, str]) -> dict[str, set[str]]:
    return {m: imported_modules(m, s, set(sources)) for m, s in sources.items()}


def stage_of(module: str) -> str:
    """``shared`` for the top-level modules and the package itself, else the folder (``run`` for
    ``__main__``, the entry point)."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in SHARED:
        return "shared"
    return "run" if parts[1] == "__main__" else parts[1]


def stage_violations(sources: dict[str, str]) -> list[str]:
    """Every import against the direction of the stages, as "importer -> imported: why"."""
    out = []
    for name, targets in _graph(sources).items():
        here = stage_of(name)
        for target in sorted(targets):
            there = stage_of(target)
            if target == "cmestudy.i18n" and here in NO_LANGUAGE:
                out.append(f"{name} -> {target}: {here} returns numbers; the report stage names them")
            elif there in ("shared", here) or name == "cmestudy":
                continue
            elif here == "shared":
                out.append(f"{name} -> {target}: a shared module imports no stage")
            elif STAGES.index(there) > STAGES.index(here):
                out.append(f"{name} -> {target}: {here} comes before {there}")
    return out


def test_imports_go_one_way_through_the_stages():
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} == set(STAGES)
    assert {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"} == SHARED
    assert stage_violations(package_sources()) == []


@pytest.mark.parametrize(
    ("module", "line", "why"),
    [
        ("cmestudy.analysis.design", "from cmestudy.report import tables", "analysis comes before report"),
        ("cmestudy.analysis.design", "from cmestudy.report.tables import show", "analysis comes before report"),
        ("cmestudy.analysis.design", "    from cmestudy import i18n", "analysis returns numbers"),
        ("cmestudy.published.paper", "import cmestudy.report.narrative", "published comes before report"),
        ("cmestudy.ingest.reading", "from cmestudy.clean import cleaning", "ingest comes before clean"),
        ("cmestudy.schema", "from cmestudy.ingest import reading", "a shared module imports no stage"),
        ("cmestudy.analysis.trends", "from ..report import plotting", "analysis comes before report"),
    ],
)
def test_the_stage_check_rejects_an_import_against_the_direction(module, line, why):
    sources = package_sources()
    body = f"def f():\n{line}\n" if line.startswith(" ") else f"{line}\n"
    sources[module] += "\n" + body
    found = [v for v in stage_violations(sources) if v.startswith(f"{module} -> ")]
    assert len(found) == 1 and why in found[0], found


def test_every_module_is_at_most_600_lines():
    long = {p.relative_to(PACKAGE).as_posix(): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}  # fmt: skip
    assert long == {}


def test_the_package_has_no_import_cycle():
    graph = _graph(package_sources())
    assert "cmestudy.ingest.engines" not in graph["cmestudy.ingest.reading"]
    assert "cmestudy.ingest.reading" not in graph["cmestudy.ingest.engines"]
    assert import_cycle(graph) is None


def test_the_cycle_check_finds_a_lazy_import_back():
    sources = package_sources()
    sources["cmestudy.analysis.crosstab"] += "\ndef g():\n    from cmestudy.analysis import exact\n"
    sources["cmestudy.analysis.exact"] += "\ndef f():\n    from . import crosstab\n"
    cycle = import_cycle(_graph(sources))
    assert cycle is not None and {"cmestudy.analysis.crosstab", "cmestudy.analysis.exact"} <= set(cycle)


def test_de_identification_lives_in_privacy_alone():
    for path in PACKAGE.rglob("*.py"):
        if path.stem != "privacy":
            text = path.read_text(encoding="utf-8")
            assert "def pseudonymise" not in text and "def deidentify" not in text, path.name


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
        "min_cell": defaults.MIN_CELL,
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
