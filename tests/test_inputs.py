"""A corpus of bad and awkward exports: each gives a clear error or its documented recovery.

An error names the file, the row (as Excel numbers it), the column and what was expected;
a recovery reads the data, and sets aside what it cannot use with the reason.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cmestudy import schema
from cmestudy.clean import cleaning
from cmestudy.fileio import write_csv as safe_csv
from cmestudy.ingest import exports, reading, storage
from cmestudy.problems import DataError
from cmestudy.report import tables
from cmestudy.run.pipeline import validate

from .exports import COUNT_HEADER, ENROL_HEADER, PROJECT_HEADER, PROJECTS, enrolments, valid_raw, write_csv, write_xlsx

YEARS = [2021, 2022, 2023]
KEY = b"test-key-0123456789abcdef"


def check(raw):
    return validate(raw, YEARS)


def clean(raw):
    return cleaning.clean(exports.read_raw_dir(raw, key=KEY), years=YEARS, codebook=schema.load_codebook(raw))


def errors(raw, *needles):
    code, text = check(raw)
    assert code == 2, f"expected unusable data, got:\n{text}"
    for n in needles:
        assert n in text, f"{n!r} not in:\n{text}"
    return text


# ------------------------------------------------------------------ errors
def test_baseline_is_valid(tmp_path):
    code, text = check(valid_raw(tmp_path))
    assert code == 0, text
    assert "6 projects, 93 learners" in text


def test_empty_file(tmp_path):
    raw = valid_raw(tmp_path)
    (raw / "空.csv").write_bytes(b"")
    errors(raw, "空.csv", "the file is empty")


def test_header_only(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, [])
    errors(raw, "项目登记.csv, row 2", "at least one data row")


def test_truncated_row(tmp_path):
    raw = valid_raw(tmp_path)
    rows = [r[:] for r in PROJECTS]
    rows[1] = rows[1][:3]
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    errors(raw, "项目登记.csv, row 3, column '授课方式'", "the row may be truncated")


def test_wrong_encoding_is_reported(tmp_path):
    raw = valid_raw(tmp_path)
    (raw / "坏编码.csv").write_bytes("项目编号,年度\n".encode() + b"\xff\xfe\xfa\x80\x81\n")
    errors(raw, "坏编码.csv", "UTF-8 or GBK/GB18030")


def test_missing_required_column(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "项目登记.csv", PROJECT_HEADER[:3] + PROJECT_HEADER[4:], [r[:3] + r[4:] for r in PROJECTS])
    errors(raw, "项目登记.csv, row 1", "a column 'mode'", "授课方式")


def test_duplicated_project_id(tmp_path):
    raw = valid_raw(tmp_path)
    rows = [r[:] for r in PROJECTS] + [["P21L", "2021", "院级", "直播", "骨科", "重复"]]
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    errors(raw, "项目登记.csv, row 8, column '项目编号'", "a unique project id (also at 项目登记.csv row 2)")


def test_year_outside_the_study_is_set_aside_not_refused(tmp_path):
    raw = valid_raw(tmp_path)
    rows = [r[:] for r in PROJECTS]
    rows[0][1] = "2019"
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    code, text = check(raw)
    assert code == 0 and "5 projects" in text and "quarantined: 20 x outside_years" in text, text
    c = clean(raw)
    aside = c.quarantine[c.quarantine["code"] == "outside_years"]
    assert aside["project_id"].eq("P21L").all() and len(aside) == 1 + 19  # the project and its 19 learners


def test_year_that_is_not_a_number(tmp_path):
    raw = valid_raw(tmp_path)
    rows = [r[:] for r in PROJECTS]
    rows[2][1] = "二〇二二"
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    errors(raw, "row 4, column '年度'", "a four-digit year")


def test_unknown_level_and_mode(tmp_path):
    raw = valid_raw(tmp_path)
    rows = [r[:] for r in PROJECTS]
    rows[0][2] = "区级"
    rows[1][3] = "云课堂"
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    errors(
        raw,
        "row 2, column '项目级别': got '区级'",
        "a level from the codebook",
        "row 3, column '授课方式': got '云课堂'",
        "线上直播",  # every accepted spelling is listed, Chinese ones included
    )


def test_empty_required_value(tmp_path):
    raw = valid_raw(tmp_path)
    rows = [r[:] for r in PROJECTS]
    rows[3][4] = "  "
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    errors(raw, "row 5, column '学科'", "a value in the required column 'discipline'")


@pytest.mark.parametrize("value, shown", [("-3", "-3"), ("2.5", "2.5"), ("十", "十"), ("3人", "3人")])
def test_bad_counts(tmp_path, value, shown):
    raw = valid_raw(tmp_path)
    write_csv(raw / "学员名单.csv", ENROL_HEADER, [r for r in enrolments() if r[0] != "P23F"])
    write_csv(raw / "汇总.csv", COUNT_HEADER, [["P23F", "5", value, "3"]])
    errors(raw, f"汇总.csv, row 2, column '中级': got '{shown}'", "a non-negative whole number of learners")


def test_counts_for_an_unknown_project(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "汇总.csv", COUNT_HEADER, [["P99X", "5", "4", "3"]])
    errors(raw, "汇总.csv, row 2, column '项目编号'", "a project id listed in the project register")


def test_project_given_both_as_counts_and_enrolments(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "汇总.csv", COUNT_HEADER, [["P21L", "5", "4", "3"]])
    errors(raw, "汇总.csv", "as enrolment rows or as counts, not both")


def test_no_project_register(tmp_path):
    raw = valid_raw(tmp_path)
    (raw / "项目登记.csv").unlink()
    errors(raw, "a project register")


def test_excel_formula_without_a_computed_value(tmp_path):
    raw = valid_raw(tmp_path)
    (raw / "项目登记.csv").unlink()
    rows = [r[:] for r in PROJECTS]
    rows[2][1] = "=2021+1"
    write_xlsx(raw / "项目.xlsx", PROJECT_HEADER, rows)
    errors(raw, "项目.xlsx [导出], row 4, column 'B': got '=2021+1'", "formula whose result was never computed")


def test_corrupt_excel_file(tmp_path):
    raw = valid_raw(tmp_path)
    (raw / "坏文件.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    errors(raw, "坏文件.xlsx", "a readable .xlsx workbook")


def test_unclosed_quote(tmp_path):
    raw = valid_raw(tmp_path)
    text = (raw / "项目登记.csv").read_text(encoding="utf-8") + 'P24X,2023,院级,面授,"骨科,未闭合\n'
    (raw / "项目登记.csv").write_text(text, encoding="utf-8")
    errors(raw, "项目登记.csv", "well-formed CSV")


def test_every_problem_is_listed_not_just_the_first(tmp_path):
    raw = valid_raw(tmp_path)
    rows = [r[:] for r in PROJECTS]
    rows[0][1], rows[1][2], rows[2][3] = "19x9", "??", "??"
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    text = errors(raw, "3 problems")
    assert "row 2" in text and "row 3" in text and "row 4" in text


# ------------------------------------------------------------------ recoveries
def test_gbk_csv_with_chinese_headers(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, PROJECTS, encoding="gbk")
    ing = exports.read_raw_dir(raw, key=KEY)
    assert {f.encoding for f in ing.files if f.kind == "projects"} == {"gb18030"}
    assert "脊柱微创技术进展" in set(ing.projects["title"])


def test_utf8_bom_header(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, PROJECTS, encoding="utf-8-sig")
    ing = exports.read_raw_dir(raw, key=KEY)
    assert [f.encoding for f in ing.files if f.kind == "projects"] == ["utf-8-sig"]


def test_utf16_export(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, PROJECTS, encoding="utf-16", delimiter="\t")
    assert len(clean(raw).projects) == 6


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_tab_and_semicolon_delimiters(tmp_path, delimiter):
    raw = valid_raw(tmp_path)
    write_csv(raw / "学员名单.csv", ENROL_HEADER, enrolments(), delimiter=delimiter)
    assert clean(raw).learners["learners"].sum() == 93


def test_mixed_line_endings(tmp_path):
    raw = valid_raw(tmp_path)
    lines = [",".join(PROJECT_HEADER)] + [",".join(r) for r in PROJECTS]
    ends = ["\r\n", "\n", "\r", "\r\n", "\n", "\r", "\n"]
    (raw / "项目登记.csv").write_bytes("".join(ln + e for ln, e in zip(lines, ends)).encode("utf-8"))
    assert len(clean(raw).projects) == 6


def test_excel_with_a_title_row_above_the_header(tmp_path):
    raw = valid_raw(tmp_path)
    (raw / "项目登记.csv").unlink()
    write_xlsx(raw / "项目.xlsx", PROJECT_HEADER, PROJECTS, title_row="天津医院继续医学教育项目一览表（2021-2023）")
    ing = exports.read_raw_dir(raw, key=KEY)
    f = next(f for f in ing.files if f.kind == "projects")
    assert f.header_row == 2 and f.sheet == "导出"
    assert ing.projects["_row"].tolist() == [3, 4, 5, 6, 7, 8]


def test_excel_merged_cells_take_the_value_of_their_first_cell(tmp_path):
    raw = valid_raw(tmp_path)
    (raw / "学员名单.csv").unlink()
    rows = enrolments()
    for r in rows[1:19]:
        r[0] = None  # P21L written once, merged over its 19 learner rows
    write_xlsx(raw / "学员.xlsx", ENROL_HEADER, rows, merge=["A2:A20"])
    c = clean(raw)
    assert c.learners.query("project_id == 'P21L'")["learners"].sum() == 19


def test_ten_thousand_character_field(tmp_path):
    raw = valid_raw(tmp_path)
    rows = [r[:] for r in PROJECTS]
    rows[0][5] = "长" * 10_000
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    c = clean(raw)
    assert len(c.projects.loc[c.projects.project_id == "P21L", "title"].iloc[0]) == 10_000
    rows[0][1] = "X" * 10_000  # and an error about it stays readable
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    text = errors(raw, "row 2, column '年度'")
    assert len(max(text.splitlines(), key=len)) < 400


def test_unknown_columns_are_ignored_and_listed(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "项目登记.csv", PROJECT_HEADER + ["备注"], [r + ["无"] for r in PROJECTS])
    ing = exports.read_raw_dir(raw, key=KEY)
    assert next(f for f in ing.files if f.kind == "projects").ignored_columns == ["备注"]


def test_headers_with_spaces_full_width_brackets_and_english(tmp_path):
    raw = valid_raw(tmp_path)
    header = [" 项目编号 ", "年 度", "Project Level", "授课 方式", "Discipline", "项目名称（全称）"]
    write_csv(raw / "项目登记.csv", header, [[r[0], r[1] + "年", *r[2:]] for r in PROJECTS])
    assert clean(raw).projects["year"].tolist() == [2021, 2021, 2022, 2022, 2023, 2023]


def test_several_files_of_one_kind_are_combined(tmp_path):
    raw = valid_raw(tmp_path)
    rows = enrolments()
    (raw / "学员名单.csv").unlink()
    write_csv(raw / "export (1).csv", ENROL_HEADER, rows[:50])
    write_csv(raw / "export (2).csv", ENROL_HEADER, rows[50:], encoding="gbk")
    assert clean(raw).learners["learners"].sum() == 93


def test_aggregated_counts_with_thousands_separators(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "学员名单.csv", ENROL_HEADER, [r for r in enrolments() if r[0] != "P23F"])
    write_csv(raw / "汇总.csv", COUNT_HEADER, [["P23F", "1,205", "804", ""]])
    c = clean(raw)
    got = c.learners.query("project_id == 'P23F'").set_index("grade")["learners"]
    assert (got["junior"], got["intermediate"], got["senior"]) == (1205, 804, 0)


def test_duplicate_enrolment_is_quarantined_and_counted_once(tmp_path):
    raw = valid_raw(tmp_path)
    rows = enrolments()
    write_csv(raw / "学员名单.csv", ENROL_HEADER, rows + [rows[0]])
    c = clean(raw)
    assert c.learners["learners"].sum() == 93
    q = c.quarantine
    assert q["reason"].tolist() == ["the same learner enrolled more than once in this project"]
    assert q["row"].tolist() == [95] and q["action"].tolist() == ["excluded"]


def test_unknown_and_empty_titles_are_graded_unknown_and_kept(tmp_path):
    raw = valid_raw(tmp_path)
    rows = enrolments() + [["P21L", "S90001", "规培生"], ["P21L", "S90002", ""]]
    write_csv(raw / "学员名单.csv", ENROL_HEADER, rows)
    c = clean(raw)
    assert c.summary["titles_unknown"] == 2 and c.learners["learners"].sum() == 95
    assert set(c.quarantine["value"]) == {"规培生", ""}
    assert set(c.quarantine["action"]) == {"kept; graded unknown, excluded from title tests"}


def test_enrolment_for_a_project_not_in_the_register_is_quarantined(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "学员名单.csv", ENROL_HEADER, enrolments() + [["P00X", "S90001", "医师"]])
    c = clean(raw)
    assert c.quarantine["reason"].tolist() == ["project id not in the project register"]
    assert c.learners["learners"].sum() == 93


def test_unknown_discipline_spelling_with_a_user_codebook(tmp_path):
    raw = valid_raw(tmp_path)
    (raw / "codebook.yml").write_text(
        "values:\n  discipline:\n    Orthopaedics: [骨科, 骨外科]\n    Nursing: [护理]\n    Anaesthesiology: [麻醉]\n",
        encoding="utf-8",
    )
    c = clean(raw)
    assert set(c.projects["discipline"]) == {"Orthopaedics", "Nursing", "Anaesthesiology", "康复医学"}
    assert c.quarantine["reason"].tolist() == ["discipline spelling not in the codebook"]
    assert c.quarantine["action"].tolist() == ["kept as written"]


def test_user_codebook_adds_a_header_alias(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "学员名单.csv", ["课程代码", "学员编号", "职称"], enrolments())
    code, text = check(raw)  # 课程代码 is not a known header: the file is ignored ...
    assert "学员名单.csv" in text and "file ignored" in text and "0 learners" in text
    (raw / "codebook.yml").write_text(
        "tables:\n  enrolments:\n    columns:\n      project_id: {aliases: [课程代码]}\n", encoding="utf-8"
    )
    assert clean(raw).learners["learners"].sum() == 93  # ... until the user's codebook says so


def test_a_file_of_no_known_kind_is_ignored_with_a_warning(tmp_path):
    raw = valid_raw(tmp_path)
    write_csv(raw / "说明.csv", ["日期", "备注"], [["2021-01-01", "系统导出"]])
    code, text = check(raw)
    assert code == 0 and "说明.csv" in text and "file ignored" in text


def test_html_in_data_is_escaped_in_report_tables():
    frame = pd.DataFrame({"projects": [3]}, index=pd.Index(['<script>alert("x")</script>'], name="discipline"))
    page = tables.to_html(tables.layout(frame), "Projects <by> discipline")
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;by&gt;" in page


def test_values_that_start_a_formula_are_defused_in_csv_outputs(tmp_path):
    frame = pd.DataFrame(
        {"discipline": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "骨科"], "n": [1, 2, 3, 4, 5]}
    )
    text = safe_csv(tmp_path / "t.csv", frame).read_text(encoding="utf-8-sig")
    lines = text.splitlines()[1:]
    assert [ln.split(",")[0] for ln in lines] == ['"\'=HYPERLINK(""http://x"")"', "'+1", "'-2", "'@SUM(A1)", "骨科"]


def test_errors_carry_file_row_column_value_and_expectation(tmp_path):
    raw = valid_raw(tmp_path)
    rows = [r[:] for r in PROJECTS]
    rows[4][3] = "广播"
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, rows)
    with pytest.raises(DataError) as exc:
        clean(raw)
    (p,) = exc.value.problems
    assert (p.file, p.row, p.column, p.value) == (
        "项目登记.csv",
        6,
        "授课方式",
        "广播",
    )  # the column as headed in the file
    assert "live" in p.expected and "face_to_face" in p.expected


@pytest.mark.parametrize("variant", ["gbk", "utf-8-sig", "tab", "crlf", "blank-lines"])
def test_large_file_reader_gives_the_same_tables_as_the_small_file_reader(tmp_path, monkeypatch, variant):
    raw = valid_raw(tmp_path)
    rows = enrolments()
    kwargs = {
        "gbk": {"encoding": "gbk"},
        "utf-8-sig": {"encoding": "utf-8-sig"},
        "tab": {"delimiter": "\t"},
        "crlf": {"newline": "\r\n"},
        "blank-lines": {},
    }[variant]
    if variant == "blank-lines":
        rows = rows[:10] + [["", "", ""]] + rows[10:]
    write_csv(raw / "学员名单.csv", ENROL_HEADER, rows, **kwargs)
    slow = exports.read_raw_dir(raw, key=KEY)
    monkeypatch.setattr(reading, "LARGE_FILE_BYTES", 0)
    fast = exports.read_raw_dir(raw, key=KEY)
    for name in ("projects", "enrolments"):
        a, b = getattr(slow, name), getattr(fast, name)
        assert a.astype(str).to_dict("list") == b.astype(str).to_dict("list"), name


def test_large_file_reader_reports_a_ragged_row(tmp_path, monkeypatch):
    raw = valid_raw(tmp_path)
    (raw / "学员名单.csv").write_text("项目编号,学员编号,职称\nP21L,S1,医师\nP21L,S2\n", encoding="utf-8")
    monkeypatch.setattr(reading, "LARGE_FILE_BYTES", 0)
    errors(raw, "学员名单.csv", "well-formed CSV with 3 columns per row")


def test_stored_enrolments_read_back_with_the_same_keys_and_codes(tmp_path):
    raw = valid_raw(tmp_path)
    ingested = exports.read_raw_dir(raw, key=KEY)
    storage.write_ingested(ingested, tmp_path / "processed")
    back = storage.load_ingested(tmp_path / "processed").enrolments
    before = ingested.enrolments
    assert list(back.columns) == list(before.columns)
    assert back["learner_key"].astype("uint64").tolist() == before["learner_key"].astype("uint64").tolist()
    for col in ("project_id", "professional_title", "_file", "_row"):
        assert back[col].astype(str).tolist() == before[col].astype(str).tolist(), col
    again = cleaning.clean(storage.load_ingested(tmp_path / "processed"), years=[2021, 2022, 2023])
    assert again.learners.equals(cleaning.clean(ingested, years=[2021, 2022, 2023]).learners)
