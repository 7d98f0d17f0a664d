"""A report a Chinese CME office can use as it is: its own exports (Chinese headers and discipline names, an
.xlsx register with a title row, GBK learner lists) give a Chinese report in HTML, PDF and Word in which every
character renders, and tables in the three-line style."""

from __future__ import annotations

import json
import re

import pypdf
import pytest
from docx import Document
from docx.oxml.ns import qn

from .conftest import RAW, run_cli
from .exports import DISCIPLINES_ZH, chinese_exports

#: Words that may stand in a Chinese report: names of statistical methods and their authors, statistical
#: symbols, software, and file formats, as Chinese medical journals write them.
ALLOWED = {
    "Pearson",
    "Fisher",
    "Freeman",
    "Halton",
    "Cramér",
    "Cochran",
    "Armitage",
    "Newcombe",
    "Wilson",
    "Haberman",
    "Smithson",
    "Bonferroni",
    "Holm",
    "Poisson",
    "Cohen",
    "SPSS",
    "statcheck",
    "Phi",
    "CI",
    "SHA",
    "V",
    "P",
    "Z",
    "N",
    "n",
    "t",
    "r",
    "a",
    "b",
    "c",
    "z",
    "Monte",
    "Carlo",
    "Mehta",
    "Patel",
    "Exact",
    "Tests",  # SPSS Exact Tests, the product
    "Rao",
    "Scott",
    "Lumley",
    "Liang",
    "Zeger",
    "Woolf",
    "GEE",
    "OR",
    "ICC",
    "logistic",
    "log",
    "Chisq",  # svychisq's statistic = "Chisq"
    "MAE",
    "MASE",
    "NB",
    "PI",
    "E",  # E[count], the expected count
    "Hyndman",
    "Koehler",
    "F",
    "C",
    "R",  # methods, their authors, symbols (footnote and column letters), and R (whose prop.trend.test is cited)
    "Python",
    "pandas",
    "SciPy",
    "statsmodels",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "WeasyPrint",
    "python",
    "docx",
    "PDF",
    "Word",
    "git",
    "cmestudy",
    "CMESTUDY",  # software
    "Linux",
    "x",
    "UTC",
    "utf",
    "gb",
    "csv",
    "xlsx",  # the machine, the time zone, encodings and file formats
}


