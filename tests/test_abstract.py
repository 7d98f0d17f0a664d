"""The structured abstract opens the report in every format and language, fits its first page, and
states the numbers of the report's tables (read back here from the HTML, the PDF and the Word file)."""

from __future__ import annotations

import csv
import html
import re
import shutil

import pypdf
import pytest

from cmestudy import i18n
from cmestudy.report import abstract, findings


def _text(fragment: str) -> str:
    inline = re.sub(r"</?(?:em|i|strong|b|sub|sup|code)\b[^>]*>", "", fragment)  # text-level tags join their words
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", inline))).strip()


def _abstract(page: str) -> str:
    return _text(re.search(r'<div class="abstract".*?</div>', page, re.S).group(0))


def _csv(out, name) -> list[dict]:
    path = next((out / "tables").glob(f"{name}*.csv"))
    with path.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def _expected_numbers(out) -> list[str]:
    """The numbers the English abstract must state, formatted from the tables' CSV files as the report does."""
    tests = {r["Year"]: r for r in _csv(out, "delivery_mode_professional_title_tests_by_year")}
    design = {r["Year"]: r for r in _csv(out, "delivery_mode_professional_title_by_year_naive_and_design_ba")}
    trend = next(r for r in _csv(out, "live_share_of_learners_by_year") if r["Learners"] == "All titles")
    learners = _csv(out, "learners_enrolments_by_year_and_delivery_mode")
    want = [
        f"{sum(int(r['Live broadcast']) for r in learners):,} live",
        f"{sum(int(r['Face-to-face']) for r in learners):,} face-to-face learners",
        f"z = {float(trend['*z*']):.2f}",
        f"{float(trend['Live share (%) 2021']):.1f}% in 2021",
        f"{float(trend['Live share (%) 2023']):.1f}% in 2023",
    ]
    for year in ("2021", "2022", "2023"):
        t, d = tests[year], design[year]
        n, chi2 = int(t["Delivery mode × title N"]), float(t["Delivery mode × title χ²"])
        f, p = float(d["Rao–Scott *F*"]), float(d["Rao–Scott *p* (*F*)"])
        want += [
            f"{year}: χ²(2, N = {n:,}) = {chi2:.3f}",
            f"F({d['Rao–Scott df']}) = {f:.3f}, p = {i18n.p_value(p, 'en')}",
        ]
    return want


def test_the_abstract_states_the_numbers_of_the_tables_and_says_2021_does_not_survive_clustering(study_run):
    out, _ = study_run
    text = _abstract((out / "report.html").read_text(encoding="utf-8"))
    for label in ("Objective", "Methods", "Results", "Conclusions"):
        assert label in text
    for number in _expected_numbers(out):
        assert number in text, f"{number!r} not in the abstract: {text}"
    # R: survey::svychisq(~mode + grade, svydesign(ids = ~project_id, data = learners_2021)) gives F = 1.73, p = 0.19
    assert "F(1.51, 63.5) = 1.733, p = .191, not significant" in text
    assert "only in 2023" in text and "in 2021 and 2022 it does not survive clustering" in text


def test_the_abstract_opens_the_pdf_on_its_first_page_and_the_word_file(study_run):
    out, _ = study_run
    first = re.sub(r"\s+", " ", pypdf.PdfReader(str(out / "report.pdf")).pages[0].extract_text())
    for label in ("Abstract", "Objective", "Methods", "Results", "Conclusions"):
        assert label in first
    for number in _expected_numbers(out)[:5]:
        assert number.split(" ")[0] in first
    import docx

    paragraphs = [p.text for p in docx.Document(str(out / "report.docx")).paragraphs[:40]]
    opening = re.sub(r"\s+", " ", " ".join(paragraphs))  # p-values are written with no-break spaces
    assert "Abstract" in paragraphs and "Conclusions" in opening
    for number in _expected_numbers(out):
        assert number in opening, number


def test_the_chinese_abstract_follows_alpha_and_confidence(tmp_path, study_run):
    """The abstract is built from the kept numbers in the report's language; a stricter alpha changes
    what it calls significant (2023's F test, p = .0099, is not significant at 0.005)."""
    out, _ = study_run
    kept = findings.load(out)
    assert set(kept) >= {"descriptive", "tests", "trend", "monthly"}
    i18n.set_language("zh")
    try:
        text = _text(abstract.html(kept, {"alpha": 0.005, "confidence": 0.99}, {"reconstruction": True}, [2021, 2023]))
    finally:
        i18n.set_language("en")
    for label in ("目的", "方法", "结果", "结论"):
        assert label in text
    assert "α=0.005" in text and "99%置信区间" in text
    assert "2023年χ²=36.139，P<0.001；以项目为群F=5.787，P=0.010，差异无统计学意义" in text
    assert "以项目为群检验后均无统计学意义" in text  # none of the three years survives at 0.005


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler's pdftotext is not installed")
def test_the_abstract_fits_the_first_page(study_run):
    from . import pdfcheck

    out, _ = study_run
    _, words = pdfcheck.words(out / "report.pdf")
    page_of = {w.text: w.page for w in words}
    assert page_of["Conclusions"] == 1 and page_of["Abstract"] == 1
