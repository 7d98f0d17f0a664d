"""The ``cmestudy`` command: run the study, validate raw exports, rebuild the default data, and
find the tables consistent with the published figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cmestudy import __version__, defaults, paths


def _years(text: str) -> list[int]:
    try:
        if "-" in text and "," not in text:
            a, b = (int(x) for x in text.split("-"))
            years = list(range(a, b + 1))
        else:
            years = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"years must look like 2021-2023 or 2021,2022,2023; got {text!r}") from None
    if not years or any(y < 1900 or y > 2100 for y in years):
        raise argparse.ArgumentTypeError(f"years must be four-digit years; got {text!r}")
    return years


def _level(name: str):
    def parse(text: str) -> float:
        try:
            a = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number; got {text!r}") from None
        if not 0 < a < 1:
            raise argparse.ArgumentTypeError(f"{name} must lie between 0 and 1; got {a}")
        return a

    return parse


_alpha = _level("alpha")
_confidence = _level("confidence")


def _horizon(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of months from 12 to 36, got {text!r}") from None
    if not 12 <= n <= 36:
        raise argparse.ArgumentTypeError(f"expected a number of months from 12 to 36, got {n}")
    return n


def _month(text: str) -> str:
    import pandas as pd

    try:
        return str(pd.Period(text.strip(), freq="M"))
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"expected a month such as 2023-01, got {text!r}") from None


def _formats(text: str) -> tuple[str, ...]:
    """``html,pdf`` -> ("html", "pdf"), in the order html, pdf, docx."""
    asked = {f.strip().lower() for f in text.split(",") if f.strip()}
    unknown = asked - set(defaults.FORMATS)
    if not asked or unknown:
        raise argparse.ArgumentTypeError(f"expected formats from {', '.join(defaults.FORMATS)}; got {text!r}")
    return tuple(f for f in defaults.FORMATS if f in asked)


def _language(text: str) -> str:
    from cmestudy.i18n import check_language

    try:
        return check_language(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a timeout must be a number of seconds; got {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"a timeout must be a positive number of seconds; got {text!r}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cmestudy",
        description="Evaluate continuing medical education programmes: live broadcast vs face-to-face.",
        epilog="Exit status: 0 success, 1 a notebook failed, 2 unusable input or arguments.",
    )
    p.add_argument("--version", action="version", version=f"cmestudy {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser(
        "run",
        help="run the study notebooks and write the report (HTML, PDF, Word)",
        description="Execute notebooks 01_ingest .. 05_prospects in order with papermill, "
        "write the executed notebooks to OUT/notebooks/ and the report to "
        "OUT/report.html, OUT/report.pdf and OUT/report.docx.",
    )
    r.add_argument(
        "--raw",
        type=Path,
        default=paths.RAW_DIR,
        metavar="DIR",
        help="directory of raw exports (CSV/Excel), never modified (default: data/raw)",
    )
    r.add_argument(
        "--out",
        type=Path,
        default=paths.OUTPUT_DIR,
        metavar="DIR",
        help="output directory for the report, executed notebooks, tables and figures (default: output)",
    )
    r.add_argument(
        "--processed",
        type=Path,
        default=None,
        metavar="DIR",
        help="directory for the cleaned, de-identified tables (default: data/processed, "
        "or OUT/processed when --out is not the default)",
    )
    r.add_argument(
        "--years",
        type=_years,
        default=defaults.YEARS,
        metavar="YEARS",
        help="study years, as 2021-2023 or 2021,2022,2023; projects of other years are set aside "
        "(default: every year in the project register)",
    )
    r.add_argument(
        "--alpha", type=_alpha, default=defaults.ALPHA, help=f"significance level (default: {defaults.ALPHA})"
    )
    r.add_argument(
        "--confidence",
        type=_confidence,
        default=defaults.CONFIDENCE,
        help=f"confidence level of every interval in the report (default: {defaults.CONFIDENCE})",
    )
    r.add_argument(
        "--lang",
        type=_language,
        default=None,
        metavar="LANG",
        help="language of the report and of what the command prints: en (English) or zh (Chinese, 中文) "
        "(default: the system's locale, e.g. LANG=zh_CN.UTF-8 gives zh; otherwise en)",
    )
    r.add_argument(
        "--adjust",
        choices=defaults.ADJUSTMENTS,
        default=defaults.ADJUST,
        help=f"p-value adjustment of the pairwise title comparisons (default: {defaults.ADJUST})",
    )
    r.add_argument(
        "--horizon",
        type=_horizon,
        default=defaults.HORIZON_MONTHS,
        metavar="MONTHS",
        help=f"months projected ahead in the prospects, 12 to 36 (default: {defaults.HORIZON_MONTHS})",
    )
    r.add_argument(
        "--change-date",
        type=_month,
        default=defaults.CHANGE_DATE,
        metavar="YYYY-MM",
        help="a month from which the monthly trend may change, e.g. the end of COVID-19 restrictions (default: none)",
    )
    r.add_argument(
        "--change-kind",
        choices=defaults.CHANGE_KINDS,
        default=defaults.CHANGE_KIND,
        help=f"the change at --change-date: a step in the level or a change of slope (default: {defaults.CHANGE_KIND})",
    )
    r.add_argument(
        "--kernel",
        default=None,
        metavar="NAME",
        help="Jupyter kernel to execute the notebooks (default: cmestudy if registered, else python3)",
    )
    r.add_argument(
        "--notebooks",
        type=Path,
        default=paths.NOTEBOOKS_DIR,
        metavar="DIR",
        help="directory holding the study notebooks (default: notebooks)",
    )
    r.add_argument("--no-progress", dest="progress", action="store_false", help="no per-cell progress bar")
    r.add_argument(
        "--by",
        choices=["institution"],
        default=None,
        help="also write one study report per organising institution under OUT/institutions/NAME/, several at a "
        "time, each rerun only when its rows change",
    )
    r.add_argument(
        "--min-cell",
        type=int,
        default=defaults.MIN_CELL,
        metavar="N",
        help=f"tables by organising institution write counts below N as <N, with secondary suppression "
        f"(default: {defaults.MIN_CELL}; 1 shows every count)",
    )
    r.add_argument(
        "--suppress-small-cells",
        action="store_true",
        help="hide learner counts by mode and title below --min-cell in this study's own tables, as an "
        "institution's report does (--by institution does it for each institution's report)",
    )
    r.add_argument(
        "--engine",
        choices=["pandas", "dask"],
        default=defaults.ENGINE,
        help="how enrolment exports are ingested and aggregated: pandas in memory (default), or "
        "dask.dataframe in blocks, for exports larger than memory or a directory of partitions",
    )
    r.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="with --engine dask: address of an existing Dask cluster (e.g. tcp://scheduler-host:8786); "
        "default: threads on this machine",
    )
    r.add_argument(
        "--force",
        action="store_true",
        help="execute every notebook, even those whose inputs, parameters and code are unchanged",
    )
    r.add_argument(
        "--cell-timeout",
        type=_seconds,
        default=defaults.CELL_TIMEOUT,
        metavar="SECONDS",
        help="stop the run with an error when a notebook cell runs longer than this, or a kernel "
        f"does not answer for this long (default: {defaults.CELL_TIMEOUT:g})",
    )
    r.add_argument(
        "--formats",
        type=_formats,
        default=defaults.FORMATS,
        metavar="LIST",
        help="the report's formats, any of html, pdf and docx separated by commas (default: html,pdf,docx); "
        "html alone is the quickest look",
    )
    r.add_argument(
        "--jobs",
        type=int,
        default=defaults.JOBS,
        metavar="N",
        help="notebooks 03-05 run up to N at a time, each with its progress bar (default: 3; 1 runs them one by one)",
    )

    v = sub.add_parser(
        "validate",
        help="check raw exports and list every problem",
        description="Read every CSV/Excel file under --raw, check it against the codebook and "
        "print every problem with file, row, column, value and what was expected. "
        "Exit 2 when the data cannot be used.",
    )
    v.add_argument("--raw", type=Path, default=paths.RAW_DIR, metavar="DIR", help="directory of raw exports")
    v.add_argument(
        "--lang",
        type=_language,
        default=None,
        metavar="LANG",
        help="language of the messages: en or zh (中文) (default: the system's locale, e.g. LANG=zh_CN.UTF-8)",
    )
    v.add_argument(
        "--years",
        type=_years,
        default=defaults.YEARS,
        metavar="YEARS",
        help="study years (default: every year in the project register)",
    )

    c = sub.add_parser(
        "reconstruct",
        help="regenerate the reconstructed default data set",
        description="Solve for learner counts reproducing the published figures (published.yml) "
        "under the assumptions (reconstruction.yml) and write projects.csv and "
        "enrolments.csv into --raw. Deterministic: the files are byte-identical.",
    )
    c.add_argument(
        "--raw",
        type=Path,
        default=paths.RAW_DIR,
        metavar="DIR",
        help="directory holding published.yml and reconstruction.yml (default: data/raw)",
    )
    c.add_argument(
        "--check",
        action="store_true",
        help="do not write: exit 1 if the files on disk differ from a fresh reconstruction",
    )
    e = sub.add_parser(
        "example",
        help="write a synthetic example data set (city: 30 organising institutions, Chinese headers, GBK)",
        description="Write the synthetic exports of a city's CME register with an organising institution per "
        "project (举办单位), to see and test the report's comparison of institutions. Synthetic: no real "
        "institution's data. Deterministic: the same files every time.",
    )
    e.add_argument("name", choices=["city"], help="the example to write")
    e.add_argument(
        "--out",
        type=Path,
        default=paths.PROJECT_ROOT / "data" / "examples" / "city",
        metavar="DIR",
        help="directory to write into (default: data/examples/city)",
    )
    k = sub.add_parser(
        "consistency",
        help="list the learner tables consistent with the published figures, and what holds in all of them",
        description="Read published.yml in --raw and find the integer learner tables (mode x title, per year) "
        "whose chi-squares round to the published values, joined across years by the published totals: "
        "how many there are (exact, or estimated with a 95% interval), the range of each derived quantity, "
        "which published statements hold in all of them, and which readings of the statistics (Pearson, Yates, "
        "goodness of fit, rates) can reproduce them. Writes the JSON the report's section "
        "'What the published figures pin down' reads.",
    )
    k.add_argument(
        "--raw",
        type=Path,
        default=paths.RAW_DIR,
        metavar="DIR",
        help="directory holding published.yml (default: data/raw)",
    )
    k.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"where to write the result (default: data/processed/{paths.CONSISTENCY_FILE}; the report reads it "
        "there or beside published.yml)",
    )
    k.add_argument(
        "--seconds",
        type=_seconds,
        default=60.0,
        metavar="S",
        help="search time per year for the Pearson reading; the other readings get a quarter (default: 60)",
    )
    k.add_argument("--seed", type=int, default=20250315, help="seed of the random columns (default: 20250315)")
    return p


def _consistency(args) -> int:
    from cmestudy.published import consistency

    raw = paths.resolve(args.raw)
    out = paths.resolve(args.out) if args.out else paths.PROCESSED_DIR / paths.CONSISTENCY_FILE
    try:
        result = consistency.analyse(
            raw, seconds=args.seconds, seed=args.seed, log=lambda m: print(m, file=sys.stderr, flush=True)
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    consistency.write(result, out)
    print(f"wrote {out}")
    return 0


def _by_institution(cfg) -> int:
    """The institutions' own reports after the regional one: what each ran, and which failed."""
    from cmestudy import i18n
    from cmestudy.run import by_institution
    from cmestudy.run.config import EXIT_FAILED

    runs = by_institution.run_all(cfg)
    for r in runs:
        what = ", ".join(r.executed) if r.executed else i18n.t("run.by_up_to_date", cfg.lang)
        print(i18n.t("run.by_institution", cfg.lang, name=r.name, folder=str(r.folder), what=what), file=sys.stderr)
    failed = [r for r in runs if r.returncode]
    for r in failed:
        print(i18n.t("cli.error", cfg.lang, message=f"{r.name}: {r.message}"), file=sys.stderr)
    return EXIT_FAILED if failed else 0


