"""What a study notebook shows: headings, tables, figures and sentences, in the report's language.

``setup_notebook(output_dir, lang)`` once, then in the cells:

* ``heading(section)`` -- a section's heading (and its introduction) from the catalogue;
* ``show(table, caption)`` -- a table, labelled and formatted (:mod:`cmestudy.report.tables`), with
  its caption and note given as message ids; saved as CSV under ``OUTPUT/tables/``;
* ``figure(fig, caption)`` -- a figure at print resolution with its caption; saved as PNG
  (300 dpi) and SVG under ``OUTPUT/figures/``;
* ``text(...)`` -- sentences built from computed numbers (:mod:`cmestudy.report.narrative`);
  ``say(message, **values)`` -- one catalogue sentence.

Everything shown is checked against the report's fonts first: a character no font can
draw is a :class:`cmestudy.report.fonts.MissingGlyphWarning` that names the text. Strings from
the data are HTML-escaped before they reach the page. The document around the notebooks
(title page, methods, appendix, PDF, Word) is assembled by :mod:`cmestudy.report.document`.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import pandas as pd

from cmestudy import defaults, i18n
from cmestudy.fileio import write_bytes, write_csv
from cmestudy.report import disclosure, fonts, tables

FIGURE_DPI = 300  # print resolution, for the PDF and the Word report alike
#: The PDF's text block (A4 less 16 mm margins, report.css): a figure takes the same share of a notebook's width.
TEXT_BLOCK_IN = (210 - 2 * 16) / 25.4

_STATE: dict = {"output_dir": None}


def setup_notebook(output_dir=None, lang: str = i18n.DEFAULT, alpha: float = 0.05, confidence: float = 0.95) -> None:
    """Configure a study notebook: its language, where its tables and figures are saved, and the
    significance and confidence levels that every caption and note may name (``{alpha}``,
    ``{level}``: 0.95 -> "95").

    (Figure style and fonts are applied by the :mod:`cmestudy.report.plotting` functions, so
    notebooks without figures do not load matplotlib.)
    """
    i18n.set_language(lang)
    pd.set_option("display.max_columns", 50)
    pd.set_option("display.width", 160)
    _STATE["output_dir"] = Path(output_dir) if output_dir else None
    _STATE["values"] = level_values(alpha, confidence)


def small_cells(learners: pd.DataFrame, years, min_cell: int | None) -> None:
    """Hide learner counts by mode and title below ``min_cell`` in what this notebook shows (an institution's
    own report; :mod:`cmestudy.report.disclosure`): each year's cells to hide are chosen once here, and
    :func:`hide_small`, :func:`show_crosstab` and :func:`figure` hide the same cells. ``min_cell`` None or 1
    shows every count."""
    if min_cell is None or min_cell <= 1:
        _STATE["small_cells"] = None
        return
    _STATE["small_cells"] = (disclosure.masks(learners, years, min_cell), int(min_cell))


def hide_small(frame: pd.DataFrame) -> pd.DataFrame:
    """A table of learners by mode and title, or of titles' live shares, with the cells :func:`small_cells`
    hides written "<5" or "x" (and a note saying why); as it is when nothing is hidden. The table is told by
    its canonical keys: (year, mode) rows and (title, n | row_pct | col_pct) columns
    (:func:`cmestudy.analysis.describe.title_table`), (year, grade) rows (the live titles' mix), ``group`` rows
    (the trend test) or (group, from, to) rows (year-on-year changes)."""
    state = _STATE.get("small_cells")
    if state is None or not disclosure.any_hidden(state[0]) or frame.empty:
        return frame
    hidden, min_cell = state
    names = list(frame.index.names)
    if names == ["year", "mode"]:
        out = disclosure.title_table(frame, hidden, min_cell)
    elif names == ["year", "grade"]:
        out = disclosure.live_title_mix(frame, hidden, min_cell)
    elif names == ["group"]:
        out = disclosure.live_share_trend(frame, hidden)
    elif names == ["group", "from", "to"]:
        out = disclosure.live_share_changes(frame, hidden)
    else:
        raise ValueError(f"hide_small: a table with rows {names} is not one of learners by mode and title")
    out.attrs["small_cells"] = min_cell
    return out


def hidden_cell(year, title: str | None = None) -> bool:
    """Whether :func:`small_cells` hides a title's cells in a year (``title`` None: any of the year's cells),
    so that a sentence does not give away what the tables hide."""
    state = _STATE.get("small_cells")
    hide = None if state is None else state[0].get(int(year))
    if hide is None:
        return False
    return bool(hide.to_numpy().any() if title is None else str(title) in hide.columns and hide[str(title)].any())


def _small_cells_note(frame: pd.DataFrame) -> list:
    """The note under a table whose cells :func:`hide_small` or :func:`show_crosstab` hid."""
    min_cell = frame.attrs.get("small_cells")
    return [] if min_cell is None else [("note.small_cells", {"min_cell": min_cell, "min_cell_less": min_cell - 1})]


def level_values(alpha: float, confidence: float) -> dict:
    """What captions and notes may say of the levels: ``alpha``, ``alpha_pct`` (5), ``level`` (95) and
    ``z``, the two-sided critical value of the standard normal at ``alpha`` (1.96)."""
    from statistics import NormalDist

    return {
        "alpha": alpha,
        "alpha_pct": i18n.level(alpha),
        "level": i18n.level(confidence),
        "z": f"{NormalDist().inv_cdf(1 - alpha / 2):.2f}",
    }


#: The report's look for what a notebook shows in JupyterLab (whose own styles right-align every cell):
#: three-line tables with text left and numbers right, centred spanning headers, the warning box, captions,
#: and a font stack that Windows, macOS and Linux viewers have for Chinese. Each output carries it
#: (``<style data-cme-notebook>``); the report, which has its own stylesheet, drops it.
NOTEBOOK_CSS = (
    ".cme-table-wrap,.cme-text,.cme-callout,figure.cme-figure{font-family:system-ui,-apple-system,'Segoe UI',"
    "'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC','Source Han Sans SC',"
    "'WenQuanYi Micro Hei',sans-serif}"
    ".cme-table-wrap{margin:.8em 0 1.2em;overflow-x:auto}"
    ".cme-table-wrap p.cme-caption{font-weight:bold;margin:0 0 .3em;text-align:left}"
    "table.cme-table{border-collapse:collapse;border:none;border-top:1.5px solid #000;"
    "border-bottom:1.5px solid #000;font-variant-numeric:tabular-nums;margin:0;width:auto;table-layout:auto}"
    "table.cme-table thead{border-bottom:none}"
    "table.cme-table th,table.cme-table td{padding:.2em .6em;border:none;vertical-align:top;"
    "text-align:left;background:none}"
    "table.cme-table thead th{text-align:center;font-weight:bold;vertical-align:bottom}"
    "table.cme-table thead tr:last-child th,table.cme-table thead th.corner,table.cme-table thead th.spans-down"
    "{border-bottom:.75px solid #000}"
    "table.cme-table thead th.corner{text-align:left}"
    "table.cme-table td.num{text-align:right;white-space:nowrap}"
    "table.cme-table th.nw{white-space:nowrap}"
    "table.cme-table tbody th{font-weight:normal}"
    "table.cme-table tbody tr,table.cme-table tbody tr:nth-child(odd),table.cme-table tbody tr:nth-child(even),"
    "table.cme-table tbody tr:hover{background:none}"
    "p.cme-note{font-size:.85em;color:#555;margin:.3em 0 0}"
    ".cme-callout{border-left:4px solid #2a6fb0;background:#eef5fb;padding:.5em 1em;margin:.8em 0}"
    ".cme-callout.cme-warning{border-left-color:#c0392b;background:#fdf0ee}"
    ".cme-callout.cme-ok{border-left-color:#2e8540;background:#eef8f0}"
    "figure.cme-figure{margin:1em 0}figure.cme-figure img{height:auto}"
    "figure.cme-figure figcaption{font-size:.9em;margin-top:.3em}"
)
STYLE_TAG = f"<style data-cme-notebook>{NOTEBOOK_CSS}</style>"


def _display(html_text: str) -> None:
    sink = _STATE.get("sink")
    if sink is not None:  # notebooks run in this process (cmestudy.run.inprocess) collect what they show
        sink.append(html_text)
        return
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display

        if get_ipython() is not None:
            display(HTML(STYLE_TAG + html_text))
            return
    except ImportError:  # pragma: no cover - IPython is a dependency
        pass
    print(re.sub(r"<[^>]+>", " ", html_text)[:2000])


def slug(text: str) -> str:
    s = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    return s[:60] or "item"


def _check(texts, where: str) -> None:
    fonts.warn_missing([t for t in texts if t], i18n.get_language(), where)


def heading(section: str, level: int = 1) -> None:
    """A section heading (``{section}.title``) and, when the catalogue has one, its introduction
    (``{section}.intro``). The heading's id is the section id, the same in every language."""
    title = i18n.t(f"{section}.title")
    intro = i18n.t(f"{section}.intro") if i18n.has(f"{section}.intro") else ""
    _check([title, intro], f"heading {section!r}")
    ident = section.replace(".", "-").replace("_", "-")
    body = f'<h{level} id="{ident}">{tables.inline(title)}</h{level}>'
    if intro:
        body += "".join(f"<p>{tables.inline(p)}</p>" for p in intro.split("\n\n"))
    _display(body)


