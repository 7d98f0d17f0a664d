"""Scale benchmark of the ingest and of the whole study (``make bench-scale``; not run in CI).

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
give identical counts.

Then the command a user runs, ``cmestudy run --raw DIR --out OUT --engine E --force`` (the whole
study: five notebooks in their kernels and the report in HTML, PDF and Word), with the peak of every
process (the command, each kernel, and the cluster's scheduler and workers, started beside it and
passed with ``--scheduler``) and each notebook's time: the default engine and the Dask engine on
threads and on the cluster at every size, and the default engine at ``--default-max`` rows and below.
Where the default engine runs, the Dask runs' tables of counts and tests must be identical to its.

The run ends with the targets of issues 18 and 29 and whether each is met (exit status 1 if one is
not). Results: ``output/benchmarks/scale.json`` and ``scale.md``.
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
from cmestudy.clean import cleaning
from cmestudy.ingest import exports as ingest
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


CLUSTER = r"""
import json, sys
from dask.distributed import LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
lost = []
class WorkersLost(SchedulerPlugin):  # a worker killed for its memory and restarted by its nanny leaves
    def remove_worker(self, scheduler, worker, **kwargs):
        lost.append(worker)
cluster = LocalCluster(n_workers=int(sys.argv[1]), threads_per_worker=1, memory_limit=sys.argv[2], processes=True,
                       dashboard_address=None)
cluster.scheduler.add_plugin(WorkersLost())
print(cluster.scheduler_address, flush=True)
sys.stdin.read()  # serves until the benchmark closes its input
n = len(lost)
cluster.close()
print(json.dumps({"workers_lost": n}), flush=True)
"""


def monitored(cmd: list[str], env: dict, beside: list | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``cmd`` and sample the resident memory of it and of all its descendants, and of the
    processes ``beside`` it (a cluster started for it) and theirs."""
    import psutil

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peaks: dict[str, float] = {}
    total = [0.0]
    done = threading.Event()

    def sample():
        roots = [psutil.Process(proc.pid), *(psutil.Process(p.pid) for p in beside or [])]
        root = roots[0]
        while not done.is_set():
            try:
                procs = [p for r in roots for p in (r, *r.children(recursive=True))]
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


STUDY_NOTEBOOKS = ("01_ingest", "02_clean", "03_descriptive", "04_chisquare", "05_prospects")


