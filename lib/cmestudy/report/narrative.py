"""Sentences built from computed numbers: the report's narrative is never typed in.

Each function takes a table computed elsewhere and returns whole sentences in the
report's language, each from one catalogue template (``narrative.*`` in
``messages/<lang>.yml``) filled with the numbers, so that a change in the data changes
the words, and word order is the language's own.
"""

from __future__ import annotations

import math

import pandas as pd

from cmestudy import i18n
from cmestudy.analysis import proportions
from cmestudy.i18n import t
from cmestudy.report import association_tables, pinned_tables, published_tables
from cmestudy.report.notebook import hidden_cell


def _word(code: str) -> str:
    """A category as it reads inside a sentence ("intermediate-title", "中级职称")."""
    return t(f"word.{code}")


def _change(a: float, b: float) -> str:
    if a == 0:
        return t("narrative.change.from_none") if b else t("narrative.change.none")
    pct = 100 * (b - a) / a
    return t("narrative.change.pct", sign="+" if pct >= 0 else "−", pct=f"{abs(pct):.0f}")


def _direction(values) -> str:
    v = list(values)
    if all(b > a for a, b in zip(v, v[1:])):
        return "rose"
    if all(b < a for a, b in zip(v, v[1:])):
        return "fell"
    return "mixed"


def _reason(code: str) -> str:
    """Why something cannot be computed, as a clause (``nc_no_live`` or ``no_live`` -> "no live learners")."""
    return t(f"label.skip_{code.removeprefix('nc_')}")


def _sentences(items) -> str:
    return t("punct.sentence_sep").join(items)


def _enumerate(items) -> str:
    """Items as the language lists them: "a, b and c", "a、b和c"."""
    items = [str(i) for i in items]
    if len(items) < 2:
        return "".join(items)
    return t("punct.enum_sep").join(items[:-1]) + t("punct.enum_last") + items[-1]


def counts_by_mode(table: pd.DataFrame, noun: str) -> str:
    """E.g. 'Live-broadcast projects rose every year, from 21 in 2021 to 39 in 2023 (+86%). ...'.

    ``noun`` is ``projects`` or ``learners``; ``table`` has years as rows and modes as columns.
    """
    years = list(table.index)
    out = []
    for mode in table.columns:
        v = table[mode].tolist()
        out.append(
            t(
                f"narrative.counts.{_direction(v)}",
                what=i18n.label(f"{mode}_{noun}"),
                first=i18n.integer(v[0]),
                y0=years[0],
                last=i18n.integer(v[-1]),
                y1=years[-1],
                change=_change(v[0], v[-1]),
            )
        )
    return _sentences(out)


def disciplines(live_disciplines: pd.Series, total_disciplines: int) -> str:
    values = [t("narrative.year_value", year=y, n=n) for y, n in live_disciplines.items()]
    return t(
        f"narrative.disciplines.{_direction(live_disciplines.tolist())}",
        values=t("punct.list_sep").join(values),
        total=total_disciplines,
    )


def association(tests, alpha: float) -> list[str]:
    """One paragraph per year on the mode x title test, with the effect size in words."""
    out = [
        t("narrative.skipped", year=year, reason=_reason(why)) for year, why in getattr(tests, "skipped", {}).items()
    ]
    for year, test in tests.items():
        r = test.result
        size = proportions.cramers_v_magnitude(r.cramers_v.estimate, min(r.observed.shape) - 1)
        live = r.observed.loc["live"]
        share = r.observed.loc["live"] / r.observed.sum(axis=0)
        pairs = t("punct.list_sep").join(
            t(
                "narrative.pair_not_computable",
                pair=t("label.pair", first=_word(p["first"]), second=_word(p["second"])),
                reason=_reason(p["not_computable"]),
            )
            if isinstance(p.get("not_computable"), str)
            else t(
                "narrative.pair_test",
                pair=t("label.pair", first=_word(p["first"]), second=_word(p["second"])),
                chi2=f"{p['statistic']:.3f}",
                p=i18n.p_clause(p["pvalue_adjusted"]),
            )
            for _, p in test.pairwise.iterrows()
        )
        key = "significant" if r.pearson.pvalue < alpha else "not_significant"
        if hidden_cell(year):  # an institution's own report: no share of a hidden count in a sentence
            key += "_hidden"
        out.append(
            t(
                f"narrative.association.{key}",
                year=year,
                test=association_tables.report_chi2(r),
                size=t(f"word.effect_{size}"),
                largest=_word(str(live.idxmax())),
                top=_word(str(share.idxmax())),
                share=f"{100 * share.max():.1f}",
                pairs=pairs,
            )
        )
    return out