def text(*paragraphs: str, kind: str | None = None) -> None:
    """Show paragraphs of narrative (escaped; ``**bold**`` and ``*italic*`` allowed)."""
    _check(paragraphs, "text")
    body = "".join(f"<p>{tables.inline(p)}</p>" for p in paragraphs)
    cls = f"cme-callout cme-{kind}" if kind else "cme-text"
    _display(f'<div class="{cls}">{body}</div>')


def say(message: str, kind: str | None = None, **values) -> None:
    """Show one sentence of the catalogue, filled with ``values``."""
    text(_message(message, values), kind=kind)


def _message(ident: str | None, values: dict, lang: str | None = None) -> str | None:
    """A caption or note: the catalogue's ``ident`` filled with ``values`` and the notebook's levels."""
    values = {
        k: i18n.t("punct.list_sep", lang).join(map(str, v)) if isinstance(v, (list, tuple)) else v
        for k, v in values.items()
    }  # a list of years reads "2021, 2022"
    return None if ident is None else i18n.t(ident, lang, **{**_STATE.get("values", {}), **values})


def show(
    frame: pd.DataFrame | pd.Series,
    caption: str,
    note: str | list | None = None,
    name: str | None = None,
    formats: dict | None = None,
    row_formats: dict | None = None,
    csv_only: bool = False,
    empty: str | None = None,
    marks: pd.DataFrame | None = None,
    **values,
) -> None:
    """Display a table with its caption and note (message ids, filled with ``values``).

    ``note`` may also be a list of notes, each a message id or (message id, its own values), printed
    one per line; ``marks`` are subscripts on cells (see :func:`cmestudy.report.tables.layout`).

    The table is saved, labelled in the report's language, as CSV under ``OUTPUT/tables/``,
    named after the English caption (the same file name in every language). ``csv_only``
    saves the CSV without displaying the table (for detail kept out of the report). A table
    without rows is shown as the sentence ``empty`` (a message id), or else as one saying that
    these data give the table no rows.
    """
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if frame.empty and not csv_only:  # never a table of headers alone: a sentence says why there is none
        if empty:
            say(empty, kind="ok", **values)
        else:
            say("note.table_empty", kind="ok", caption=i18n.plain(_message(caption, values)))
        return
    out = _STATE.get("output_dir")
    stem = name or slug(i18n.plain(_message(caption, values, "en")))
    if out is not None:
        flat = tables.labelled(frame)
        if isinstance(flat.columns, pd.MultiIndex):
            flat.columns = [" ".join(str(c) for c in col if str(c)) for col in flat.columns]
        write_csv(
            out / "tables" / f"{stem}.csv", flat.reset_index() if not isinstance(flat.index, pd.RangeIndex) else flat
        )
    if csv_only:  # nothing shown; a marker says which file the notebook wrote (cmestudy.run.pipeline keeps no other)
        _display(f'<div class="cme-written" data-csv="{html.escape(stem)}" hidden></div>')
        return
    grid = tables.layout(frame, formats, row_formats, marks)
    cap = _message(caption, values)
    notes = [
        _message(n, values) if isinstance(n, str) else _message(n[0], {**values, **n[1]})
        for n in ([note] if isinstance(note, str) else list(note or [])) + _small_cells_note(frame)
    ]
    texts = [
        cap,
        *notes,
        *grid.marks.values(),
        *grid.corner,
        *(cell[0] for row in grid.header for cell in row),
        *(h[0] for heads, _ in grid.rows for h in heads if h),
        *(c for _, cells in grid.rows for c in cells),
    ]
    _check(texts, f"table {i18n.plain(cap)!r}")
    _display(
        tables.to_html(grid, cap, notes).replace(
            '<div class="cme-table-wrap">', f'<div class="cme-table-wrap" data-csv="{html.escape(stem)}">', 1
        )
    )


