"""Assemble the study report from the executed notebooks: HTML, PDF and Word, in one language.

:func:`build` takes the executed notebooks, removes the parameters cells and all code,
keeps markdown and displayed outputs (streams, warnings and tracebacks dropped),
converts them with nbconvert's ``basic`` template, and wraps them with a title page,
methods, limitations and a reproducibility appendix into one self-contained HTML file.
Every word around the notebooks comes from the message catalogue of the report's
language (:mod:`cmestudy.i18n`); the fonts are embedded, subset to the page's characters
(:mod:`cmestudy.report.fonts`), after a check that they draw every character.

* The PDF is rendered from the same HTML by WeasyPrint: A4, page numbers in the footer
  ("Page N of M" / "第 N 页 共 M 页"), figures and tables kept whole on a page. WeasyPrint
  is a pure-Python HTML/CSS layout engine from PyPI (it uses the Pango text library,
  present on this kind of machine): no browser and no TeX is downloaded at run time.
* The Word file is built from the same HTML by :mod:`cmestudy.report.word`.
"""

from __future__ import annotations

import datetime as _dt
import html
import logging
import platform
import re
import string
import subprocess
from importlib import metadata, resources
from pathlib import Path

import pandas as pd

from cmestudy import __version__, i18n, lockfile
from cmestudy.fileio import write_bytes, write_text
from cmestudy.paths import PROJECT_ROOT
from cmestudy.report import fonts

log = logging.getLogger("cmestudy")

REMOVE_TAGS = {"parameters", "injected-parameters", "remove"}
KEEP_MIME = ("text/html", "image/png", "image/svg+xml", "text/markdown", "text/plain")
VERSIONED = (
    "cmestudy",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "matplotlib",
    "seaborn",
    "pyarrow",
    "papermill",
    "nbconvert",
    "nbformat",
    "ipykernel",
    "weasyprint",
    "python-docx",
    "mplfonts",
    "python-calamine",
)


# --------------------------------------------------------------------------- notebooks
def _cell_kept(cell) -> bool:
    return not (REMOVE_TAGS & set(cell.get("metadata", {}).get("tags", [])))


def strip_notebook(nb):
    """Keep markdown and displayed outputs; drop parameters cells, code, streams and errors."""
    import nbformat

    nb = nbformat.from_dict(nb)
    cells = []
    for cell in nb.cells:
        if not _cell_kept(cell):
            continue
        if cell.cell_type == "markdown":
            cells.append(cell)
        elif cell.cell_type == "code":
            outs = []
            for o in cell.get("outputs", []):
                if o.get("output_type") in ("display_data", "execute_result"):
                    data = {k: v for k, v in o.get("data", {}).items() if k in KEEP_MIME}
                    if "text/html" in data:  # the notebook's own styles: the report has its stylesheet
                        text = data["text/html"]
                        text = "".join(text) if isinstance(text, list) else text
                        data["text/html"] = re.sub(r"<style data-cme-notebook>.*?</style>", "", text, flags=re.S)
                    if "text/html" in data or "image/png" in data or "text/markdown" in data:
                        data.pop("text/plain", None)
                    if data:
                        outs.append(nbformat.v4.new_output("display_data", data=data))
            if outs:
                cells.append(nbformat.v4.new_code_cell(source="", outputs=outs))
    nb.cells = cells
    return nb


def notebook_body(path: Path) -> str:
    """The HTML of one executed notebook without code (nbconvert, ``basic`` template)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = strip_notebook(nbformat.read(str(path), as_version=4))
    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    return body


# --------------------------------------------------------------------------- what the appendix records
def git_commit(root: Path = PROJECT_ROOT) -> str:
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return sha + (i18n.t("doc.uncommitted") if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return i18n.t("doc.no_git")


def package_versions() -> list[tuple[str, str, str]]:
    """(package, running version, version in requirements.lock or "–") for the main packages."""
    locked = lockfile.pins() if lockfile.digest() else {}
    rows = [("python", platform.python_version(), "3.11" if locked else "–")]
    for name in VERSIONED:
        try:
            running = metadata.version(name)
        except metadata.PackageNotFoundError:
            running = i18n.t("doc.not_installed")
        rows.append((name, running, locked.get(lockfile.normalise(name), "–")))
    return rows


def lock_state() -> dict:
    """The lock's digest and the packages whose running version differs from it (for the appendix)."""
    digest = lockfile.digest()
    if digest is None:
        return {"digest": None, "text": i18n.t("doc.lock_missing")}
    differ = lockfile.drift()
    if not differ:
        return {"digest": digest, "text": i18n.t("doc.lock_matches", n=len(lockfile.pins()))}
    items = [
        i18n.t("doc.lock_differs_item", name=n, locked=v, running=r or i18n.t("doc.not_installed"))
        for n, v, r in differ
    ]
    return {"digest": digest, "text": i18n.t("doc.lock_differs", n=len(differ), items=i18n.join(items))}


