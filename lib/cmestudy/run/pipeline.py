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

import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cmestudy.paths import check_raw_dir
from cmestudy.run import cache
from cmestudy.run.config import NotebookFailed, OutOfSpace, RunConfig, choose_kernel, say
from cmestudy.run.kernels import KernelPool, _execute_one, import_lines, skip_slow_iri_checker

PARALLEL = ("03_descriptive", "04_chisquare", "05_prospects")


def execute(cfg: RunConfig, on_done=None) -> tuple[list[Path], int]:
    """Execute the notebooks whose inputs changed; returns (executed copies, number run).

    Notebooks run in order; those in :data:`PARALLEL` run side by side (``cfg.jobs`` at a
    time) once the cleaning is done, each with its own per-cell progress bar. With ``cfg.force`` every notebook runs. Raises
    :class:`NotebookFailed` on the first failure (the others of a parallel group finish).
    """
    out_nb = Path(cfg.out_dir) / "notebooks"
    out_nb.mkdir(parents=True, exist_ok=True)
    skip_slow_iri_checker()
    for name in cfg.notebooks:
        if not (Path(cfg.notebooks_dir) / f"{name}.ipynb").is_file():
            raise FileNotFoundError(f"notebook {Path(cfg.notebooks_dir) / (name + '.ipynb')} does not exist")
    logging.getLogger("papermill").setLevel(logging.CRITICAL)  # failures are reported as NotebookFailed
    previous = cache.load_state(cfg.out_dir)
    state = {} if cfg.force else previous
    state["seconds"] = dict(previous.get("seconds", {}))  # how long each notebook took when it last ran
    state["writes"] = dict(previous.get("writes", {}))  # checksums of what each notebook wrote
    if previous.get("outputs") and previous["outputs"] != cache.output_digest(cfg.out_dir):
        # the study's tables, figures or findings were rewritten outside a run (a notebook run by hand):
        # every notebook runs again, so that the report holds only the study's own files
        say(cfg, "outputs_changed", out=str(cfg.out_dir))
        state = {"seconds": state["seconds"], "writes": {}}
    package = cache.package_digest()
    params = cfg.parameters()
    kernel = None

    def fp(name):
        return cache.fingerprint(
            Path(cfg.notebooks_dir) / f"{name}.ipynb", params, cfg.raw_dir, cfg.processed_dir, package
        )

    def current(name, f):
        return state.get(name) == f and cache.outputs_present(
            Path(cfg.notebooks_dir) / f"{name}.ipynb",
            cfg.processed_dir,
            out_nb / f"{name}.ipynb",
            state.get("writes", {}).get(name),
        )

    names = list(cfg.notebooks)
    known = {}  # fingerprints taken before anything ran: still valid for the first notebook to run

    def fp_now(name):
        known[name] = fp(name)
        return known[name]

    first = next((n for n in names if not current(n, fp_now(n))), None)
    pool = None
    if first is not None:  # start the kernels of this notebook and of every later one now
        kernel = choose_kernel(cfg.kernel)
        pool = KernelPool(kernel, Path(cfg.notebooks_dir), Path(cfg.out_dir) / "logs")
        for n in names[names.index(first) :]:
            pool.start(n, import_lines(Path(cfg.notebooks_dir) / f"{n}.ipynb"), nice=n != first)
        import papermill  # noqa: F401  (loaded while the kernels start)
    try:
        return _execute_groups(cfg, names, state, fp, current, kernel, pool, on_done, known)
    finally:
        if pool:
            pool.shutdown()


def _execute_groups(cfg, names, state, fp, current, kernel, pool, on_done, known) -> tuple[list[Path], int]:
    out_nb = Path(cfg.out_dir) / "notebooks"
    total = len(names)
    ran = 0
    i = 0
    while i < len(names):
        group = [names[i]]
        if names[i] in PARALLEL and cfg.jobs > 1:
            while i + len(group) < len(names) and names[i + len(group)] in PARALLEL:
                group.append(names[i + len(group)])
        todo = []
        for k, name in enumerate(group):
            f = known[name] if ran == 0 and name in known else fp(name)  # inputs change only once a notebook ran
            if current(name, f):
                say(cfg, "up_to_date", i=i + k + 1, total=total, name=name)
            else:
                todo.append((name, f))
        if todo:
            if kernel is None:
                kernel = choose_kernel(cfg.kernel)
            if len(todo) == 1:
                name, f = todo[0]
                say(cfg, "step", i=names.index(name) + 1, total=total, name=name)
                _execute_one(cfg, name, kernel, cfg.progress, pool=pool, on_done=on_done, seconds=state["seconds"])
                state[name] = f
                state["writes"][name] = cache.writes_digest(
                    Path(cfg.notebooks_dir) / f"{name}.ipynb", cfg.processed_dir
                )
                cache.save_state(cfg.out_dir, state)
            else:
                say(
                    cfg,
                    "parallel",
                    which=", ".join(str(names.index(n) + 1) for n, _ in todo),
                    total=total,
                    names=", ".join(n for n, _ in todo),
                )
                if pool and len(todo) > (os.cpu_count() or 1):
                    pool.prioritise([n for n, _ in todo], state["seconds"])
                with ThreadPoolExecutor(max_workers=min(cfg.jobs, len(todo))) as threads:
                    futures = {
                        n: threads.submit(
                            _execute_one, cfg, n, kernel, cfg.progress, k, pool, on_done, state["seconds"]
                        )
                        for k, (n, _) in enumerate(todo)
                    }
                    failure = None
                    for n, f in todo:
                        try:
                            futures[n].result()
                            state[n] = f
                            state["writes"][n] = cache.writes_digest(
                                Path(cfg.notebooks_dir) / f"{n}.ipynb", cfg.processed_dir
                            )
                        except (NotebookFailed, OutOfSpace) as exc:
                            failure = failure or exc
                    cache.save_state(cfg.out_dir, state)
                    if failure:
                        raise failure
            ran += len(todo)
        i += len(group)
    return [out_nb / f"{n}.ipynb" for n in names], ran


