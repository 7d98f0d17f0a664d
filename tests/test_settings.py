"""Right at every setting: alpha and confidence kept apart and named in every caption, study years chosen
without refusing the others, validate and run reading the same codebook, paths kept private, broken bytes
named by row, the same problem on many rows reported once, and the report's numbers equal the library's."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from lxml import html as lhtml

from cmestudy.analysis import crosstab, trends
from cmestudy.clean import cleaning
from cmestudy.ingest import exports
from cmestudy.run.pipeline import validate

from .conftest import RAW, run_cli
from .exports import ENROL_HEADER, PROJECT_HEADER, PROJECTS, enrolments, valid_raw, write_csv


def _text(page: str) -> str:
    """The visible text of a report page, the stylesheet and images left out."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _tables(page: str) -> dict[str, list[list[str]]]:
    """Every table of the report by its caption (without the number), as rows of cell texts."""
    root = lhtml.fromstring(page)
    out = {}
    for wrap in root.find_class("cme-table-wrap"):
        caption = wrap.find_class("cme-caption")
        table = wrap.find(".//table")
        if caption and table is not None:
            out[caption[0].text_content().strip()] = [[c.text_content().strip() for c in tr] for tr in table.iter("tr")]
    return out


@pytest.fixture(scope="module")
def strict_run(tmp_path_factory):
    """The default data at alpha 0.01 with 99% intervals."""
    out = tmp_path_factory.mktemp("strict") / "out"
    proc = run_cli(
        "run",
        "--raw",
        RAW,
        "--out",
        out,
        "--no-progress",
        "--formats",
        "html",
        "--alpha",
        "0.01",
        "--confidence",
        "0.99",
    )
    assert proc.returncode == 0, proc.stderr
    return out


def test_a_run_at_99_percent_confidence_has_no_95_percent_left(strict_run):
    page = (strict_run / "report.html").read_text(encoding="utf-8")
    text = _text(page)
    assert "95%" not in text and "95 %" not in text
    assert text.count("99%") >= 8
    assert "±2.58" in text and "1.96" not in text  # adjusted residuals flagged at the 1% level


def test_every_interval_of_the_99_percent_run_is_the_99_percent_one(strict_run):
    study = cleaning.load_processed(strict_run / "processed")
    tables = _tables((strict_run / "report.html").read_text(encoding="utf-8"))
    summary = tables["Delivery mode × professional title: tests by year"]
    for row in summary:
        if row and row[0] in {"2021", "2022", "2023"}:
            from cmestudy.analysis import describe

            v = crosstab.crosstab_tests(describe.mode_by_title(study.learners, int(row[0])), confidence=0.99).cramers_v
            assert f"{v.ci_low:.3f}–{v.ci_high:.3f}" in row, (row, v)
    changes = trends.live_share_changes(study.learners, study.years, confidence=0.99)
    shown = tables["Year-on-year change in the live share of learners (percentage points, 99% CI)"]
    first = changes.iloc[0]
    assert any(f"{first['ci_low_points']:.1f}" in r and f"{first['ci_high_points']:.1f}" in r for r in shown)


def test_the_reports_statistics_equal_what_cmestudy_stats_computes(study_run):
    """Chi-square, p, V and the pairwise tests printed in the report, recomputed from the processed data."""
    from cmestudy import i18n
    from cmestudy.analysis import association

    out, _ = study_run
    study = cleaning.load_processed(out / "processed")
    tests = association.mode_title_tests(study.learners, study.years)
    tables = _tables((out / "report.html").read_text(encoding="utf-8"))
    rows = {r[0]: r for r in tables["Delivery mode × professional title: tests by year"] if r and r[0].isdigit()}
    assert set(rows) == {"2021", "2022", "2023"}
    for year, t in tests.items():
        r = t.result
        expected = [
            i18n.integer(r.n, "en"),
            f"{r.pearson.statistic:.3f}",
            str(r.pearson.df),
            i18n.p_value(r.pearson.pvalue, "en"),
            f"{r.cramers_v.estimate:.3f}",
        ]
        assert rows[str(year)][1:6] == expected
        pair_chi2 = [f"{s:.3f}" for s in t.pairwise["statistic"]]
        assert [rows[str(year)][8], rows[str(year)][10]] == pair_chi2
        pairs = tables[
            f"{year}: pairwise comparisons with intermediate title (2 × 2, Pearson, no continuity correction)"
        ]
        assert [p[2] for p in pairs[1:]] == pair_chi2
        assert [p[5] for p in pairs[1:]] == [i18n.p_value(p, "en") for p in t.pairwise["pvalue_adjusted"]]


def test_the_report_shows_no_folder_of_the_machine_that_ran_it(study_run):
    out, _ = study_run
    page = (out / "report.html").read_text(encoding="utf-8")
    for folder in (out, out / "processed", RAW.parent.parent):
        assert str(folder) not in page
    assert "data/raw" in page  # the raw folder, relative to the project


