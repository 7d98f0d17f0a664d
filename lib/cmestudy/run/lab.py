"""Exploring the study in JupyterLab without dirtying the repository.

``make lab`` starts JupyterLab with the project's ``jupyter_server_config.py``, which installs
:func:`pre_save` as the server's pre-save hook: every save of a study notebook (``notebooks/*.ipynb``,
JupyterLab's autosave included) writes it as it is committed, without outputs, execution counts
or the metadata JupyterLab adds (as nbstripout does), while edits to its cells and parameters are
kept. So ``git status`` stays clean after a notebook was merely opened and run, and the incremental
runs (:func:`cmestudy.run.cache.notebook_digest`) see no change. To keep an explored notebook with its
outputs, save a copy elsewhere (File > Save Notebook As... ``output/lab/my-analysis.ipynb``).

A notebook run in JupyterLab writes its tables and figures to ``output/lab/`` (its parameters
cell's default); ``cmestudy run`` passes its own directories and checks, before trusting them,
that the files it wrote are still the ones it wrote (:mod:`cmestudy.run.cache`).
"""

from __future__ import annotations

from pathlib import PurePosixPath

#: Where the study notebooks live, relative to the server's root (the project).
STUDY_FOLDER = "notebooks"
#: The notebook metadata a committed study notebook holds, as committed.
KERNELSPEC = {"display_name": "Python (cmestudy)", "language": "python", "name": "cmestudy"}
LANGUAGE_INFO = {"name": "python"}


def is_study_notebook(path: str) -> bool:
    """Whether an API path (relative to the server's root) is one of the study's notebooks.

    >>> is_study_notebook("notebooks/04_chisquare.ipynb"), is_study_notebook("output/lab/copy.ipynb")
    (True, False)
    """
    p = PurePosixPath(str(path).replace("\\\\", "/").lstrip("/"))
    return p.suffix == ".ipynb" and p.parent == PurePosixPath(STUDY_FOLDER)


def clean(nb: dict) -> dict:
    """A notebook as committed: no outputs, no execution counts, cells' metadata reduced to their tags,
    the notebook's metadata to ``cmestudy``, the study's kernel and the language (in place; returned).

    >>> nb = {"metadata": {"cmestudy": {"x": 1}, "widgets": {}, "kernelspec": {"name": "python3"}},
    ...       "cells": [{"cell_type": "code", "source": "1", "execution_count": 3, "outputs": [{"a": 1}],
    ...                  "metadata": {"tags": ["parameters"], "scrolled": True, "execution": {}}}]}
    >>> clean(nb)["cells"][0], sorted(nb["metadata"])
    ({'cell_type': 'code', 'source': '1', 'execution_count': None, 'outputs': [], 'metadata': {'tags': ['parameters']}}, ['cmestudy', 'kernelspec', 'language_info'])
    """
    meta = nb.setdefault("metadata", {})
    kept = {k: meta[k] for k in ("cmestudy",) if k in meta}
    meta.clear()
    meta.update(kept, kernelspec=dict(KERNELSPEC), language_info=dict(LANGUAGE_INFO))
    for cell in nb.get("cells", []):
        tags = cell.get("metadata", {}).get("tags")
        cell["metadata"] = {"tags": tags} if tags else {}
        if cell.get("cell_type") == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
    return nb


def pre_save(model: dict, path: str, **kwargs) -> None:
    """jupyter_server's pre-save hook (``FileContentsManager.pre_save_hook``): a study notebook is
    saved clean (:func:`clean`); any other file as it is."""
    if model.get("type") == "notebook" and model.get("content") is not None and is_study_notebook(path):
        clean(model["content"])
