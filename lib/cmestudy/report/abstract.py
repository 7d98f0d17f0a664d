"""The structured abstract that opens the report: Objective, Methods, Results, Conclusions (目的、方法、
结果、结论), as the published study and Chinese journals open, at most a page.

It is built from the numbers the notebooks kept (:mod:`cmestudy.report.findings`), worded in the report's
language with the same formats as the tables (so a reader finds every number of the abstract in a
table), and follows ``--alpha`` and ``--confidence``: each year's mode x title test with the
design-based (Rao-Scott) result beside the naive one, the trend of the live share, and what the
projections can and cannot say. A part the notebooks did not keep (a notebook not run) is left out.
"""

from __future__ import annotations

from cmestudy import i18n
from cmestudy.analysis.proportions import cramers_v_magnitude
from cmestudy.i18n import t
from cmestudy.report.narrative import signed
from cmestudy.report.tables import inline


def _years_text(years: list[int]) -> str:
    return str(years[0]) if len(years) == 1 else t("abstract.year_span", first=years[0], last=years[-1])


def _enum(items) -> str:
    items = [str(i) for i in items]
    if len(items) < 2:
        return "".join(items)
    return t("punct.enum_sep").join(items[:-1]) + t("punct.enum_last") + items[-1]


def _enum_years(years) -> str:
    return _enum(t("abstract.year_item", year=y) for y in years)


def _design_clause(d: dict, alpha: float) -> str:
    if d is None:
        return ""
    if d.get("not_computable"):
        return t("abstract.design_not_computable", reason=t(f"label.skip_{d['not_computable']}"))
    verdict = t("abstract.significant" if d["p_f"] < alpha else "abstract.not_significant")
    return t("abstract.design", ndf=i18n.number(d["ndf"], 2), ddf=i18n.number(d["ddf"], 1),
             f=i18n.number(d["f"], 3), p=i18n.p_clause(d["p_f"]), verdict=verdict)  # fmt: skip


def _naive_clause(y: dict) -> str:
    return t("abstract.naive", df=y["df"], n=i18n.integer(y["n"]), chi2=f"{y['chi2']:.3f}", p=i18n.p_clause(y["p"]))


def methods(found: dict, params: dict, dataset: dict, projects: int, learners: int) -> str:
    data = t(
        "abstract.data_reconstruction"
        if dataset.get("reconstruction")
        else "abstract.data_synthetic"
        if dataset.get("synthetic")
        else "abstract.data_real",
        projects=i18n.integer(projects),
        learners=i18n.integer(learners),
    )
    growth = "abstract.growth_monthly" if found.get("monthly") else "abstract.growth_annual"
    return t("abstract.methods", data=data, growth_method=t(growth), alpha=params.get("alpha", 0.05),
             level=i18n.level(params.get("confidence", 0.95)))  # fmt: skip


def results(found: dict, alpha: float) -> list[str]:
    out = []
    desc = found.get("descriptive")
    if desc:
        years = desc["years"]
        live = [desc["projects"][str(y)]["live"] for y in years]
        f2f = [desc["projects"][str(y)]["face_to_face"] for y in years]
        learners_live = sum(desc["learners"][str(y)]["live"] for y in years)
        learners_all = learners_live + sum(desc["learners"][str(y)]["face_to_face"] for y in years)
        out.append(
            t(
                "abstract.results_projects",
                live=i18n.integer(sum(live)),
                f2f=i18n.integer(sum(f2f)),
                by_year=t("punct.list_sep").join(
                    t("abstract.by_year_item", year=y, live=i18n.integer(a), f2f=i18n.integer(b))
                    for y, a, b in zip(years, live, f2f, strict=True)
                ),
                live_learners=i18n.integer(learners_live),
                f2f_learners=i18n.integer(learners_all - learners_live),
                share=f"{100 * learners_live / learners_all:.1f}" if learners_all else "–",
            )
        )
    tests = found.get("tests")
    if tests:
        items = []
        for year in sorted(set(tests["years"]) | set(tests["skipped"]), key=int):
            if year in tests["skipped"]:
                items.append(t("abstract.year_not_computable", year=year,
                               reason=t(f"label.skip_{tests['skipped'][year]}")))  # fmt: skip
                continue
            y = tests["years"][year]
            items.append(t("abstract.year_test", year=year, naive=_naive_clause(y),
                           design=_design_clause(y.get("design"), alpha)))  # fmt: skip
        out.append(t("abstract.results_tests", items=t("punct.clause_sep").join(items)))
    trend = found.get("trend")
    # the first and last years with learners (a study year without learners has no share)
    years = sorted((y for y, v in (trend or {}).get("live_pct", {}).items() if v is not None), key=int)
    if years:
        first, last = trend["live_pct"][years[0]], trend["live_pct"][years[-1]]
        if trend.get("not_computable") or trend.get("z") is None:
            reason = (trend.get("not_computable") or "nc_too_few_years").removeprefix("nc_")
            out.append(t("abstract.results_trend_nc", first=f"{first:.1f}", y0=years[0], last=f"{last:.1f}",
                         y1=years[-1], reason=t(f"label.skip_{reason}")))  # fmt: skip
        else:
            out.append(t("abstract.results_trend", first=f"{first:.1f}", y0=years[0], last=f"{last:.1f}",
                         y1=years[-1], z=f"{trend['z']:.2f}", p=i18n.p_clause(trend["p"])))  # fmt: skip
    growth = found.get("monthly") or found.get("annual")
    if growth and "live_learners" in growth["series"]:
        g = growth["series"]["live_learners"]
        out.append(t("abstract.results_growth", g=signed(100 * g["growth"]), lo=signed(100 * g["low"]),
                     hi=signed(100 * g["high"]), p=i18n.p_clause(g["p"])))  # fmt: skip
    return out