class ReportBodies:
    """Turns each executed notebook into its report section in a background thread, as soon as
    the notebook finishes, so that the report is mostly assembled when the last one ends."""

    def __init__(self):
        self.threads = ThreadPoolExecutor(1)
        self.futures: dict = {}

    def add(self, notebook: Path) -> None:
        from cmestudy.report import document

        if not self.futures:
            self.threads.submit(_load_report_libraries)
        self.futures[notebook.stem] = self.threads.submit(document.notebook_body, notebook)

    def result(self) -> dict[str, str]:
        out = {stem: f.result() for stem, f in self.futures.items()}
        self.close()
        return out

    def close(self) -> None:
        self.threads.shutdown(wait=True, cancel_futures=True)


def _load_report_libraries() -> None:
    import nbconvert  # noqa: F401
    import weasyprint  # noqa: F401


#: What a run writes into the output directory, by format.
REPORT_FILES = {"html": "report.html", "pdf": "report.pdf", "docx": "report.docx"}


def run(cfg: RunConfig) -> dict[str, Path]:
    """Run the whole study and write ``OUT/report.html``, ``OUT/report.pdf`` and ``OUT/report.docx``.

    Invalid raw data stop the run in ``01_ingest`` or ``02_clean`` with the report of
    ``cmestudy validate`` (the same checks raise the same :class:`DataError`). With nothing
    changed since the last run, nothing is executed and the report is left as it is.
    Returns the report's paths by format.
    """
    check_raw_dir(cfg.raw_dir)
    t0 = time.perf_counter()
    bodies = ReportBodies()
    try:
        executed, ran = execute(cfg, on_done=bodies.add)
    except BaseException:
        bodies.close()
        raise
    st = cache.load_state(cfg.out_dir)
    asked = [f for f in REPORT_FILES if f in cfg.formats or f == "html"]  # the HTML is always written
    # what the last build wrote for the same formats (without a PDF engine, no PDF) must still be there
    out = {k: Path(cfg.out_dir) / REPORT_FILES[k] for k in st.get("report_files", asked)}
    report_fp = _digest(json.dumps({n: st.get(n) for n in cfg.notebooks}, sort_keys=True))
    same = st.get("asked", list(REPORT_FILES)) == asked and st.get("report") == report_fp
    if ran == 0 and same and all(p.is_file() for p in out.values()):
        bodies.close()
        say(cfg, "nothing_changed", out=str(cfg.out_dir), seconds=f"{time.perf_counter() - t0:.1f}")
        return out
    from cmestudy.ingest import storage
    from cmestudy.published import paper
    from cmestudy.report import document

    keep = set().union(*(cache.written(p) for p in sorted((Path(cfg.out_dir) / "notebooks").glob("*.ipynb"))))
    cache.prune(cfg.out_dir, keep)  # the study's tables and figures, and no other

    for w in storage.load_ingested_warnings(cfg.processed_dir):  # files and sheets not read are never silent
        say(cfg, "run_warning", text=w.text(cfg.lang) if hasattr(w, "text") else str(w))
    say(cfg, "building")
    prov = storage.load_provenance(cfg.processed_dir)
    years = json.loads((Path(cfg.processed_dir) / "cleaning.json").read_text(encoding="utf-8")).get("years")
    out = document.build(
        executed,
        cfg.out_dir,
        cfg.parameters(),
        provenance=prov,
        bodies=bodies.result(),
        dataset=paper.dataset_info(cfg.raw_dir),
        lang=cfg.lang,
        years=years,
        formats=asked,
    )
    st["report"] = report_fp
    st["report_files"], st["asked"] = sorted(out), asked
    st["outputs"] = cache.output_digest(cfg.out_dir)
    cache.save_state(cfg.out_dir, st)
    say(cfg, "wrote", files=", ".join(str(p) for p in out.values()), seconds=f"{time.perf_counter() - t0:.1f}")
    return out


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def validate(raw_dir, years, lang: str = "en") -> tuple[int, str]:
    """Read and check every raw file; returns (exit code, the report in ``lang``): see
    :func:`cmestudy.run.validation.validate`."""
    from cmestudy.run.validation import validate as check

    return check(raw_dir, years, lang)