def shown_path(path) -> str:
    """A folder as the report shows it: relative to the project when inside it, else its name alone
    (a report sent to colleagues never shows the sender's folders or user name)."""
    p = Path(str(path))
    try:
        return p.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return p.name


# --------------------------------------------------------------------------- the page
def _template(name: str) -> str:
    return resources.files("cmestudy.report").joinpath("templates", name).read_text(encoding="utf-8")


def css_content(template: str, counters: dict[str, str]) -> str:
    """A catalogue template as a CSS ``content`` value: ``"Page {page} of {pages}"`` ->
    ``"Page " counter(page) " of " counter(pages)``."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append('"' + literal.replace("\\", "\\\\").replace('"', '\\"') + '"')
        if field:
            parts.append(counters[field])
    return " ".join(parts) or '""'


def _environment():
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    env.globals["t"] = lambda ident, **kw: i18n.t(ident, **kw)
    env.globals["md"] = lambda ident, **kw: Markup(_paragraphs(i18n.t(ident, **kw)))
    env.globals["label"] = i18n.label
    env.globals["percent"] = i18n.level
    env.filters["integer"] = lambda v: i18n.integer(v)
    return env


def _paragraphs(text: str) -> str:
    from cmestudy.report.tables import inline

    return "".join(f"<p>{inline(p)}</p>" for p in text.split("\n\n") if p.strip())


def section_html(name: str, params: dict, dataset: dict, years: list[int]) -> str:
    """A section written by the document itself (methods, limitations), from the catalogue."""
    from cmestudy.report.notebook import level_values

    levels = level_values(params.get("alpha", 0.05), params.get("confidence", 0.95))
    return (
        _environment()
        .from_string(_template(f"{name}.html.j2"))
        .render(p=params, dataset=dataset, years=years, levels=levels)
    )


def stylesheet(lang: str) -> str:
    """The report's stylesheet with the language's fonts, caption prefixes and page footer."""
    css = _template("report.css")
    counters = {"n": "counter(table)", "page": "counter(page)", "pages": "counter(pages)"}
    values = {
        "BODY_FONTS": fonts.css_stack(lang, "body"),
        "HEADING_FONTS": fonts.css_stack(lang, "heading"),
        "MONO_FONTS": fonts.css_stack(lang, "mono"),
        "TABLE_PREFIX": css_content(i18n.t("doc.table_prefix"), counters),
        "FIGURE_PREFIX": css_content(i18n.t("doc.figure_prefix"), {**counters, "n": "counter(figure)"}),
        "PAGE_FOOTER": css_content(i18n.t("doc.page_footer"), counters),
        "H1_NUMBER": css_content(i18n.t("doc.h1_number"), {**counters, "n": "counter(h1)"}),
    }
    for key, value in values.items():
        css = css.replace(f"/*{key}*/", value)
    return css


def page_text(page: str) -> list[str]:
    """The texts of a page as a reader sees them (tags and the stylesheet removed)."""
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    body = re.sub(r"<[^>]+>", "\n", body)
    return [s for s in (html.unescape(x).strip() for x in body.split("\n")) if s]


def render_html(sections: list[dict], context: dict, lang: str) -> str:
    env = _environment()
    tpl = env.from_string(_template("report.html.j2"))
    page = tpl.render(sections=sections, css=stylesheet(lang), font_faces="", lang=lang, **context)
    missing = fonts.missing_glyphs(page_text(page), lang)
    for m in missing:
        log.warning("missing glyph in the report: %s", m)
    faces = fonts.font_face_css(page, lang)
    return page.replace("/*FONT_FACES*/", faces, 1)


def build(
    executed_notebooks: list[Path],
    out_dir,
    params: dict,
    provenance: pd.DataFrame | None = None,
    dataset: dict | None = None,
    bodies: dict[str, str] | None = None,
    lang: str | None = None,
    word: bool = True,
    years: list[int] | None = None,
    formats=("html", "pdf", "docx"),
) -> dict[str, Path]:
    """Write ``OUT/report.html``, ``OUT/report.pdf`` and ``OUT/report.docx`` (atomically).

    ``bodies`` holds sections already made by :func:`notebook_body` (by notebook stem);
    ``years`` are the study years (default: the ``years`` parameter); ``formats`` those to write
    besides the HTML (``pdf``, ``docx``). Returns the paths by format.
    """
    lang = lang or params.get("lang") or i18n.DEFAULT
    i18n.set_language(lang)
    out_dir = Path(out_dir)
    done = bodies or {}
    bodies = {p.stem: done[p.stem] if p.stem in done else notebook_body(p) for p in executed_notebooks}
    dataset = dataset or {}
    years = [int(y) for y in (years or params.get("years") or [])]
    sections = []
    for stem, body in bodies.items():
        sections.append({"id": stem, "html": body})
        if stem.startswith("02"):
            sections.append({"id": "methods", "html": section_html("methods", params, dataset, years)})
        if stem.startswith("05"):
            sections.append({"id": "limitations", "html": section_html("limitations", params, dataset, years)})
    from cmestudy.report import abstract, findings

    context = {
        "abstract": abstract.html(findings.load(out_dir), params, dataset, years),
        "title": i18n.t("doc.title"),
        "subtitle": i18n.t("doc.subtitle", first=min(years), last=max(years)) if years else "",
        "years": years,
        "dataset": dataset,
        "generated": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "commit": git_commit(),
        "version": __version__,
        "versions": package_versions(),
        "lock": lock_state(),
        "params": params,
        "shown": {k: shown_path(v) for k, v in params.items() if k.endswith("_dir")},
        "provenance": []
        if provenance is None
        else provenance.astype(object).where(provenance.notna(), None).to_dict("records"),
        "platform": f"{platform.system()} {platform.release()} ({platform.machine()})",
    }
    context["toc"] = [
        {"id": m.group(1), "text": html.unescape(re.sub(r"<[^>]+>", "", m.group(2))).strip()}
        for sec in sections
        for m in re.finditer(r'<h1[^>]*\bid="([^"]+)"[^>]*>(.*?)</h1>', sec["html"], re.S)
    ]
    page = render_html(sections, context, lang)
    from cmestudy.report import word as word_mod

    word = word and "docx" in formats
    docx = _beside(word_mod.document, page, lang) if word else None  # the Word file is written while the PDF is
    paths = {"html": write_text(out_dir / "report.html", page)}
    problem = pdf_engine_problem() if "pdf" in formats else None
    if "pdf" in formats and problem is None:
        paths["pdf"] = write_bytes(out_dir / "report.pdf", render_pdf(page, base_url=out_dir))
    elif "pdf" in formats:  # the HTML and the Word file are still written; one paragraph says why there is no PDF
        (out_dir / "report.pdf").unlink(missing_ok=True)  # an older PDF would not match the new report
        log.warning(i18n.t("doc.pdf_unavailable", error=problem, system=platform.system() or "this system"))
    if docx is not None:
        paths["docx"] = write_bytes(out_dir / "report.docx", docx())
    return paths


def _beside(fn, *args):
    """Start ``fn(*args)`` in a fresh Python process (spawned: nothing of this process is copied) and
    return a function that waits for its result. Both WeasyPrint and python-docx are pure Python
    for the most part, so the two documents are only made side by side in two processes. Where
    no process can be started, or it fails, ``fn`` runs here when its result is asked for."""
    import concurrent.futures
    import multiprocessing

    try:
        pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        future = pool.submit(fn, *args)
        pool.shutdown(wait=False)
    except (OSError, RuntimeError):
        return lambda: fn(*args)

    def result():
        try:
            return future.result()
        except concurrent.futures.process.BrokenProcessPool:
            return fn(*args)

    return result


def pdf_engine_problem() -> str | None:
    """Why the PDF cannot be made here, or None when it can.

    WeasyPrint is a PyPI package, but it draws text with Pango, a system library (loaded with
    cffi when WeasyPrint is imported): Linux desktops have it, slim containers, Windows and
    macOS usually not. Its absence shows as an ``OSError`` ("cannot load library ...") or an
    ``ImportError`` on import; the first line of that message is returned.
    """
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return None


def render_pdf(page: str, base_url=None) -> bytes:
    """The PDF of an HTML report (WeasyPrint, print stylesheet of ``report.css``)."""
    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return HTML(string=page, base_url=str(base_url) if base_url else None).write_pdf()
