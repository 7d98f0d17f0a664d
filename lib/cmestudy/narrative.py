"""Sentences built from computed numbers: the report's narrative is never typed in.

Each function takes a table computed elsewhere and returns plain sentences, so that a
change in the data changes the words.
"""

from __future__ import annotations

import pandas as pd

from . import stats
from .schema import load_codebook


def _label(kind: str, code: str) -> str:
    return load_codebook().label(kind, code)


def _change(a: float, b: float) -> str:
    if a == 0:
        return "from none" if b else "no change"
    pct = 100 * (b - a) / a
    return f"{'+' if pct >= 0 else '−'}{abs(pct):.0f}%"


def _trend_word(values) -> str:
    v = list(values)
    if all(b > a for a, b in zip(v, v[1:])):
        return "rose every year"
    if all(b < a for a, b in zip(v, v[1:])):
        return "fell every year"
    return "changed without a steady direction"


def counts_by_mode(table: pd.DataFrame, noun: str) -> str:
    """E.g. 'Live-broadcast projects rose every year, from 21 in 2021 to 39 in 2023 (+86%); ...'."""
    years = list(table.index)
    parts = []
    for mode in table.columns:
        v = table[mode].tolist()
        parts.append(f"{_label('mode', mode).lower()} {noun} {_trend_word(v)}, from {v[0]:,} in {years[0]} "
                     f"to {v[-1]:,} in {years[-1]} ({_change(v[0], v[-1])})")
    s = "; ".join(parts)
    return s[0].upper() + s[1:] + "."


def disciplines(live_disciplines: pd.Series, total_disciplines: int) -> str:
    years = list(live_disciplines.index)
    v = live_disciplines.tolist()
    return (f"The number of disciplines with at least one live-broadcast project {_trend_word(v)}: "
            + ", ".join(f"{n} in {y}" for y, n in zip(years, v))
            + f", out of {total_disciplines} disciplines with any project in the period.")


def association(tests: dict, alpha: float) -> list[str]:
    """One sentence per year on the mode x title test, with effect size in words."""
    out = [f"{year} could not be tested: {why}." for year, why in getattr(tests, "skipped", {}).items()]
    for year, t in tests.items():
        r = t.result
        sig = r.pearson.pvalue < alpha
        size = stats.cramers_v_magnitude(r.cramers_v.estimate, min(r.observed.shape) - 1)
        live = r.observed.loc["live"]
        largest = _label("title_grade", str(live.idxmax()))
        share = (r.observed.loc["live"] / r.observed.sum(axis=0))
        top = _label("title_grade", str(share.idxmax()))
        pw = "; ".join(
            f"{_label('title_grade', p['first']).lower()} vs {_label('title_grade', p['second']).lower()} "
            f"χ²(1) = {p['statistic']:.3f}, adjusted {stats.format_p(p['pvalue_adjusted'])}"
            for _, p in t.pairwise.iterrows())
        out.append(
            f"In {year}, the title mix {'differed' if sig else 'did not differ detectably'} between delivery modes "
            f"({stats.apa_chi2(r)}; a {size} association by Cohen's benchmarks). {largest}-title learners were the "
            f"largest group in live projects, and {top.lower()}-title learners had the highest share in live projects "
            f"({100 * share.max():.1f}%). Pairwise: {pw}."
        )
    return out


def trend(trend_table: pd.DataFrame, alpha: float) -> list[str]:
    out = []
    for group, row in trend_table.iterrows():
        years = [c.split()[-1] for c in trend_table.columns if c.startswith("live %")]
        first, last = row[f"live % {years[0]}"], row[f"live % {years[-1]}"]
        direction = "rose" if last > first else "fell"
        sig = "a significant" if row["p"] < alpha else "no significant"
        out.append(f"For {group}, the live share {direction} from {first:.1f}% in {years[0]} to {last:.1f}% in "
                   f"{years[-1]} ({row['change (points)']:+.1f} points; Cochran–Armitage z = {row['z']:.2f}, "
                   f"{stats.format_p(row['p'])}: {sig} linear trend).")
    return out


def published_match(compare: pd.DataFrame) -> str:
    n, k = len(compare), int(compare["match"].sum())
    if k == n:
        return f"All {n} published figures are reproduced from the raw records at the published precision."
    bad = ", ".join(compare.loc[~compare["match"], "figure"])
    return f"{k} of {n} published figures are reproduced at the published precision; not reproduced: {bad}."


def count_models(trends: dict, confidence: float = 0.95) -> list[str]:
    """Growth per year with its interval, and the caveat of few points, from the fitted models."""
    out = []
    for name, m in trends.items():
        last = m.projection.iloc[-1]
        year = m.projection.index[-1]
        out.append(
            f"{name}: {m.counts[0]:,} in {m.years[0]} to {m.counts[-1]:,} in {m.years[-1]}; {m.family} trend "
            f"{100 * m.growth:+.0f}% per year ({int(100 * confidence)}% CI {100 * m.growth_low:+.0f}% to "
            f"{100 * m.growth_high:+.0f}%); projected {last['expected']:,.0f} in {year} "
            f"(95% prediction interval {last['95% low']:,.0f} to {last['95% high']:,.0f})."
        )
    if trends:
        m = next(iter(trends.values()))
        out.append(
            f"Caveat: each trend rests on {len(m.years)} annual counts, so the model has {m.df_resid} residual "
            f"degree{'s' if m.df_resid != 1 else ''} of freedom; the dispersion estimate rests on the same "
            f"{m.df_resid} and the prediction intervals are correspondingly wide. Read the projections as "
            "scenarios of the recent trend continuing, not as forecasts."
        )
    return out


def discipline_shift(shift: pd.DataFrame, years) -> str:
    first, last = years[0], years[-1]
    moved = shift[shift["change (points)"] > 0]
    if moved.empty:
        return f"No discipline increased its share of live projects between {first} and {last}."
    top = moved.head(3)
    parts = [f"{d} ({row[f'live % {first}']:.0f}% → {row[f'live % {last}']:.0f}% of projects live)"
             for d, row in top.iterrows()]
    new = shift[(shift["first live year"] > first)].index.tolist()
    s = f"Disciplines that moved to live delivery fastest between {first} and {last}: " + "; ".join(parts) + "."
    if new:
        s += f" {len(new)} discipline{'s' if len(new) != 1 else ''} had no live project in {first} and had one later."
    return s


def effect_sizes(tests: dict) -> list[str]:
    """Effect size in plain words: Cramér's V, its interval, and the largest gap in title shares."""
    from .trends import largest_share_difference

    out = []
    for year, t in tests.items():
        r = t.result
        v = r.cramers_v
        grade, gap = largest_share_difference(r)
        size = stats.cramers_v_magnitude(v.estimate, min(r.observed.shape) - 1)
        out.append(
            f"In {year}, Cramér's V = {v.estimate:.3f} ({int(100 * v.confidence)}% CI {v.ci_low:.3f} to {v.ci_high:.3f}), "
            f"a {size} effect: the share of {_label('title_grade', grade).lower()}-title learners differs by "
            f"{gap:.1f} percentage points between live and face-to-face projects, the largest gap of any title. "
            f"With N = {r.n:,}, a difference this size is statistically significant but small in practice."
            if r.pearson.pvalue < 0.05 and size in ("negligible", "small") else
            f"In {year}, Cramér's V = {v.estimate:.3f} ({int(100 * v.confidence)}% CI {v.ci_low:.3f} to "
            f"{v.ci_high:.3f}), a {size} effect; the largest gap in title shares between modes is {gap:.1f} points "
            f"({_label('title_grade', grade).lower()})."
        )
    return out