def test_validate_reads_the_codebook_beside_the_data(tmp_path):
    raw = valid_raw(tmp_path)
    rows = [r[:] for r in PROJECTS]
    rows[0][3] = "云课堂直播"
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    code, text = validate(raw, None)
    assert code == 2 and "云课堂直播" in text
    (raw / "codebook.yml").write_text("values:\n  mode:\n    live: [云课堂直播]\n", encoding="utf-8")
    code, text = validate(raw, None)
    assert code == 0, text


def test_choosing_study_years_sets_the_others_aside(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("run", "--raw", RAW, "--out", out, "--no-progress", "--formats", "html", "--years", "2022-2023")
    assert proc.returncode == 0, proc.stderr
    study = cleaning.load_processed(out / "processed")
    assert study.years == [2022, 2023] and set(study.projects["year"]) == {2022, 2023}
    q = pd.read_csv(out / "processed" / "quarantine.csv", encoding="utf-8-sig")
    aside = q[q["code"] == "outside_years"]
    assert aside["column"].eq("year").sum() == 43  # the projects of 2021 (21 live, 22 face-to-face)
    assert aside["column"].eq("project_id").sum() == 9608 + 2868  # their enrolments (learners of 2021)
    assert study.summary["projects_outside_years"] == 43
    text = _text((out / "report.html").read_text(encoding="utf-8"))
    assert "Projects outside the study years (set aside)" in text and "2022–2023" in text


def test_without_years_the_study_years_are_those_of_the_register(tmp_path):
    raw = valid_raw(tmp_path)
    rows = PROJECTS + [["P24L", "2024", "院级", "直播", "骨科", "新项目"]]
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    c = cleaning.clean(exports.read_raw_dir(raw, key=b"k" * 16))
    assert c.summary["years"] == [2021, 2022, 2023, 2024] and c.summary["projects_outside_years"] == 0


@pytest.mark.parametrize("large", [False, True], ids=["small file", "file read by Arrow"])
def test_a_nul_byte_is_a_clear_error_naming_the_file_and_row(tmp_path, large, monkeypatch):
    if large:
        monkeypatch.setattr("cmestudy.ingest.textfiles.LARGE_FILE_BYTES", 100)
        monkeypatch.setattr("cmestudy.ingest.reading.LARGE_FILE_BYTES", 100)
    raw = valid_raw(tmp_path)
    rows = enrolments()
    rows[20][2] = "主治\x00医师"
    write_csv(raw / "学员名单.csv", ENROL_HEADER, rows)
    code, text = validate(raw, None)
    assert code == 2, text
    assert "学员名单.csv, row 22" in text and "NUL" in text


def test_a_damaged_utf8_byte_is_named_by_its_row_not_read_as_gbk(tmp_path):
    raw = valid_raw(tmp_path)
    path = raw / "学员名单.csv"
    data = path.read_bytes()
    lines = data.split(b"\n")
    lines[30] = lines[30][:-2] + b"\xff" + lines[30][-1:]  # the title of row 31 loses a byte
    path.write_bytes(b"\n".join(lines))
    code, text = validate(raw, None)
    assert code == 2 and "学员名单.csv, row 31" in text and "UTF-8" in text, text


def test_the_same_problem_on_many_rows_is_reported_once(tmp_path):
    raw = valid_raw(tmp_path)
    many = [[f"X{i:03d}", "2021", "院级", "云课堂直播" if i < 21 or i > 43 else "直播", "骨科", "t"] for i in range(72)]
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, PROJECTS + many)
    code, text = validate(raw, None)
    assert code == 2
    lines = [ln for ln in text.splitlines() if "云课堂直播" in ln]
    assert len(lines) == 1, text
    assert "rows 8-28, 52-79" in lines[0] and "column '授课方式'" in lines[0]


def test_tables_carry_no_index_name_rows_and_no_internal_codes(study_run):
    from cmestudy import i18n

    out, _ = study_run
    page = (out / "report.html").read_text(encoding="utf-8")
    root = lhtml.fromstring(page)
    for table in root.find_class("cme-table"):
        for tr in table.iter("tr"):
            if tr.getparent().tag == "thead":
                assert any("corner" not in (th.get("class") or "") for th in tr), "a header row of index names only"
    visible = _text(re.sub(r"<code>.*?</code>", " ", page, flags=re.S))
    codes = [k.split(".", 1)[1] for k in i18n.catalogue("en") if k.startswith("label.") and "_" in k]
    shown = sorted(c for c in codes if re.search(rf"(?<![\w/.-]){re.escape(c)}(?![\w/.-])", visible))
    assert not shown, f"internal codes in the report: {shown}"
    assert "<em>p</em>\u00a0&lt;\u00a0.001" in page  # a p-value never breaks across lines