def run_study(raw: Path, out: Path, engine: str, workers: int, memory: str) -> dict:
    """``cmestudy run --force`` on ``raw`` as a user runs it, on a cluster of ``workers`` started beside
    it when ``workers`` > 0; the peak of every process and each notebook's time."""
    import re

    env = dict(os.environ, PYTHONPATH=str(ROOT / "lib"))
    cmd = [sys.executable, "-m", "cmestudy", "run", "--raw", str(raw), "--out", str(out), "--engine", engine,
           "--force", "--no-progress", "--lang", "en"]  # fmt: skip
    cluster = None
    if workers:
        cluster = subprocess.Popen([sys.executable, "-c", CLUSTER, str(workers), memory], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
        cmd += ["--scheduler", cluster.stdout.readline().strip()]
    t0 = time.perf_counter()
    try:
        proc, mem = monitored(cmd, env, [cluster] if cluster else None)
    finally:
        lost = None
        if cluster is not None:
            report, _ = cluster.communicate("", timeout=120)
            lost = json.loads([ln for ln in report.splitlines() if ln.startswith("{")][-1])["workers_lost"]
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    notebooks = {n: float(s) for n, s in re.findall(r"(\d\d_\w+) done in ([\d.]+) s", proc.stderr)}
    largest = max(mem["processes_mb"].values()) if mem["processes_mb"] else 0.0
    return {"seconds": wall, "notebooks": notebooks, "workers_lost": lost, **mem, "largest_process_mb": largest}


#: The tables whose counts and tests must agree between engines (file names under OUT/tables/).
COMPARED = ("learners_by_year_delivery_mode_and_professional_title.csv",
            "delivery_mode_professional_title_tests_by_year.csv",
            "delivery_mode_professional_title_by_year_naive_and_design_ba.csv",
            "odds_of_each_title_against_intermediate_live_vs_face_to_face.csv",
            "rows_at_each_cleaning_step.csv")  # fmt: skip


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
            print(f"  counts identical: {identical}", flush=True)
            studies = {}
            study_plan = [("study_dask_threads", "dask", 0), ("study_dask_cluster", "dask", 2)]
            if rows <= args.default_max:
                study_plan.insert(0, ("study_default", "pandas", 0))
            for name, engine, workers in study_plan:
                r = run_study(work / "raw", work / name, engine, workers, args.memory_limit)
                studies[name] = r
                print(
                    f"  {name}: {r['seconds']:.1f} s, largest process {r['largest_process_mb']:,.0f} MB, "
                    f"notebooks {', '.join(f'{n[:2]} {t:.1f} s' for n, t in r['notebooks'].items())}"
                    + (f", workers lost {r['workers_lost']}" if r["workers_lost"] is not None else ""),
                    flush=True,
                )
            names = list(studies)
            tables_identical = None
            if "study_default" in studies:
                tables_identical = all(
                    (work / names[0] / "tables" / t).read_bytes() == (work / n / "tables" / t).read_bytes()
                    for n in names[1:]
                    for t in COMPARED
                )
                print(f"  study tables identical across engines: {tables_identical}", flush=True)
            results["sizes"].append({"rows": rows, "csv_bytes": size, "runs": runs, "counts_identical": identical,
                                     "studies": studies, "study_tables_identical": tables_identical})  # fmt: skip
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
    lines += [
        "",
        "The whole study (`cmestudy run --force`, HTML, PDF and Word): seconds, the peak of its largest process "
        "(the command, a kernel, or the cluster's scheduler or a worker), and each notebook's seconds.",
        "",
        "| rows | run | seconds | largest process MB | all processes MB | 01 | 02 | 03 | 04 | 05 | workers lost |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in results["sizes"]:
        for name, r in s.get("studies", {}).items():
            nb = [f"{r['notebooks'].get(n, float('nan')):.1f}" for n in STUDY_NOTEBOOKS]
            lost = "—" if r["workers_lost"] is None else str(r["workers_lost"])
            lines.append(f"| {s['rows']:,} | {name} | {r['seconds']:.1f} | {r['largest_process_mb']:,.0f} | "
                         f"{r['total_mb']:,.0f} | {' | '.join(nb)} | {lost} |")  # fmt: skip
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
    out += study_targets(results)
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


#: The whole study at 30 million rows with the default engine (issue 29): seconds, largest process.
STUDY_DEFAULT_SECONDS, STUDY_DEFAULT_MB = 60, 4000
#: 04_chisquare's seconds with either engine at 30 million rows.
CHISQUARE_SECONDS = 10


def study_targets(results: dict) -> list[dict]:
    """Issue 29's targets of the whole study: the default engine within 60 s and 4,000 MB at 30 million
    rows and below; every process of a Dask study within 2,000 MB at every size, no worker lost;
    04_chisquare under 10 s; the tables of counts and tests identical where both engines run."""
    out = []
    default = [
        (s["rows"], s["studies"]["study_default"]) for s in results["sizes"] if "study_default" in s.get("studies", {})
    ]
    if default:
        out.append({
            "target": f"study_default: at most {STUDY_DEFAULT_SECONDS} s and {STUDY_DEFAULT_MB:,} MB in its largest process",
            "measured": ", ".join(f"{r['seconds']:.1f} s, {r['largest_process_mb']:,.0f} MB at {rows / 1e6:g}M rows"
                                  for rows, r in default),
            "met": all(r["seconds"] <= STUDY_DEFAULT_SECONDS and r["largest_process_mb"] <= STUDY_DEFAULT_MB
                       for _, r in default),
        })  # fmt: skip
    for name in ("study_dask_threads", "study_dask_cluster"):
        runs = [(s["rows"], s["studies"][name]) for s in results["sizes"] if name in s.get("studies", {})]
        if runs:
            out.append({
                "target": f"{name}: every process at most {PEAK_TARGET_MB:,} MB"
                + (", no worker lost" if name.endswith("cluster") else ""),
                "measured": ", ".join(f"{r['largest_process_mb']:,.0f} MB"
                                      + (f", {r['workers_lost']} lost" if r["workers_lost"] is not None else "")
                                      + f" at {rows / 1e6:g}M rows" for rows, r in runs),
                "met": all(r["largest_process_mb"] <= PEAK_TARGET_MB and not r["workers_lost"] for _, r in runs),
            })  # fmt: skip
    chi = [(s["rows"], n, r["notebooks"].get("04_chisquare", float("inf"))) for s in results["sizes"]
           if s["rows"] <= 30_000_000 for n, r in s.get("studies", {}).items()]  # fmt: skip
    if chi:
        out.append({
            "target": f"04_chisquare under {CHISQUARE_SECONDS} s at 30 million rows and below, either engine",
            "measured": ", ".join(f"{t:.1f} s ({n}, {rows / 1e6:g}M)" for rows, n, t in chi),
            "met": all(t < CHISQUARE_SECONDS for _, _, t in chi),
        })  # fmt: skip
    same = [
        (s["rows"], s["study_tables_identical"])
        for s in results["sizes"]
        if s.get("study_tables_identical") is not None
    ]
    if same:
        out.append({
            "target": "the study's tables of counts and tests identical across engines",
            "measured": ", ".join(f"{'yes' if ok else 'no'} at {rows / 1e6:g}M rows" for rows, ok in same),
            "met": all(ok for _, ok in same),
        })  # fmt: skip
    return out


if __name__ == "__main__":
    raise SystemExit(main())
