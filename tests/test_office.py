"""The report as its readers' office suites show it: no number broken across lines, no table past the
page's margins, in the PDF and in the Word file as LibreOffice lays it out (as WPS does: both keep a
table's widths as written, where Word may re-fit them), in English and in Chinese.

The words and their boxes are read back with poppler's ``pdftotext -bbox-layout``
(``tests/pdfcheck.py``). LibreOffice and poppler come from Debian's packages (``.ci/run`` installs
them when they are missing); where they cannot be had, the tests are skipped and say so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from . import pdfcheck

#: The Word report's left and right margins (word.py: 2.5 cm), the PDF's (report.css: 16 mm).
WORD_MARGIN_PT = 2.5 / 2.54 * 72
PDF_MARGIN_PT = 16 / 25.4 * 72

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler's pdftotext is not installed (apt-get install poppler-utils)"
)


def _run(which, study_run, request) -> Path:
    if which == "en":
        return study_run[0]
    return request.getfixturevalue("chinese_run")[1]


def _libreoffice_pdf(docx: Path, folder: Path) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-writer-nogui; .ci/run does)")
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HOME=str(folder))  # a profile of its own: no clash with another soffice
    subprocess.run(
        [soffice, "--headless", "--convert-to", "pdf", "--outdir", str(folder), str(docx)],
        check=True, capture_output=True, timeout=300, env=env,
    )  # fmt: skip
    return folder / (docx.stem + ".pdf")


@pytest.fixture(scope="module")
def chinese_run(tmp_path_factory):
    """The study on exports with Chinese headers and discipline names, reported in Chinese."""
    from .conftest import RAW, run_cli
    from .test_chinese_report import chinese_exports

    tmp = tmp_path_factory.mktemp("zh-office")
    raw = chinese_exports(tmp, RAW)
    out = tmp / "out"
    proc = run_cli("run", "--raw", raw, "--out", out, "--lang", "zh", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return raw, out


@pytest.mark.slow
@needs_poppler
@pytest.mark.parametrize("which", ["en", "zh"])
def test_libreoffice_shows_every_number_of_the_word_report_whole_and_inside_the_margins(
    which, study_run, request, tmp_path
):
    out = _run(which, study_run, request)
    pdf = _libreoffice_pdf(out / "report.docx", tmp_path / "lo")
    pages, words = pdfcheck.words(pdf)
    numbers = pdfcheck.docx_numbers(out / "report.docx")
    assert len(numbers) > 200 and len(pages) > 10
    assert pdfcheck.broken_words(words, numbers) == []
    assert pdfcheck.past_margins(pages, words, WORD_MARGIN_PT) == []


@needs_poppler
@pytest.mark.parametrize("which", ["en", pytest.param("zh", marks=pytest.mark.slow)])
def test_the_pdf_keeps_numbers_and_short_labels_whole_and_inside_the_margins(which, study_run, request):
    """Short labels include the Chinese headers of four characters or fewer (授课方式, 行百分比/%)."""
    out = _run(which, study_run, request)
    page = (out / "report.html").read_text(encoding="utf-8")
    keep = pdfcheck.html_unbreakable(page)
    if which == "zh":
        assert {"授课方式", "行百分比/%"} <= keep
    pages, words = pdfcheck.words(out / "report.pdf")
    assert pdfcheck.broken_words(words, keep) == []
    assert pdfcheck.past_margins(pages, words, PDF_MARGIN_PT) == []


def test_the_checker_finds_a_number_broken_over_two_lines():
    """The check can fail: '12,47' with '6' just below it is the number 12,476 broken."""
    words = [
        pdfcheck.Word(1, 100, 200, 120, 210, "12,47"),
        pdfcheck.Word(1, 110, 209, 115, 219, "6"),
        pdfcheck.Word(1, 200, 200, 210, 210, "2"),
        pdfcheck.Word(1, 200, 209, 210, 219, "1"),  # two cells, 2 above 1: not "21" broken
    ]
    assert pdfcheck.broken_words(words, {"12,476", "21", "2", "1"}) == ["page 1: '12,47' / '6'"]
    pages = [pdfcheck.Page(1, 595, 842)]
    assert pdfcheck.past_margins(pages, words + [pdfcheck.Word(1, 500, 10, 590, 20, "wide")], 70) == [
        "page 1: 'wide' at x 500-590 of 595"
    ]
