"""Figures of the study: one function per figure, one palette and style for all.

Every function returns a :class:`matplotlib.figure.Figure` sized for an A4 page (at most
16 cm wide), labelled in the report's language from the message catalogue, and drawn
with fonts that cover Chinese (:func:`cmestudy.report.fonts.use_in_matplotlib`);
:func:`cmestudy.report.notebook.figure` shows it with its caption and saves it as PNG and SVG.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

from cmestudy import i18n
from cmestudy.i18n import label, t
from cmestudy.report import fonts
from cmestudy.schema import GRADES, LEVELS, MODES

CM = 1 / 2.54
WIDTH = 16 * CM
MODE_COLORS = {"live": "#1b6ca8", "face_to_face": "#e07b39"}
LEVEL_COLORS = {"national": "#2a4d69", "municipal": "#4b86b4", "hospital": "#adcbe3"}
GRADE_COLORS = {"junior": "#9ecae1", "intermediate": "#3182bd", "senior": "#08519c", "unknown": "#bdbdbd"}


def apply_style() -> None:
    """The one style of every cmestudy figure, with the fonts of the report's language."""
    sns.set_theme(
        context="paper",
        style="whitegrid",
        font="sans-serif",
        rc={
            "figure.dpi": 110,
            "savefig.dpi": 300,
            "axes.titlesize": 10,
            "axes.labelsize": 9,
            "legend.fontsize": 8,
            "xtick.labelsize": 8,
            "ytick.labelsize": 8,
            "svg.fonttype": "none",
            "axes.titleweight": "bold",
        },
    )
    fonts.use_in_matplotlib(i18n.get_language())


