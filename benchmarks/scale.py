"""Scale benchmark of the Dask engine (``make bench-scale``; not run in CI).

    python benchmarks/scale.py                         # 30 and 100 million enrolment rows
    python benchmarks/scale.py --rows 30000000         # one size
    python benchmarks/scale.py --memory-limit 1.5GB    # per worker of the local cluster

For each size it generates an export with ``benchmarks/bench.py``'s generator (a project register and
one enrolment CSV; about 35 bytes a row) and runs ingest + cleaning to the learner counts, each run in
a fresh process:

* the Dask engine on local threads;
* the Dask engine on a ``LocalCluster`` of 2 single-threaded workers with ``--memory-limit`` each;
* the default engine (only up to ``--default-max`` rows: it holds the export in memory).

While a run lasts, a monitor samples every 0.2 s the resident memory of the run's process and of
every process it started (the cluster's scheduler and workers), and reports the peak of each and
of their sum; a plugin on the cluster's scheduler counts the workers lost (a worker killed for
exceeding its memory limit and restarted by its nanny leaves the scheduler). All runs of one size must
give identical counts. The run ends with the targets of issue 18 and whether each is met (exit status 1
if one is not): the largest process of a Dask run at most 2,000 MB at every size, no worker lost, counts
identical. Results: ``output/benchmarks/scale.json`` and ``scale.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "lib"))

RUN = r"""
import json, sys, time
t0 = time.perf_counter()
from cmestudy import cleaning, ingest
raw, out, engine, workers, memory = sys.argv[1:6]
scheduler, cluster = None, None
if workers != "0":
    from dask.distributed import LocalCluster
    cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, memory_limit=memory, processes=True,
                           dashboard_address=None)
    scheduler = cluster.scheduler_address
    from distributed.diagnostics.plugin import SchedulerPlugin

    class WorkersLost(SchedulerPlugin):  # a worker killed for its memory and restarted by its nanny leaves
        def remove_worker(self, scheduler, worker, **kwargs):
            lost.append(worker)

    cluster.scheduler.add_plugin(WorkersLost())
lost = []
ingested = ingest.read_raw_dir(raw, key=b"benchmark-key-not-secret", engine=engine, scheduler=scheduler)
cleaned = cleaning.clean(ingested, years=[2021, 2022, 2023])
counts = cleaned.learners[cleaned.learners.grade != "unknown"][["project_id", "grade", "learners"]]
counts = counts[counts.learners > 0].astype({"grade": str})
elapsed = time.perf_counter() - t0
workers_lost = len(lost)
counts.sort_values(["project_id", "grade"]).to_parquet(out, index=False)
if cluster is not None:
    cluster.close()
print(json.dumps({"seconds": elapsed, "workers_lost": workers_lost}))
"""


def monitored(cmd: list[str], env: dict) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``cmd`` and sample the resident memory of it and of all its descendants."""
    import psutil

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peaks: dict[str, float] = {}
    total = [0.0]
    done = threading.Event()

    def sample():
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            now = 0.0
            for p in procs:
                try:
                    rss = p.memory_info().rss / 1e6
                    name = "main" if p.pid == root.pid else " ".join(p.cmdline()[1:3])[-60:] or p.name()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                key = f"{name} [{p.pid}]"
                peaks[key] = max(peaks.get(key, 0.0), rss)
                now += rss
            total[0] = max(total[0], now)
            done.wait(0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate()
    done.set()
    t.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), {"processes_mb": peaks, "total_mb": total[0]}


