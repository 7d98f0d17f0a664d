"""What cleaning did, for the reader to review: rows at each step, quarantined rows by reason, titles
graded unknown (with a codebook snippet to grade them) and warnings about data that look incomplete."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from cmestudy.clean.cleaning import Cleaned

#: Share of enrolment rows naming projects missing from the register above which a sheet or file
#: is probably missing.
ORPHAN_WARNING_SHARE = 0.10


def plausibility(summary: dict) -> list[tuple[str, dict]]:
    """Warnings about data that can be used but look incomplete, as (message id, values)."""
    out = []
    rows, orphans = summary.get("enrolment_rows_read", 0), summary.get("quarantine_by_reason", {}).get("orphan", 0)
    if rows and orphans / rows > ORPHAN_WARNING_SHARE:
        out.append(("problem.many_orphans", {"orphans": orphans, "rows": rows, "pct": f"{100 * orphans / rows:.0f}"}))
    return out


def unknown_titles(quarantine: pd.DataFrame) -> pd.Series:
    """The professional titles graded unknown, with their number of enrolment rows, most frequent first."""
    q = quarantine[quarantine["code"] == "unknown_title"] if len(quarantine) else quarantine
    if not len(q):
        return pd.Series(dtype="int64", name="rows")
    return q.groupby(q["value"].astype(str))["rows"].sum().sort_values(ascending=False, kind="stable").rename("rows")


def codebook_snippet(titles, lang: str = "en") -> str:
    """A ``codebook.yml`` snippet listing ``titles`` under ``unknown``, for the user to move to their grade
    (its comment in ``lang``)."""
    import json

    from cmestudy import i18n

    listed = ", ".join(json.dumps(str(t), ensure_ascii=False) for t in titles)
    return f"values:\n  title_grade:\n    # {i18n.t('cli.snippet_comment', lang)}\n    unknown: [{listed}]"


def unknown_by_year(learners: pd.DataFrame, years) -> pd.DataFrame:
    """Learners per study year, those with an unknown title, and their share (%)."""
    lr = learners[learners["year"].isin(years)]
    total = lr.groupby("year")["learners"].sum().reindex(years, fill_value=0)
    unknown = lr[lr["grade"] == "unknown"].groupby("year")["learners"].sum().reindex(years, fill_value=0)
    share = (100 * unknown / total.where(total > 0)).astype(float)
    out = pd.DataFrame({"learners": total.astype("int64"), "unknown": unknown.astype("int64"), "unknown_pct": share})
    out.index.name = "year"
    return out


STEPS = (
    "projects",
    "projects_outside_years",
    "projects_blended",
    "enrolment_rows_read",
    "count_rows_read",
    "enrolments_excluded",
    "learners",
    "titles_unknown",
)


def steps_table(cleaned: Cleaned) -> pd.DataFrame:
    """Rows at each cleaning step (index: step codes ``step_<name>``)."""
    s = cleaned.summary
    steps = [k for k in STEPS if k != "projects_blended" or s.get(k)]  # the blended row only where there are some
    return pd.DataFrame({"rows": [int(s[k]) for k in steps]}, index=pd.Index([f"step_{k}" for k in steps], name="step"))


def quarantine_table(cleaned: Cleaned) -> pd.DataFrame:
    """Quarantined rows by reason, with what was done with them (codes ``reason_<code>``, ``action_<code>``)."""
    q = cleaned.quarantine
    if q.empty:
        return pd.DataFrame(
            {"action": pd.Series(dtype=object), "rows": pd.Series(dtype="int64")}, index=pd.Index([], name="reason")
        )
    n = q.groupby("code", sort=True)["rows"].sum() if "rows" in q else q.groupby("code", sort=True).size()
    return pd.DataFrame(
        {"action": [f"action_{c}" for c in n.index], "rows": n.to_numpy()},
        index=pd.Index([f"reason_{c}" for c in n.index], name="reason"),
    )
