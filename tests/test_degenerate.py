"""Whatever ``validate`` accepts, the study completes, and the report says what could not be computed.

Real exports differ from the default data: a year without face-to-face projects, a title without
learners, one project a year, one year only, a project typed as 2031, projects delivered both ways.
The property test draws such variants of the default data (``tests/variants.py``) and runs the
study's notebooks on each, in this process (:mod:`cmestudy.run.inprocess`: the notebooks' own cells,
without a kernel per notebook); a few whole runs of ``cmestudy run`` check the same on the command
a user types.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from cmestudy.run import inprocess, pipeline

from .conftest import run_cli
from .variants import GRADES, MODES, YEARS, Variant

#: Variants drawn in the test command: two shards, so the workers of `make test` share them.
SHARDS, PER_SHARD = 2, 26
#: What the report shows where a table row cannot be computed, by language.
NOT_COMPUTABLE = {"en": "not computable", "zh": "无法计算"}


@st.composite
def variants(draw) -> Variant:
    years = draw(st.sampled_from([YEARS, YEARS, (2023,), (2021, 2022), (2022, 2023)]))
    projects = {}
    for year in years:
        for mode in MODES:
            projects[(year, mode)] = draw(st.integers(0, 3))
        if not any(projects[(year, m)] for m in MODES):
            projects[(year, draw(st.sampled_from(MODES)))] = 1
    drop = {}
    for year in years:
        if draw(st.integers(0, 2)) == 0:
            drop[year] = draw(st.lists(st.sampled_from(GRADES), min_size=1, max_size=2, unique=True))
    return Variant(
        years=years,
        projects=projects,
        drop_titles=drop,
        stray_year=draw(st.sampled_from([None] * 8 + [2031, 1995])),
        blended=draw(st.sampled_from([0, 0, 1])),
        ungraded=draw(st.sampled_from([0, 0, 5])),
        dates=draw(st.sampled_from([False, False, True])),
    )


def _text(chunks) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", "\n".join(chunks))))


def _study(variant: Variant, folder: Path, lang: str = "en", years=None):
    """validate, then (when it accepts) the five notebooks in this process; returns (exit code,
    validate's text, what the notebooks showed as text or None)."""
    raw = variant.write(folder / "raw")
    code, text = pipeline.validate(raw, years)
    if code:
        return code, text, None
    params = {"raw_dir": str(raw), "processed_dir": str(folder / "processed"), "output_dir": str(folder / "out"),
              "lang": lang, "years": list(years) if years else None}  # fmt: skip
    with inprocess.collected(dpi=0) as shown:
        inprocess.run_study(params)
    return code, text, _text(shown)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_whatever_validate_accepts_the_study_completes_and_says_what_it_could_not_compute(shard, tmp_path_factory):
    ran = []

    @seed(20261206 + shard)
    @settings(max_examples=PER_SHARD, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(variants(), st.sampled_from(["en", "en", "zh"]))
    def check(variant, lang):
        folder = tmp_path_factory.mktemp("variant")
        code, text, shown = _study(variant, folder, lang)
        if variant.stray_year is not None:  # a typo year is a problem of the register, named with its row ...
            assert code == 2 and f"'{variant.stray_year}'" in text and "row " in text, text
            # ... and once --years leaves it out, the study runs without it
            code, text, shown = _study(variant, tmp_path_factory.mktemp("years"), lang, years=variant.years)
        ran.append(shown is not None)
        if code:  # what else validate refuses is refused for a reason it names (an empty enrolment file)
            assert "expected" in text and "Traceback" not in text, text
            return
        assert shown is not None and "Traceback" not in shown
        for bad in (r"\bnan\b", r"\bNaN\b", r"\binf\b", r"\bNone\b", r"\{[a-z_]+\}"):
            assert not re.search(bad, shown), f"{bad!r} in the report: {re.search(bad, shown)}"
        absent = [year for year, what in variant.absent() if what == "mode"]
        if absent and not variant.blended:  # a year with one mode: its test is marked as not computable
            assert NOT_COMPUTABLE[lang] in shown

    check()
    assert sum(ran) >= 0.8 * PER_SHARD, f"only {sum(ran)} of {len(ran)} variants ran the study"


def _issue_case(tmp_path: Path, name: str) -> Path:
    """The data of issue 26: the default data with 2022 lacking face-to-face projects, 2021 lacking
    senior learners, or one project typed as 2031."""
    import pandas as pd

    from cmestudy.schema import load_codebook

    from .conftest import RAW

    projects = pd.read_csv(RAW / "projects.csv", dtype=str, keep_default_na=False)
    enrolments = pd.read_csv(RAW / "enrolments.csv", dtype=str, keep_default_na=False)
    year = enrolments["project_id"].map(projects.set_index("project_id")["year"])
    if name == "no_face_to_face_2022":
        drop = set(projects.loc[(projects.year == "2022") & (projects["mode"] == "face-to-face"), "project_id"])
        projects, enrolments = projects[~projects.project_id.isin(drop)], enrolments[~enrolments.project_id.isin(drop)]
    elif name == "no_senior_2021":
        senior = load_codebook(RAW).grade_titles(enrolments["professional_title"]).eq("senior")
        enrolments = enrolments[~(senior & year.eq("2021"))]
    else:
        projects.loc[5, "year"] = "2031"
    folder = tmp_path / name
    folder.mkdir()
    projects.to_csv(folder / "projects.csv", index=False)
    enrolments.to_csv(folder / "enrolments.csv", index=False)
    return folder


@pytest.mark.parametrize(
    "case, lang, says",
    [
        ("no_face_to_face_2022", "en", "not computable: no face-to-face learners"),
        ("no_senior_2021", "zh", "高级"),
    ],
)
def test_the_cases_of_the_issue_run_to_a_report_that_says_what_it_could_not_compute(tmp_path, case, lang, says):
    raw = _issue_case(tmp_path, case)
    out = tmp_path / "out"
    proc = run_cli("run", "--raw", raw, "--out", out, "--lang", lang, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    page = (out / "report.html").read_text(encoding="utf-8")
    assert says in html.unescape(page)
    assert (out / "report.pdf").stat().st_size > 50_000 and (out / "report.docx").stat().st_size > 50_000
    if case == "no_face_to_face_2022":
        summary = (out / "tables" / "delivery_mode_professional_title_tests_by_year.csv").read_text(encoding="utf-8")
        row_2022 = next(line for line in summary.splitlines() if line.startswith("2022"))
        assert "not computable: no face-to-face learners" in row_2022


def test_a_typo_year_is_refused_with_its_row_and_set_aside_when_years_leave_it_out(tmp_path):
    raw = _issue_case(tmp_path, "typo_2031")
    proc = run_cli("validate", "--raw", raw)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "projects.csv, row 7, column 'year': got '2031'" in proc.stderr, proc.stderr
    ok = run_cli("validate", "--raw", raw, "--years", "2021-2023")
    assert ok.returncode == 0, ok.stderr
    assert "study years 2021, 2022, 2023" in ok.stdout, ok.stdout
    assert re.search(r"quarantined: [\d,]+ x outside_years", ok.stdout), ok.stdout


def test_blended_projects_are_set_aside_with_their_learners_and_a_codebook_can_map_them(tmp_path):
    from cmestudy.clean import cleaning, review
    from cmestudy.ingest import exports
    from cmestudy.schema import load_codebook

    raw = Variant(blended=2).write(tmp_path / "raw")
    code, text = pipeline.validate(raw, None)
    assert code == 0, text
    cleaned = cleaning.clean(exports.read_raw_dir(raw, key=b"k" * 16), codebook=load_codebook(raw))
    steps = review.steps_table(cleaned)["rows"]
    assert steps["step_projects_blended"] == 2
    aside = cleaned.quarantine[cleaned.quarantine["code"] == "blended_mode"]
    assert set(aside["value"][aside["column"] == "mode"]) == {"线上线下结合"} and len(aside) > 2
    (raw / "codebook.yml").write_text("values:\n  mode:\n    live: [线上线下结合]\n", encoding="utf-8")
    mapped = cleaning.clean(exports.read_raw_dir(raw, key=b"k" * 16), codebook=load_codebook(raw))
    assert mapped.summary["projects"] == cleaned.summary["projects"] + 2
    assert mapped.summary.get("projects_blended", 0) == 0


def test_an_unknown_mode_lists_every_accepted_spelling_in_the_users_language(tmp_path):
    from cmestudy import i18n

    raw = Variant().write(tmp_path / "raw")
    projects = (raw / "projects.csv").read_text(encoding="utf-8").splitlines()
    projects[1] = projects[1].replace("live broadcast", "云课堂")
    (raw / "projects.csv").write_text("\n".join(projects) + "\n", encoding="utf-8")
    from cmestudy.clean import cleaning
    from cmestudy.ingest import exports
    from cmestudy.problems import DataError
    from cmestudy.schema import load_codebook

    with pytest.raises(DataError) as info:
        cleaning.clean(exports.read_raw_dir(raw, key=b"k" * 16), codebook=load_codebook(raw))
    [problem] = info.value.problems
    english, chinese = problem.describe("en"), problem.describe("zh")
    assert (
        "线上直播" in english and "面授" in english and "线上线下结合" in english
    )  # every spelling, not the first four
    assert "直播：直播、线上直播" in chinese and i18n.t("label.face_to_face", "zh") in chinese
    assert not re.search(r"[A-Za-z]{3}", chinese.replace("codebook", ""))  # the Chinese spellings only


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0  # fmt: skip


@pytest.mark.slow  # two whole runs on a tmpfs: make test-slow
def test_a_full_disk_ends_the_run_with_one_paragraph_and_a_rerun_resumes(tmp_path, study_run):
    disk = tmp_path / "disk"
    if shutil.which("mount") is None or not _mount_tmpfs(disk, "3m"):
        pytest.skip("a 3 MB tmpfs cannot be mounted here (it needs root)")
    try:
        out = disk / "out"
        proc = run_cli("run", "--out", out, "--no-progress")
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr, proc.stderr
        [message] = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert (
            "the disk is full" in message
            and "could not be written" in message
            and "run the same command again" in message
        )
        assert str(out) in message
        subprocess.run(["mount", "-o", "remount,size=400m", str(disk)], check=True)
        again = run_cli("run", "--out", out, "--no-progress")
        assert again.returncode == 0, again.stderr
        reference = study_run[0] / "tables"
        for csv in sorted(reference.glob("*.csv")):
            assert (out / "tables" / csv.name).read_bytes() == csv.read_bytes(), csv.name
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
