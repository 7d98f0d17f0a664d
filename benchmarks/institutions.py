"""Benchmark: the regional study of many organising institutions against the same study without them.

Generates an export of ``--rows`` enrolments (``bench.generate``: 5,000 projects at 10 million rows), then
the same export with an organiser column (举办单位) spreading the projects over ``--institutions``
institutions, each with its own leaning to live delivery. Runs the whole study as a user does
(``cmestudy run --force --formats html``, a fresh process each, best of ``--repeat``) on both and compares:
the target is the regional report (with the section comparing institutions) within 2x the time of the
single report. Results go to ``output/benchmarks/institutions.md`` and ``.json``; exit status 1 when the
target is missed. Not in CI (``make bench-institutions``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import generate  # noqa: E402


def add_institutions(src: Path, dst: Path, institutions: int, seed: int = 11) -> None:
    """Copy the export with a 举办单位 column: projects spread over the institutions (sizes vary), each
    institution leaning live or face-to-face (the delivery mode is redrawn from its leaning)."""
    import numpy as np
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    dst.mkdir(parents=True, exist_ok=True)
    table = pacsv.read_csv(src / "projects.csv").to_pandas()
    weights = rng.lognormal(0, 0.8, institutions)
    inst = rng.choice(institutions, size=len(table), p=weights / weights.sum())
    leaning = 1 / (1 + np.exp(-rng.normal(0.8, 0.8, institutions)))
    table["授课方式"] = np.where(rng.random(len(table)) < leaning[inst], "直播", "面授")
    table["举办单位"] = [f"机构{i + 1:03d}" for i in inst]
    table.to_csv(dst / "projects.csv", index=False)
    target = dst / "enrolments.csv"
    if target.exists() or target.is_symlink():
        target.unlink()
    os.link(src / "enrolments.csv", target)  # the same enrolments, not a second copy on disk


def run(raw: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "cmestudy", "run", "--raw", str(raw), "--out", str(out), "--force", "--no-progress",
           "--formats", "html", "--lang", "en"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lib"))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    notebooks = {n: float(s) for n, s in re.findall(r"(\d\d_\w+) done in ([\d.]+) s", proc.stderr)}
    return {"seconds": wall, "notebooks": notebooks}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--institutions", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "output" / "benchmarks")
    args = ap.parse_args(argv)
    work = args.out / "institutions-work"
    single, regional = work / "single", work / "regional"
    described = generate(single, args.rows)
    add_institutions(single, regional, args.institutions)
    results: dict = {"rows": args.rows, "projects": described["projects"], "institutions": args.institutions}
    for name, raw in (("single", single), ("regional", regional)):
        runs = [run(raw, work / f"out-{name}") for _ in range(args.repeat)]
        results[name] = min(runs, key=lambda r: r["seconds"]) | {"all_seconds": [r["seconds"] for r in runs]}
    html = (work / "out-regional" / "report.html").read_text(encoding="utf-8")
    results["section_present"] = 'id="section-chisquare-institutions"' in html or "chisquare-institutions" in html
    ratio = results["regional"]["seconds"] / results["single"]["seconds"]
    results["ratio"] = ratio
    results["target_met"] = bool(ratio <= 2.0 and results["section_present"])
    s, r = results["single"], results["regional"]
    lines = [
        f"# The regional study of {args.institutions} institutions vs the single report ({args.rows:,} enrolments)",
        "",
        f"| run | seconds (best of {args.repeat}) | 01_ingest | 02_clean | 03_descriptive | 04_chisquare | 05_prospects |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, res in (("single report (no organiser column)", s), ("regional report (举办单位)", r)):
        nb = res["notebooks"]
        cells = " | ".join(f"{nb.get(k, float('nan')):.1f}" for k in
                           ("01_ingest", "02_clean", "03_descriptive", "04_chisquare", "05_prospects"))  # fmt: skip
        lines.append(f"| {name} | {res['seconds']:.1f} | {cells} |")
    lines += ["", f"Ratio {ratio:.2f} (target: at most 2.00): {'met' if results['target_met'] else 'NOT met'}; "
              f"section comparing institutions in the regional report: {'yes' if results['section_present'] else 'NO'}."]  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "institutions.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (args.out / "institutions.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print("\n".join(lines))
    return 0 if results["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