@pytest.fixture(scope="module")
def chinese_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("zh")
    raw = chinese_exports(tmp, RAW)
    out = tmp / "out"
    proc = run_cli("run", "--raw", raw, "--out", out, "--lang", "zh", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return raw, out, proc


def _pdf_text(path) -> str:
    return "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(str(path)).pages)


def test_the_pdf_embeds_a_subset_of_a_chinese_font(chinese_run):
    _, out, _ = chinese_run
    reader = pypdf.PdfReader(str(out / "report.pdf"))
    fonts = {
        f["/BaseFont"] for page in reader.pages for f in (v.get_object() for v in page["/Resources"]["/Font"].values())
    }
    cjk = [f for f in fonts if "cjk" in f]
    assert cjk and all(re.match(r"/[A-Z]{6}\+", f) for f in cjk), fonts  # ABCDEF+name: an embedded subset
    assert all("cme-" in f for f in fonts), f"a font not bundled with cmestudy was used: {fonts}"
    assert (out / "report.pdf").stat().st_size < 5_000_000
    text = _pdf_text(out / "report.pdf")
    for word in [
        "数据来源",
        "职称与授课方式",
        "直播",
        "面授",
        "国家级",
        "中级",
        "第 1 页 共",
        "康复医学科",
        "差异有统计学意义",
    ]:
        assert word in text, word


def test_no_executed_notebook_warns_of_a_missing_glyph(chinese_run):
    _, out, _ = chinese_run
    for path in sorted((out / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        streams = "".join(
            "".join(o.get("text", ""))
            for c in nb["cells"]
            for o in c.get("outputs", [])
            if o.get("output_type") == "stream"
        )
        assert "missing glyph" not in streams.lower() and "missing from font" not in streams, (path.name, streams)


def test_the_chinese_pdf_has_no_english_words_but_names_from_the_data(chinese_run):
    raw, out, _ = chinese_run
    page = (out / "report.html").read_text(encoding="utf-8")
    code = " ".join(re.findall(r"<code>(.*?)</code>", page))  # file and command names, written as code
    data = " ".join([p.name for p in raw.iterdir()] + list(DISCIPLINES_ZH.values()) + [code])
    versions = page[page.index('id="appendix-software"') :]
    allowed = (
        ALLOWED | set(re.findall(r"[A-Za-zÀ-ÿ]+", data)) | set(re.findall(r"<td>([A-Za-z][\w.-]*)</td>", versions))
    )
    allowed |= set(re.findall(r"[A-Za-z]+", re.sub(r"<[^>]+>", " ", versions)))  # package names, the platform
    hashes = " ".join(
        re.findall(r"\b[0-9a-f]{16,64}\b", page)
    )  # checksums and the commit, broken across lines in the PDF
    letters = r"[A-Za-zÀ-ÖØ-öø-ÿ]+"
    words = set()
    for token in re.findall(r"[A-Za-zÀ-ÖØ-öø-ÿ0-9_]+", _pdf_text(out / "report.pdf")):
        if re.fullmatch(r"[0-9a-f]+", token) and token in hashes:
            continue
        words |= {w for w in re.findall(letters, token) if w not in allowed}
    assert not words, f"English in the Chinese report: {sorted(words)}"


def _docx_rules(table):
    """The borders a Word table draws: its own (w:tblBorders) and its cells' (w:tcBorders)."""
    tbl = table._tbl.tblPr.find(qn("w:tblBorders"))
    own = {el.tag.split("}")[1]: (el.get(qn("w:val")), el.get(qn("w:sz"))) for el in tbl}
    cells = []
    for r, row in enumerate(table.rows):
        for tc in row._tr.findall(qn("w:tc")):
            borders = tc.tcPr.find(qn("w:tcBorders")) if tc.tcPr is not None else None
            for el in [] if borders is None else borders:
                cells.append((r, el.tag.split("}")[1], el.get(qn("w:val")), el.get(qn("w:sz"))))
    return own, cells


@pytest.mark.parametrize("which", ["zh", "en"])
def test_the_word_report_has_the_tables_and_figures_of_the_html_in_three_line_style(which, chinese_run, study_run):
    out = chinese_run[1] if which == "zh" else study_run[0]
    page = (out / "report.html").read_text(encoding="utf-8")
    doc = Document(str(out / "report.docx"))
    assert len(doc.tables) == len(re.findall(r"<table\b", page)) >= 20
    assert len(doc.inline_shapes) == len(re.findall(r"<img\b", page)) >= 8
    for table in doc.tables:
        own, cells = _docx_rules(table)
        assert own == {
            "top": ("single", "12"),
            "bottom": ("single", "12"),
            "left": ("nil", None),
            "right": ("nil", None),
            "insideH": ("nil", None),
            "insideV": ("nil", None),
        }
        header_rows = {r for r, *_ in cells}
        assert len(header_rows) == 1 and {(side, val, sz) for _, side, val, sz in cells} == {("bottom", "single", "6")}
        assert all(table.rows[r]._tr.trPr.find(qn("w:tblHeader")) is not None for r in range(max(header_rows) + 1))
    headings = [p for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert len([p for p in headings if p.style.name == "Heading 1"]) == 8
    footer = doc.sections[0].footer.paragraphs[0]._p.xml
    assert "PAGE" in footer and "NUMPAGES" in footer


def test_every_run_of_the_chinese_word_report_sets_its_east_asian_and_latin_fonts(chinese_run):
    doc = Document(str(chinese_run[1] / "report.docx"))
    runs = [r for p in doc.paragraphs for r in p.runs] + [
        r for t in doc.tables for row in t.rows for c in row.cells for p in c.paragraphs for r in p.runs
    ]
    assert len(runs) > 500
    for run in runs:
        fonts = run._r.rPr.find(qn("w:rFonts"))
        assert fonts.get(qn("w:eastAsia")) == "宋体", run.text
        assert fonts.get(qn("w:ascii")) in ("Times New Roman", "Courier New"), run.text
    # numbered captions (tables and figures outside the appendix) carry SEQ fields that Word renumbers
    page = (chinese_run[1] / "report.html").read_text(encoding="utf-8")
    body = page[: page.index('id="appendix-reproducibility"')]
    numbered = body.count('class="cme-caption"') + body.count("<figcaption")
    seq = [p for p in doc.paragraphs if p.style.name == "Caption" and "SEQ" in p._p.xml]
    assert len(seq) == numbered > 20


def test_the_chinese_report_states_its_statistics_the_chinese_way(chinese_run):
    _, out, _ = chinese_run
    page = (out / "report.html").read_text(encoding="utf-8")
    assert re.search(r"χ²=\d+\.\d{3}，<em>P</em>&lt;0\.001", page)
    assert "差异有统计学意义" in page
    assert "p &lt; .001" not in page and "p = ." not in page


def test_an_unknown_language_is_refused_with_the_languages_listed(tmp_path):
    proc = run_cli("run", "--raw", RAW, "--out", tmp_path / "out", "--lang", "fr")
    assert proc.returncode == 2
    assert "unknown report language 'fr'; available: en (English), zh (中文)" in proc.stderr


def test_the_word_file_is_made_in_another_process_in_the_reports_language():
    # document.build writes the Word file in a spawned process while WeasyPrint renders the PDF; the
    # child starts in the default language, so word.document must set the report's own
    import io
    import os

    from cmestudy import i18n
    from cmestudy.report import document, word

    assert document._beside(os.getpid)() != os.getpid()
    page = "<html><body><h1>标题</h1><p>正文</p></body></html>"
    before = i18n.get_language()
    made = Document(io.BytesIO(document._beside(word.document, page, "zh")()))
    footer = "".join(t.text for t in made.sections[0].footer._element.iter(qn("w:t")))
    assert "页" in footer and i18n.get_language() == before
