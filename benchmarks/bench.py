"""Benchmarks of cmestudy: province-sized enrolment exports and the study run itself.

    python benchmarks/bench.py                      # 1M and 10M rows, plus the study run timings
    python benchmarks/bench.py --rows 1000000       # one size only
    python benchmarks/bench.py --skip-study         # only the ingest benchmark
    python benchmarks/bench.py --rows               # only the study run (English and Chinese) and the .xlsx
    python benchmarks/bench.py --rows --skip-study  # only the validation of a 286,176-row .xlsx export
    python benchmarks/bench.py --repeat 5           # runs per measurement (the best is reported)

For each size it generates a project register and an enrolment export in the raw format
(one row per learner and project, Chinese professional titles, a few duplicate rows),
then, each in a fresh process so that peak memory is its own:

* cmestudy: ingest (recognise, read, de-identify) + clean (grade titles, de-duplicate,
  aggregate) to the learner counts per project and title grade that the notebooks use;
* DuckDB: ``read_csv`` + ``GROUP BY`` producing the same counts from the same file.

It checks that the counts are identical, and reports wall time, rows per second, peak
resident memory and the time ratio. It also times clean ``cmestudy run --force`` runs of the
default study in English and in Chinese (``--lang zh``, alternating with the English ones), the
size of each PDF, and a rerun with nothing changed; and ``cmestudy validate`` on a 286,176-row
.xlsx enrolment list. Every time is the best of ``--repeat`` runs
(medians are reported too): on a shared machine the spread between runs is other work, not
the code. Results: ``output/benchmarks/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))


def generate(directory: Path, rows: int, seed: int = 7) -> dict:
    """Write projects.csv and enrolments.csv with ``rows`` enrolments; returns a description."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    n_projects = max(60, rows // 2000)
    years = rng.choice([2021, 2022, 2023], size=n_projects)
    modes = np.where(rng.random(n_projects) < 0.7, "直播", "面授")
    levels = rng.choice(["国家级", "市级", "院级"], size=n_projects, p=[0.15, 0.35, 0.5])
    disciplines = rng.choice(["骨科", "护理", "康复医学", "麻醉", "影像", "急诊", "药学", "检验"], size=n_projects)
    pids = np.array([f"P{i:07d}" for i in range(n_projects)])
    projects = pa.table(
        {
            "项目编号": pids,
            "年度": years.astype(str),
            "项目级别": levels,
            "授课方式": modes,
            "学科": disciplines,
            "项目名称": [f"项目{i}" for i in range(n_projects)],
        }
    )
    pacsv.write_csv(projects, directory / "projects.csv")
    titles = np.array(
        [
            "住院医师",
            "医师",
            "护师",
            "护士",
            "技师",
            "药师",
            "主治医师",
            "主管护师",
            "主管技师",
            "副主任医师",
            "主任医师",
            "副主任护师",
            "规培生",
            "",
        ]
    )
    p = np.array([10, 5, 9, 4, 3, 2, 18, 14, 3, 8, 5, 3, 1, 1], float)
    sizes = rng.gamma(2.0, 1.0, n_projects)
    proj_idx = rng.choice(n_projects, size=rows, p=sizes / sizes.sum())
    n_learners = max(1, rows // 3)
    learners = rng.integers(0, n_learners, size=rows)
    learner_title = rng.choice(len(titles), size=n_learners, p=p / p.sum())  # a title belongs to the person
    title_idx = learner_title[learners]
    # about 0.1% exact duplicate rows (the same learner exported twice for one project)
    dup = rng.random(rows) < 0.001
    src = np.flatnonzero(dup)
    if len(src):
        proj_idx[src] = proj_idx[src - 1]
        learners[src] = learners[src - 1]
        title_idx[src] = title_idx[src - 1]
    chunk = 2_000_000
    opts = pacsv.WriteOptions(include_header=True)
    with pacsv.CSVWriter(
        directory / "enrolments.csv",
        pa.schema([("项目编号", pa.string()), ("学员编号", pa.string()), ("职称", pa.string())]),
        write_options=opts,
    ) as w:
        for s in range(0, rows, chunk):
            sl = slice(s, s + chunk)
            w.write_table(
                pa.table(
                    {
                        "项目编号": pids[proj_idx[sl]],
                        "学员编号": np.char.add("L", learners[sl].astype(str)),
                        "职称": titles[title_idx[sl]],
                    }
                )
            )
    return {"rows": rows, "projects": n_projects, "bytes": (directory / "enrolments.csv").stat().st_size}


XLSX_ROWS = 286_176


def bench_xlsx(work: Path, rows: int = XLSX_ROWS, repeat: int = 3) -> dict:
    """``cmestudy validate`` on an .xlsx enrolment list of ``rows`` rows beside a CSV register (best of ``repeat``).

    The list is the generator's CSV written as a workbook (openpyxl, write-only), with one title row
    above the header as hospital systems export it.
    """
    import statistics

    import openpyxl
    import pyarrow.csv as pacsv

    data = work / f"xlsx-{rows}"
    generate(data, rows)
    table = pacsv.read_csv(data / "enrolments.csv").to_pylist()
    (data / "enrolments.csv").unlink()
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("学员名单")
    ws.append(["继续医学教育学员名单"])
    ws.append(["项目编号", "学员编号", "职称"])
    for r in table:
        ws.append([r["项目编号"], r["学员编号"], r["职称"]])
    wb.save(data / "学员名单.xlsx")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lib"))
    seconds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "cmestudy", "validate", "--raw", str(data)], check=True, capture_output=True, env=env
        )
        seconds.append(time.perf_counter() - t0)
    size = (data / "学员名单.xlsx").stat().st_size
    shutil.rmtree(data)
    return {
        "rows": rows,
        "bytes": size,
        "seconds": min(seconds),
        "median_seconds": statistics.median(seconds),
        "all_seconds": seconds,
    }


