"""The command line as a user meets it: a full run, a failing notebook, bad directories, --help."""

from __future__ import annotations

import json
import re
import shutil

import nbformat
import pytest

from cmestudy.fileio import checksums
from cmestudy.run import cli

from .conftest import RAW, ROOT, run_cli


def test_run_writes_both_report_files_and_the_executed_notebooks(study_run):
    out, proc = study_run
    assert (out / "report.html").stat().st_size > 10_000
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"
    executed = sorted(p.stem for p in (out / "notebooks").glob("*.ipynb"))
    assert executed == ["01_ingest", "02_clean", "03_descriptive", "04_chisquare", "05_prospects"]
    for name in executed:  # progress line per notebook
        assert f"{name} done in" in proc.stderr
    assert list((out / "figures").glob("*.png")) and list((out / "figures").glob("*.svg"))
    assert list((out / "tables").glob("*.csv"))


def test_executed_notebooks_received_the_parameters(study_run):
    out, _ = study_run
    nb = nbformat.read(out / "notebooks" / "01_ingest.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and str(out) in injected[0].source and "years = None" in injected[0].source


def test_run_leaves_the_raw_directory_unchanged(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    before = checksums(raw)
    proc = run_cli("run", "--raw", raw, "--out", tmp_path / "out", "--no-progress", "--formats", "html")
    assert proc.returncode == 0, proc.stderr
    assert checksums(raw) == before


def _broken_notebooks(tmp_path):
    nbdir = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", nbdir)
    path = nbdir / "02_clean.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell("missing_count = undefined_table['learners']"))
    nbformat.write(nb, path)
    return nbdir


def test_a_failing_notebook_stops_the_run_with_a_readable_error(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("earlier report")
    (out / "report.pdf").write_bytes(b"%PDF-earlier")
    proc = run_cli("run", "--raw", RAW, "--out", out, "--notebooks", _broken_notebooks(tmp_path), "--no-progress")
    assert proc.returncode == 1
    err = proc.stderr
    assert "notebook 02_clean failed in cell" in err
    assert "NameError" in err and "undefined_table" in err
    assert "Traceback" not in err, "the error is one readable message, not a traceback"
    kept = out / "notebooks" / "02_clean.ipynb"
    assert str(kept) in err and kept.is_file()
    partial = json.loads(kept.read_text(encoding="utf-8"))
    assert any(o.get("output_type") == "error" for c in partial["cells"] for o in c.get("outputs", []))
    assert (out / "notebooks" / "01_ingest.ipynb").is_file()  # earlier notebooks' outputs remain
    assert not (out / "notebooks" / "03_descriptive.ipynb").exists()  # the run stopped
    assert (out / "report.html").read_text() == "earlier report"  # earlier report intact
    assert (out / "report.pdf").read_bytes() == b"%PDF-earlier"


@pytest.mark.parametrize("make", ["missing", "empty", "file"])
def test_a_missing_or_empty_raw_directory_is_a_clear_error(tmp_path, make):
    raw = tmp_path / "raw"
    if make == "empty":
        raw.mkdir()
        (raw / "notes.txt.bak").write_text("not data")
    elif make == "file":
        raw.write_text("not a directory")
    proc = run_cli("run", "--raw", raw, "--out", tmp_path / "out", "--no-progress", "--formats", "html")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    expected = {"missing": "does not exist", "empty": "holds no data files", "file": "is not a directory"}[make]
    assert "error: raw data" in proc.stderr and expected in proc.stderr and str(raw) in proc.stderr


def test_help_documents_every_option(capsys):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, sp in sub.choices.items():
        with pytest.raises(SystemExit):
            cli.main([name, "--help"])
        text = capsys.readouterr().out
        for action in sp._actions:
            for opt in action.option_strings:
                assert opt in text, f"cmestudy {name} --help does not mention {opt}"
            if action.option_strings and action.dest != "help":
                assert action.help, f"cmestudy {name} {action.option_strings[0]} has no help text"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--years", "twenty"], "years must look like"),
        (["run", "--alpha", "1.5"], "alpha must lie between 0 and 1"),
    ],
)
def test_bad_arguments_are_rejected_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_run_refuses_invalid_data_with_the_validate_report(tmp_path):
    from .exports import PROJECT_HEADER, PROJECTS, valid_raw, write_csv

    raw = valid_raw(tmp_path)
    rows = [r[:] for r in PROJECTS]
    rows[0][1], rows[2][3] = "20x9", "广播"
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    check = run_cli("validate", "--raw", raw)
    assert check.returncode == 2
    problems = [ln for ln in check.stderr.splitlines() if ln.strip().startswith("- ")]
    assert len(problems) == 2
    proc = run_cli("run", "--raw", raw, "--out", tmp_path / "out", "--no-progress", "--formats", "html")
    assert proc.returncode == 2
    for line in problems:
        assert line in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out" / "report.html").exists()


def test_notebooks_run_top_to_bottom_in_warm_kernels(study_run):
    """Kernels are started and loaded ahead of time, silently: each executed notebook still
    counts its cells 1, 2, 3, ... as a fresh kernel would."""
    out, _ = study_run
    for path in sorted((out / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), path.name


def test_warm_up_runs_only_the_notebooks_own_top_level_imports(tmp_path):
    from cmestudy.run.kernels import import_lines

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("import os  # parameters are injected, not warmed")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_markdown_cell("import markdown"),
        nbformat.v4.new_code_cell("import numpy as np\nx = np.ones(3)\nfrom pandas import (\n    DataFrame)\n"),
        nbformat.v4.new_code_cell("if True:\n    import json\nfrom cmestudy import report\nimport numpy as np"),
    ]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, str(path))
    assert import_lines(path) == "import numpy as np\nfrom cmestudy import report"