def trend(trend_table: pd.DataFrame, alpha: float) -> list[str]:
    """One sentence per group (all titles, each title) on the Cochran-Armitage trend of the live share."""
    out = []
    years = [y for code, y in trend_table.columns if code == "live_pct"]
    for group, row in trend_table.iterrows():
        if isinstance(row.get(("note", "")), str):
            out.append(t("narrative.trend.not_computable", group=_word(f"group_{group}"),
                         reason=_reason(row[("note", "")])))  # fmt: skip
            continue
        first, last = row[("live_pct", years[0])], row[("live_pct", years[-1])]
        verdict = t("narrative.trend.significant" if row[("p", "")] < alpha else "narrative.trend.not_significant")
        if group != "all_titles" and any(hidden_cell(y, group) for y in (years[0], years[-1])):
            out.append(t("narrative.trend.hidden", group=_word(f"group_{group}"), z=f"{row[('z', '')]:.2f}",
                         p=i18n.p_clause(row[("p", "")]), verdict=verdict))  # fmt: skip
            continue  # an institution's own report: the shares of hidden counts are not written
        out.append(
            t(
                f"narrative.trend.{'rose' if last > first else 'fell'}",
                group=_word(f"group_{group}"),
                first=f"{first:.1f}",
                y0=years[0],
                last=f"{last:.1f}",
                y1=years[-1],
                change=f"{row[('change_points', '')]:+.1f}".replace("-", "−"),
                z=f"{row[('z', '')]:.2f}",
                p=i18n.p_clause(row[("p", "")]),
                verdict=verdict,
            )
        )
    return out


def published_match(compare: pd.DataFrame) -> str:
    """How many published figures the data reproduce, naming those they do not (from
    :func:`cmestudy.published.paper.compare`)."""
    n, k = len(compare), int(compare["match"].sum())
    if k == n:
        s = t("narrative.published.all", n=n)
    else:
        mismatched = compare[~compare["match"].astype(bool)]
        bad = t("punct.list_sep").join(published_tables.what(r) for _, r in mismatched.iterrows())
        s = t("narrative.published.some", k=k, n=n, bad=bad)
    skipped = compare.attrs.get("not_compared", 0)
    if skipped:
        s += t("punct.sentence_sep") + t("narrative.published.not_compared", n=skipped)
    return s


def count_models(trends: dict, confidence: float = 0.95) -> list[str]:
    """Growth per year with its interval, and the caveat of few points, from the fitted models."""
    level = f"{100 * confidence:.10g}"
    out = []
    for name, m in trends.items():
        last = m.projection.iloc[-1]
        out.append(
            t(
                "narrative.count_model",
                series=i18n.label(name),
                c0=i18n.integer(m.counts[0]),
                y0=m.years[0],
                c1=i18n.integer(m.counts[-1]),
                y1=m.years[-1],
                family=i18n.label(m.family),
                growth=signed(100 * m.growth),
                level=level,
                lo=signed(100 * m.growth_low),
                hi=signed(100 * m.growth_high),
                expected=i18n.integer(round(last["expected"])),
                year=m.projection.index[-1],
                pi_lo=i18n.integer(round(last["pi_low"])),
                pi_hi=i18n.integer(round(last["pi_high"])),
            )
        )
    if trends:
        m = next(iter(trends.values()))
        out.append(t(f"narrative.count_caveat.{'one' if m.df_resid == 1 else 'other'}", n=len(m.years), df=m.df_resid))
    return out


def signed(x: float) -> str:
    if not math.isfinite(x):
        return "∞" if x > 0 else "−∞"
    if round(x) == 0:
        return "0"  # never "−0" or "+0"
    return f"{x:+,.0f}".replace("-", "−")


