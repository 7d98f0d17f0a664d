"""Project paths, anchored at the project root so notebooks and the CLI agree.

The root is the directory holding ``pyproject.toml`` above this package
(``lib/cmestudy`` -> project root). ``CMESTUDY_ROOT`` overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("CMESTUDY_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parent
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "notebooks").is_dir():
            return candidate
    return Path.cwd().resolve()


PROJECT_ROOT = _find_root()
RAW_DIR = PROJECT_ROOT / "data" / "raw"
PROCESSED_DIR = PROJECT_ROOT / "data" / "processed"
OUTPUT_DIR = PROJECT_ROOT / "output"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"

#: The notebooks of the study, in the order the pipeline runs them.
NOTEBOOKS = ("01_ingest", "02_clean", "03_descriptive", "04_chisquare", "05_prospects")


def resolve(path: str | os.PathLike) -> Path:
    """Return ``path`` as an absolute path; relative paths are taken from the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (PROJECT_ROOT / p).resolve()