ENGLISH_SENTENCE = re.compile(r"\b[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}\b")


def _broken_exports(folder):
    """Exports with what a CME office's often hold: a typo year, an unknown delivery mode, a duplicated
    project id, a count that is not a number; and, in another folder, data that can be used but carry
    warnings: titles no rule grades, enrolments of a project missing from the register."""
    from .exports import COUNT_HEADER, PROJECT_HEADER, PROJECTS, enrolments, write_csv

    bad = folder / "bad"
    bad.mkdir()
    rows = [r[:] for r in PROJECTS] + [["P21L", "2021", "国家级", "直播", "骨科", "重复"]]
    rows[0][1], rows[1][3] = "2031", "云课堂"
    write_csv(bad / "项目登记.csv", PROJECT_HEADER, rows)
    write_csv(bad / "学员名单.csv", ["项目编号", "学员编号", "职称"], [r for r in enrolments() if r[0] != "P23F"])
    write_csv(bad / "汇总.csv", COUNT_HEADER, [["P23F", "5", "三", "3"]])
    usable = folder / "usable"
    usable.mkdir()
    write_csv(usable / "项目登记.csv", PROJECT_HEADER, PROJECTS)
    learners = enrolments()
    learners[0][2], learners[1][2] = "规培生", "护士长"
    learners += [["P99X", f"S9{k:04d}", "主治医师"] for k in range(40)]
    write_csv(usable / "学员名单.csv", ["项目编号", "学员编号", "职称"], learners)
    return bad, usable


@pytest.mark.parametrize("how", ["--lang", "LANG"])
def test_validate_speaks_chinese_with_no_english_sentence_left(tmp_path, how):
    bad, usable = _broken_exports(tmp_path)
    outputs = []
    for raw, code in ((bad, 2), (usable, 0)):
        if how == "--lang":
            proc = run_cli("validate", "--raw", raw, "--lang", "zh")
        else:
            proc = run_cli("validate", "--raw", raw, env={"LANG": "zh_CN.UTF-8"})
        assert proc.returncode == code, proc.stderr
        outputs.append(proc.stdout + proc.stderr)
    broken, warned = outputs
    assert "原始数据无法使用" in broken and "应为" in broken and "第2行" in broken
    assert "数据可以使用" in warned and "警告" in warned and "codebook.yml" in warned and "规培生" in warned
    for text in outputs:
        prose = re.sub(r"“[^”]*”|\S*[/\\]\S*|--\w+|`[^`]*`", "", text)  # values, paths, options and code as written
        assert not ENGLISH_SENTENCE.search(prose), ENGLISH_SENTENCE.search(prose).group(0)
    english = run_cli("validate", "--raw", bad).stderr
    assert "the raw data cannot be used" in english and "expected a four-digit year" not in english
