"""The study report as a Word document, built from the report's HTML: same content, Word's own parts.

:func:`document` reads the assembled HTML report (:mod:`cmestudy.report.document`) and writes a
``.docx`` with python-docx:

* headings as Word's Heading 1 and Heading 2 styles, numbered as in the PDF (the
  navigation pane and a table of contents work);
* every table as a native Word table in the three-line style of Chinese and most medical
  journals (三线表): a 1.5 pt rule above and below the table, a 0.75 pt rule under the
  header, no vertical or other rules (python-docx has no border API, so ``w:tblBorders``
  and ``w:tcBorders`` are written directly); header rows repeat on each page;
* captions above tables and below figures with Word ``SEQ`` fields, so Word renumbers
  them when tables are added; figures at their print resolution (300 dpi PNG);
* "Page N of M" (第 N 页 共 M 页) in the footer with ``PAGE`` and ``NUMPAGES`` fields;
* on every run, the Latin font Times New Roman and the East Asian font 宋体 (SimSun):
  Word applies a font to Chinese characters only through the run's ``w:eastAsia`` font.

Text sizes follow Chinese typesetting (五号 10.5 pt body, 小五 9 pt tables).
"""

from __future__ import annotations

import base64
import io
import re
import string

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt, RGBColor
from lxml import html as lhtml

from cmestudy import i18n
from cmestudy.report.textwidth import max_width_pt
from cmestudy.report.wordtables import CELL_MARGIN_PT, Cell, plan

LATIN_FONT = "Times New Roman"
EAST_ASIAN_FONT = "宋体"
MONO_FONT = "Courier New"
BODY_PT, CAPTION_PT = 10.5, 9  # 五号 body; tables 小五 or smaller (cmestudy.report.wordtables)
RULE_OUTER, RULE_HEADER = 12, 6  # eighths of a point: 1.5 pt and 0.75 pt
TEXT_WIDTH_CM = 16.0


# --------------------------------------------------------------------------- fonts and runs
def set_fonts(run_or_style, latin: str = LATIN_FONT, east_asian: str = EAST_ASIAN_FONT) -> None:
    """Set the Latin and the East Asian font of a run or a style (``w:rFonts``)."""
    rpr = run_or_style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), latin)
    fonts.set(qn("w:eastAsia"), east_asian)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)


def add_run(paragraph, text: str, bold=False, italic=False, mono=False, sup=False, sub=False, size=None):
    run = paragraph.add_run(text)
    run.bold, run.italic = bold or None, italic or None
    if sup:
        run.font.superscript = True
    if sub:
        run.font.subscript = True
    if size:
        run.font.size = Pt(size)
    set_fonts(run, MONO_FONT if mono else LATIN_FONT)
    return run


def _inline(paragraph, node, size=None, bold=False, italic=False, mono=False, sup=False, sub=False) -> None:
    """Add the text of an HTML element to a paragraph as runs, keeping bold, italic, code, super/subscript."""
    tag = node.tag if isinstance(node.tag, str) else ""
    bold = bold or tag in ("strong", "b")
    italic = italic or tag in ("em", "i")
    mono = mono or tag == "code"
    sup = sup or tag == "sup"
    sub = sub or tag == "sub"
    if tag == "br":
        run = paragraph.add_run()
        set_fonts(run)
        run.add_break()
    elif node.text:
        add_run(paragraph, _space(node.text), bold, italic, mono, sup, sub, size)
    for child in node:
        if isinstance(child.tag, str):
            _inline(paragraph, child, size, bold, italic, mono, sup, sub)
        if child.tail:
            add_run(paragraph, _space(child.tail), bold, italic, mono, sup, sub, size)


