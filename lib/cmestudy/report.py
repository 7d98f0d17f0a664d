"""Show tables and figures in the notebooks, and assemble the study report (HTML and PDF).

In a notebook
-------------
``setup_notebook(output_dir)`` once, then ``show(table, caption)`` for each table and
``figure(fig, caption)`` for each figure: both display in JupyterLab, and save the table
as CSV under ``OUTPUT/tables/`` and the figure as PNG and SVG under ``OUTPUT/figures/``.
``text(...)`` shows narrative built from computed numbers. Strings from the data are
HTML-escaped before they reach the page.

The report
----------
:func:`build_report` takes the executed notebooks, removes the parameters cells and all
code, keeps markdown and displayed outputs (streams, warnings and tracebacks dropped),
converts them with nbconvert's ``basic`` template, and wraps them with a title page,
methods, limitations and a reproducibility appendix into one self-contained HTML file.
The PDF is rendered from the same HTML by WeasyPrint: A4, page numbers in the footer,
figures and tables kept whole on a page. WeasyPrint is a pure-Python HTML/CSS layout
engine from PyPI (it uses the Pango text library, present on this kind of machine):
no browser and no TeX is downloaded at run time.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import platform
import re
import subprocess
from importlib import metadata, resources
from pathlib import Path

import jinja2
import pandas as pd

from . import __version__
from .fileio import write_bytes, write_csv, write_text
from .paths import PROJECT_ROOT

REMOVE_TAGS = {"parameters", "injected-parameters", "remove"}
KEEP_MIME = ("text/html", "image/png", "image/svg+xml", "text/markdown", "text/plain")
VERSIONED = ("cmestudy", "numpy", "pandas", "scipy", "statsmodels", "matplotlib", "seaborn", "pyarrow",
             "papermill", "nbconvert", "nbformat", "ipykernel", "weasyprint", "openpyxl")

_STATE: dict = {"output_dir": None}


# --------------------------------------------------------------------------- notebooks
def setup_notebook(output_dir=None) -> None:
    """Configure display for a study notebook; tables and figures are saved under ``output_dir``.

    (The figure style is applied when :mod:`cmestudy.plotting` is imported, so notebooks
    without figures do not load matplotlib.)
    """
    pd.set_option("display.max_columns", 50)
    pd.set_option("display.width", 160)
    _STATE["output_dir"] = Path(output_dir) if output_dir else None


def _display(html_text: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display

        if get_ipython() is not None:
            display(HTML(html_text))
            return
    except ImportError:  # pragma: no cover - IPython is a dependency
        pass
    print(re.sub(r"<[^>]+>", " ", html_text)[:2000])


def slug(text: str) -> str:
    s = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    return s[:60] or "item"


def _inline(text: str) -> str:
    """Escape text, then allow **bold** and *italic*."""
    s = html.escape(str(text))
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    return re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", s)


def text(*paragraphs: str, kind: str | None = None) -> None:
    """Show paragraphs of narrative (escaped; ``**bold**`` and ``*italic*`` allowed)."""
    body = "".join(f"<p>{_inline(p)}</p>" for p in paragraphs)
    cls = f"cme-callout cme-{kind}" if kind else "cme-text"
    _display(f'<div class="{cls}">{body}</div>')


def _formats(frame: pd.DataFrame) -> dict:
    fmts = {}
    for col in frame.columns:
        name = " ".join(map(str, col)) if isinstance(col, tuple) else str(col)
        s = frame[col]
        if pd.api.types.is_bool_dtype(s):
            fmts[col] = lambda v: "yes" if v is True or v == 1 else ("no" if v is False or v == 0 else "")
        elif pd.api.types.is_integer_dtype(s):
            fmts[col] = "{}" if "year" in name.lower() else "{:,}"
        elif pd.api.types.is_float_dtype(s):
            low = name.lower()
            if "%" in name or "pct" in low or "percent" in low:
                fmts[col] = "{:.1f}"
            elif _is_p_column(low):
                fmts[col] = lambda v: "" if pd.isna(v) else ("<.001" if v < 0.001 else f"{v:.3f}")
            elif low == "df":
                fmts[col] = lambda v: "" if pd.isna(v) else f"{v:.0f}"
            else:
                fmts[col] = lambda v: "" if pd.isna(v) else (f"{v:,.0f}" if float(v).is_integer() and abs(v) >= 1000 else f"{v:,.3f}")
    return fmts


def _is_p_column(low: str) -> bool:
    words = re.split(r"[\s()_]+", low)
    return "p" in words or "pvalue" in low or "p-value" in low or "sig." in low or "significance" in low


def table_html(frame: pd.DataFrame, caption: str, note: str | None = None, formats: dict | None = None,
               row_formats: dict | None = None) -> str:
    """HTML of a table: numbers formatted by column (or by the last index level with ``row_formats``)."""
    fmts = _formats(frame)
    fmts.update(formats or {})
    styler = frame.style.format(fmts, na_rep="", escape="html")
    for key, fmt in (row_formats or {}).items():
        rows = [i for i in frame.index if (i[-1] if isinstance(i, tuple) else i) == key]
        if rows:
            styler = styler.format(fmt, subset=pd.IndexSlice[rows, :], na_rep="")
    text_cols = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    if text_cols:
        styler = styler.set_properties(subset=text_cols, **{"text-align": "left"})
    styler = styler.format_index(escape="html", axis=0)
    styler = styler.format_index(escape="html", axis=1).set_caption(html.escape(caption))
    styler = styler.set_table_attributes('class="cme-table"')
    out = f'<div class="cme-table-wrap">{styler.to_html(doctype_html=False)}'
    if note:
        out += f'<p class="cme-note">{_inline(note)}</p>'
    return out + "</div>"


def show(frame: pd.DataFrame | pd.Series, caption: str, note: str | None = None, name: str | None = None,
         formats: dict | None = None, row_formats: dict | None = None, csv_only: bool = False) -> None:
    """Display a table with its caption (and note); save it as CSV under ``OUTPUT/tables/``.

    ``csv_only`` saves the CSV without displaying the table (for detail kept out of the report).
    """
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    out = _STATE.get("output_dir")
    if out is not None:
        flat = frame.copy()
        if isinstance(flat.columns, pd.MultiIndex):
            flat.columns = [" ".join(str(c) for c in col if str(c)) for col in flat.columns]
        write_csv(out / "tables" / f"{name or slug(caption)}.csv", flat.reset_index())
    if not csv_only:
        _display(table_html(frame, caption, note, formats, row_formats))


def figure(fig, caption: str, name: str | None = None) -> None:
    """Display a figure with its caption; save it as PNG and SVG under ``OUTPUT/figures/``.

    The figure is saved as laid out (the :mod:`cmestudy.plotting` functions call
    ``tight_layout``); ``bbox_inches="tight"`` is not used because it draws every figure once
    more per file.
    """
    import matplotlib.pyplot as plt

    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=200)
    out = _STATE.get("output_dir")
    if out is not None:
        stem = out / "figures" / (name or slug(caption))
        write_bytes(stem.with_suffix(".png"), png.getvalue())
        svg = io.BytesIO()
        fig.savefig(svg, format="svg")
        write_bytes(stem.with_suffix(".svg"), svg.getvalue())
    plt.close(fig)
    from PIL import Image

    width_in = Image.open(io.BytesIO(png.getvalue())).size[0] / 200
    data = base64.b64encode(png.getvalue()).decode("ascii")
    _display(f'<figure class="cme-figure"><img alt="{html.escape(caption)}" style="width: {width_in:.2f}in" '
             f'src="data:image/png;base64,{data}"/>'
             f"<figcaption>{_inline(caption)}</figcaption></figure>")


# --------------------------------------------------------------------------- report
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
                    if "text/html" in data or "image/png" in data or "text/markdown" in data:
                        data.pop("text/plain", None)
                    if data:
                        outs.append(nbformat.v4.new_output("display_data", data=data))
            if outs:
                c = nbformat.v4.new_code_cell(source="", outputs=outs)
                cells.append(c)
    nb.cells = cells
    return nb


def notebook_body(path: Path) -> str:
    """The HTML of one executed notebook without code (nbconvert, ``basic`` template)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = strip_notebook(nbformat.read(str(path), as_version=4))
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, exclude_anchor_links=True)
    body, _ = exporter.from_notebook_node(nb)
    return _add_heading_ids(body, prefix=path.stem)