def _styled(fn):
    """Apply the style (and the fonts of the report's language) before drawing a figure."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        apply_style()
        return fn(*args, **kwargs)

    return wrapper


@_styled
def projects_by_level(table: pd.DataFrame) -> plt.Figure:
    """Stacked bars: projects per year and level, one panel per delivery mode.

    ``table`` is :func:`cmestudy.analysis.describe.projects_by_year_level_mode`.
    """
    years = [y for y in table.index if y != "all_years"]
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 6.5 * CM), sharey=True)
    for ax, mode in zip(axes, MODES):
        bottom = np.zeros(len(years))
        for lv in LEVELS:
            vals = table.loc[years, (mode, lv)].to_numpy(dtype=float)
            bars = ax.bar(
                [str(y) for y in years], vals, bottom=bottom, color=LEVEL_COLORS[lv], label=label(lv), width=0.6
            )
            ax.bar_label(
                bars,
                labels=[f"{int(v)}" if v else "" for v in vals],
                label_type="center",
                fontsize=7,
                color="white" if lv != "hospital" else "black",
            )
            bottom += vals
        for x, tot in enumerate(bottom):
            ax.text(x, tot, f"{int(tot)}", ha="center", va="bottom", fontsize=8, fontweight="bold")
        ax.set_title(label(mode))
        ax.set_xlabel(t("axis.year"))
        ax.margins(y=0.12)
    axes[0].set_ylabel(t("axis.projects"))
    axes[1].legend(title=t("axis.level"), loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def _group_years(ax, years, modes) -> None:
    """Columns (year, mode): the modes as tick labels, the years centred above their group."""
    n = len(modes)
    labels = [label(m) for _ in years for m in modes]
    ax.set_xticks(np.arange(len(years) * n) + 0.5, labels, rotation=0 if max(map(len, labels)) <= 4 else 90)
    top = ax.secondary_xaxis("top")
    top.set_xticks([k * n + n / 2 for k in range(len(years))], [str(y) for y in years])
    top.tick_params(length=0)
    for k in range(1, len(years)):
        ax.axvline(k * n, color="white", linewidth=3)


@_styled
def discipline_heatmap(table: pd.DataFrame) -> plt.Figure:
    """Heatmap of projects per discipline (rows) and year x mode (columns)."""
    years = list(dict.fromkeys(y for y, _ in table.columns))
    modes = list(dict.fromkeys(m for _, m in table.columns))
    height = max(7.0, 0.45 * len(table) + 3.5) * CM
    fig, ax = plt.subplots(figsize=(WIDTH, height))
    sns.heatmap(
        table.to_numpy(),
        annot=True,
        fmt="d",
        cmap="Blues",
        cbar_kws={"label": t("axis.projects"), "shrink": 0.6},
        linewidths=0.5,
        linecolor="white",
        ax=ax,
        annot_kws={"fontsize": 7},
        yticklabels=list(table.index),
    )
    _group_years(ax, years, modes)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


@_styled
def disciplines_per_year(table: pd.DataFrame) -> plt.Figure:
    """Grouped bars: number of disciplines with projects per year and mode."""
    fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 6 * CM))
    x = np.arange(len(table.index))
    width = 0.8 / len(MODES)
    for k, mode in enumerate(MODES):
        vals = table[mode].to_numpy(dtype=float)
        bars = ax.bar(
            x + (k - (len(MODES) - 1) / 2) * width, vals, width=width * 0.95, color=MODE_COLORS[mode], label=label(mode)
        )
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in vals], fontsize=7)
    ax.set_xticks(x, [str(y) for y in table.index])
    ax.set_xlabel(t("axis.year"))
    ax.set_ylabel(t("axis.disciplines_with_projects"))
    ax.margins(y=0.15)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


@_styled
def title_mix(long: pd.DataFrame) -> plt.Figure:
    """100% stacked bars: professional-title mix of learners per year and mode, counts annotated.

    ``long`` is :func:`cmestudy.analysis.describe.learners_by_title`.
    """
    grades = [
        g for g in long.index.get_level_values("grade").unique() if long.xs(g, level="grade")["learners"].sum() > 0
    ]
    if not grades:  # no learners: nothing to draw (report.figure says so)
        return None
    years = list(long.index.get_level_values("year").unique())
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 7 * CM), sharey=True)
    for ax, mode in zip(axes, MODES):
        sub = long.xs(mode, level="mode")
        bottom = np.zeros(len(years))
        for g in grades:
            pct = sub.xs(g, level="grade")["row_pct"].reindex(years).fillna(0).to_numpy()
            n = sub.xs(g, level="grade")["learners"].reindex(years).fillna(0).to_numpy()
            bars = ax.bar([str(y) for y in years], pct, bottom=bottom, color=GRADE_COLORS[g], label=label(g), width=0.6)
            ax.bar_label(
                bars,
                labels=[f"{p:.1f}%\n(n={i18n.integer(k)})" if p >= 8 else "" for p, k in zip(pct, n)],
                label_type="center",
                fontsize=6,
                color="white" if g in ("intermediate", "senior") else "black",
            )
            bottom += pct
        ax.set_title(label(mode))
        ax.set_xlabel(t("axis.year"))
        ax.set_ylim(0, 100)
    axes[0].set_ylabel(t("axis.share_of_year_learners"))
    axes[1].legend(title=t("axis.title_grade"), loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


@_styled
def live_share_by_title(share: pd.DataFrame) -> plt.Figure:
    """Point-range plot: share of each title's learners in live projects, per year, with its CI.

    ``share`` has columns year, grade, share, ci_low, ci_high (proportions); without rows (no learners)
    there is nothing to draw and None is returned.
    """
    if share.empty:
        return None
    fig, ax = plt.subplots(figsize=(WIDTH * 0.8, 6.5 * CM))
    grades = [g for g in GRADES if g in set(share["grade"])]
    years = sorted(share["year"].unique())
    width = 0.22
    for k, g in enumerate(grades):
        sub = share[share["grade"] == g].set_index("year").reindex(years)
        x = np.arange(len(years)) + (k - (len(grades) - 1) / 2) * width
        y = 100 * sub["share"].to_numpy()
        err = np.clip(np.vstack([y - 100 * sub["ci_low"].to_numpy(), 100 * sub["ci_high"].to_numpy() - y]), 0, None)
        ax.errorbar(x, y, yerr=err, fmt="o", color=GRADE_COLORS[g], label=label(g), capsize=3, markersize=5)
    ax.set_xticks(np.arange(len(years)), [str(y) for y in years])
    ax.set_xlabel(t("axis.year"))
    ax.set_ylabel(t("axis.live_share_of_title"))
    ax.legend(title=t("axis.title_grade"), frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


@_styled
def fan_chart(trends: dict, names: list[str], ylabel: str, log: bool = True) -> plt.Figure:
    """Observed counts, fitted trend and projections with 50%, 80% and outer prediction bands (a fan).

    ``ylabel`` is a message id; the outer band is the models' confidence level.
    """
    fig, ax = plt.subplots(figsize=(WIDTH, 9.5 * CM), layout="constrained")
    if not names:
        ax.text(0.5, 0.5, t("figure.no_series"), ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    for name in names:
        m = trends[name]
        mode = "live" if name.startswith("live") else "face_to_face"
        color = MODE_COLORS[mode]
        proj = m.projection
        px = [m.years[-1], *proj.index.tolist()]
        for band, alpha in (("pi", 0.12), ("pi80", 0.2), ("pi50", 0.3)):
            lo = [m.counts[-1], *proj[f"{band}_low"].clip(lower=0.5 if log else 0).tolist()]
            hi = [m.counts[-1], *proj[f"{band}_high"].tolist()]
            ax.fill_between(px, lo, hi, color=color, alpha=alpha, linewidth=0)
        ax.plot(m.years, m.counts, "o", color=color, label=t("figure.observed", series=label(name)))
        ax.plot(
            [*m.years, *proj.index],
            [*m.fitted, *proj["expected"]],
            "-",
            color=color,
            linewidth=1.2,
            label=t(
                "figure.trend",
                series=label(name),
                family=label(m.family),
                growth=f"{100 * m.growth:+.0f}".replace("-", "−"),
            ),
        )
    last = max(trends[names[0]].years)
    ax.axvline(last + 0.5, color="#999", linestyle=":", linewidth=1)
    if log:
        ax.set_yscale("log")
    ax.text(
        last + 0.55,
        0.98,
        t("figure.projection"),
        va="top",
        fontsize=7,
        color="#666",
        transform=ax.get_xaxis_transform(),
    )
    ax.set_xlabel(t("axis.year"))
    ax.set_ylabel(t(ylabel) + (t("axis.log_scale") if log else ""))
    fig.legend(frameon=False, fontsize=7, loc="outside right upper")
    ax.set_xticks(sorted({*trends[names[0]].years, *trends[names[0]].projection.index}))
    return fig


def _month_axis(ax, periods) -> None:
    """Month ticks: every January labelled with its year, other quarters marked."""
    x = np.arange(len(periods))
    jan = [i for i, p in enumerate(periods) if p.month == 1]
    ax.set_xticks(jan, [str(periods[i].year) for i in jan])
    ax.set_xticks([i for i, p in enumerate(periods) if p.month in (4, 7, 10)], minor=True)
    ax.set_xlim(x[0] - 0.8, x[-1] + 0.8)


@_styled
def monthly_series(analysis) -> plt.Figure:
    """Learners (top) and projects (bottom) per month by delivery mode, with the fitted models."""
    monthly = analysis.monthly
    periods = list(monthly.index)
    x = np.arange(len(periods))
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 11 * CM), sharex=True, layout="constrained")
    for ax, measure in zip(axes, ("learners", "projects")):
        for mode in MODES:
            color = MODE_COLORS[mode]
            ax.plot(x, monthly[(measure, mode, "all")], "o-", ms=2.5, lw=0.8, color=color, label=label(mode))
            m = analysis.models.get(f"{mode}_{measure}")
            if m is not None:
                ax.plot(x, m.fitted, "--", lw=1, color=color, label=t("figure.fitted", series=label(mode)))
        ax.set_ylabel(t(f"axis.{measure}_per_month"))
        ax.set_ylim(bottom=0)
    _month_axis(axes[1], periods)
    axes[0].legend(frameon=False, fontsize=7, ncols=2, loc="upper left")
    return fig


@_styled
def monthly_fan_chart(analysis, names: list[str], ylabel: str) -> plt.Figure:
    """Monthly counts, the fitted model and the projection with 50%, 80% and outer prediction bands."""
    fig, ax = plt.subplots(figsize=(WIDTH, 8.5 * CM), layout="constrained")
    names = [n for n in names if n in analysis.models]
    if not names:
        ax.text(0.5, 0.5, t("figure.no_series"), ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    first = analysis.forecasts[names[0]]
    periods = list(analysis.monthly.index) + list(first.index)
    n = len(analysis.monthly)
    xf = np.arange(n, len(periods))
    for name in names:
        m, fc = analysis.models[name], analysis.forecasts[name]
        color = MODE_COLORS["live" if name.startswith("live") else "face_to_face"]
        for band, alpha in (("pi", 0.12), ("pi80", 0.2), ("pi50", 0.3)):
            ax.fill_between(xf, fc[f"{band}_low"], fc[f"{band}_high"], color=color, alpha=alpha, linewidth=0)
        ax.plot(np.arange(n), m.counts, "o", ms=2.5, color=color, label=t("figure.observed", series=label(name)))
        ax.plot(np.arange(n), m.fitted, "-", lw=1, color=color)
        ax.plot(
            xf,
            fc["expected"],
            "-",
            lw=1.2,
            color=color,
            label=t("figure.monthly_trend", series=label(name), family=label(m.family)),
        )
    ax.axvline(n - 0.5, color="#999", linestyle=":", linewidth=1)
    ax.text(
        n - 0.4, 0.98, t("figure.projection"), va="top", fontsize=7, color="#666", transform=ax.get_xaxis_transform()
    )
    _month_axis(ax, periods)
    # the outer band of a fast-growing count can reach far above the data: cut it at the 80% band's top
    top = max(
        max(float(np.max(analysis.models[n].counts)), float(analysis.forecasts[n]["pi80_high"].max())) for n in names
    )
    ax.set_ylim(0, 1.1 * top)
    ax.set_xlabel(t("axis.month"))
    ax.set_ylabel(t(ylabel))
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    return fig


@_styled
def discipline_live_heatmap(shift: pd.DataFrame) -> plt.Figure:
    """Heatmap: share of each discipline's projects delivered live, by year (blank: no projects)."""
    table = shift["live_pct"]
    height = max(6.0, 0.45 * len(table) + 2.5) * CM
    fig, ax = plt.subplots(figsize=(WIDTH * 0.75, height))
    sns.heatmap(
        table.to_numpy(dtype=float),
        annot=True,
        fmt=".0f",
        cmap="Blues",
        vmin=0,
        vmax=100,
        linewidths=0.5,
        linecolor="white",
        cbar_kws={"label": t("axis.projects_live_pct"), "shrink": 0.6},
        ax=ax,
        annot_kws={"fontsize": 7},
        xticklabels=[str(y) for y in table.columns],
        yticklabels=list(table.index),
    )
    ax.set_xlabel(t("axis.year"))
    ax.set_ylabel("")
    ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


