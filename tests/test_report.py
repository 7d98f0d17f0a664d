"""The report: one document, no code, the same tables and figures in HTML and PDF, page numbers."""

from __future__ import annotations

import html
import re

import pypdf


def _pdf_text(path) -> list[str]:
    reader = pypdf.PdfReader(str(path))
    return [re.sub(r"[\s\x00]+", "", p.extract_text() or "") for p in reader.pages]


def _pdf_images(path) -> int:
    """Distinct raster images in the PDF (pages may share one resource dictionary), told apart by their
    encoded streams (decoding each 300-dpi image, as ``page.images`` does, takes 20 s)."""
    import hashlib

    reader = pypdf.PdfReader(str(path))
    seen = set()
    for page in reader.pages:
        xobjects = page.get("/Resources", {}).get("/XObject") or {}
        for ref in xobjects.values():
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                seen.add(hashlib.sha256(obj._data).hexdigest())
    return len(seen)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", html.unescape(re.sub(r"<[^>]+>", "", text)))


def test_report_html_has_the_sections_and_no_code(study_run):
    out, _ = study_run
    page = (out / "report.html").read_text(encoding="utf-8")
    for heading in [
        "Data and provenance",
        "Cleaning",
        "Methods",
        "Projects, disciplines and learners",
        "Professional title and delivery mode",
        "Published vs reproduced",
        "Prospects of online CME",
        "Trend in the live share of learners",
        "Effect sizes beside significance",
        "Growth of projects, learners and disciplines",
        "Which disciplines moved to live delivery",
        "Limitations",
        "Appendix: reproducibility",
    ]:
        assert heading in page, heading
    assert "report.setup_notebook" not in page and "from cmestudy import" not in page
    assert "jp-InputArea" not in page and 'class="highlight' not in page
    assert "injected-parameters" not in page
    assert "Traceback" not in page


def test_pdf_has_page_numbers_on_every_page(study_run):
    out, _ = study_run
    pages = _pdf_text(out / "report.pdf")
    assert len(pages) >= 5
    for i, text in enumerate(pages, 1):
        assert f"Page{i}of{len(pages)}" in text, f"page {i} has no page number"


def test_pdf_shows_every_figure_and_table_of_the_html(study_run):
    out, _ = study_run
    page = (out / "report.html").read_text(encoding="utf-8")
    n_img = len(re.findall(r"<img\b", page))
    assert n_img >= 6
    assert _pdf_images(out / "report.pdf") == n_img
    pdf = "".join(_pdf_text(out / "report.pdf"))
    captions = [_squash(c) for c in re.findall(r'<p class="cme-caption">(.*?)</p>', page, re.S)]
    assert len(captions) >= 15
    missing = [c for c in captions if c not in pdf]
    assert not missing, f"tables of the HTML missing from the PDF: {missing}"
    figcaptions = [_squash(c) for c in re.findall(r"<figcaption>(.*?)</figcaption>", page, re.S)]
    assert [c for c in figcaptions if c not in pdf] == []


def test_first_page_labels_the_reconstruction(study_run):
    out, _ = study_run
    first = _pdf_text(out / "report.pdf")[0]
    assert "Reconstructeddata" in first
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.index("Reconstructed data") < page.index("Contents")


def test_appendix_records_versions_commit_parameters_and_checksums(study_run):
    out, _ = study_run
    page = (out / "report.html").read_text(encoding="utf-8")
    appendix = page[page.index('id="appendix-reproducibility"') :]
    for needle in ["pandas", "scipy", "weasyprint", "git commit", "alpha", "years", "enrolments.csv", "projects.csv"]:
        assert needle in appendix, needle
    from cmestudy.fileio import sha256_file

    from .conftest import RAW

    assert sha256_file(RAW / "enrolments.csv") in appendix


def test_subsection_numbers_count_up_within_each_section(study_run):
    """h2 headings are numbered 6.1, 6.2, ... even though nbconvert nests each in its own cell wrapper."""
    out, _ = study_run
    text = "".join(_pdf_text(out / "report.pdf"))
    for prefix in ("6.1Trendintheliveshare", "6.2Effectsizes", "6.3Growthofprojects", "6.4Whichdisciplines"):
        assert prefix in text, prefix


class _NoPango:
    """An import hook that fails ``import weasyprint`` as it fails where Pango is missing
    (Windows and macOS without it, slim containers): an OSError from cffi's dlopen."""

    def find_spec(self, name, path=None, target=None):
        if name == "weasyprint" or name.startswith("weasyprint."):
            raise OSError("cannot load library 'libpango-1.0-0': error 0x7e")
        return None


def test_without_the_pdf_engine_the_html_and_word_reports_are_written_with_one_message(
    study_run, tmp_path, monkeypatch, caplog
):
    import sys

    from cmestudy.published import paper
    from cmestudy.report import document
    from cmestudy.run import pipeline

    from .conftest import RAW

    out, _ = study_run
    for name in [m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NoPango(), *sys.meta_path])
    assert "libpango" in document.pdf_engine_problem()
    target = tmp_path / "report"
    stale = target / "report.pdf"
    stale.parent.mkdir()
    stale.write_bytes(b"%PDF- an older report")
    executed = sorted((out / "notebooks").glob("0*.ipynb"))
    with caplog.at_level("WARNING", logger="cmestudy"):
        paths = document.build(
            executed, target, pipeline.RunConfig().parameters(), dataset=paper.dataset_info(RAW), lang="en",
            years=[2021, 2022, 2023],
        )  # fmt: skip
    assert sorted(paths) == ["docx", "html"]
    assert (target / "report.html").stat().st_size > 100_000 and (target / "report.docx").stat().st_size > 50_000
    assert not stale.exists()  # an older PDF would not match the new report
    [message] = [r.getMessage() for r in caplog.records if "PDF" in r.getMessage()]
    assert message.startswith("The PDF was not written") and "libpango" in message and "HTML and Word" in message
