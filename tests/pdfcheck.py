"""What a reader sees in a PDF, read back from its words and their boxes (poppler's ``pdftotext
-bbox-layout``): numbers broken across lines and text past the page's margins.

Used on the PDF that WeasyPrint writes and on the PDFs LibreOffice makes of the Word report, as
the office suites of the report's readers lay it out.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

#: A table cell that holds a number as a reader expects it whole: counts (12,476 or 12 476), decimals,
#: percentages, p-values (<.001, <0.001), intervals (0.023–0.056), years, with SPSS's subscript letters.
NUMBER = re.compile(r"^[<>≤≥−+-]?\d[\d,.\u2009\u00a0 ]*(?:[–-]\d[\d,.]*)?%?[a-z]{0,3}$")


@dataclass(frozen=True)
class Word:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


@dataclass(frozen=True)
class Page:
    number: int
    width: float
    height: float


def words(pdf: Path) -> tuple[list[Page], list[Word]]:
    """Every word of the PDF with its box (points, origin top left), and each page's size."""
    xml = subprocess.run(
        [shutil.which("pdftotext") or "pdftotext", "-bbox-layout", str(pdf), "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    root = etree.fromstring(re.sub(rb"<!DOCTYPE[^>]*>", b"", xml), etree.XMLParser(recover=True, huge_tree=True))
    pages, out = [], []
    for n, page in enumerate(root.iter("{*}page"), start=1):
        pages.append(Page(n, float(page.get("width")), float(page.get("height"))))
        for w in page.iter("{*}word"):
            out.append(Word(n, *(float(w.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")), w.text or ""))
    return pages, out


#: The heading of the contents list, whose page numbers stand one above the other ("20" over "21").
CONTENTS = {"Contents", "目录"}


def broken_words(all_words: list[Word], numbers: set[str]) -> list[str]:
    """Texts of ``numbers`` (numbers, or labels that must not break) printed broken over two lines: a
    word and the word just below it, in the same column, that together spell one of them ("12,47"
    above "6", "授课方" above "式"), the upper not one of them on its own."""
    whole = {re.sub(r"\s", "", n) for n in numbers}
    squash = {n for n in whole if len(n) > 1}
    by_page: dict[int, list[Word]] = {}
    for w in all_words:
        by_page.setdefault(w.page, []).append(w)
    for page in {w.page for w in all_words if w.text in CONTENTS}:
        by_page.pop(page, None)
    found = []
    for page_words in by_page.values():
        for a in page_words:
            for b in page_words:
                height = a.y1 - a.y0
                below = 0.5 * height < b.y0 - a.y0 < 1.6 * height and b.x0 < a.x1 + 1 and b.x1 > a.x0 - 1
                if below and (a.text + b.text) in squash and a.text not in whole:  # not two cells, one above the other
                    found.append(f"page {a.page}: {a.text!r} / {b.text!r}")
    return found


def past_margins(pages: list[Page], all_words: list[Word], margin_pt: float, tolerance: float = 3.0) -> list[str]:
    """Words outside the text block (the page less ``margin_pt`` on the left and right)."""
    size = {p.number: p for p in pages}
    return [
        f"page {w.page}: {w.text!r} at x {w.x0:.0f}-{w.x1:.0f} of {size[w.page].width:.0f}"
        for w in all_words
        if w.x0 < margin_pt - tolerance or w.x1 > size[w.page].width - margin_pt + tolerance
    ]


def docx_numbers(docx: Path) -> set[str]:
    """The numbers of every table cell of a Word file (``NUMBER``)."""
    import docx as python_docx

    out = set()
    for table in python_docx.Document(str(docx)).tables:
        for row in table.rows:
            for cell in row.cells:
                text = cell.text.strip()
                if NUMBER.match(text):
                    out.add(text)
    return out


def html_unbreakable(page: str) -> set[str]:
    """What the HTML report keeps on one line: numeric cells (``td.num``) and short labels (``th.nw``)."""
    import html as html_module

    out = set()
    for m in re.finditer(r'<(td|th) class="?(?:num|[^">]*\bnw\b[^">]*)"?[^>]*>(.*?)</\1>', page, re.S):
        text = html_module.unescape(re.sub(r"<[^>]+>", "", m.group(2))).strip()
        if text:
            out.add(text)
    return out
