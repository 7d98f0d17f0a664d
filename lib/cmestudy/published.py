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

from . import describe, i18n
from .fileio import read_yaml

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


def dataset_info(raw_dir) -> dict:
    """What the report says of the data: a reconstruction or not, and what study it reproduces.

    A raw directory holding ``reconstruction.yml`` is the reconstructed default data set.
    """
    raw_dir = Path(raw_dir)
    pub = load(raw_dir)
    return {"reconstruction": (raw_dir / "reconstruction.yml").is_file(), "citation": pub.citation if pub else ""}


def matches(value: float, published: float, decimals: int) -> bool:
    """True when ``value`` rounds to ``published`` at ``decimals`` places."""
    return bool(abs(float(value) - float(published)) < 0.5 * 10.0 ** (-int(decimals)))


def _increasing(series: pd.Series) -> bool:
    v = series.to_numpy()
    return bool(len(v) > 1 and np.all(np.diff(v) > 0))


def claim_text(claim: dict, lang: str | None = None) -> str:
    """A published statement in the report's language: ``text`` may be one string or one per language."""
    text = claim["text"]
    if isinstance(text, dict):
        lang = lang or i18n.get_language()
        return str(text.get(lang) or text.get("en") or next(iter(text.values())))
    return str(text)


def claim_values(study, years) -> dict[str, tuple[bool, str]]:
    """Evaluate each published claim on the study data: id -> (holds, computed evidence)."""
    out = {}
    largest, share = [], []
    for y in years:
        t = describe.mode_by_title(study.learners, y)
        live_row = t.loc["live"]
        largest.append((y, live_row.idxmax()))
        live_share = t.loc["live"] / t.sum(axis=0)
        share.append((y, live_share.idxmax()))
    out["intermediate_largest_live"] = (
        all(g == "intermediate" for _, g in largest),
        i18n.join([f"{y}: {i18n.t(f'word.{g}')}" for y, g in largest]),
    )
    out["intermediate_highest_live_share"] = (
        all(g == "intermediate" for _, g in share),
        i18n.join([f"{y}: {i18n.t(f'word.{g}')}" for y, g in share]),
    )
    proj = describe.projects_by_year_mode(study.projects, years)["live"]
    out["live_projects_increase"] = (_increasing(proj), " → ".join(str(int(v)) for v in proj))
    lrn = describe.learners_by_year_mode(study.learners, years)["live"]
    out["live_learners_increase"] = (_increasing(lrn), " → ".join(i18n.integer(v) for v in lrn))
    disc = describe.live_disciplines_per_year(study.projects, years)
    out["live_disciplines_increase"] = (_increasing(disc), " → ".join(str(int(v)) for v in disc))
    return out


def compare(published: Published, study) -> pd.DataFrame:
    """One row per published figure: the published value, the reproduced one, and a match flag."""
    from . import stats  # SciPy is loaded only when figures are compared

    rows = []
    studied = set(getattr(study, "years", published.years))
    skipped = 0
    by_mode = study.learners[study.learners.year.isin(published.years)].groupby("mode", observed=False).learners.sum()
    first, last = min(published.years), max(published.years)
    totals = published.totals if set(published.years) <= studied else []
    skipped += len(published.totals) - len(totals)
    for t in totals:
        value = int(by_mode.get(t["mode"], 0))
        rows.append(
            {
                "figure": t["id"],
                "reported_p_check": "",
                "what": i18n.t("published.total", mode=i18n.t(f"word.{t['mode']}"), first=first, last=last),
                "published": i18n.integer(t["value"]),
                "reproduced": i18n.integer(value),
                "match": matches(value, t["value"], t.get("decimals", 0)),
                "source": t["where"],
            }
        )
    for c in published.chisquare:
        if int(c["year"]) not in studied:
            skipped += 1
            continue
        table = describe.mode_by_title(study.learners, c["year"])[c["titles"]]
        res = stats.crosstab_tests(table)
        value = res.pearson.statistic
        d = int(c.get("decimals", 3))
        check = stats.check_reported(float(c["value"]), int(c["df"]), c.get("reported_p", "<0.05"), d)
        what = (
            i18n.t("published.chi2_table", year=c["year"])
            if len(c["titles"]) == 3
            else i18n.t(
                "published.chi2_pair",
                year=c["year"],
                pair=i18n.t(
                    "label.pair", first=i18n.t(f"word.{c['titles'][0]}"), second=i18n.t(f"word.{c['titles'][1]}")
                ),
            )
        )
        rows.append(
            {
                "figure": c["id"],
                "what": what,
                "published": f"{c['value']:.{d}f}",
                "reproduced": f"{value:.{d}f}",
                "match": matches(value, c["value"], d) and res.pearson.df == c["df"],
                "source": c["where"],
                "p_reproduced": res.pearson.pvalue,
                "reported_p_consistent": check.consistent,
                "reported_p_check": i18n.t(
                    "published.p_consistent" if check.consistent else "published.p_inconsistent",
                    p=f"{check.p_computed:.2g}",
                ),
            }
        )
    years = [y for y in published.years if y in studied]
    claims = claim_values(study, years) if len(years) > 1 else {}
    skipped += len(published.claims) if not claims else 0
    for c in published.claims if claims else []:
        holds, evidence = claims.get(c["id"], (False, "not computed"))
        rows.append(
            {
                "figure": c["id"],
                "reported_p_check": "",
                "what": claim_text(c),
                "published": "",
                "reproduced": evidence,
                "match": holds,
                "source": c["where"],
                "claim": True,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "figure",
            "what",
            "published",
            "reproduced",
            "match",
            "source",
            "reported_p_check",
            "p_reproduced",
            "reported_p_consistent",
            "claim",
        ],
    )
    out["claim"] = out["claim"].fillna(False).astype(bool)
    out.attrs["not_compared"] = skipped  # figures of years outside the study years
    return out


def comparison_table(comparison: pd.DataFrame, kind: str = "figures") -> pd.DataFrame:
    """The comparison as the report shows it.

    ``kind="figures"``: the published numbers (totals, chi-squares) with the reported-p check;
    ``kind="claims"``: the statements of the abstract, true or not on the reproduced data.
    """
    claims = comparison["claim"]
    if kind == "figures":
        cols = {
            "what": "figure",
            "published": "published",
            "reproduced": "reproduced",
            "match": "match",
            "reported_p_check": "reported_p",
        }
        rows = comparison[~claims]
    elif kind == "claims":
        cols = {"what": "statement", "reproduced": "reproduced", "match": "holds"}
        rows = comparison[claims]
    else:
        raise ValueError(f"kind must be 'figures' or 'claims'; got {kind!r}")
    out = rows[list(cols)].rename(columns=cols).reset_index(drop=True)
    out["match" if kind == "figures" else "holds"] = out["match" if kind == "figures" else "holds"].astype(bool)
    return out