def _add_heading_ids(body: str, prefix: str) -> str:
    """Give every h1/h2 without an id one (for the contents and PDF bookmarks)."""
    def add(m):
        tag, attrs, inner = m.group(1), m.group(2), m.group(3)
        if "id=" in attrs:
            return m.group(0)
        ident = f"{prefix}-{slug(html.unescape(re.sub(r'<[^>]+>', '', inner)))}"
        return f'<{tag}{attrs} id="{ident}">{inner}</{tag}>'

    return re.sub(r"<(h[12])([^>]*)>(.*?)</\1>", add, body, flags=re.S)


def git_commit(root: Path = PROJECT_ROOT) -> str:
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def package_versions() -> list[tuple[str, str]]:
    rows = [("python", platform.python_version())]
    for name in VERSIONED:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return rows


def _template(name: str) -> str:
    return resources.files("cmestudy").joinpath("templates", name).read_text(encoding="utf-8")


def render_html(sections: list[dict], context: dict) -> str:
    env = jinja2.Environment(autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    env.filters["thousands"] = lambda v: f"{v:,}"
    tpl = env.from_string(_template("report.html.j2"))
    return tpl.render(sections=sections, css=_template("report.css"), **context)


def build_report(executed_notebooks: list[Path], out_dir, params: dict, provenance: pd.DataFrame | None = None,
                 dataset: dict | None = None, bodies: dict[str, str] | None = None) -> tuple[Path, Path]:
    """Assemble ``OUT/report.html`` and ``OUT/report.pdf`` from executed notebooks (atomically).

    ``bodies`` holds sections already made by :func:`notebook_body` (by notebook stem).
    """
    out_dir = Path(out_dir)
    done = bodies or {}
    bodies = {p.stem: done[p.stem] if p.stem in done else notebook_body(p) for p in executed_notebooks}
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    sections = []
    for stem, body in bodies.items():
        sections.append({"id": stem, "html": body})
        if stem.startswith("02"):
            sections.append({"id": "methods", "html": env.from_string(_template("methods.html.j2")).render(p=params, dataset=dataset or {})})
        if stem.startswith("05"):
            sections.append({"id": "limitations",
                             "html": env.from_string(_template("limitations.html.j2")).render(p=params, dataset=dataset or {})})
    context = {
        "title": "Live-broadcast and face-to-face continuing medical education",
        "subtitle": f"Projects, disciplines and learners, {min(params['years'])}–{max(params['years'])}",
        "dataset": dataset or {},
        "generated": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "commit": git_commit(),
        "version": __version__,
        "versions": package_versions(),
        "params": params,
        "provenance": [] if provenance is None else provenance.to_dict("records"),
        "platform": f"{platform.system()} {platform.release()} ({platform.machine()})",
    }
    context["toc"] = [
        {"id": m.group(1), "text": html.unescape(re.sub(r"<[^>]+>", "", m.group(2))).strip()}
        for sec in sections for m in re.finditer(r'<h1[^>]*\bid="([^"]+)"[^>]*>(.*?)</h1>', sec["html"], re.S)
    ]
    page = render_html(sections, context)
    html_path = write_text(out_dir / "report.html", page)
    pdf_path = write_bytes(out_dir / "report.pdf", render_pdf(page, base_url=out_dir))
    return html_path, pdf_path


def render_pdf(page: str, base_url=None) -> bytes:
    """The PDF of an HTML report (WeasyPrint, print stylesheet of ``report.css``)."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return HTML(string=page, base_url=str(base_url) if base_url else None).write_pdf()


def dataset_note(raw_dir) -> None:
    """The callout that labels a reconstructed data set (nothing for real data)."""
    from .published import dataset_info

    info = dataset_info(raw_dir)
    if info["reconstruction"]:
        text("**Reconstructed data.** These are not the study's original records, which are not public. "
             "They are participant-level records generated by `cmestudy reconstruct` so that their aggregates "
             "reproduce every figure published in the abstract; the rest (yearly split, project counts, "
             "disciplines) are documented assumptions (data/raw/README.md, data/raw/reconstruction.yml).",
             kind="warning")
    if info["citation"]:
        text(f"Published study reproduced: {info['citation']}")


def show_problems(problems, caption: str, empty: str | None = None) -> None:
    """A table of data problems (file, row, column, value, expected), or a line saying there are none."""
    if not problems:
        if empty:
            text(empty, kind="ok")
        return
    frame = pd.DataFrame([p.to_dict() for p in problems])
    show(frame, caption)


def show_crosstab(result, year: int, pairwise: pd.DataFrame, alpha: float) -> None:
    """Everything SPSS Crosstabs prints for one year's mode x title table, and the pairwise tests."""
    from . import describe, stats

    labels = _labels()
    obs = result.observed.rename(index=labels["mode"], columns=labels["title_grade"])
    show(describe.crosstab_with_percentages(obs), f"{year}: learners by delivery mode and professional title",
         note="Count; % within row = share of the mode's learners; % within column = share of the title's learners.",
         row_formats={"Count": "{:,.0f}", "% within row": "{:.1f}", "% within column": "{:.1f}"})
    exp = result.expected.rename(index=labels["mode"], columns=labels["title_grade"])
    adj = result.adjusted_residuals.rename(index=labels["mode"], columns=labels["title_grade"])
    both = pd.concat({"Expected count": exp, "Adjusted residual": adj}, axis=1)
    show(both, f"{year}: expected counts and adjusted residuals",
         note="Adjusted (Haberman) residuals beyond ±1.96 mark cells that depart from independence at the 5% level.",
         formats={c: "{:,.2f}" for c in both.columns})
    show(result.to_frame(), f"{year}: chi-square tests", note=f"a. {result.low_expected.footnote()}")
    show(result.measures_frame(), f"{year}: symmetric measures",
         formats={c: "{:.3f}" for c in result.measures_frame().columns})
    pw = pairwise.assign(pair=pairwise["pair"].map(lambda s: " vs ".join(labels["title_grade"].get(x, x) for x in s.split(" vs "))))
    pw = pw.set_index("pair")[["n", "statistic", "df", "pvalue", "pvalue_adjusted", "cramers_v"]]
    pw.columns = ["N", "χ²", "df", "p", f"p ({pairwise.attrs.get('adjust', 'adjusted')})", "Cramér's V"]
    show(pw, f"{year}: pairwise comparisons with intermediate title (2 × 2, Pearson, no continuity correction)",
         formats={"χ²": "{:.3f}", "Cramér's V": "{:.3f}"})
    text(f"{year}: {stats.apa_chi2(result)}.")


def _labels() -> dict:
    from .schema import load_codebook

    return load_codebook().labels


CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def cjk_fonts() -> list[str]:
    """Families of installed fonts that cover Chinese (fontconfig), or [] if none or unknown."""
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({f.split(",")[0].strip() for f in out.splitlines() if f.strip()})


def cjk_warning(strings) -> str | None:
    """A warning when Chinese text would reach the PDF but no installed font can draw it."""
    if not any(CJK.search(str(s)) for s in strings):
        return None
    if cjk_fonts():
        return None
    return ("the data contain Chinese text but no Chinese font is installed: the HTML report shows it, the PDF "
            "draws boxes instead. Install one (e.g. `apt-get install fonts-noto-cjk`) and rerun.")