def _space(text: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", text)


def _field(paragraph, instruction: str, cached: str, size=None) -> None:
    """A Word field (``PAGE``, ``NUMPAGES``, ``SEQ Table``) showing ``cached`` until Word updates it."""

    def char(kind):
        run = add_run(paragraph, "", size=size)
        fld = OxmlElement("w:fldChar")
        fld.set(qn("w:fldCharType"), kind)
        run._r.append(fld)

    char("begin")
    run = add_run(paragraph, "", size=size)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run._r.append(instr)
    char("separate")
    add_run(paragraph, cached, size=size)
    char("end")


def _template_with_fields(paragraph, template: str, fields: dict[str, tuple[str, str]], size=None, bold=False):
    """Write a catalogue template whose placeholders are Word fields: {name: (instruction, cached)}."""
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            add_run(paragraph, literal, bold=bold, size=size)
        if name:
            instruction, cached = fields[name]
            _field(paragraph, instruction, cached, size)


# --------------------------------------------------------------------------- borders
#: Elements that must follow a property element inside its parent (the order of the OOXML schema).
AFTER = {
    "w:tblBorders": ("w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription"),
    "w:tcBorders": ("w:shd", "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark"),
    "w:noWrap": ("w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark"),
    "w:tblCellMar": ("w:tblLook", "w:tblCaption", "w:tblDescription"),
    "w:pBdr": (
        "w:shd",
        "w:tabs",
        "w:suppressAutoHyphens",
        "w:kinsoku",
        "w:wordWrap",
        "w:overflowPunct",
        "w:topLinePunct",
        "w:autoSpaceDE",
        "w:autoSpaceDN",
        "w:bidi",
        "w:adjustRightInd",
        "w:snapToGrid",
        "w:spacing",
        "w:ind",
        "w:contextualSpacing",
        "w:mirrorIndents",
        "w:suppressOverlap",
        "w:jc",
        "w:textDirection",
        "w:textAlignment",
        "w:textboxTightWrap",
        "w:outlineLvl",
        "w:divId",
        "w:cnfStyle",
        "w:rPr",
        "w:sectPr",
        "w:pPrChange",
    ),
    "w:tblHeader": ("w:tblCellSpacing", "w:jc", "w:hidden", "w:ins", "w:del", "w:trPrChange"),
}
AFTER["w:shd"] = AFTER["w:pBdr"][1:]


def insert_ordered(parent, element) -> None:
    """Insert a property element where the schema puts it: before the first of its successors present."""
    tag = element.tag
    name = next(k for k in AFTER if qn(k) == tag)
    for successor in AFTER[name]:
        found = parent.find(qn(successor))
        if found is not None:
            found.addprevious(element)
            return
    parent.append(element)


def _borders(parent, tag: str, sides: dict[str, int | None]) -> None:
    """Write ``w:tblBorders``/``w:tcBorders``: each side a single rule of ``sz`` eighths of a point, or none."""
    box = parent.find(qn(tag))
    if box is None:
        box = OxmlElement(tag)
        insert_ordered(parent, box)
    for side, size in sides.items():
        el = OxmlElement(f"w:{side}")
        if size:
            el.set(qn("w:val"), "single")
            el.set(qn("w:sz"), str(size))
            el.set(qn("w:space"), "0")
            el.set(qn("w:color"), "000000")
        else:
            el.set(qn("w:val"), "nil")
        box.append(el)


def three_line(table, header_rows: int) -> None:
    """Rules of a three-line table: 1.5 pt above and below the table, 0.75 pt under the header."""
    tblPr = table._tbl.tblPr
    _borders(
        tblPr,
        "w:tblBorders",
        {"top": RULE_OUTER, "left": None, "bottom": RULE_OUTER, "right": None, "insideH": None, "insideV": None},
    )
    if header_rows:
        # the cells of the last header row themselves (a cell merged down from above ends there)
        for tc in table.rows[header_rows - 1]._tr.tc_lst:
            _borders(tc.get_or_add_tcPr(), "w:tcBorders", {"bottom": RULE_HEADER})
        for row in table.rows[:header_rows]:
            insert_ordered(row._tr.get_or_add_trPr(), OxmlElement("w:tblHeader"))


def _cell_text(node) -> str:
    """A cell's text as printed: its line breaks (``<br>``) as newlines, runs of spaces as one."""
    parts = [node.text or ""]
    for child in node.iter():
        if child is node:
            continue
        if child.tag == "br":
            parts.append("\n")
        elif child.text:
            parts.append(child.text)
        if child.tail:
            parts.append(child.tail)
    return "\n".join(_space(line).strip() for line in "".join(parts).split("\n"))


def _fixed_widths(table, widths_pt: list[float]) -> None:
    """The table's widths in every place a client reads them: the grid columns (``w:gridCol``), each
    cell (``w:tcW``, a merged cell the sum of its columns) and the table (``w:tblW``); and the cells'
    left and right margins (``w:tblCellMar``), which the widths include."""
    for c, width in enumerate(widths_pt):
        table.columns[c].width = Pt(width)
    for row in table.rows:
        col = 0
        for tc in row._tr.tc_lst:
            span = tc.grid_span
            tc.width = Pt(sum(widths_pt[col : col + span]))
            col += span
    tblPr = table._tbl.tblPr
    tblW = tblPr.find(qn("w:tblW"))
    if tblW is None:
        tblW = OxmlElement("w:tblW")
        tblPr.append(tblW)
    tblW.set(qn("w:type"), "dxa")
    tblW.set(qn("w:w"), str(round(sum(widths_pt) * 20)))
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(round(CELL_MARGIN_PT * 20)))
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    insert_ordered(tblPr, margins)