def conclusions(found: dict, alpha: float) -> list[str]:
    out = []
    trend = found.get("trend")
    if trend and trend.get("z") is not None and trend.get("p") is not None:
        years = sorted(trend["live_pct"], key=int)
        rose = trend["live_pct"][years[-1]] > trend["live_pct"][years[0]]
        key = ("conc_rose" if rose else "conc_fell") if trend["p"] < alpha else "conc_flat"
        out.append(t(f"abstract.{key}", years=_years_text([int(years[0]), int(years[-1])])))
    tests = found.get("tests")
    tested = {y: v for y, v in (tests or {}).get("years", {}).items()}
    if tested:
        naive = [y for y, v in tested.items() if v["p"] < alpha]
        design = {y: v.get("design") or {} for y, v in tested.items()}
        kept = [y for y in naive if design[y].get("p_f") is not None and design[y]["p_f"] < alpha]
        lost = [y for y in naive if y not in kept and design[y].get("p_f") is not None]
        unknown = [y for y in naive if design[y].get("p_f") is None]
        vs = [v["v"] for v in tested.values() if v.get("v") is not None]
        size = t(f"word.effect_{cramers_v_magnitude(max(vs), 1)}") if vs else ""
        values = {"kept": _enum_years(kept), "lost": _enum_years(lost), "alpha": alpha, "size": size,
                  "v_low": f"{min(vs):.2f}" if vs else "", "v_high": f"{max(vs):.2f}" if vs else ""}  # fmt: skip
        if not naive:
            key = "conc_no_association"
        elif not lost and not unknown:
            key = "conc_all_kept"
        elif kept:
            key = "conc_some_kept"
        elif lost:
            key = "conc_none_kept"
        else:
            key = "conc_design_unknown"
        out.append(t(f"abstract.{key}", **values))
        if unknown and (kept or lost):
            out.append(t("abstract.conc_design_unknown_years", years=_enum_years(unknown)))
    growth = found.get("monthly") or found.get("annual")
    if growth:
        if growth["kind"] == "annual":
            out.append(t("abstract.conc_prospects_annual"))
        else:
            good = [t(f"abstract.series_{n}") for n, s in growth["series"].items() if s.get("trusted")]
            bad = [t(f"abstract.series_{n}") for n, s in growth["series"].items() if s.get("trusted") is False]
            if good:
                out.append(t("abstract.conc_prospects_trusted", good=_enum(good)))
                if bad:
                    out.append(t("abstract.conc_prospects_scenarios", bad=_enum(bad)))
            elif bad:
                out.append(t("abstract.conc_prospects_none"))
    return out


def html(found: dict, params: dict, dataset: dict, years: list[int]) -> str:
    """The abstract as HTML (an empty string when the notebooks kept nothing), in the language set."""
    if not found:
        return ""
    alpha = float(params.get("alpha", 0.05))
    desc = found.get("descriptive") or {}
    projects = sum(sum(v.values()) for v in desc.get("projects", {}).values())
    learners = sum(sum(v.values()) for v in desc.get("learners", {}).values())
    parts = [
        ("objective", [t("abstract.objective", years=_years_text(years) if years else "")]),
        ("methods", [methods(found, params, dataset, projects, learners)]),
        ("results", results(found, alpha)),
        ("conclusions", conclusions(found, alpha)),
    ]
    body = "".join(
        f'<p class="abstract-part"><strong class="abstract-label">{inline(t(f"abstract.{name}_label"))}</strong>'
        f"{t('abstract.label_sep')}{inline(t('punct.sentence_sep').join(sentences))}</p>"
        for name, sentences in parts
        if sentences
    )
    return (
        f'<div class="abstract" id="abstract"><h2 class="abstract-title">{inline(t("abstract.title"))}</h2>{body}</div>'
    )