def discipline_shift(shift: pd.DataFrame, years) -> str:
    if len(years) < 2:  # a change needs two years
        return t("narrative.shift.one_year", year=years[0]) if years else ""
    first, last = years[0], years[-1]
    moved = shift[shift[("change_points", "")] > 0]
    if moved.empty:
        return t("narrative.shift.none", first=first, last=last)
    parts = [
        t("narrative.shift.item", discipline=d, a=f"{row[('live_pct', first)]:.0f}", b=f"{row[('live_pct', last)]:.0f}")
        for d, row in moved.head(3).iterrows()
    ]
    s = t("narrative.shift.fastest", first=first, last=last, items=t("punct.list_sep").join(parts))
    new = shift[shift[("first_live_year", "")] > first].index.tolist()
    if new:
        s += t("punct.sentence_sep") + t(
            f"narrative.shift.new.{'one' if len(new) == 1 else 'other'}", n=len(new), first=first
        )
    return s


def effect_sizes(tests: dict, alpha: float) -> list[str]:
    """Effect size in plain words: Cramér's V, its interval, and the largest gap in title shares."""
    from cmestudy.analysis.trends import largest_share_difference

    out = [
        t("narrative.skipped", year=year, reason=_reason(why)) for year, why in getattr(tests, "skipped", {}).items()
    ]
    for year, test in tests.items():
        r = test.result
        v = r.cramers_v
        grade, gap = largest_share_difference(r)
        size = proportions.cramers_v_magnitude(v.estimate, min(r.observed.shape) - 1)
        key = "small_but_significant" if r.pearson.pvalue < alpha and size in ("negligible", "small") else "plain"
        if hidden_cell(year):  # an institution's own report: title shares of hidden counts are not written
            key = "hidden"
        out.append(
            t(
                f"narrative.effect.{key}",
                year=year,
                v=f"{v.estimate:.3f}",
                level=f"{100 * v.confidence:.10g}",
                lo=f"{v.ci_low:.3f}",
                hi=f"{v.ci_high:.3f}",
                size=t(f"word.effect_{size}"),
                title=_word(grade),
                gap=f"{gap:.1f}",
                n=i18n.integer(r.n),
            )
        )
    return out


def robustness(tests, design: dict, alpha: float) -> list[str]:
    """What survives once learners are clustered in projects: the effective sample sizes, which
    yearly associations and pairwise comparisons remain significant by the Rao-Scott F test, and
    how the GEE odds ratios compare with the naive ones (:mod:`cmestudy.analysis.design`)."""
    if not design:
        return []

    def years(ys) -> str:
        return _enumerate([t("narrative.robust.year", year=y) for y in ys])

    rs = {y: d.table for y, d in design.items() if d.table is not None}
    out = [
        t("narrative.robust.not_computable", year=y, reason=_reason(d.not_computable))
        for y, d in design.items()
        if d.table is None
    ]
    if not rs:
        return out
    items = [
        t("narrative.robust.effective_item", year=y, n_eff=i18n.integer(round(r.n_effective)), n=i18n.integer(r.n))
        for y, r in rs.items()
    ]
    deffs = [r.mean_deff for r in rs.values()]
    out.insert(
        0,
        t(
            "narrative.robust.effective",
            items=t("punct.list_sep").join(items),
            deff_low=i18n.number(min(deffs), 1),
            deff_high=i18n.number(max(deffs), 1),
        ),
    )
    naive = [y for y in rs if tests[y].result.pearson.pvalue < alpha]
    robust = [y for y in rs if rs[y].p_f < alpha]
    kept = [y for y in naive if y in robust]
    lost = [y for y in naive if y not in robust]
    gained = [y for y in robust if y not in naive]
    if not naive:
        out.append(t("narrative.robust.none_naive", alpha=alpha))
    elif not lost:
        out.append(t("narrative.robust.all_kept", kept=years(kept), alpha=alpha))
    elif kept:
        out.append(t("narrative.robust.some_lost", kept=years(kept), lost=years(lost), alpha=alpha))
    else:
        out.append(t("narrative.robust.none_kept", lost=years(lost), alpha=alpha))
    if gained:
        out.append(t("narrative.robust.gained", years=years(gained), alpha=alpha))
    pairs = pd.concat([d.pairwise for d in design.values()], ignore_index=True)
    pairs = pairs[pairs["p_f_adjusted"].notna()] if len(pairs) else pairs
    if len(pairs):
        sig = pairs[pairs["p_adjusted"] < alpha]
        out.append(t("narrative.robust.pairs", naive=len(sig), kept=int((sig["p_f_adjusted"] < alpha).sum())))
    ors = pd.concat([d.odds_ratios for d in design.values()], ignore_index=True)
    ors = ors[ors["or_gee"].notna()] if len(ors) else ors
    if len(ors):
        out.append(
            t(
                "narrative.robust.gee",
                icc_low=i18n.number(ors["icc"].min(), 3),
                icc_high=i18n.number(ors["icc"].max(), 3),
                se_low=i18n.number(ors["se_ratio"].min(), 1),
                se_high=i18n.number(ors["se_ratio"].max(), 1),
                max_diff=i18n.number(100 * (ors["or_gee"] / ors["or_naive"] - 1).abs().max(), 0),
                gee_k=int(((ors["or_gee_low"] > 1) | (ors["or_gee_high"] < 1)).sum()),
                naive_k=int(((ors["or_naive_low"] > 1) | (ors["or_naive_high"] < 1)).sum()),
                total=len(ors),
            )
        )
    return out


