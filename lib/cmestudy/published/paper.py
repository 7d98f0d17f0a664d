"""The study's published figures, and their comparison with the reproduced values.

The figures live once, as data, in ``published.yml`` beside the raw files, each with
where in the abstract it comes from. :func:`compare` recomputes every one of them
from the cleaned data and says whether it matches at the published precision: a
value published with d decimals matches when |computed - published| < 0.5 * 10**-d.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cmestudy.analysis import describe
from cmestudy.fileio import read_yaml

FILE_NAME = "published.yml"


@dataclass
class Published:
    citation: str
    years: list[int]
    alpha: float
    totals: list[dict]
    chisquare: list[dict]
    claims: list[dict]
    path: Path


def load(raw_dir) -> Published | None:
    """The published figures in ``RAW_DIR/published.yml``, or None when there are none."""
    path = Path(raw_dir) / FILE_NAME
    if not path.is_file():
        return None
    doc = read_yaml(path.read_text(encoding="utf-8"))
    return Published(
        doc.get("citation", ""),
        [int(y) for y in doc["years"]],
        float(doc.get("alpha", 0.05)),
        doc.get("totals", []),
        doc.get("chisquare", []),
        doc.get("claims", []),
        path,
    )


#: The file that marks a raw directory as a synthetic example (written by ``cmestudy example``).
SYNTHETIC = "synthetic.yml"


def dataset_info(raw_dir) -> dict:
    """What the report says of the data: a reconstruction or not, and what study it reproduces.

    A raw directory holding ``reconstruction.yml`` is the reconstructed default data set; one holding
    ``synthetic.yml`` a synthetic example (``cmestudy example``), labelled as such in the report.
    """
    raw_dir = Path(raw_dir)
    pub = load(raw_dir)
    return {"reconstruction": (raw_dir / "reconstruction.yml").is_file(), "synthetic": (raw_dir / SYNTHETIC).is_file(),
            "citation": pub.citation if pub else ""}  # fmt: skip


def matches(value: float, published: float, decimals: int) -> bool:
    """True when ``value`` rounds to ``published`` at ``decimals`` places."""
    return bool(abs(float(value) - float(published)) < 0.5 * 10.0 ** (-int(decimals)))


def _increasing(series: pd.Series) -> bool:
    v = series.to_numpy()
    return bool(len(v) > 1 and np.all(np.diff(v) > 0))


def claim_values(study, years) -> dict[str, tuple[bool, dict]]:
    """Evaluate each published claim on the study data: id -> (holds, evidence), the evidence as data:
    ``{"grades": [(year, grade), ...]}`` (the title that stands out each year) or ``{"counts": [...],
    "grouped": bool}`` (the yearly counts; grouped: written with a thousands separator)."""
    out = {}
    largest, share = [], []
    for y in years:
        t = describe.mode_by_title(study.learners, y)
        live_row = t.loc["live"]
        largest.append((y, live_row.idxmax()))
        live_share = t.loc["live"] / t.sum(axis=0)
        share.append((y, live_share.idxmax()))
    out["intermediate_largest_live"] = (all(g == "intermediate" for _, g in largest), {"grades": largest})
    out["intermediate_highest_live_share"] = (all(g == "intermediate" for _, g in share), {"grades": share})
    proj = describe.projects_by_year_mode(study.projects, years)["live"]
    out["live_projects_increase"] = (_increasing(proj), {"counts": [int(v) for v in proj], "grouped": False})
    lrn = describe.learners_by_year_mode(study.learners, years)["live"]
    out["live_learners_increase"] = (_increasing(lrn), {"counts": [int(v) for v in lrn], "grouped": True})
    disc = describe.live_disciplines_per_year(study.projects, years)
    out["live_disciplines_increase"] = (_increasing(disc), {"counts": [int(v) for v in disc], "grouped": False})
    return out


#: The columns of :func:`compare`.
COMPARISON_COLUMNS = ["figure", "kind", "mode", "first", "last", "year", "titles", "published", "decimals",
                      "reproduced", "match", "source", "p_reproduced", "reported_p_consistent", "p_computed",
                      "claim", "evidence", "statement"]  # fmt: skip


def compare(published: Published, study) -> pd.DataFrame:
    """One row per published figure: what it is (``kind`` total, chisquare or claim, with its mode, years
    or titles), the published value, the reproduced one, and whether they match at the published
    precision; for a chi-square, the p-value reproduced and whether the reported p is consistent
    (:func:`cmestudy.published.statcheck.check_reported`); for a claim, whether it holds and its
    evidence (:func:`claim_values`). Figures of years outside the study are counted in
    ``attrs["not_compared"]``. The report words the rows (:mod:`cmestudy.report.published_tables`)."""
    from cmestudy.analysis import crosstab
    from cmestudy.published import statcheck  # SciPy is loaded only when figures are compared

    rows = []
    studied = set(getattr(study, "years", published.years))
    skipped = 0
    by_mode = study.learners[study.learners.year.isin(published.years)].groupby("mode", observed=False).learners.sum()
    first, last = min(published.years), max(published.years)
    totals = published.totals if set(published.years) <= studied else []
    skipped += len(published.totals) - len(totals)
    for t in totals:
        value = int(by_mode.get(t["mode"], 0))
        rows.append({"figure": t["id"], "kind": "total", "mode": t["mode"], "first": first, "last": last,
                     "published": t["value"], "decimals": int(t.get("decimals", 0)), "reproduced": value,
                     "match": matches(value, t["value"], t.get("decimals", 0)), "source": t["where"]})  # fmt: skip
    for c in published.chisquare:
        if int(c["year"]) not in studied:
            skipped += 1
            continue
        table = describe.mode_by_title(study.learners, c["year"])[c["titles"]]
        res = crosstab.crosstab_tests(table)
        value = res.pearson.statistic
        d = int(c.get("decimals", 3))
        check = statcheck.check_reported(float(c["value"]), int(c["df"]), c.get("reported_p", "<0.05"), d)
        rows.append({"figure": c["id"], "kind": "chisquare", "year": c["year"], "titles": list(c["titles"]),
                     "published": c["value"], "decimals": d, "reproduced": value,
                     "match": matches(value, c["value"], d) and res.pearson.df == c["df"], "source": c["where"],
                     "p_reproduced": res.pearson.pvalue, "reported_p_consistent": check.consistent,
                     "p_computed": check.p_computed})  # fmt: skip
    years = [y for y in published.years if y in studied]
    claims = claim_values(study, years) if len(years) > 1 else {}
    skipped += len(published.claims) if not claims else 0
    for c in published.claims if claims else []:
        holds, evidence = claims.get(c["id"], (False, None))
        rows.append({"figure": c["id"], "kind": "claim", "match": holds, "source": c["where"], "claim": True,
                     "evidence": evidence, "statement": c["text"]})  # fmt: skip
    out = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    out["claim"] = out["claim"].fillna(False).astype(bool)
    out["match"] = out["match"].astype(bool)
    out.attrs["not_compared"] = skipped  # figures of years outside the study years
    return out
