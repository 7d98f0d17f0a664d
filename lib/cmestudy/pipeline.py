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

import contextlib
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import cache, defaults, paths
from .paths import check_raw_dir

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class OutOfSpace(RuntimeError):
    """A file of the run could not be written because its disk is full (or the quota is used up)."""

    def __init__(self, path, out_dir):
        self.path, self.out_dir = str(path), str(out_dir)
        super().__init__(f"no space left on the device to write {self.path}")

    def explain(self, lang: str | None = None) -> str:
        """One paragraph: which file, that the disk is full, and that a rerun resumes."""
        from . import i18n

        return i18n.t("run.disk_full", lang, file=self.path, out=self.out_dir)


def out_of_space(exc: BaseException, out_dir, fallback=None) -> OutOfSpace | None:
    """The :class:`OutOfSpace` an error stands for (an ``OSError`` of a full disk, raised here or in a
    notebook's kernel), or None when it is another error."""
    import re

    from .fileio import FULL

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
    from . import i18n

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
        from . import i18n

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
    from . import i18n

    log(i18n.t(f"cli.{msg}", cfg.lang, **values))


KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]
WARM_NICENESS = 10
SHARING_NICENESS = 15  # notebooks that share the processors with a longer one run side by side


def skip_slow_iri_checker() -> None:
    """Keep jsonschema (imported by papermill and nbformat) from loading ``rfc3987_syntax``.

    That optional checker of the "iri" string format compiles a Lark grammar when imported,
    1.5 s here and several seconds on a busy machine (python-jsonschema/jsonschema#1428);
    notebook validation never checks that format. Marking the module absent makes
    jsonschema skip it, as it does when the module is not installed. Only this process is
    affected, and only if jsonschema has not been imported yet.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


def import_lines(notebook: Path) -> str:
    """The top-level ``import`` and ``from ... import`` lines of a notebook's code cells."""
    import json

    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        lines += [
            ln
            for ln in src.splitlines()
            if (ln.startswith("import ") or (ln.startswith("from ") and " import " in ln))
            and not ln.rstrip().endswith(("(", "\\"))
        ]
    return "\n".join(dict.fromkeys(lines))