OURS = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from cmestudy.clean import cleaning
from cmestudy.ingest import exports as ingest
raw, out = sys.argv[1], sys.argv[2]
ingested = ingest.read_raw_dir(raw, key=b"benchmark-key-not-secret")
cleaned = cleaning.clean(ingested, years=[2021, 2022, 2023])
counts = cleaned.learners[cleaned.learners.grade != "unknown"][["project_id", "grade", "learners"]]
counts = counts[counts.learners > 0].astype({"grade": str})
elapsed = time.perf_counter() - t0
counts.sort_values(["project_id", "grade"]).to_parquet(out, index=False)
print(json.dumps({"seconds": elapsed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

DUCK = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import duckdb
from cmestudy.schema import load_codebook, normalise_label
raw, out = sys.argv[1], sys.argv[2]
lookup = load_codebook().value_lookup("title_grade")
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute("CREATE TABLE grades(norm VARCHAR, grade VARCHAR)")
con.executemany("INSERT INTO grades VALUES (?, ?)", list(lookup.items()))
q = f'''
WITH e AS (SELECT DISTINCT "项目编号" AS project_id, "学员编号" AS learner, "职称" AS title
           FROM read_csv('{raw}/enrolments.csv', header=true, all_varchar=true))
SELECT e.project_id, g.grade, count(*)::BIGINT AS learners
FROM e JOIN grades g ON g.norm = lower(replace(trim(e.title), ' ', ''))
GROUP BY ALL
'''
counts = con.execute(q).df()
elapsed = time.perf_counter() - t0
counts.sort_values(["project_id", "grade"]).to_parquet(out, index=False)
print(json.dumps({"seconds": elapsed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_child(code: str, raw: Path, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lib"))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, str(raw), str(out)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    res = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    res["process_seconds"] = wall
    return res


def bench_size(rows: int, work: Path, repeat: int = 3) -> dict:
    """Time both engines ``repeat`` times, alternating, on one generated file.

    Each time is the best of the repeats, as ``timeit`` advises: the spread between repeats
    on a shared machine is noise from other work, not a property of the code. Medians are
    reported too.
    """
    import statistics

    import pandas as pd

    data = work / f"raw-{rows}"
    t0 = time.perf_counter()
    desc = generate(data, rows)
    desc["generate_seconds"] = time.perf_counter() - t0
    os.sync()  # the generated file is on disk before timing starts: no run pays for its write-back
    runs = {"cmestudy": [], "duckdb": []}
    identical = True
    for _ in range(repeat):
        runs["cmestudy"].append(run_child(OURS, data, work / f"ours-{rows}.parquet"))
        runs["duckdb"].append(run_child(DUCK, data, work / f"duck-{rows}.parquet"))
        a = pd.read_parquet(work / f"ours-{rows}.parquet").reset_index(drop=True)
        b = pd.read_parquet(work / f"duck-{rows}.parquet").reset_index(drop=True)
        identical &= a.astype(str).equals(b.astype(str))
    shutil.rmtree(data)
    out = {}
    for name, rs in runs.items():
        secs = [r["seconds"] for r in rs]
        out[name] = {
            "seconds": min(secs),
            "median_seconds": statistics.median(secs),
            "all_seconds": secs,
            "peak_mb": max(r["peak_mb"] for r in rs),
        }
    ours, duck = out["cmestudy"], out["duckdb"]
    return {
        **desc,
        **out,
        "repeats": repeat,
        "ratio": ours["seconds"] / duck["seconds"],
        "median_ratio": ours["median_seconds"] / duck["median_seconds"],
        "rows_per_second": rows / ours["seconds"],
        "duckdb_rows_per_second": rows / duck["seconds"],
        "counts_identical": bool(identical),
        "count_rows": len(a),
    }


def bench_study(out: Path, repeat: int = 3) -> dict:
    """Clean runs (``--force``) of the default study in English and in Chinese, alternating, then a
    rerun with nothing changed; the size of each report's PDF."""
    import statistics

    env = dict(os.environ, PYTHONPATH=str(ROOT / "lib"))
    clean = {"en": [], "zh": []}
    for _ in range(repeat):
        for lang in clean:
            cli = [sys.executable, "-m", "cmestudy", "run", "--out", str(out / lang), "--no-progress", "--lang", lang]
            t0 = time.perf_counter()
            subprocess.run(cli + ["--force"], check=True, capture_output=True, env=env)
            clean[lang].append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    subprocess.run(cli, check=True, capture_output=True, env=env)
    cached = time.perf_counter() - t0
    res = {
        "clean_run_seconds": min(clean["en"]),
        "clean_run_median_seconds": statistics.median(clean["en"]),
        "clean_run_all_seconds": clean["en"],
        "cached_rerun_seconds": cached,
        "zh_clean_run_seconds": min(clean["zh"]),
        "zh_clean_run_median_seconds": statistics.median(clean["zh"]),
        "zh_clean_run_all_seconds": clean["zh"],
        "pdf_bytes": {lang: (out / lang / "report.pdf").stat().st_size for lang in clean},
    }
    res["zh_to_en_ratio"] = res["zh_clean_run_seconds"] / res["clean_run_seconds"]
    res["zh_to_en_median_ratio"] = res["zh_clean_run_median_seconds"] / res["clean_run_median_seconds"]
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--rows",
        type=int,
        nargs="*",
        default=[1_000_000, 10_000_000],
        help="enrolment rows per size (none: only the study run)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "output" / "benchmarks", help="where results go")
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each measurement (engines per size, clean study runs); the best is reported",
    )
    ap.add_argument("--skip-study", action="store_true", help="do not time the study run")
    ap.add_argument("--skip-xlsx", action="store_true", help="do not time the validation of a large .xlsx export")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "sizes": [],
    }
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        for rows in args.rows:
            print(f"benchmark: {rows:,} enrolment rows ...", flush=True)
            r = bench_size(rows, Path(tmp), args.repeat)
            results["sizes"].append(r)
            print(
                f"  cmestudy {r['cmestudy']['seconds']:.2f} s ({r['rows_per_second']:,.0f} rows/s, "
                f"peak {r['cmestudy']['peak_mb']:,.0f} MB); DuckDB {r['duckdb']['seconds']:.2f} s "
                f"(peak {r['duckdb']['peak_mb']:,.0f} MB); ratio {r['ratio']:.2f} (medians {r['median_ratio']:.2f}); "
                f"counts identical: {r['counts_identical']}",
                flush=True,
            )
        if not args.skip_xlsx:
            print(f"xlsx: cmestudy validate on a {XLSX_ROWS:,}-row .xlsx enrolment list ...", flush=True)
            results["xlsx"] = bench_xlsx(Path(tmp), repeat=args.repeat)
            print(
                f"  {results['xlsx']['seconds']:.2f} s (median {results['xlsx']['median_seconds']:.2f} s)", flush=True
            )
        if not args.skip_study:
            print("study: clean run and cached rerun ...", flush=True)
            results["study"] = bench_study(Path(tmp) / "study", args.repeat)
            st = results["study"]
            print(
                f"  clean {st['clean_run_seconds']:.1f} s (median {st['clean_run_median_seconds']:.1f} s); "
                f"Chinese {st['zh_clean_run_seconds']:.1f} s (median {st['zh_clean_run_median_seconds']:.1f} s, "
                f"ratio {st['zh_to_en_ratio']:.2f}); cached rerun {st['cached_rerun_seconds']:.1f} s",
                flush=True,
            )
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    lines = [
        "| rows | cmestudy s | rows/s | peak MB | DuckDB s | DuckDB peak MB | ratio | ratio of medians | counts identical |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in results["sizes"]:
        lines.append(
            f"| {r['rows']:,} | {r['cmestudy']['seconds']:.2f} | {r['rows_per_second']:,.0f} | "
            f"{r['cmestudy']['peak_mb']:,.0f} | {r['duckdb']['seconds']:.2f} | {r['duckdb']['peak_mb']:,.0f} | "
            f"{r['ratio']:.2f} | {r['median_ratio']:.2f} | {'yes' if r['counts_identical'] else 'NO'} |"
        )
    if "xlsx" in results:
        x = results["xlsx"]
        lines += [
            "",
            f"`cmestudy validate` on a {x['rows']:,}-row .xlsx enrolment list ({x['bytes'] / 1e6:.1f} MB): "
            f"{x['seconds']:.2f} s (best of {len(x['all_seconds'])}; median {x['median_seconds']:.2f} s).",
        ]
    if "study" in results:
        st = results["study"]
        lines += [
            "",
            f"Study run on the default data: clean (`--force`) {st['clean_run_seconds']:.1f} s "
            f"(best of {len(st['clean_run_all_seconds'])}; median {st['clean_run_median_seconds']:.1f} s), "
            f"cached rerun {st['cached_rerun_seconds']:.1f} s. The Chinese report (`--lang zh`): clean "
            f"{st['zh_clean_run_seconds']:.1f} s (median {st['zh_clean_run_median_seconds']:.1f} s), "
            f"{st['zh_to_en_ratio']:.2f} times the English run (ratio of medians "
            f"{st['zh_to_en_median_ratio']:.2f}). PDF: English {st['pdf_bytes']['en'] / 1e6:.2f} MB, "
            f"Chinese {st['pdf_bytes']['zh'] / 1e6:.2f} MB.",
        ]
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["counts_identical"] for r in results["sizes"]) else 1


if __name__ == "__main__":
    sys.exit(main())