# --------------------------------------------------------------------------- the writer
class Writer:
    """Walks the report's HTML and writes each block into the Word document."""

    def __init__(self, lang: str):
        self.lang = lang
        self.doc = Document()
        self.h1 = self.h2 = self.tables = self.figures = 0
        self._styles()
        self._page()

    def _styles(self) -> None:
        styles = self.doc.styles
        normal = styles["Normal"]
        normal.font.size = Pt(BODY_PT)
        set_fonts(normal)
        normal.paragraph_format.space_after = Pt(4)
        normal.paragraph_format.line_spacing = 1.25
        for name, size in (
            ("Title", 22),
            ("Subtitle", 13),
            ("Heading 1", 15),
            ("Heading 2", 12),
            ("Heading 3", 10.5),
            ("Caption", CAPTION_PT),
            ("List Bullet", BODY_PT),
        ):
            style = styles[name]
            style.font.size = Pt(size)
            set_fonts(style)
            if name.startswith(("Heading", "Title", "Caption")):
                style.font.color.rgb = RGBColor(0x11, 0x22, 0x33)
                style.font.bold = name != "Title" or None
                style.font.italic = False
        styles["Caption"].paragraph_format.space_before = Pt(6)
        styles["Subtitle"].font.italic = False
        styles["Subtitle"].font.color.rgb = RGBColor(0x55, 0x55, 0x55)
        styles["Heading 1"].paragraph_format.page_break_before = True

    def _page(self) -> None:
        section = self.doc.sections[0]
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
        section.left_margin = section.right_margin = Cm(2.5)
        section.top_margin, section.bottom_margin = Cm(2.2), Cm(2.2)
        footer = section.footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _template_with_fields(
            footer, i18n.t("doc.page_footer"), {"page": ("PAGE", "1"), "pages": ("NUMPAGES", "1")}, size=8
        )

    # ---- blocks
    def paragraph(self, node, style=None, size=None):
        p = self.doc.add_paragraph(style=style)
        _inline(p, node, size=size)
        return p

    def heading(self, node, level: int, numbered: bool):
        text = _space(node.text_content()).strip()
        if numbered and level == 1:
            self.h1 += 1
            self.h2 = 0
            text = i18n.t("doc.h1_number", n=self.h1) + text
        elif numbered and level == 2:
            self.h2 += 1
            text = f"{self.h1}.{self.h2} {text}"
        p = self.doc.add_heading(level=min(level, 3))
        add_run(p, text)

    def callout(self, node):
        for child in node.iter("p"):
            p = self.paragraph(child)
            ppr = p._p.get_or_add_pPr()
            shd = OxmlElement("w:shd")
            warning = "cme-warning" in (node.get("class") or "")
            shd.set(qn("w:val"), "clear")
            shd.set(qn("w:color"), "auto")
            shd.set(qn("w:fill"), "FDF0EE" if warning else "EEF5FB")
            _borders(ppr, "w:pBdr", {"left": 24})
            insert_ordered(ppr, shd)

    def caption(self, kind: str, text_node, numbered: bool):
        p = self.doc.add_paragraph(style="Caption")
        if numbered:
            if kind == "table":
                self.tables += 1
                n = self.tables
            else:
                self.figures += 1
                n = self.figures
            seq = i18n.t(f"doc.word_seq_{kind}")
            _template_with_fields(
                p, i18n.t(f"doc.{kind}_prefix"), {"n": (f"SEQ {seq} \\* ARABIC", str(n))}, size=CAPTION_PT, bold=True
            )
        _inline(p, text_node, size=CAPTION_PT)
        if kind == "table":
            p.paragraph_format.keep_with_next = True
        if self.lang == "zh":  # Chinese journals centre captions, as the PDF does
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        return p

    def table(self, node, numbered: bool, caption=None):
        head = [tr for tr in node.iter("tr") if tr.getparent().tag == "thead"]
        body = [tr for tr in node.iter("tr") if tr.getparent().tag != "thead"]
        rows = head + body
        grid: dict[tuple[int, int], tuple] = {}
        n_cols = 0
        for r, tr in enumerate(rows):
            c = 0
            for cell in tr:
                if cell.tag not in ("td", "th"):
                    continue
                while (r, c) in grid:
                    c += 1
                rs, cs = int(cell.get("rowspan", 1)), int(cell.get("colspan", 1))
                for dr in range(rs):
                    for dc in range(cs):
                        grid[(r + dr, c + dc)] = (cell, r, c, rs, cs) if (dr, dc) == (0, 0) else ("span", r, c)
                c += cs
                n_cols = max(n_cols, c)
        n_cols = max(n_cols, 1)
        cells = [
            Cell(_cell_text(e[0]), r, c, e[3], e[4], header=r < len(head), numeric="num" in (e[0].get("class") or ""))
            for (r, c), e in sorted(grid.items())
            if e[0] != "span"
        ]
        layout = plan(cells, n_cols)
        self.orientation(layout.landscape)
        if caption is not None:
            self.caption("table", caption, numbered)
        table = self.doc.add_table(rows=len(rows), cols=n_cols)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False  # w:tblLayout fixed: every client keeps the widths below
        for cell_spec in cells:
            r, c, rs, cs = cell_spec.row, cell_spec.col, cell_spec.rowspan, cell_spec.colspan
            cell_node = grid[(r, c)][0]
            cell = table.cell(r, c)
            if rs > 1 or cs > 1:
                cell = cell.merge(table.cell(r + rs - 1, c + cs - 1))
            p = cell.paragraphs[0]
            _inline(p, cell_node, size=layout.size, bold=cell_spec.header)
            p.paragraph_format.space_after = Pt(0)
            p.paragraph_format.line_spacing = 1.0
            if cell_spec.header:
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            elif cell_spec.numeric:
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if cell_spec.numeric or max_width_pt(cell_spec.text, layout.size, cell_spec.header) <= min(
                layout.widths[c : c + cs]
            ):  # numbers never wrap, nor what fits on one line anyway
                insert_ordered(cell._tc.get_or_add_tcPr(), OxmlElement("w:noWrap"))
        _fixed_widths(table, layout.widths)
        three_line(table, len(head))
        notes = node.getparent().findall("p[@class='cme-note']") if node.getparent() is not None else []
        for note in notes:
            self.paragraph(note, size=CAPTION_PT)
        if not notes:
            self.doc.add_paragraph().paragraph_format.space_after = Pt(2)
        self.orientation(False)

    def orientation(self, landscape: bool) -> None:
        """Start a section on a landscape page (for a table too wide for a portrait one), or back."""
        section = self.doc.sections[-1]
        if (section.orientation == WD_ORIENT.LANDSCAPE) == landscape:
            return
        section = self.doc.add_section(WD_SECTION.NEW_PAGE)
        section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = (Cm(29.7), Cm(21.0)) if landscape else (Cm(21.0), Cm(29.7))

    def figure(self, node, numbered: bool):
        img = node.find(".//img")
        if img is None or not (img.get("src") or "").startswith("data:image/png;base64,"):
            return
        data = base64.b64decode(img.get("src").split(",", 1)[1])
        width_in = float(
            img.get("data-width-in") or re.search(r"width:\s*([\d.]+)in", img.get("style") or "width: 6in").group(1)
        )
        p = self.doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.keep_with_next = True
        run = p.add_run()
        set_fonts(run)
        run.add_picture(io.BytesIO(data), width=Emu(int(min(width_in * 2.54, TEXT_WIDTH_CM) * 360000)))
        caption = node.find("figcaption")
        if caption is not None:
            self.caption("figure", caption, numbered)

    def walk(self, node, numbered: bool):
        for child in node:
            if not isinstance(child.tag, str):
                continue
            cls = child.get("class") or ""
            tag = child.tag
            if tag in ("style", "script") or "doc-label" in cls:
                continue
            if tag in ("h1", "h2", "h3"):
                self.heading(child, int(tag[1]), numbered and "doc-title" not in cls)
            elif tag == "p":
                if "kicker" in cls:
                    self.paragraph(child, size=8)
                elif "doc-subtitle" in cls:
                    self.paragraph(child, style="Subtitle")
                else:
                    self.paragraph(child, size=CAPTION_PT if "cme-note" in cls else None)
            elif tag in ("ul", "ol"):
                for li in child.iter("li"):
                    self.paragraph(li, style="List Bullet")
            elif tag == "div" and "cme-callout" in cls:
                self.callout(child)
            elif tag == "div" and "cme-table-wrap" in cls:
                table = child.find("table")
                if table is not None:
                    self.table(table, numbered, child.find("p[@class='cme-caption']"))
            elif tag == "table":
                self.table(child, numbered)
            elif tag == "figure":
                self.figure(child, numbered)
            elif tag == "dl":
                for dt in child.iter("dt"):
                    dd = dt.getnext()
                    p = self.doc.add_paragraph()
                    add_run(p, _space(dt.text_content()).strip() + "\t", bold=True, size=CAPTION_PT)
                    if dd is not None:
                        _inline(p, dd, size=CAPTION_PT)
                    p.paragraph_format.space_after = Pt(0)
            elif tag == "nav":
                title = child.find(".//h2")
                if title is not None:
                    p = self.doc.add_paragraph()
                    add_run(p, _space(title.text_content()).strip(), bold=True, size=12)
                for li in child.iter("li"):
                    self.paragraph(li)
            else:
                self.walk(child, numbered)

    def write(self, page: str) -> bytes:
        root = lhtml.fromstring(page)
        body = root.find("body")
        for section in body:
            if not isinstance(section.tag, str) or section.tag != "section":
                continue
            cls = section.get("class") or ""
            if "title-page" in cls:
                title = section.find(".//h1")
                p = self.doc.add_paragraph(style="Title")
                add_run(p, _space(title.text_content()).strip())
                title.getparent().remove(title)
                self.walk(section, numbered=False)
            elif "front-matter" in cls:  # after the title page and its abstract, on a page of its own
                run = self.doc.add_paragraph().add_run()
                set_fonts(run)
                run.add_break(WD_BREAK.PAGE)
                self.walk(section, numbered=False)
            else:
                self.walk(section, numbered="appendix" not in cls)
        buf = io.BytesIO()
        self.doc.core_properties.title = _space(root.findtext(".//title") or "")
        self.doc.core_properties.language = "zh-CN" if self.lang == "zh" else "en-GB"
        self.doc.save(buf)
        return buf.getvalue()


def document(page: str, lang: str) -> bytes:
    """The Word document (``.docx`` bytes) of an assembled HTML report, in ``lang`` (the process's
    language while it is written: it may be written in a process of its own)."""
    before = i18n.get_language()
    i18n.set_language(lang)
    try:
        return Writer(lang).write(page)
    finally:
        i18n.set_language(before)
