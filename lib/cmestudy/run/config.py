"""What a run is told and what stops it: the run's settings (:class:`RunConfig`), the kernel it uses,
its messages, and the errors that end it with one paragraph (a notebook that failed, a full disk)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from cmestudy import defaults, paths

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class OutOfSpace(RuntimeError):
    """A file of the run could not be written because its disk is full (or the quota is used up)."""

    def __init__(self, path, out_dir):
        self.path, self.out_dir = str(path), str(out_dir)
        super().__init__(f"no space left on the device to write {self.path}")

    def explain(self, lang: str | None = None) -> str:
        """One paragraph: which file, that the disk is full, and that a rerun resumes."""
        from cmestudy import i18n

        return i18n.t("run.disk_full", lang, file=self.path, out=self.out_dir)


def out_of_space(exc: BaseException, out_dir, fallback=None) -> OutOfSpace | None:
    """The :class:`OutOfSpace` an error stands for (an ``OSError`` of a full disk, raised here or in a
    notebook's kernel), or None when it is another error."""
    import re

    from cmestudy.fileio import FULL

    if isinstance(exc, OutOfSpace):
        return exc
    if isinstance(exc, OSError) and exc.errno in FULL:
        return OutOfSpace(exc.filename or fallback or out_dir, out_dir)
    if isinstance(exc, NotebookFailed) and exc.ename == "OSError":
        m = re.match(r"\[Errno (\d+)\][^:]*(?::\s*'(.*)')?", exc.evalue)
        if m and int(m.group(1)) in FULL:
            return OutOfSpace(m.group(2) or exc.kept, out_dir)
    return None


def data_summary(processed_dir, lang: str | None = None) -> str | None:
    """One sentence on the data a failed notebook was analysing (from ``cleaning.json`` and the
    cleaned register), so that a message about an error says what the data looked like; None
    before the cleaning has run."""
    from cmestudy import i18n

    path = Path(processed_dir) / "cleaning.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        import pandas as pd

        projects = pd.read_parquet(Path(processed_dir) / "projects.parquet", columns=["year", "mode"])
    except (OSError, ValueError, ImportError):
        return None
    per = projects.groupby(["year", "mode"], observed=False).size().unstack("mode", fill_value=0)
    years = [int(y) for y in summary.get("years") or per.index]
    items = [
        f"{y} {int(per.loc[y, 'live']) if y in per.index else 0}/{int(per.loc[y, 'face_to_face']) if y in per.index else 0}"
        for y in years
    ]
    return i18n.t(
        "run.data_summary",
        lang,
        projects=i18n.integer(summary.get("projects", 0)),
        learners=i18n.integer(summary.get("learners", 0)),
        by_year=i18n.t("punct.list_sep", lang).join(items),
    )


class NotebookFailed(RuntimeError):
    """A notebook raised an error; the message says where and what."""

    def __init__(self, notebook: str, cell: int | None, ename: str, evalue: str, source: str, kept: Path):
        self.notebook, self.cell, self.ename, self.evalue, self.source, self.kept = (
            notebook,
            cell,
            ename,
            evalue,
            source,
            kept,
        )
        super().__init__(self.describe("en"))

    def describe(self, lang: str = "en") -> str:
        """Where the notebook failed, the error, and where the executed notebook is kept, in ``lang``."""
        from cmestudy import i18n

        first = next(
            (ln for ln in self.source.strip().splitlines() if ln.strip() and not ln.lstrip().startswith("#")), ""
        )
        where = (
            i18n.t("cli.failed_cell", lang, cell=self.cell)
            if self.cell is not None
            else i18n.t("cli.failed_unknown_cell", lang)
        )
        return i18n.t(
            "cli.failed", lang, notebook=self.notebook, where=where, first=f" (`{first.strip()[:80]}`)" if first else "",
            ename=self.ename, evalue=self.evalue, kept=self.kept,
        )  # fmt: skip


@dataclass
class RunConfig:
    raw_dir: Path = paths.RAW_DIR
    out_dir: Path = paths.OUTPUT_DIR
    processed_dir: Path = paths.PROCESSED_DIR
    notebooks_dir: Path = paths.NOTEBOOKS_DIR
    years: list[int] | None = defaults.YEARS
    alpha: float = defaults.ALPHA
    confidence: float = defaults.CONFIDENCE
    adjust: str = defaults.ADJUST
    horizon_months: int = defaults.HORIZON_MONTHS
    change_date: str | None = defaults.CHANGE_DATE
    change_kind: str = defaults.CHANGE_KIND
    lang: str = defaults.LANG
    kernel: str | None = None
    progress: bool = True
    notebooks: tuple[str, ...] = paths.NOTEBOOKS
    force: bool = False
    jobs: int = defaults.JOBS
    engine: str = defaults.ENGINE
    scheduler: str | None = defaults.SCHEDULER
    min_cell: int = defaults.MIN_CELL
    suppress_small_cells: bool = False
    cell_timeout: float = defaults.CELL_TIMEOUT
    formats: tuple[str, ...] = defaults.FORMATS

    def parameters(self) -> dict:
        return {
            "raw_dir": str(self.raw_dir),
            "processed_dir": str(self.processed_dir),
            "output_dir": str(self.out_dir),
            "years": [int(y) for y in self.years] if self.years else None,
            "alpha": float(self.alpha),
            "confidence": float(self.confidence),
            "adjust": self.adjust,
            "horizon_months": int(self.horizon_months),
            "change_date": self.change_date,
            "change_kind": self.change_kind,
            "lang": self.lang,
            "engine": self.engine,
            "scheduler": self.scheduler,
            "min_cell": int(self.min_cell),
            "suppress": bool(self.suppress_small_cells),
        }


def choose_kernel(requested: str | None) -> str:
    """The kernel to run notebooks with: the one asked for, else ``cmestudy`` if registered, else ``python3``."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if requested:
        if requested not in specs and requested != "python3":
            raise ValueError(f"no Jupyter kernel named {requested!r}; available: {', '.join(sorted(specs)) or 'none'}")
        return requested
    return "cmestudy" if "cmestudy" in specs else "python3"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def say(cfg: RunConfig, msg: str, **values) -> None:
    """Print a progress line of the run in its language (``cli.<msg>`` of the catalogues)."""
    from cmestudy import i18n

    log(i18n.t(f"cli.{msg}", cfg.lang, **values))
