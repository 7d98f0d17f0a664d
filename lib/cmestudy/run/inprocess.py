"""Run the study's notebooks in this Python process: their code cells, as papermill would.

The pipeline runs each notebook in a fresh Jupyter kernel (:mod:`cmestudy.run.pipeline`). For checks
that run the study on many small data sets (the property test of ``tests/test_degenerate.py``)
a kernel per notebook costs seconds; here the cells run with ``exec`` in one namespace per
notebook, after the parameters cell and the injected parameters, exactly in the notebook's
order. What the cells display (headings, tables, figures, sentences) is collected as HTML
instead of being printed, and figures can be drawn at a draft resolution.

A cell that raises stops the notebook with :class:`CellFailed`, which names the notebook,
the cell (its number among the code cells, as Jupyter numbers them in a fresh kernel, the
injected-parameters cell included) and the exception.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from cmestudy import paths
from cmestudy.report import notebook


class CellFailed(RuntimeError):
    """A notebook cell raised: ``notebook``, ``cell`` (number) and ``error`` (the exception)."""

    def __init__(self, notebook: str, cell: int, source: str, error: BaseException):
        self.notebook, self.cell, self.source, self.error = notebook, cell, source, error
        first = next((ln for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
        super().__init__(f"notebook {notebook} failed in cell {cell} (`{first.strip()[:80]}`): "
                         f"{type(error).__name__}: {error}")  # fmt: skip


def code_cells(path: Path) -> list[tuple[str, bool]]:
    """The notebook's code cells: (source, is the parameters cell)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            out.append((source, "parameters" in cell.get("metadata", {}).get("tags", [])))
    return out


@contextmanager
def collected(dpi: int | None = None):
    """Within the block, what the notebooks display is appended to the list it yields (HTML);
    ``dpi`` draws figures at that resolution instead of the report's."""
    sink: list[str] = []
    before = notebook._STATE.get("sink"), notebook._STATE.get("dpi")
    notebook._STATE["sink"], notebook._STATE["dpi"] = sink, dpi
    try:
        yield sink
    finally:
        notebook._STATE["sink"], notebook._STATE["dpi"] = before


def run_notebook(path: Path, parameters: dict) -> None:
    """Execute one notebook's code cells here, the parameters cell first, then ``parameters``."""
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {"__name__": "__main__"}
    injected = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    number = 0
    for source, is_parameters in code_cells(path):
        number += 1
        _exec(source, namespace, Path(path).stem, number)
        if is_parameters:  # papermill's injected-parameters cell comes right after it
            number += 1
            _exec(injected, namespace, Path(path).stem, number)


def _exec(source: str, namespace: dict, notebook: str, number: int) -> None:
    import matplotlib.pyplot as plt

    try:
        exec(compile(source, f"<{notebook} cell {number}>", "exec"), namespace)
    except Exception as exc:
        raise CellFailed(notebook, number, source, exc) from exc
    finally:
        plt.close("all")


def run_study(parameters: dict, notebooks_dir: Path | None = None, names=paths.NOTEBOOKS) -> None:
    """Execute the study's notebooks in order, here (see the module's docstring)."""
    folder = Path(notebooks_dir or paths.NOTEBOOKS_DIR)
    for name in names:
        run_notebook(folder / f"{name}.ipynb", parameters)