def monthly_models(analysis) -> list[str]:
    """One sentence per monthly series: model, growth per year with its CI, season, the change if one was
    fitted, and the projection of the first full projected year (:mod:`cmestudy.analysis.forecast`)."""
    from cmestudy.analysis.forecast import annual_projection_table

    level = i18n.level(analysis.confidence)
    projection = annual_projection_table(analysis)
    out = [
        t("narrative.monthly.not_modelled", series=i18n.label(name), reason=_reason(why))
        for name, why in getattr(analysis, "not_modelled", {}).items()
    ]
    for name, m in analysis.models.items():
        g, lo, hi, p = m.growth
        season = [0.0, *m.params[2:13]]
        parts = [
            t(
                "narrative.monthly.model",
                series=i18n.label(name),
                family=i18n.label(m.family),
                months=len(m.counts),
                growth=signed(100 * g),
                lo=signed(100 * lo),
                hi=signed(100 * hi),
                p=i18n.p_clause(p),
                level=level,
                peak=i18n.label(f"month_{season.index(max(season)) + 1}"),
                low=i18n.label(f"month_{season.index(min(season)) + 1}"),
            )
        ]
        if m.change is not None:
            rr, rlo, rhi, rp = m.rate_ratio(m.change_kind)
            parts.append(
                t(
                    "narrative.monthly.change",
                    date=str(m.change),
                    kind=t(f"narrative.monthly.change_{m.change_kind}"),
                    rr=i18n.number(rr, 2),
                    lo=i18n.number(rlo, 2),
                    hi=i18n.number(rhi, 2),
                    p=i18n.p_clause(rp),
                    level=level,
                )
            )
        if name in projection.index.get_level_values(0):
            year, row = next(iter(projection.loc[name].iterrows()))
            outer = [
                c for c in projection.columns.get_level_values(0).unique() if c not in ("expected", "pi50", "pi80")
            ]
            parts.append(
                t(
                    "narrative.monthly.projection",
                    year=year,
                    expected=i18n.integer(row[("expected", "")]),
                    pi_lo=i18n.integer(row[(outer[0], "low")]),
                    pi_hi=i18n.integer(row[(outer[0], "high")]),
                    level=level,
                )
            )
        out.append(_sentences(parts))
    return out


