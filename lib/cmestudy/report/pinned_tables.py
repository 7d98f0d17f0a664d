"""What the published figures pin down, as the report shows it: counts, derived quantities, claims and readings.

The analysis (:mod:`cmestudy.published.consistency`) caches numbers; this module writes them in the
report's language: a count with its interval ("about 1.2 × 10⁶ (95% interval ...)"), the ranges of
the live shares and of Cramér's V across the joined set, the published claims with the share of
tables in which each holds, and the verdict of each reading.
"""

from __future__ import annotations

import numpy as np

from cmestudy import i18n
from cmestudy.published.consistency import interval
from cmestudy.published.pinned_sets import derived, weighted_quantiles
from cmestudy.report.published_tables import claim_text


def count_text(c: dict, confidence: float = 0.95) -> str:
    """A cached count: exact as an integer, else "about m × 10ⁿ" with its interval at ``confidence``."""
    if c["exact"]:
        return i18n.integer(c["estimate"])
    lo, hi = interval(c, confidence)
    return i18n.t(
        "consistency.about", value=_sig(c["estimate"]), low=_sig(lo), high=_sig(hi), level=i18n.level(confidence)
    )


def _sig(x: float) -> str:
    """A count to three significant digits, as the language writes it (3.2 × 10⁸, or 4 870)."""
    if x < 1e5:
        return i18n.integer(round(x))
    e = int(np.floor(np.log10(x)))
    m = x / 10**e
    if round(m, 2) >= 10:
        m, e = m / 10, e + 1
    sup = str(e).translate(str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"))
    return f"{i18n.number(m, 2)} × 10{sup}"


def count_table(result: dict, confidence: float = 0.95):
    """Per year and joined: the printed statistics, the search, and how many tables are consistent."""
    import pandas as pd

    p = result["readings"]["pearson"]
    rows = {}
    for year, y in p["years"].items():
        rows[year] = {
            "published_statistics": i18n.t("punct.list_sep").join(y["printed"].values()),
            "columns_searched": f"{i18n.integer(y['columns_searched'])} / {i18n.integer(y['columns'])}",
            "tables_found": i18n.integer(y["found"]),
            "effective_in_joined_set": i18n.number(y.get("joined_effective_tables", 0.0), 1),
            "consistent_tables": count_text(y["count"], confidence),
            "search_method": i18n.t("consistency.exact" if y["count"]["exact"] else "consistency.sampled"),
        }
    j = p["joined"]
    rows[i18n.t("consistency.joined")] = {
        "published_statistics": i18n.t(
            "consistency.totals",
            live=i18n.integer(result["totals"]["live"]),
            face_to_face=i18n.integer(result["totals"]["face_to_face"]),
        ),  # fmt: skip
        "columns_searched": "",
        "tables_found": "",
        "effective_in_joined_set": "",
        "consistent_tables": count_text(j, confidence),
        "search_method": i18n.t("consistency.exact" if j["exact"] else "consistency.convolved"),
    }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "year"
    return out


QUANTITIES = ["live_share_junior", "live_share_intermediate", "live_share_senior", "cramers_v",
              "learners_live", "learners_face_to_face"]  # fmt: skip


def derived_table(result: dict, located: dict | None = None, confidence: float = 0.95):
    """Range (over every table found) and middle ``confidence`` (of the kept weighted sample)
    of each derived quantity across the joined set, beside the data set's value."""
    import pandas as pd

    def fmt(k, v):
        if v is None:
            return "–"
        if k.startswith("live_share"):
            return i18n.number(100 * v, 1)
        return i18n.number(v, 3) if k == "cramers_v" else i18n.integer(v)

    rows = {}
    tail = (1 - confidence) / 2
    pearson = result["readings"]["pearson"]
    for year, d in pearson["derived"].items():
        sample = pearson["sample"][year]
        tables = np.asarray(sample["tables"], dtype=float).reshape(-1, 2, 3)
        w = np.asarray(sample["weights"], dtype=float)
        values = derived(tables, result["titles"]) if len(tables) else {}
        for k in QUANTITIES:
            s = d[k]
            q = weighted_quantiles(values[k], w, [tail, 0.5, 1 - tail]) if len(tables) and w.sum() > 0 else [None] * 3
            row = {
                "min": fmt(k, s["min"]),
                "q_low": fmt(k, q[0]),
                "median": fmt(k, q[1]),
                "q_high": fmt(k, q[2]),
                "max": fmt(k, s["max"]),
            }
            if located is not None:
                loc = located.get(year)
                row["this_data"] = (
                    f"{fmt(k, loc['values'][k])} ({i18n.number(100 * loc['percentile'][k], 0)}%)" if loc else "–"
                )
            rows[(int(year), i18n.t(f"consistency.quantity.{k}"))] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples(out.index, names=["year", "quantity"])
    return out


def claims_table(result: dict, pub):
    """Each published statement: in how many of the joined sets it holds."""
    import pandas as pd

    got = result["readings"]["pearson"]["claims"]
    rows = {}
    for c in pub.claims:
        g = got.get(c["id"])
        if g is None:
            continue
        share = "–" if g["share"] is None else f"{i18n.number(100 * g['share'], 1)}%"
        years = i18n.join([f"{y}: {i18n.number(100 * v, 1)}%" for y, v in g["years"].items() if v is not None])
        rows[claim_text(c)] = {
            "holds_in": i18n.t(f"consistency.verdict.{g['verdict']}"),
            "share_of_joined_sets": share,
            "by_year": years or "–",
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "statement"
    return out


def readings_table(result: dict, confidence: float = 0.95):
    """Each reading of the published statistics: consistent tables per year, joined, verdict."""
    import pandas as pd

    rows = {}
    for reading, r in result["readings"].items():
        row = {str(y): count_text(v["count"], confidence) for y, v in r["years"].items()}
        row["joined"] = count_text(r["joined"], confidence)
        row["verdict"] = i18n.t(f"consistency.verdict_reading.{r['verdict']}")
        rows[i18n.t(f"consistency.reading.{reading}")] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "reading"
    return out