def run_one(raw: Path, out: Path, engine: str, workers: int, memory: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lib"))
    t0 = time.perf_counter()
    proc, mem = monitored([sys.executable, "-c", RUN, str(raw), str(out), engine, str(workers), memory], env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    res = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    largest = max(mem["processes_mb"].values()) if mem["processes_mb"] else 0.0
    return {**res, "process_seconds": wall, **mem, "largest_process_mb": largest}


def main(argv=None) -> int:
    import pandas as pd

    from bench import generate

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[30_000_000, 100_000_000])
    ap.add_argument("--memory-limit", default="1.5GB", help="memory limit of each local-cluster worker")
    ap.add_argument("--default-max", type=int, default=30_000_000, help="largest size the default engine runs")
    ap.add_argument("--out", type=Path, default=ROOT / "output" / "benchmarks")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"memory_limit": args.memory_limit, "cpus": os.cpu_count(), "sizes": []}
    for rows in args.rows:
        with tempfile.TemporaryDirectory(dir=args.out) as tmp:
            work = Path(tmp)
            t0 = time.perf_counter()
            generate(work / "raw", rows)
            gen = time.perf_counter() - t0
            os.sync()  # the generated file is on disk before timing starts: no run pays for its write-back
            size = (work / "raw" / "enrolments.csv").stat().st_size
            print(f"{rows:,} rows: generated {size / 1e9:.2f} GB in {gen:.0f} s", flush=True)
            runs = {}
            plan = [("dask_threads", "dask", 0), ("dask_cluster", "dask", 2)]
            if rows <= args.default_max:
                plan.append(("default", "pandas", 0))
            for name, engine, workers in plan:
                r = run_one(work / "raw", work / f"{name}.parquet", engine, workers, args.memory_limit)
                runs[name] = r
                print(
                    f"  {name}: {r['seconds']:.1f} s ({rows / r['seconds']:,.0f} rows/s), peak {r['total_mb']:,.0f} MB "
                    f"in all processes, largest process {r['largest_process_mb']:,.0f} MB",
                    flush=True,
                )
            frames = [pd.read_parquet(work / f"{n}.parquet").astype(str).reset_index(drop=True) for n in runs]
            identical = all(f.equals(frames[0]) for f in frames[1:])
            results["sizes"].append({"rows": rows, "csv_bytes": size, "runs": runs, "counts_identical": identical})
            print(f"  counts identical: {identical}", flush=True)
            shutil.rmtree(work / "raw")
    results["targets"] = targets(results)
    (args.out / "scale.json").write_text(json.dumps(results, indent=2))
    lines = [
        f"Dask engine at scale ({results['cpus']} cores; cluster workers with {args.memory_limit} each). "
        "Peak resident memory in MB (10^6 bytes): of the largest process, and summed over all processes.",
        "",
        "| rows | run | seconds | rows/s | largest process MB | all processes MB | workers lost | counts identical |",
        "|---:|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for s in results["sizes"]:
        for name, r in s["runs"].items():
            lost = str(r["workers_lost"]) if name == "dask_cluster" else "—"
            lines.append(
                f"| {s['rows']:,} | {name} | {r['seconds']:.1f} | {s['rows'] / r['seconds']:,.0f} | "
                f"{r['largest_process_mb']:,.0f} | {r['total_mb']:,.0f} | {lost} | "
                f"{'yes' if s['counts_identical'] else 'NO'} |"
            )
    lines += ["", "| target | measured | met |", "|---|---|:---:|"]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |" for t in results["targets"]]
    (args.out / "scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(t["met"] for t in results["targets"]) else 1


#: Largest resident memory of any process of a Dask run, in MB (10^6 bytes).
PEAK_TARGET_MB = 2000


def targets(results: dict) -> list[dict]:
    """The issue's targets, each with what was measured: the Dask engine's largest process within
    ``PEAK_TARGET_MB`` at every size, on threads and on the cluster; no cluster worker lost (killed
    for its memory and restarted); every engine's counts identical at every size."""
    out = []
    for run in ("dask_threads", "dask_cluster"):
        peaks = [(s["rows"], s["runs"][run]["largest_process_mb"]) for s in results["sizes"] if run in s["runs"]]
        if peaks:
            out.append(
                {
                    "target": f"{run}: largest process at most {PEAK_TARGET_MB:,} MB at every size",
                    "measured": ", ".join(f"{mb:,.0f} MB at {rows / 1e6:g}M rows" for rows, mb in peaks),
                    "met": all(mb <= PEAK_TARGET_MB for _, mb in peaks),
                }
            )
    lost = [
        (s["rows"], s["runs"]["dask_cluster"]["workers_lost"]) for s in results["sizes"] if "dask_cluster" in s["runs"]
    ]
    if lost:
        out.append(
            {
                "target": f"dask_cluster: no worker lost ({results['memory_limit']} each)",
                "measured": ", ".join(f"{n} at {rows / 1e6:g}M rows" for rows, n in lost),
                "met": all(n == 0 for _, n in lost),
            }
        )
    out.append(
        {
            "target": "counts identical across engines",
            "measured": ", ".join(
                f"{'yes' if s['counts_identical'] else 'no'} at {s['rows'] / 1e6:g}M rows" for s in results["sizes"]
            ),
            "met": all(s["counts_identical"] for s in results["sizes"]),
        }
    )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
