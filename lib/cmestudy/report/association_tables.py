"""The tests of association as the report names them: labelled tables and sentences in the reader's language.

The statistics (:mod:`cmestudy.analysis.crosstab`, :mod:`~cmestudy.analysis.pairwise`,
:mod:`~cmestudy.analysis.association`, :mod:`~cmestudy.analysis.design`) return numbers with
canonical keys; this module lays them out for the report: a pair of titles becomes "Junior vs
Intermediate" (or "初级 vs 中级"), an odds ratio with its interval one cell "1.23 (1.01–1.50)", a
not-computable row a note's code (``nc_<reason>``) that :mod:`cmestudy.report.tables` words.

summary_table       one row per year: the test of mode by title and the pairwise tests
notes               the chi-square table's footnotes (SPSS's a. and b.), numbers written the language's way
low_expected_note   SPSS's footnote a. as a sentence
pairwise_frame      the pairwise comparisons of one year
report_chi2         the test as a sentence fragment in the report's language (APA in English)
apa_chi2, format_p  APA style
robustness_table    naive vs design-based tests by year
pairwise_table      naive vs design-based pairwise comparisons
odds_ratio_table    odds ratios, naive and by GEE
cell_deff_table     design effects of the cell proportions
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cmestudy import i18n

if TYPE_CHECKING:
    from cmestudy.analysis.association import YearTests
    from cmestudy.analysis.crosstab import CrosstabResult, LowExpected
    from cmestudy.analysis.design import DesignYear


def summary_table(tests: dict[int, YearTests]) -> pd.DataFrame:
    """One row per year: N, Pearson chi-square, df, p, Cramér's V with its CI, cells with E < 5, and
    the pairwise tests (chi-square and adjusted p). Columns are (test, statistic) codes. A year that
    cannot be tested (``tests.skipped``) has its N and, in a ``note`` column, the reason's code
    (``nc_no_face_to_face``, ...)."""
    rows = {}
    for year, t in tests.items():
        r = t.result
        row = {
            ("mode_by_title", "n"): r.n,
            ("mode_by_title", "chi2"): r.pearson.statistic,
            ("mode_by_title", "df"): r.pearson.df,
            ("mode_by_title", "p"): r.pearson.pvalue,
            ("mode_by_title", "cramers_v"): r.cramers_v.estimate,
            ("mode_by_title", "v_ci"): f"{i18n.number(r.cramers_v.ci_low)}–{i18n.number(r.cramers_v.ci_high)}",
            ("mode_by_title", "cells_low_expected"): r.low_expected.count,
        }
        for _, pw in t.pairwise.iterrows():
            pair = i18n.t("label.pair", first=i18n.label(pw["first"]), second=i18n.label(pw["second"]))
            row[(pair, "chi2")] = pw["statistic"]
            row[(pair, "p_adjusted")] = pw["pvalue_adjusted"]
        rows[year] = row
    skipped = getattr(tests, "skipped", {})
    for year, why in skipped.items():  # a row that says why the year could not be tested
        rows[year] = {("mode_by_title", "n"): tests.learners.get(year, 0), ("note", ""): f"nc_{why}"}
    out = pd.DataFrame.from_dict(rows, orient="index")
    if len(out):
        out = out.sort_index()
        if skipped:
            out = out[[c for c in out.columns if c != ("note", "")] + [("note", "")]]
        out.columns = pd.MultiIndex.from_tuples(out.columns)
    out.index.name = "year"
    return out


def notes(result: CrosstabResult, lang: str | None = None) -> list[tuple[str, dict]]:
    """The chi-square tests table's footnotes, (message id, values) with the numbers written the way of the
    report's language: cells with expected count below 5 (SPSS's a.), and Fisher's p-value exact or by
    Monte Carlo (b.) with its samples, seed, interval and time budget."""
    out = []
    for ident, v in result.notes():
        if ident == "note.low_expected":
            v = _low_expected_values(v)
        elif ident == "note.fisher_monte_carlo":
            v = {"samples": i18n.integer(v["samples"], lang), "seed": v["seed"], "low": i18n.p_value(v["low"], lang),
                 "high": i18n.p_value(v["high"], lang), "seconds": i18n.integer(v["seconds"], lang),
                 "level_mc": i18n.level(v["level_mc"])}  # fmt: skip
        out.append((ident, v))
    return out


def _low_expected_values(v: dict) -> dict:
    return {"cells": v["cells"], "share": f"{100 * v['share']:.1f}", "minimum": f"{v['minimum']:.2f}"}


def low_expected_note(low: LowExpected, lang: str | None = None) -> str:
    """SPSS's footnote a, e.g. "0 cells (0.0%) have expected count less than 5. ..."."""
    return i18n.t("note.low_expected", lang, **_low_expected_values(low.values()))