def holdout(analysis, tolerance: float = 1 / 6) -> list[str]:
    """What the held-out check says (:func:`cmestudy.analysis.forecast.holdout_check`): per series the errors
    of the model and of the two naive forecasts and the coverage of its intervals, then how far to
    trust the projections. A series' projection is trusted when the model beats both naive
    forecasts and its outer interval held at least the stated share of the held-out months less
    ``tolerance`` (with 12 months, one or two misses are chance)."""
    from cmestudy.analysis.forecast import trusted

    level = i18n.level(analysis.confidence)
    verdicts = trusted(analysis, tolerance)
    out, good, bad = [], [], []
    for name, c in analysis.checks.items():
        e = c.errors["mae"]
        beats = (e["model"] < e["seasonal_naive"], e["model"] < e["mean"])
        verdict = {(True, True): "both", (True, False): "naive", (False, True): "mean", (False, False): "none"}[beats]
        decimals = 0 if e.max() >= 100 else 1
        sentence = t(
            "narrative.holdout.series",
            series=i18n.label(name),
            mae=i18n.number(e["model"], decimals),
            mase=i18n.number(c.errors.loc["model", "mase"], 2),
            naive=i18n.number(e["seasonal_naive"], decimals),
            mean=i18n.number(e["mean"], decimals),
            verdict=t(f"narrative.holdout.beats_{verdict}"),
            c80=f"{100 * c.coverage80:.0f}",
            c=f"{100 * c.coverage:.0f}",
            level=level,
        )
        if c.origins > 1:
            sentence = _sentences([sentence, t("narrative.holdout.origins", origins=c.origins)])
        out.append(sentence)
        (good if verdicts[name] else bad).append(i18n.label(name))
    if good:
        out.append(t("narrative.holdout.trust_good", good=t("punct.enum_sep").join(good)))
    if bad:
        out.append(t("narrative.holdout.trust_poor", bad=t("punct.enum_sep").join(bad)))
    return out


def pinned_down(
    result: dict | None, state: str, pub, located: dict | None = None, confidence: float = 0.95
) -> list[str]:
    """What the published figures pin down (from :func:`cmestudy.published.consistency.analyse`'s result)."""
    if state == "none":
        return [t("published.none")]
    if state in ("missing", "stale"):
        return [t(f"narrative.pinned.{state}")]
    p = result["readings"]["pearson"]
    years = list(p["years"])
    per_year = i18n.join(
        [
            t("narrative.pinned.year_count", year=y, count=pinned_tables.count_text(p["years"][y]["count"], confidence))
            for y in years
        ]
    )
    out = [
        _sentences(
            [
                t(
                    "narrative.pinned.counts",
                    per_year=per_year,
                    joined=pinned_tables.count_text(p["joined"], confidence),
                ),
                t(
                    "narrative.pinned.method_exact" if p["joined"]["exact"] else "narrative.pinned.method_sampled",
                    level=i18n.level(confidence),
                ),
            ]
        )
    ]
    v = [p["derived"][y]["cramers_v"] for y in years]
    if all(s["min"] is not None for s in v):
        out.append(
            t(
                "narrative.pinned.ranges",
                vmin=i18n.number(min(s["min"] for s in v), 3),
                vmax=i18n.number(max(s["max"] for s in v), 3),
            )
        )
    groups: dict[str, list[str]] = {}
    texts = {c["id"]: published_tables.claim_text(c) for c in pub.claims}
    for cid, g in p["claims"].items():
        if cid in texts:
            share = "" if g["share"] is None else f"{i18n.number(100 * g['share'], 1)}%"
            groups.setdefault(g["verdict"], []).append(
                t("narrative.pinned.claim", text=texts[cid], share=share)
                if g["verdict"] == "some"
                else t("narrative.pinned.quoted", text=texts[cid])
            )
    parts = [t(f"narrative.pinned.claims_{k}", items=_enumerate(groups[k])) for k in ("all", "some", "none", "not_about_tables", "undecided") if k in groups]  # fmt: skip
    if parts:
        out.append(_sentences(parts))
    verdicts: dict[str, list[str]] = {}
    for r, e in result["readings"].items():
        verdicts.setdefault(e["verdict"], []).append(t(f"consistency.reading.{r}"))
    key = {"consistent": "readings_ok", "inconsistent": "readings_bad", "unsettled": "readings_unsettled"}
    out.append(
        _sentences([t(f"narrative.pinned.{key[v]}", items=_enumerate(verdicts[v])) for v in key if v in verdicts])
    )
    if located:
        outside = [y for y, loc in located.items() if not loc.get("consistent", True)]
        out.append(
            t("narrative.pinned.located_outside", years=_enumerate(outside))
            if outside
            else t("narrative.pinned.located_inside")
        )
    return out
