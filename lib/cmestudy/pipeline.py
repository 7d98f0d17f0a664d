"""Run the study: execute the numbered notebooks in order with papermill, then build the report.

Each notebook receives the same parameters (raw, processed and output directories, the
study years, the significance level, the p-value adjustment) in place of its cell
tagged ``parameters``; the executed copy goes to ``OUT/notebooks/``. When a notebook
fails the run stops: :class:`NotebookFailed` names the notebook, the cell and the error,
the partially executed notebook stays under ``OUT/notebooks/`` for debugging, and the
report of an earlier successful run is left as it was (the report files are only
replaced, atomically, after every notebook has succeeded).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from .problems import DataError
from .reading import check_raw_dir

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class NotebookFailed(RuntimeError):
    """A notebook raised an error; the message says where and what."""

    def __init__(self, notebook: str, cell: int | None, ename: str, evalue: str, source: str, kept: Path):
        self.notebook, self.cell, self.ename, self.evalue, self.source, self.kept = notebook, cell, ename, evalue, source, kept
        first = next((ln for ln in source.strip().splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
        where = f"cell {cell}" if cell is not None else "an unknown cell"
        msg = f"notebook {notebook} failed in {where}"
        if first:
            msg += f" (`{first.strip()[:80]}`)"
        msg += f":\n  {ename}: {evalue}\nThe partially executed notebook is kept at {kept}"
        super().__init__(msg)


class InvalidData(ValueError):
    """The raw data cannot be used; the message is the report of ``cmestudy validate``."""


@dataclass
class RunConfig:
    raw_dir: Path = paths.RAW_DIR
    out_dir: Path = paths.OUTPUT_DIR
    processed_dir: Path = paths.PROCESSED_DIR
    notebooks_dir: Path = paths.NOTEBOOKS_DIR
    years: list[int] = field(default_factory=lambda: [2021, 2022, 2023])
    alpha: float = 0.05
    adjust: str = "bonferroni"
    kernel: str | None = None
    progress: bool = True
    notebooks: tuple[str, ...] = paths.NOTEBOOKS

    def parameters(self) -> dict:
        return {
            "raw_dir": str(self.raw_dir), "processed_dir": str(self.processed_dir), "output_dir": str(self.out_dir),
            "years": [int(y) for y in self.years], "alpha": float(self.alpha), "adjust": self.adjust,
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


def execute(cfg: RunConfig) -> list[Path]:
    """Execute the notebooks in order; returns the executed copies. Raises NotebookFailed."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    kernel = choose_kernel(cfg.kernel)
    out_nb = Path(cfg.out_dir) / "notebooks"
    out_nb.mkdir(parents=True, exist_ok=True)
    executed = []
    for i, name in enumerate(cfg.notebooks, 1):
        src = Path(cfg.notebooks_dir) / f"{name}.ipynb"
        if not src.is_file():
            raise FileNotFoundError(f"notebook {src} does not exist")
        dst = out_nb / src.name
        log(f"[{i}/{len(cfg.notebooks)}] {name}")
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(src), str(dst), parameters=cfg.parameters(), kernel_name=kernel,
                                progress_bar=cfg.progress, cwd=str(Path(cfg.notebooks_dir)), log_output=False,
                                extra_arguments=["--IPKernelApp.log_level=ERROR"])
        except PapermillExecutionError as exc:
            raise NotebookFailed(name, exc.exec_count, exc.ename, exc.evalue, exc.source or "", dst) from None
        log(f"      {name} done in {time.perf_counter() - t0:.1f} s")
        executed.append(dst)
    return executed


def run(cfg: RunConfig) -> tuple[Path, Path]:
    """Run the whole study and write ``OUT/report.html`` and ``OUT/report.pdf``."""
    from . import published, reading, report

    check_raw_dir(cfg.raw_dir)
    t0 = time.perf_counter()
    code, text = validate(cfg.raw_dir, cfg.years)
    if code != EXIT_OK:
        raise InvalidData(text)
    log(text.splitlines()[0])
    executed = execute(cfg)
    import pandas as pd

    names = pd.read_parquet(Path(cfg.processed_dir) / "projects.parquet", columns=["discipline"])["discipline"].unique()
    warning = report.cjk_warning(names)
    if warning:
        log(f"warning: {warning}")
    log("building the report (HTML, PDF)")
    prov = reading.load_provenance(cfg.processed_dir)
    html_path, pdf_path = report.build_report(executed, cfg.out_dir, cfg.parameters(), provenance=prov,
                                              dataset=published.dataset_info(cfg.raw_dir))
    log(f"wrote {html_path} and {pdf_path} in {time.perf_counter() - t0:.1f} s")
    return html_path, pdf_path


def validate(raw_dir, years) -> tuple[int, str]:
    """Read and check every raw file; returns (exit code, human-readable report)."""
    from . import cleaning, reading

    try:
        ingested = reading.read_raw_dir(raw_dir, key=b"validate-only: keys are not kept")
        cleaned = cleaning.clean(ingested, years=years)
    except (FileNotFoundError, NotADirectoryError) as exc:
        return EXIT_INVALID, str(exc)
    except DataError as exc:
        return EXIT_INVALID, exc.format()
    lines = [f"{raw_dir}: the data can be used"]
    for f in ingested.files:
        lines.append(f"  {f.name}: {f.kind or 'not recognised (ignored)'}, {f.rows:,} rows")
    for w in ingested.warnings:
        lines.append(f"  warning: {w}")
    s = cleaned.summary
    lines.append(f"  {s['projects']:,} projects, {s['learners']:,} learners "
                 f"({s['titles_unknown']:,} with unknown title), {s['enrolments_excluded']:,} enrolment rows quarantined")
    for reason, n in s["quarantine_by_reason"].items():
        lines.append(f"    quarantined: {n:,} x {reason}")
    return EXIT_OK, "\n".join(lines)