@_styled
def live_title_mix(mix: pd.DataFrame) -> plt.Figure:
    """Stacked shares of titles among live learners per year; whiskers: each title's CI.

    The whisker of a title is drawn at the top of its segment: it shows how far that
    boundary could move with the title's own uncertainty.
    """
    if mix.empty:  # no live learners in any year: nothing to draw
        return None
    years = sorted(mix.index.get_level_values("year").unique())
    grades = [g for g in GRADES if g in set(mix.index.get_level_values("grade"))]
    fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 7 * CM))
    bottom = np.zeros(len(years))
    x = np.arange(len(years))
    for g in grades:
        sub = mix.xs(g, level="grade").reindex(years)
        share = sub["share_pct"].fillna(0).to_numpy()
        ax.bar(x, share, bottom=bottom, color=GRADE_COLORS[g], label=label(g), width=0.55)
        top = bottom + share
        low, high = sub["ci_low_pct"].fillna(0).to_numpy(), sub["ci_high_pct"].fillna(0).to_numpy()
        err = np.clip(np.vstack([share - low, high - share]), 0, None)  # never below zero, even by rounding
        ax.errorbar(x, top, yerr=err, fmt="none", ecolor="black", capsize=3, linewidth=0.8)
        for xi, b, s in zip(x, bottom, share):
            if s < 3:  # no room for a label in a thin (or empty) segment
                continue
            ax.text(
                xi,
                b + s / 2,
                f"{s:.1f}%",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if g != "junior" else "black",
            )
        bottom = top
    ax.set_xticks(x, [str(y) for y in years])
    ax.set_ylim(0, 100)
    ax.set_xlabel(t("axis.year"))
    ax.set_ylabel(t("axis.share_of_live_learners"))
    ax.legend(title=t("axis.title_grade"), frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


@_styled
def consistent_live_shares(result: dict, located: dict | None = None, confidence: float = 0.95) -> plt.Figure:
    """Each title's live share across the tables consistent with the published figures.

    One strip per year and title: the kept sample of the joined set (a weighted draw), its
    middle ``confidence`` as a bar, and the data set's own value as a black diamond.
    """
    from cmestudy.published.pinned_sets import derived, weighted_quantiles

    titles = result["titles"]
    samples = result["readings"]["pearson"]["sample"]
    years = sorted(samples)
    fig, ax = plt.subplots(figsize=(WIDTH, 7.5 * CM))
    rng = np.random.default_rng(0)
    width = 0.24
    for k, g in enumerate(titles):
        for i, y in enumerate(years):
            tab = np.asarray(samples[y]["tables"], dtype=float).reshape(-1, 2, 3)
            w = np.asarray(samples[y]["weights"], dtype=float)
            if not len(tab):
                continue
            share = 100 * derived(tab, titles)[f"live_share_{g}"]
            x = i + (k - (len(titles) - 1) / 2) * width
            shown = rng.choice(len(share), min(len(share), 600), replace=False, p=w / w.sum())
            ax.scatter(x + rng.uniform(-0.07, 0.07, len(shown)), share[shown], s=3, alpha=0.25,
                       color=GRADE_COLORS[g], linewidths=0, label=label(g) if i == 0 else None)  # fmt: skip
            tail = (1 - confidence) / 2
            lo, hi = weighted_quantiles(share, w, [tail, 1 - tail])
            ax.plot([x, x], [lo, hi], color="black", linewidth=1.2)
            if located and y in located:
                ax.scatter([x], [100 * located[y]["values"][f"live_share_{g}"]], marker="D", s=22, color="black",
                           zorder=5, label=t("figure.this_data") if (i, k) == (0, len(titles) - 1) else None)  # fmt: skip
    ax.set_xticks(np.arange(len(years)), years)
    ax.set_ylim(0, 100)
    ax.set_xlabel(t("axis.year"))
    ax.set_ylabel(t("axis.live_share_of_title"))
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0), markerscale=2)
    fig.tight_layout()
    return fig