def _run(args) -> int:
    from cmestudy import i18n
    from cmestudy.problems import DataError
    from cmestudy.run.config import (  # fmt: skip
        EXIT_FAILED,
        EXIT_INVALID,
        NotebookFailed,
        OutOfSpace,
        RunConfig,
        data_summary,
        out_of_space,
    )
    from cmestudy.run.pipeline import run
    from cmestudy.run.validation import error_text, validate

    out = paths.resolve(args.out)
    processed = args.processed
    if processed is None:
        processed = paths.PROCESSED_DIR if out == paths.OUTPUT_DIR else out / "processed"
    cfg = RunConfig(
        raw_dir=paths.resolve(args.raw),
        out_dir=out,
        processed_dir=paths.resolve(processed),
        notebooks_dir=paths.resolve(args.notebooks),
        years=args.years,
        alpha=args.alpha,
        confidence=args.confidence,
        lang=args.lang or i18n.from_locale(),
        adjust=args.adjust,
        horizon_months=args.horizon,
        change_date=args.change_date,
        change_kind=args.change_kind,
        kernel=args.kernel,
        progress=args.progress,
        force=args.force,
        jobs=max(1, args.jobs),
        engine=args.engine,
        scheduler=args.scheduler,
        min_cell=max(1, args.min_cell),
        suppress_small_cells=args.suppress_small_cells,
        cell_timeout=args.cell_timeout,
        formats=args.formats,
    )
    try:
        run(cfg)
        if args.by == "institution":
            return _by_institution(cfg)
    except (FileNotFoundError, NotADirectoryError, DataError) as exc:
        print(i18n.t("cli.error", cfg.lang, message=error_text(exc, cfg.lang)), file=sys.stderr)
        return EXIT_INVALID
    except ValueError as exc:
        print(i18n.t("cli.error", cfg.lang, message=str(exc)), file=sys.stderr)
        return EXIT_INVALID
    except (NotebookFailed, OutOfSpace, OSError) as exc:
        full = out_of_space(exc, cfg.out_dir)
        if full is not None:  # a full disk: one paragraph, no traceback; a rerun resumes
            print(i18n.t("cli.error", cfg.lang, message=full.explain(cfg.lang)), file=sys.stderr)
            return EXIT_FAILED
        if not isinstance(exc, NotebookFailed):
            raise
        if exc.ename == "DataError":  # unusable raw data: the same report as `cmestudy validate`
            text = exc.evalue if cfg.lang == "en" else validate(cfg.raw_dir, cfg.years, cfg.lang)[1]
            print(i18n.t("cli.error", cfg.lang, message=text), file=sys.stderr)
            return EXIT_INVALID
        print(i18n.t("cli.error", cfg.lang, message=exc.describe(cfg.lang)), file=sys.stderr)
        about = data_summary(cfg.processed_dir, cfg.lang)
        if about:  # what the data looked like, and what to do
            print(about + " " + i18n.t("run.report_fault", cfg.lang, raw=str(cfg.raw_dir)), file=sys.stderr)
        return EXIT_FAILED
    return 0


def _reconstruct(args) -> int:
    from cmestudy.published import reconstruct

    raw = paths.resolve(args.raw)
    if args.check:
        files = reconstruct.generate(raw)
        differ = [n for n, data in files.items() if not (raw / n).is_file() or (raw / n).read_bytes() != data]
        if differ:
            print(f"differs from a fresh reconstruction: {', '.join(differ)}", file=sys.stderr)
            return 1
        print("the reconstructed files are byte-identical to a fresh reconstruction")
        return 0
    for path in reconstruct.write(raw).values():
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


def main(argv: list[str] | None = None) -> int:
    from cmestudy import i18n

    args = build_parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "validate":
        from cmestudy.run.pipeline import validate

        lang = args.lang or i18n.from_locale()
        code, text = validate(paths.resolve(args.raw), args.years, lang)
        print(i18n.t("cli.error", lang, message=text) if code else text, file=sys.stderr if code else sys.stdout)
        return code
    if args.command == "reconstruct":
        return _reconstruct(args)
    if args.command == "consistency":
        return _consistency(args)
    if args.command == "example":
        from cmestudy.run import examples

        for path in examples.write_city(paths.resolve(args.out)):
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")
        return 0
    return 2  # pragma: no cover - argparse requires a command


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
