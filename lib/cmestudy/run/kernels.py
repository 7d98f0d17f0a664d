"""The kernels that execute the notebooks: started ahead and warmed with each notebook's imports
(:class:`KernelPool`), one notebook executed by papermill on a warm kernel with a time limit, and the
cell where a failed notebook stopped."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cmestudy.run.config import NotebookFailed, RunConfig, out_of_space, say

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