def figure(fig, caption: str, name: str | None = None, titles: bool = False, **values) -> None:
    """Display a figure with its caption (a message id); save it as PNG (300 dpi) and SVG under
    ``OUTPUT/figures/``, named after the English caption. ``fig`` None (a plotting function with
    nothing to draw) shows one sentence saying so instead; so does a figure of ``titles`` (learners by
    mode and title, or shares of them) when :func:`small_cells` hides some of them.

    The figure is saved as laid out (the :mod:`cmestudy.report.plotting` functions call
    ``tight_layout``); ``bbox_inches="tight"`` is not used because it draws every figure once
    more per file. The PNG is the one the HTML, the PDF and the Word report show.
    """
    import io

    import matplotlib.pyplot as plt

    cap = _message(caption, values)
    state = _STATE.get("small_cells")
    if titles and fig is not None and state is not None and disclosure.any_hidden(state[0]):
        plt.close(fig)  # it would draw the shares of counts the tables hide (an institution's own report)
        say("figure.small_cells", kind="ok", caption=i18n.plain(cap), min_cell=state[1])
        return
    if fig is None:  # a plotting function with nothing to draw for these data (no learners, no model)
        say("figure.nothing_to_draw", kind="ok", caption=i18n.plain(cap))
        return
    _check([cap, *fonts.figure_texts(fig)], f"figure {i18n.plain(cap)!r}")
    if _STATE.get("dpi") == 0:  # drafts (cmestudy.run.inprocess): the figure is built, not rendered
        plt.close(fig)
        _display(f'<figure class="cme-figure"><figcaption>{tables.inline(cap)}</figcaption></figure>')
        return
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=_STATE.get("dpi") or FIGURE_DPI)
    width_in = fig.get_size_inches()[0]
    out = _STATE.get("output_dir")
    stem = name or slug(i18n.plain(_message(caption, values, "en")))
    if out is not None:
        write_bytes(out / "figures" / f"{stem}.png", png.getvalue())
        svg = io.BytesIO()
        fig.savefig(svg, format="svg")
        write_bytes(out / "figures" / f"{stem}.svg", svg.getvalue())
    plt.close(fig)
    data = base64.b64encode(png.getvalue()).decode("ascii")
    share = min(100.0, 100 * width_in / TEXT_BLOCK_IN)  # the share of the page's text block it takes in print
    _display(
        f'<figure class="cme-figure"><img alt="{html.escape(i18n.plain(cap))}" data-width-in="{width_in:.2f}" '
        f'style="width: {share:.1f}%; max-width: {1.6 * width_in:.2f}in" '
        f'data-name="{stem}" src="data:image/png;base64,{data}"/>'
        f"<figcaption>{tables.inline(cap)}</figcaption></figure>"
    )


