"""Every spreadsheet a hospital system exports: .xls and .ods, one sheet per year, total and signature rows,
full-width digits, files that are not exports, titles as people type them, and a year without learners.

Each case is built in the test from the same small study (6 projects over 2021-2023, 93 enrolments) and must
give the same study tables as the clean CSV export of it."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from cmestudy import schema
from cmestudy.clean import cleaning
from cmestudy.ingest import exports, reading
from cmestudy.run.pipeline import validate

from .conftest import run_cli
from .exports import ENROL_HEADER, PROJECT_HEADER, PROJECTS, enrolments, valid_raw, write_csv, write_xlsx

KEY = b"test-key-0123456789abcdef"


def _study(raw):
    c = cleaning.clean(exports.read_raw_dir(raw, key=KEY), codebook=schema.load_codebook(raw))
    return c.projects.reset_index(drop=True), c.learners.reset_index(drop=True), c


@pytest.fixture(scope="module")
def clean_tables(tmp_path_factory):
    """The study tables of the clean CSV export."""
    return _study(valid_raw(tmp_path_factory.mktemp("clean")))


def _same_study(raw, clean_tables):
    projects, learners, cleaned = _study(raw)
    pd.testing.assert_frame_equal(projects, clean_tables[0])
    pd.testing.assert_frame_equal(learners, clean_tables[1])
    return cleaned


def _register_only(tmp_path):
    """A raw directory with the enrolments as CSV and no register yet."""
    raw = tmp_path / "raw"
    raw.mkdir()
    write_csv(raw / "学员名单.csv", ENROL_HEADER, enrolments())
    return raw


def test_an_xls_register_is_read(tmp_path, clean_tables):
    import xlwt

    raw = _register_only(tmp_path)
    wb = xlwt.Workbook()
    ws = wb.add_sheet("项目")
    ws.write(0, 0, "天津医院继续医学教育项目（2021—2023）")  # a title row above the header
    for j, h in enumerate(PROJECT_HEADER):
        ws.write(1, j, h)
    for i, row in enumerate(PROJECTS, 2):
        for j, v in enumerate(row):
            ws.write(i, j, int(v) if j == 1 else v)  # years as numbers, as Excel stores them
    wb.save(str(raw / "项目登记.xls"))
    code, text = validate(raw, None)
    assert code == 0, text
    _same_study(raw, clean_tables)


def test_an_ods_register_is_read(tmp_path, clean_tables):
    raw = _register_only(tmp_path)
    pd.DataFrame(PROJECTS, columns=PROJECT_HEADER).to_excel(raw / "项目登记.ods", engine="odf", index=False)
    code, text = validate(raw, None)
    assert code == 0, text
    _same_study(raw, clean_tables)


def test_a_workbook_with_one_sheet_per_year_is_read_whole(tmp_path, clean_tables):
    import openpyxl

    raw = _register_only(tmp_path)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for year in ("2021", "2022", "2023"):
        ws = wb.create_sheet(f"{year}年")
        ws.append(PROJECT_HEADER)
        for row in PROJECTS:
            if row[1] == year:
                ws.append(row)
    notes = wb.create_sheet("说明")
    notes.append(["本表由继续教育管理系统导出"])
    hidden = wb.create_sheet("旧版")
    hidden.append(PROJECT_HEADER)
    hidden.append(PROJECTS[0])
    hidden.sheet_state = "hidden"
    wb.save(raw / "项目登记.xlsx")
    code, text = validate(raw, None)
    assert code == 0, text
    cleaned = _same_study(raw, clean_tables)
    assert cleaned.summary["quarantine_by_reason"] == {}  # every enrolment found its project
    prov = reading.provenance_table(exports.read_raw_dir(raw, key=KEY)).reset_index()
    sheets = dict(zip(prov["sheet"], prov["table"], strict=True))
    assert sheets == {
        "2021年": "kind_projects",
        "2022年": "kind_projects",
        "2023年": "kind_projects",
        "说明": "skipped_not_recognised",
        "旧版": "skipped_hidden_sheet",
        "": "kind_enrolments",
    }
    assert "项目登记.xlsx [说明]" in text and "项目登记.xlsx [旧版]" in text and "hidden" in text


def test_total_and_signature_rows_are_set_aside_not_refused(tmp_path, clean_tables):
    raw = _register_only(tmp_path)
    rows = [r[:] for r in PROJECTS] + [
        ["合计", "", "", "", "", "6个项目"],
        ["", "", "", "", "", ""],
        ["制表人：（签字）", "", "审核人：", "", "填表日期：2024年1月", ""],
    ]
    write_xlsx(raw / "项目登记.xlsx", PROJECT_HEADER, rows, title_row="继续医学教育项目登记表")
    learners = enrolments() + [["总计", "", "93人"]]
    write_csv(raw / "学员名单.csv", ENROL_HEADER, learners)
    code, text = validate(raw, None)
    assert code == 0, text
    cleaned = _same_study(raw, clean_tables)
    aside = cleaned.quarantine[cleaned.quarantine["code"] == "summary_row"]
    assert sorted(aside["row"].tolist()) == [9, 11, 95]  # 合计 and 制表人 (register), 总计 (learners)
    assert aside["reason"].eq("a total or signature row, not data").all()


def test_full_width_years_and_ids_are_read_as_their_ascii(tmp_path, clean_tables):
    raw = _register_only(tmp_path)
    full = str.maketrans(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ",
    )
    rows = [[r[0].translate(full), r[1].translate(full), *r[2:]] for r in PROJECTS]
    rows[0][0] = "\u3000" + rows[0][0]  # an ideographic space before the id
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    code, text = validate(raw, None)
    assert code == 0, text
    _same_study(raw, clean_tables)


def test_files_that_are_not_exports_are_named_as_not_read(tmp_path):
    raw = valid_raw(tmp_path)
    (raw / "项目说明.docx").write_bytes(b"PK\x03\x04 not really a document")
    (raw / "汇报.pdf").write_bytes(b"%PDF-1.4")
    (raw / "~$项目登记.xlsx").write_bytes(b"lock")
    code, text = validate(raw, None)
    assert code == 0, text
    for name, why in (
        ("项目说明.docx", ".docx files are not read"),
        ("汇报.pdf", ".pdf files are not read"),
        ("~$项目登记.xlsx", "lock file"),
    ):
        line = next((ln for ln in text.splitlines() if name in ln), "")
        assert "warning" in line and why in line, text


def test_many_enrolments_of_unknown_projects_raise_a_plausibility_warning(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(
        raw / "项目登记.csv", PROJECT_HEADER, [r for r in PROJECTS if r[1] == "2021"]
    )  # two sheets' worth missing
    code, text = validate(raw, None)
    assert code == 0
    assert (
        "62 of 93 enrolment rows (67%) name projects missing from the project register: is a sheet or a file "
        "missing?" in text
    )


@pytest.mark.slow  # a whole run; years without learners are in the property test of test_degenerate.py
def test_a_study_year_without_learners_runs_to_the_end(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "学员名单.csv", ENROL_HEADER, [r for r in enrolments() if r[0].startswith("P21")])
    out = tmp_path / "out"
    proc = run_cli("run", "--raw", raw, "--out", out, "--no-progress", "--formats", "html")
    assert proc.returncode == 0, proc.stderr
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "needs learners in at least two study years" in page
    shutil.rmtree(out)


TITLES = {
    "主治医师（中级）": "intermediate",
    "中级职称": "intermediate",
    "副高级": "senior",
    "正高级": "senior",
    "住院医师(规培)": "junior",
    "初级职称": "junior",
    "副主任医师/副教授": "senior",
    "主任医师（正高）": "senior",
    "高级职称": "senior",
    "主治医生": "intermediate",
    "医师（初级）": "junior",
    "规培医师": "junior",
    "技师(初级)": "junior",
    "护士长": "unknown",
    "主管护师 ": "intermediate",
}


def test_titles_as_people_type_them_are_graded_as_a_cme_office_would():
    graded = schema.load_codebook().grade_titles(pd.Series(list(TITLES)))
    assert dict(zip(TITLES, graded, strict=True)) == TITLES


def test_the_codebook_lists_come_before_the_rules(tmp_path):
    raw = valid_raw(tmp_path)
    (raw / "codebook.yml").write_text("values:\n  title_grade:\n    senior: [护士长]\n", encoding="utf-8")
    assert schema.load_codebook(raw).grade_titles(pd.Series(["护士长"])).tolist() == ["senior"]


def test_validate_lists_unknown_titles_with_a_snippet_to_paste(tmp_path):
    import yaml

    raw = valid_raw(tmp_path)
    rows = enrolments()
    for r in rows[:5]:
        r[2] = "护士长"
    rows[5][2] = "规培生"
    write_csv(raw / "学员名单.csv", ENROL_HEADER, rows)
    code, text = validate(raw, None)
    assert code == 0
    assert "    护士长: 5 rows" in text and "    规培生: 1 rows" in text
    snippet = text[text.index("    values:") :]
    pasted = yaml.safe_load("\n".join(ln[4:] for ln in snippet.splitlines()))
    assert pasted == {"values": {"title_grade": {"unknown": ["护士长", "规培生"]}}}
    (raw / "codebook.yml").write_text(yaml.safe_dump(pasted, allow_unicode=True), encoding="utf-8")
    assert validate(raw, None)[0] == 0  # the pasted snippet is a valid codebook
