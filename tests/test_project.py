"""The compendium's own habits: clean notebooks, thin notebooks (dependency lists: test_lock.py)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_five_study_notebooks_exist_in_order():
    assert [p.stem for p in NOTEBOOKS] == ["01_ingest", "02_clean", "03_descriptive", "04_chisquare", "05_prospects"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_carry_no_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: code cells {dirty} carry outputs or execution counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_start_with_a_parameters_cell_and_define_no_functions(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0].get("metadata", {}).get("tags", []), (
        f"{path.name}: first code cell is not tagged parameters"
    )
    params = ast.parse("".join(code[0]["source"]))
    names = {t.id for node in params.body if isinstance(node, ast.Assign) for t in node.targets}
    assert {"raw_dir", "processed_dir", "output_dir", "years", "alpha", "adjust"} <= names
    for i, cell in enumerate(code):
        tree = ast.parse("".join(cell["source"]))
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defs, f"{path.name}: notebooks call cmestudy; they define no functions or classes"
        assert i == 0 or len("".join(cell["source"]).splitlines()) <= 12, (  # parameters: one line each
            f"{path.name}: a cell longer than 12 lines belongs in lib/"
        )


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme and "make report" in readme
    assert "make test" in ci


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter_with_its_help(path, caplog):
    import papermill

    params = papermill.inspect_notebook(str(path))
    assert set(params) == {
        "raw_dir",
        "processed_dir",
        "output_dir",
        "years",
        "alpha",
        "confidence",
        "adjust",
        "horizon_months",
        "change_date",
        "change_kind",
        "lang",
        "engine",
        "scheduler",
        "min_cell",
        "suppress",
    }
    assert all(p["help"] for p in params.values()), [n for n, p in params.items() if not p["help"]]
    assert "Unable to parse" not in caplog.text