class KernelPool:
    """Kernels started ahead of the notebooks that will use them.

    A later notebook's kernel is started while earlier notebooks still execute, at a lower
    priority, and loads the libraries its notebook imports during its own start-up: the
    notebook's import lines are given to the kernel as IPython's ``exec_lines``, which
    ipykernel runs before it answers any request (outside the history, so the notebook's
    cells are still counted 1, 2, 3, ...). The notebook then executes top to bottom as
    usual and its imports find the modules loaded. Kernels not used are shut down at the end.

    No client other than papermill's ever talks to a kernel. (An earlier version sent the
    imports through a second client of the same ``KernelManager``; both clients carried the
    manager's session, whose id is the ZeroMQ identity of their shell sockets, and a
    kernel's ROUTER socket routes by identity, so a reply could go to the wrong client and
    papermill waited for it forever: 3 of 12 reruns of one notebook hung.)

    On POSIX systems the kernels talk over Unix domain sockets (ZeroMQ's ``ipc`` transport),
    not TCP ports: a TCP port is chosen by the client, released, and bound again by the
    kernel a moment later, and another process (or another kernel starting at the same
    time) can take it in between; the kernel then dies with "Address already in use". The
    socket files live in a private directory of the pool, one prefix per notebook (never
    jupyter_client's default ``kernel-ipc`` in the working directory, which every kernel
    started there would share, so that their messages would cross), and cannot be taken. What a
    kernel writes to its standard output and error (start-up warnings, or the traceback of a
    kernel that could not start) goes to ``logs/kernel-<notebook>.log`` in the output
    directory, not to the user's terminal; a kernel found dead when its notebook is due is
    started again, once.
    """

    def __init__(self, kernel: str, cwd: Path, log_dir: Path | None = None):
        self.kernel, self.cwd = kernel, str(cwd)
        self.log_dir = Path(log_dir) if log_dir else None
        self.managers: dict = {}
        self.pids: dict = {}
        self.warm_up: dict = {}
        self.started = itertools.count()
        self.sockets = tempfile.mkdtemp(prefix="cmestudy-kernels-") if os.name == "posix" else None
        self.stopping = ThreadPoolExecutor(1)  # kernels are shut down off the critical path

    def start(self, name: str, warm_up: str = "", nice: bool = True) -> None:
        """Start a kernel for ``name`` that runs ``warm_up`` (lines of code) while starting; with
        ``nice``, at a lower priority (nice 10), so that it does not slow the notebook executing now."""
        from jupyter_client.manager import KernelManager

        self.warm_up[name] = warm_up
        lines = [ln for ln in warm_up.splitlines() if ln.strip()]
        # papermill's client is asynchronous (as for kernels it starts itself), so that nbclient's
        # timeouts and its check that the kernel is alive run while it waits for a message
        km = KernelManager(
            kernel_name=self.kernel,
            client_class="jupyter_client.asynchronous.AsyncKernelClient",
            # a kernel started again gets a new prefix: the dead one's files are removed in the background
            **(
                {"transport": "ipc", "ip": os.path.join(self.sockets, f"{name}.{next(self.started)}")}
                if self.sockets
                else {}
            ),
        )
        with contextlib.ExitStack() as stack:
            streams = {}
            if self.log_dir is not None:  # the kernel keeps its own copy of the file descriptor
                self.log_dir.mkdir(parents=True, exist_ok=True)
                log_file = stack.enter_context(open(self.log_dir / f"kernel-{name}.log", "ab"))
                streams = {"stdout": log_file, "stderr": subprocess.STDOUT}
            km.start_kernel(
                extra_arguments=KERNEL_ARGS + ([f"--IPKernelApp.exec_lines={json.dumps(lines)}"] if lines else []),
                cwd=self.cwd,
                **streams,
            )
        self.pids[name] = getattr(getattr(km, "provisioner", None), "pid", None)
        if nice:
            self._renice(name, WARM_NICENESS)
        self.managers[name] = km

    def _renice(self, name: str, niceness: int) -> None:
        pid = self.pids.get(name)
        if isinstance(pid, int) and hasattr(os, "setpriority"):
            with contextlib.suppress(OSError):  # lowering a priority needs no privileges
                os.setpriority(os.PRIO_PROCESS, pid, max(niceness, os.getpriority(os.PRIO_PROCESS, pid)))

    def prioritise(self, names: list[str], seconds: dict) -> None:
        """Longest first: of notebooks about to run side by side, the one that took longest last
        time keeps its priority and the others yield to it, so that it ends as early as it can
        (when there are more notebooks than processors). Without timings nothing changes."""
        known = [n for n in names if isinstance(seconds.get(n), (int, float))]
        if len(names) < 2 or len(known) < len(names):
            return
        longest = max(names, key=lambda n: seconds[n])
        for n in names:
            if n != longest:
                self._renice(n, SHARING_NICENESS)

    def take(self, name: str):
        """The kernel started for ``name``; one found dead is started again (at full priority)."""
        km = self.managers.get(name)
        if km is not None and not km.is_alive():
            self.managers.pop(name)
            self.stopping.submit(_stop_kernel, km)
            self.start(name, self.warm_up.get(name, ""), nice=False)
            km = self.managers[name]
        return km

    def shutdown(self, name: str | None = None) -> None:
        """Shut down one notebook's kernel (in the background), or all of them (and wait)."""
        for n in [name] if name else list(self.managers):
            km = self.managers.pop(n, None)
            if km is not None:
                self.stopping.submit(_stop_kernel, km)
        if not name:
            self.stopping.shutdown(wait=True)
            if self.sockets:
                shutil.rmtree(self.sockets, ignore_errors=True)
            for log_file in self.log_dir.glob("kernel-*.log") if self.log_dir else []:
                if log_file.stat().st_size == 0:  # only kernels that had something to say leave a log
                    log_file.unlink()


def _stop_kernel(km) -> None:
    if km.has_kernel:
        km.shutdown_kernel(now=True)