def format_p(p: float) -> str:
    """APA style: no leading zero, three decimals, ``< .001`` below that.

    Examples
    --------
    >>> format_p(0.0004), format_p(0.032)
    ('p < .001', 'p = .032')
    """
    if p < 0.001:
        return "p < .001"
    return "p = " + f"{p:.3f}".lstrip("0")


def report_chi2(result: CrosstabResult, decimals: int = 3, lang: str | None = None) -> str:
    """The chi-square test as the report's language writes it: APA style in English
    (:func:`apa_chi2`), ``χ²=18.284，P<0.001，Cramér V=0.04`` in Chinese journals' style."""
    t = result.pearson
    return i18n.t(
        "stat.chi2_full",
        lang,
        df=t.df,
        n=i18n.integer(result.n, lang),
        chi2=f"{t.statistic:.{decimals}f}",
        p=i18n.p_clause(t.pvalue, lang),
        v=f"{result.cramers_v.estimate:.2f}",
    )


def pairwise_frame(pairwise: pd.DataFrame) -> pd.DataFrame:
    """The pairwise comparisons as the report shows them: one row per pair, codes as column names."""
    pairs = [
        i18n.t("label.pair", first=i18n.label(a), second=i18n.label(b))
        for a, b in zip(pairwise["first"], pairwise["second"])
    ]
    keep = ["n", "statistic", "df", "pvalue", "pvalue_adjusted", "cramers_v"]
    out = pairwise[keep + (["not_computable"] if "not_computable" in pairwise else [])].copy()
    out.columns = ["n", "chi2", "df", "p", "p_adjusted", "cramers_v"] + (["note"] if "not_computable" in out else [])
    if "note" in out:
        out["note"] = [f"nc_{c}" if isinstance(c, str) else None for c in out["note"]]
    out.index = pd.Index(pairs, name="pair_compared")
    return out


def apa_chi2(result: CrosstabResult, decimals: int = 3) -> str:
    """APA-style sentence fragment, e.g. ``χ²(2, N = 12,345) = 18.284, p < .001, V = 0.04``."""
    t = result.pearson
    return (
        f"χ²({t.df}, N = {result.n:,}) = {t.statistic:.{decimals}f}, {format_p(t.pvalue)}, "
        f"V = {result.cramers_v.estimate:.2f}"
    )


def with_interval(estimate: float, low: float, high: float) -> str | None:
    """An estimate with its interval in one cell, "1.23 (1.01–1.50)"; None when there is no estimate."""
    if not np.isfinite(estimate):
        return None
    return f"{i18n.number(estimate, 2)} ({i18n.number(low, 2)}–{i18n.number(high, 2)})"


def _note_last(out: pd.DataFrame, notes: dict) -> pd.DataFrame:
    """A ``note`` column (the reasons' codes, ``nc_<reason>``) at the end, only where some row has one."""
    if any(notes.values()):
        out[("note", "")] = [notes.get(k) for k in out.index]
    return out


