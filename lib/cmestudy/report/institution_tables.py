"""Institutions compared, as the report shows them: counts with small cells suppressed, the institutions
outside the funnel's limits, the tests within institutions and the sentences that say where the pattern holds.

Small counts of learners (1 to ``min_cell - 1``) are shown as "<5", with secondary suppression ("x") by
hypercubes (:func:`cmestudy.report.disclosure.suppress`) so that none can be recovered from the totals a
reader has (:func:`learner_lines`): an institution's learners in a year, the region's learners by year and mode (the descriptive tables), an
institution's learners by mode over the years (the funnel). The statistics are computed on the true counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmestudy import i18n
from cmestudy.i18n import t
from cmestudy.report.association_tables import with_interval
from cmestudy.report.disclosure import suppress, written
from cmestudy.schema import MODES


def learner_lines(index: pd.MultiIndex, modes: int = len(MODES)) -> list[np.ndarray]:
    """The totals a reader has of an (institution, year) x mode table of learners, as lines of flat cell
    indices: each institution's learners in a year, each year's learners by mode (the region's, printed in
    the descriptive tables), and each institution's learners by mode over the years (the funnel's)."""
    inst = index.get_level_values("institution").to_numpy()
    year = index.get_level_values("year").to_numpy()
    cells = np.arange(len(index) * modes).reshape(len(index), modes)
    lines = [cells[r] for r in range(len(index))]
    for key, groups in ((year, np.unique(year)), (inst, np.unique(inst))):
        for g in groups:
            rows = np.flatnonzero(key == g)
            lines += [cells[rows, m] for m in range(modes)]
    return lines


def counts_table(counts: pd.DataFrame, min_cell: int = 5) -> pd.DataFrame:
    """Projects and learners by institution and year, live and face-to-face, with the live share (%).

    Learner counts below ``min_cell`` are written "<``min_cell``", with secondary suppression ("x") against
    every total a reader has (:func:`cmestudy.report.disclosure.suppress`), and a live share of learners
    whose counts are hidden is hidden too; projects are not persons and are shown as they are. Columns are
    (measure, mode) codes."""
    out = pd.DataFrame(index=counts.index)
    for what in ("projects", "learners"):
        values = counts[[f"{what}_{m}" for m in MODES]].to_numpy()
        hide = np.zeros(values.shape, dtype=bool)
        if what == "learners":
            years = counts.index.levels[1] if isinstance(counts.index, pd.MultiIndex) else [None]
            cube = values.reshape(-1, len(years), len(MODES))  # (institution, year, mode): the index is their product
            hide = suppress(cube, min_cell).reshape(values.shape)
        for k, mode in enumerate(MODES):
            out[(what, mode)] = [
                written(int(v), h, min_cell, i18n.integer) for v, h in zip(values[:, k], hide[:, k], strict=True)
            ]
        share = 100 * counts[f"share_{what}_live"].to_numpy()
        out[(what, "live_pct")] = [
            "" if h.any() or np.isnan(s) else i18n.number(s, 1) for s, h in zip(share, hide, strict=True)
        ]
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out


def funnel_outliers(funnel) -> pd.DataFrame:
    """The institutions outside the funnel's 99.8% limits: learners, live share (%), the pooled share, the
    limits, "above" or "below", and, when the funnel is over-dispersed, whether they stay outside after the
    adjustment; largest share first."""
    table = funnel.table
    rows = {}
    for name, r in table[table["outside_998"] != 0].iterrows():
        side = int(r["outside_998"])
        row = {("n", ""): int(r["n"]), ("live_pct", ""): 100 * r["share"], ("pooled_pct", ""): 100 * funnel.pooled,
               ("limits", "998"): f"{i18n.number(100 * r['low_998'], 1)}–{i18n.number(100 * r['high_998'], 1)}",
               ("outside", "998"): t(f"institutions.{'above' if side > 0 else 'below'}")}  # fmt: skip
        if funnel.overdispersed:
            adj = int(r["outside_998_adjusted"])
            row[("adjusted", "998")] = "" if adj == 0 else t(f"institutions.{'above' if adj > 0 else 'below'}")
        rows[name] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "institution"
    if len(out):
        out.columns = pd.MultiIndex.from_tuples(out.columns)
        out = out.sort_values(("live_pct", ""), ascending=False, kind="stable")
    return out


def within_table(within: dict) -> pd.DataFrame:
    """Per year: the pooled test, the CMH test within institutions, the design-based test with institutions
    as strata, and how many institutions show the association alone."""
    tests = within["tests"]
    out = pd.DataFrame(index=tests.index)
    for col, stat, key in (("pooled", "chi2", ("pooled_chi2", "pooled_p")), ("cmh", "chi2", ("cmh", "cmh_p")),
                           ("stratified", "f", ("rs_f", "rs_p"))):  # fmt: skip
        if key[0] in tests:
            out[(col, stat)] = tests[key[0]]
            out[(col, "p")] = tests[key[1]]
    if "tested_alone" in tests:
        out[("alone", "significant_of_tested")] = [
            "" if pd.isna(tested) else f"{int(sig)}/{int(tested)}"
            for sig, tested in zip(tests["significant_alone"], tests["tested_alone"], strict=True)
        ]
    if "not_computable" in tests:
        out[("note", "")] = tests["not_computable"].map(lambda v: f"nc_{v}" if isinstance(v, str) else "")
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out


def pairs_table(within: dict) -> pd.DataFrame:
    """Per year and pair of titles: the Mantel-Haenszel common odds ratio with its interval, the MH test and
    the Breslow-Day test of homogeneity across institutions (Tarone's correction)."""
    pairs = within["pairs"]
    if pairs.empty:
        return pd.DataFrame()
    out = pd.DataFrame(index=pd.MultiIndex.from_tuples(
        [(y, t("label.pair", first=i18n.label(a), second=i18n.label(b))) for y, a, b in pairs.index],
        names=["year", "pair_compared"]))  # fmt: skip
    out[("common_or", "")] = [
        with_interval(o, lo, hi)
        for o, lo, hi in zip(pairs["odds_ratio"], pairs["ci_low"], pairs["ci_high"], strict=True)
    ]
    out[("mh", "chi2")] = pairs["statistic"].to_numpy()
    out[("mh", "p")] = pairs["pvalue"].to_numpy()
    out[("breslow_day", "chi2")] = pairs["breslow_day"].to_numpy()
    out[("breslow_day", "df")] = pairs["breslow_day_df"].to_numpy()
    out[("breslow_day", "p")] = pairs["breslow_day_p"].to_numpy()
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out


def sentences(funnel, within: dict, alpha: float) -> list[str]:
    """Where the pattern holds, from the numbers: per year in the pool only, in most institutions or in
    few; and how many institutions lie outside the funnel's limits, before and after adjustment."""
    out = []
    table = funnel.table
    above = int((table["outside_998"] > 0).sum())
    below = int((table["outside_998"] < 0).sum())
    out.append(t("institutions.funnel", n=len(table), pooled=i18n.number(100 * funnel.pooled, 1),
                 above=above, below=below, measure=t(f"word.{funnel.measure}")))  # fmt: skip
    if funnel.overdispersed:
        adj = int((table["outside_998_adjusted"] != 0).sum())
        out.append(t("institutions.overdispersed", phi=i18n.number(funnel.phi, 2), p=i18n.p_clause(funnel.overdispersion_p),
                     kept=adj))  # fmt: skip
    tests = within["tests"]
    for year, r in tests.iterrows():
        if "pattern" not in r or not isinstance(r.get("pattern"), str):
            continue
        out.append(t(f"institutions.pattern_{r['pattern']}", year=int(year),
                     cmh=i18n.number(r["cmh"], 2), p=i18n.p_clause(r["cmh_p"]),
                     k=int(r["significant_alone"]), m=int(r["tested_alone"])))  # fmt: skip
    return out
