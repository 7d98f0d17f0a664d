"""Report: the numbers named in the reader's language, shown in the notebooks and assembled as HTML, PDF and Word.

What a notebook cell calls (``report.show``, ``report.figure``, ...) is :mod:`cmestudy.report.notebook`,
importable from here.
"""

from cmestudy.report.notebook import (
    dataset_note,
    figure,
    heading,
    hide_small,
    level_values,
    say,
    setup_notebook,
    show,
    show_crosstab,
    show_problems,
    small_cells,
    text,
    warnings,
)

__all__ = ["dataset_note", "figure", "heading", "hide_small", "level_values", "say", "setup_notebook", "show",
           "show_crosstab", "show_problems", "small_cells", "text", "warnings"]  # fmt: skip