def robustness_table(tests, design: dict[int, DesignYear]) -> pd.DataFrame:
    """One row per year: the naive Pearson test beside the design-based ones, with the design's size.

    Columns are (part, statistic) codes: ``naive`` (n, chi2, df, p), ``design`` (projects,
    mean_deff, n_effective) and ``rao_scott`` (f, df_f as "ndf, ddf", p_f, p_chisq). A year that
    cannot be tested, naively or by design, has what can be given and, in a ``note`` column, the
    reason's code.
    """
    rows, notes = {}, {}
    for year, d in design.items():
        naive, rs = tests[year].result.pearson, d.table
        rows[year] = {
            ("naive", "n"): tests[year].result.n,
            ("naive", "chi2"): naive.statistic,
            ("naive", "df"): naive.df,
            ("naive", "p"): naive.pvalue,
        }
        if rs is None:
            rows[year][("design", "projects")] = d.projects
            notes[year] = f"nc_{d.not_computable}"
            continue
        rows[year] |= {
            ("naive", "n"): rs.n,
            ("design", "projects"): rs.clusters,
            ("design", "mean_deff"): rs.mean_deff,
            ("design", "n_effective"): float(round(rs.n_effective)),
            ("rao_scott", "f"): rs.f,
            ("rao_scott", "df_f"): f"{i18n.number(rs.ndf, 2)}, {i18n.number(rs.ddf, 1)}",
            ("rao_scott", "p_f"): rs.p_f,
            ("rao_scott", "p_chisq"): rs.p_chisq,
        }
    for year, why in getattr(design, "skipped", {}).items():
        rows[year] = {("naive", "n"): getattr(tests, "learners", {}).get(year, 0)}
        notes[year] = f"nc_{why}"
    out = pd.DataFrame.from_dict(rows, orient="index")
    columns = [("naive", "n"), ("naive", "chi2"), ("naive", "df"), ("naive", "p"), ("design", "projects"),
               ("design", "mean_deff"), ("design", "n_effective"), ("rao_scott", "f"), ("rao_scott", "df_f"),
               ("rao_scott", "p_f"), ("rao_scott", "p_chisq")]  # fmt: skip
    if len(out):
        out = _note_last(out.reindex(columns=columns).sort_index(), notes)
        out.columns = pd.MultiIndex.from_tuples(out.columns)
    out.index.name = "year"
    return out


def _by_year_and_pair(design: dict[int, DesignYear], frame: str, columns) -> pd.DataFrame:
    """One row per year and compared pair of ``DesignYear.<frame>``, with the (part, statistic)
    columns that ``columns`` makes of each row, and a ``note`` where a row could not be computed."""
    rows, notes = {}, {}
    for year, d in design.items():
        for _, r in getattr(d, frame).iterrows():
            pair = i18n.t("label.pair", first=i18n.label(r["first"]), second=i18n.label(r["second"]))
            rows[(year, pair)] = columns(r)
            if isinstance(r.get("not_computable"), str):
                notes[(year, pair)] = f"nc_{r['not_computable']}"
    out = pd.DataFrame.from_dict(rows, orient="index")
    if len(out):
        out = _note_last(out, notes)
        out.columns = pd.MultiIndex.from_tuples(out.columns)
        out.index = pd.MultiIndex.from_tuples(out.index, names=["year", "pair_compared"])
    return out


def pairwise_table(design: dict[int, DesignYear]) -> pd.DataFrame:
    """The pairwise comparisons, naive and design-based (adjusted p-values), one row per year and pair."""
    return _by_year_and_pair(
        design,
        "pairwise",
        lambda pw: {
            ("naive", "chi2"): pw["chi2"],
            ("naive", "p_adjusted"): pw["p_adjusted"],
            ("design", "projects"): pw["clusters"],
            ("design", "mean_deff"): pw["mean_deff"],
            ("rao_scott", "f"): pw["f"],
            ("rao_scott", "p_f_adjusted"): pw["p_f_adjusted"],
        },
    )


def odds_ratio_table(design: dict[int, DesignYear]) -> pd.DataFrame:
    """Odds ratios of each title against the reference, live vs face-to-face: naive and by GEE."""
    return _by_year_and_pair(
        design,
        "odds_ratios",
        lambda o: {
            ("naive", "or_with_ci"): with_interval(o["or_naive"], o["or_naive_low"], o["or_naive_high"]),
            ("gee", "or_with_ci"): with_interval(o["or_gee"], o["or_gee_low"], o["or_gee_high"]),
            ("gee", "p"): o["p_gee"],
            ("gee", "icc"): o["icc"],
            ("gee", "se_ratio"): o["se_ratio"],
        },
    )


def cell_deff_table(design: dict[int, DesignYear]) -> pd.DataFrame:
    """The design effect of each cell proportion of each year's table (rows: year and mode)."""
    frames = {year: d.table.cell_deff for year, d in design.items() if d.table is not None}
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, names=["year", "mode"])
    out.columns.name = "grade"
    return out