def warnings(items) -> None:
    """Show warnings given as (message id, values), each in a warning box."""
    for message, values in items:
        say(message, kind="warning", **values)


def dataset_note(raw_dir) -> None:
    """The callout that labels a reconstructed or synthetic data set (nothing for real data)."""
    from cmestudy.published.paper import dataset_info

    info = dataset_info(raw_dir)
    if info["reconstruction"]:
        say("dataset.reconstruction_note", kind="warning")
    if info.get("synthetic"):
        say("dataset.synthetic_note", kind="warning")
    if info["citation"]:
        say("dataset.reproduces", citation=info["citation"])


def show_problems(problems, caption: str, empty: str | None = None) -> None:
    """A table of data problems (file, row, column, value, what was expected), or a line saying there are none."""
    if not problems:
        if empty:
            say(empty, kind="ok")
        return
    frame = pd.DataFrame(
        [
            {"file": p.file, "row": p.row, "column": p.column, "value": p.value, "expected": p.describe()}
            for p in problems
        ]
    )
    frame["row"] = frame["row"].astype("Int64")
    show(frame, caption)


def show_crosstab(result, year: int, pairwise: pd.DataFrame) -> None:
    """Everything SPSS Crosstabs prints for one year's mode x title table, and the pairwise tests."""
    from cmestudy.analysis.pairwise import column_proportions
    from cmestudy.report import association_tables

    letters = column_proportions(result.observed, _STATE.get("values", {}).get("alpha", defaults.ALPHA))
    marks = letters.letters.copy()
    marks.index = pd.MultiIndex.from_tuples([(str(i), "count") for i in marks.index])
    marks.columns = [str(c) for c in marks.columns]
    notes = ["note.crosstab_counts", "note.column_letters"]
    if letters.any_excluded:
        notes.append("note.column_letters_excluded")
    counts, row_formats = (
        result.percentages_frame(),
        {
            "count": i18n.integer,
            "row_pct": lambda v: i18n.number(v, 1),
            "col_pct": lambda v: i18n.number(v, 1),
        },
    )
    both = pd.concat({"expected": result.expected, "adjusted_residual": result.adjusted_residuals}, axis=1)
    both.index.name = "mode"
    formats = {c: (lambda v: i18n.number(v, 2)) for c in both.columns}
    state = _STATE.get("small_cells")
    hide = None if state is None else state[0].get(int(year))
    if hide is not None and hide.to_numpy().any():  # an institution's own report: small counts hidden
        counts, row_formats = disclosure.crosstab(counts, hide, state[1]), None
        counts.attrs["small_cells"] = state[1]
        both, formats = disclosure.residuals(both, hide), None
        for mode, title in hide[hide].stack().index:  # no letters on a hidden count
            if (mode, "count") in marks.index and title in marks.columns:
                marks.loc[(mode, "count"), title] = ""
    show(
        counts,
        "caption.crosstab_counts",
        note=notes,
        marks=marks,
        year=year,
        row_formats=row_formats,
    )
    show(both, "caption.crosstab_residuals", note="note.adjusted_residuals", year=year, formats=formats)
    show(result.to_frame(), "caption.chi_square_tests", note=association_tables.notes(result), year=year)
    show(
        result.measures_frame(),
        "caption.symmetric_measures",
        year=year,
        formats={c: (lambda v: i18n.number(v, 3)) for c in result.measures_frame().columns},
    )
    show(
        association_tables.pairwise_frame(pairwise),
        "caption.pairwise",
        note="note.pairwise",
        year=year,
        adjust=i18n.t(f"label.adjust_{pairwise.attrs.get('adjust', 'none')}"),
    )
    text(i18n.t("narrative.apa_year", year=year, test=association_tables.report_chi2(result)))
