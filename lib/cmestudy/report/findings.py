"""The study's main numbers, kept by the notebooks for the structured abstract.

A notebook that computes something the abstract reports records it here, as numbers without
language (``OUT/findings/<part>.json``, written atomically); the report stage
(:mod:`cmestudy.report.abstract`) reads them back and words them in the report's language. So the abstract
states exactly the numbers of the report's tables, computed once.

Parts: ``descriptive`` (projects and learners by year and mode), ``tests`` (each year's naive test
and its design-based one), ``trend`` (the live share and its Cochran-Armitage test), ``monthly`` or
``annual`` (the growth models and how far their projections can be trusted).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from cmestudy.fileio import write_text

FOLDER = "findings"


def _number(v):
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


def descriptive(projects, learners) -> dict:
    """Projects and learners by year and mode (:func:`cmestudy.analysis.describe.projects_by_year_mode`,
    :func:`cmestudy.analysis.describe.learners_by_year_mode`)."""
    return {
        "years": [int(y) for y in projects.index],
        "projects": {str(int(y)): {m: int(v) for m, v in row.items()} for y, row in projects.iterrows()},
        "learners": {str(int(y)): {m: int(v) for m, v in row.items()} for y, row in learners.iterrows()},
    }


def tests(tests, design) -> dict:
    """Each year's naive mode x title test (:func:`cmestudy.analysis.association.mode_title_tests`) and its
    design-based one (:func:`cmestudy.analysis.design.design_tests`); years that cannot be tested with why."""
    out = {"years": {}, "skipped": {str(y): why for y, why in getattr(tests, "skipped", {}).items()}}
    for year, t in tests.items():
        r = t.result
        row = {
            "n": int(r.n),
            "chi2": _number(r.pearson.statistic),
            "df": int(r.pearson.df),
            "p": _number(r.pearson.pvalue),
            "v": _number(r.cramers_v.estimate),
            "v_low": _number(r.cramers_v.ci_low),
            "v_high": _number(r.cramers_v.ci_high),
        }
        d = design.get(year) if design else None
        if d is not None and d.table is not None:
            rs = d.table
            row["design"] = {"f": _number(rs.f), "ndf": _number(rs.ndf), "ddf": _number(rs.ddf),
                             "p_f": _number(rs.p_f), "mean_deff": _number(rs.mean_deff),
                             "n_effective": _number(rs.n_effective), "projects": int(rs.clusters)}  # fmt: skip
        elif d is not None:
            row["design"] = {"not_computable": d.not_computable}
        out["years"][str(year)] = row
    return out


def trend(table) -> dict:
    """The live share of all learners by year and its trend test (:func:`cmestudy.analysis.trends.live_share_trend`)."""
    if table.empty or "all_titles" not in table.index:
        return {}
    row = table.loc["all_titles"]
    shares = {str(y): _number(row[("live_pct", y)]) for code, y in table.columns if code == "live_pct"}
    note = row.get(("note", ""))
    return {
        "live_pct": shares,
        "z": _number(row.get(("z", ""))),
        "p": _number(row.get(("p", ""))),
        "not_computable": note if isinstance(note, str) else None,
    }


def monthly(analysis) -> dict:
    """Growth per year of each monthly series and whether its projection can be trusted
    (:func:`cmestudy.analysis.forecast.trusted`)."""
    from cmestudy.analysis.forecast import trusted

    verdicts = trusted(analysis)
    series = {}
    for name, m in analysis.models.items():
        g, lo, hi, p = m.growth
        series[name] = {"growth": _number(g), "low": _number(lo), "high": _number(hi), "p": _number(p),
                        "trusted": verdicts.get(name)}  # fmt: skip
    return {"kind": "monthly", "series": series, "not_modelled": dict(analysis.not_modelled)}


def annual(models) -> dict:
    """Growth per year of each yearly count model (:func:`cmestudy.analysis.trends.count_trends`)."""
    series = {
        name: {
            "growth": _number(m.growth),
            "low": _number(m.growth_low),
            "high": _number(m.growth_high),
            "p": _number(m.pvalue),
            "trusted": None,
        }  # fmt: skip
        for name, m in models.items()
    }
    return {"kind": "annual", "series": series, "not_modelled": {}}


RECORDERS = {"descriptive": descriptive, "tests": tests, "trend": trend, "monthly": monthly, "annual": annual}


def record(part: str, *values, output_dir=None) -> None:
    """Keep a part of the findings (see the module docstring) in the notebook's output directory."""
    from cmestudy.report import notebook

    out = output_dir or notebook._STATE.get("output_dir")
    if out is None:
        return
    data = RECORDERS[part](*values)
    path = Path(out) / FOLDER / f"{part}.json"
    write_text(path, json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True))
    if part in ("monthly", "annual"):  # one growth part at a time
        (Path(out) / FOLDER / f"{'annual' if part == 'monthly' else 'monthly'}.json").unlink(missing_ok=True)


def load(output_dir) -> dict:
    """Every part kept in ``OUT/findings/``, by name."""
    folder = Path(output_dir) / FOLDER
    out = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return out