@_styled
def funnel(result) -> plt.Figure:
    """Funnel plot (Spiegelhalter 2005): each institution's live share against its number of learners (or
    projects), the pooled share, exact binomial limits at 95% and 99.8% and, when the funnel is
    over-dispersed, the 99.8% limits after the additive adjustment (dashed). Institutions outside the 99.8%
    limits are labelled with their names."""
    table = result.table
    fig, ax = plt.subplots(figsize=(WIDTH, 8.5 * CM))
    n_max = max(float(table["n"].max()), 2.0)
    grid = np.unique(np.round(np.geomspace(1, n_max * 1.15, 400)))
    for level, style in ((0.95, ":"), (0.998, "-")):
        low, high = result.curve(grid, level)
        name = t("axis.funnel_limits", level=i18n.level(level))
        ax.plot(grid, 100 * low, style, color="#555555", linewidth=0.9, label=name)
        ax.plot(grid, 100 * high, style, color="#555555", linewidth=0.9)
    if result.overdispersed:
        low, high = result.curve(grid, 0.998, adjusted=True)
        ax.plot(grid, 100 * low, "--", color="#b2182b", linewidth=0.9, label=t("axis.funnel_adjusted"))
        ax.plot(grid, 100 * high, "--", color="#b2182b", linewidth=0.9)
    ax.axhline(100 * result.pooled, color=MODE_COLORS["live"], linewidth=1.0,
               label=t("axis.funnel_pooled", pooled=i18n.number(100 * result.pooled, 1)))  # fmt: skip
    outside = table["outside_998"] != 0
    ax.scatter(table.loc[~outside, "n"], 100 * table.loc[~outside, "share"], s=16, color="#4b86b4", zorder=3)
    ax.scatter(table.loc[outside, "n"], 100 * table.loc[outside, "share"], s=22, color="#b2182b", zorder=3)
    named = table["outside_998_adjusted"] != 0 if result.overdispersed else outside  # the ones that stand out
    for name, r in table[named].iterrows():
        ax.annotate(str(name), (r["n"], 100 * r["share"]), xytext=(3, 3), textcoords="offset points", fontsize=6.5)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: i18n.integer(v) if v >= 1 else ""))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set_xlim(max(1.0, float(table["n"].min()) * 0.8), n_max * 1.15)
    ax.set_ylim(-2, 102)
    ax.set_xlabel(t(f"axis.funnel_n_{result.measure}"))
    ax.set_ylabel(t("axis.funnel_share"))
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