def _execute_one(
    cfg: RunConfig,
    name: str,
    kernel: str,
    progress: bool,
    position: int = 0,
    pool: KernelPool | None = None,
    on_done=None,
    seconds: dict | None = None,
) -> Path:
    """Execute one notebook with papermill; every wait is bounded by ``cfg.cell_timeout``.

    A cell that runs longer, a kernel that dies, or one that never answers raises
    :class:`NotebookFailed` naming the notebook and the cell, as an error in a cell does;
    papermill has saved the partially executed notebook by then.
    """
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    src = Path(cfg.notebooks_dir) / f"{name}.ipynb"
    dst = Path(cfg.out_dir) / "notebooks" / src.name
    t0 = time.perf_counter()
    km = pool.take(name) if pool else None
    try:
        pm.execute_notebook(
            str(src),
            str(dst),
            parameters=cfg.parameters(),
            kernel_name=kernel,
            progress_bar={"desc": name, "position": position, "leave": True} if progress else False,
            cwd=str(Path(cfg.notebooks_dir)),
            log_output=False,
            extra_arguments=KERNEL_ARGS,
            execution_timeout=cfg.cell_timeout,
            start_timeout=cfg.cell_timeout,
            **({"km": km} if km is not None else {}),
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(name, exc.exec_count, exc.ename, exc.evalue, exc.source or "", dst) from None
    except CellTimeoutError:
        _cancel_orphan_tasks()
        cell, source = stopped_cell(dst)
        raise NotebookFailed(
            name,
            cell,
            "CellTimeoutError",
            f"the cell did not finish within {cfg.cell_timeout:g} s (--cell-timeout); its kernel was stopped",
            source,
            dst,
        ) from None
    except DeadKernelError as exc:
        _cancel_orphan_tasks()
        cell, source = stopped_cell(dst)
        kernel_log = Path(cfg.out_dir) / "logs" / f"kernel-{name}.log"
        wrote = kernel_log.is_file() and kernel_log.stat().st_size > 0
        raise NotebookFailed(
            name,
            cell,
            "DeadKernelError",
            f"the kernel died while the cell ran ({exc})" + (f"; what it wrote is in {kernel_log}" if wrote else ""),
            source,
            dst,
        ) from None
    except RuntimeError as exc:  # jupyter_client: the kernel did not answer within the start-up timeout
        cell, source = stopped_cell(dst)
        raise NotebookFailed(name, cell, "KernelNotAnswering", str(exc), source, dst) from None
    except OSError as exc:  # after the timeouts (an OSError too): papermill could not save on a full disk
        full = out_of_space(exc, cfg.out_dir, fallback=dst)
        if full is None:
            raise
        raise full from None
    finally:
        if pool:
            pool.shutdown(name)
    elapsed = time.perf_counter() - t0
    say(cfg, "done", name=name, seconds=f"{elapsed:.1f}")
    if seconds is not None:
        seconds[name] = round(elapsed, 2)
    if on_done:
        on_done(dst)
    return dst


def _cancel_orphan_tasks() -> None:
    """Cancel what nbclient left pending in this thread's event loop when a cell timed out or its
    kernel died (its wait for the cell's output), so that nothing waits on at exit."""
    import asyncio

    from jupyter_core.utils import ensure_event_loop

    loop = ensure_event_loop()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending and not loop.is_running():
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def stopped_cell(executed: Path) -> tuple[int | None, str]:
    """Where papermill stopped in a partially executed notebook: (the cell's number, its source).

    The cell is the last one papermill started; its number is its execution count, or else
    its place among the code cells (as Jupyter numbers them in a fresh kernel).
    """
    import nbformat

    try:
        nb = nbformat.read(str(executed), as_version=4)
    except (OSError, ValueError):
        return None, ""
    code = [c for c in nb.cells if c.cell_type == "code"]
    started = [c for c in code if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return None, ""
    cell = started[-1]
    return cell.get("execution_count") or code.index(cell) + 1, cell.source


#: Notebooks that only read the cleaned tables: they may run side by side.
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
        from . import document

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
    from . import document, published, storage

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
        dataset=published.dataset_info(cfg.raw_dir),
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
    :func:`cmestudy.validation.validate`."""
    from .validation import validate as check

    return check(raw_dir, years, lang)
