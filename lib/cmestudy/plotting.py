"""Figures of the study: one function per figure, one palette and style for all.

Every function returns a :class:`matplotlib.figure.Figure` sized for an A4 page
(at most 16 cm wide) and labelled with codebook labels; :func:`cmestudy.report.figure`
shows it with its caption and saves it as PNG and SVG.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .schema import GRADES, LEVELS, MODES, load_codebook

CM = 1 / 2.54
WIDTH = 16 * CM
MODE_COLORS = {"live": "#1b6ca8", "face_to_face": "#e07b39"}
LEVEL_COLORS = {"national": "#2a4d69", "municipal": "#4b86b4", "hospital": "#adcbe3"}
GRADE_COLORS = {"junior": "#9ecae1", "intermediate": "#3182bd", "senior": "#08519c", "unknown": "#bdbdbd"}
MODE_LABELS = load_codebook().labels["mode"]
LEVEL_LABELS = load_codebook().labels["level"]
GRADE_LABELS = load_codebook().labels["title_grade"]


def apply_style() -> None:
    """The one style of every cmestudy figure."""
    sns.set_theme(context="paper", style="whitegrid", font="sans-serif",
                  rc={"figure.dpi": 110, "savefig.dpi": 200, "axes.titlesize": 10, "axes.labelsize": 9,
                      "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8,
                      "svg.fonttype": "none", "axes.titleweight": "bold",
                      # DejaVu first; matplotlib falls back along the list for Chinese labels
                      "font.sans-serif": ["DejaVu Sans", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
                                          "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei"]})


def projects_by_level(table: pd.DataFrame) -> plt.Figure:
    """Stacked bars: projects per year and level, one panel per delivery mode.

    ``table`` is :func:`cmestudy.describe.projects_by_year_level_mode`.
    """
    years = [y for y in table.index if y != "all"]
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 6.5 * CM), sharey=True)
    for ax, mode in zip(axes, MODES):
        bottom = np.zeros(len(years))
        for lv in LEVELS:
            vals = table.loc[years, (mode, lv)].to_numpy(dtype=float)
            bars = ax.bar([str(y) for y in years], vals, bottom=bottom, color=LEVEL_COLORS[lv], label=LEVEL_LABELS[lv], width=0.6)
            ax.bar_label(bars, labels=[f"{int(v)}" if v else "" for v in vals], label_type="center", fontsize=7,
                         color="white" if lv != "hospital" else "black")
            bottom += vals
        for x, tot in enumerate(bottom):
            ax.text(x, tot, f"{int(tot)}", ha="center", va="bottom", fontsize=8, fontweight="bold")
        ax.set_title(MODE_LABELS[mode])
        ax.set_xlabel("Year")
    axes[0].set_ylabel("Projects")
    axes[1].legend(title="Level", loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def discipline_heatmap(table: pd.DataFrame) -> plt.Figure:
    """Heatmap of projects per discipline (rows) and year x mode (columns)."""
    t = table.copy()
    t.columns = [f"{y}\n{MODE_LABELS[m]}" for y, m in t.columns]
    height = max(6.0, 0.45 * len(t) + 2.5) * CM
    fig, ax = plt.subplots(figsize=(WIDTH, height))
    sns.heatmap(t, annot=True, fmt="d", cmap="Blues", cbar_kws={"label": "Projects", "shrink": 0.6},
                linewidths=0.5, linecolor="white", ax=ax, annot_kws={"fontsize": 7})
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=0)
    fig.tight_layout()
    return fig


def disciplines_per_year(table: pd.DataFrame) -> plt.Figure:
    """Grouped bars: number of disciplines with projects per year and mode."""
    fig, ax = plt.subplots(figsize=(WIDTH * 0.6, 6 * CM))
    long = table.rename(columns=MODE_LABELS).reset_index().melt(id_vars="year", var_name="mode", value_name="disciplines")
    sns.barplot(long, x="year", y="disciplines", hue="mode", palette=[MODE_COLORS[m] for m in MODES], ax=ax, width=0.7)
    for cont in ax.containers:
        ax.bar_label(cont, labels=[f"{v:,.0f}" for v in cont.datavalues], fontsize=7)
    ax.set_xlabel("Year")
    ax.set_ylabel("Disciplines with projects")
    ax.legend(title="", frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


def title_mix(long: pd.DataFrame) -> plt.Figure:
    """100% stacked bars: professional-title mix of learners per year and mode, counts annotated.

    ``long`` is :func:`cmestudy.describe.learners_by_title`.
    """
    grades = [g for g in long.index.get_level_values("grade").unique() if long.xs(g, level="grade")["learners"].sum() > 0]
    years = list(long.index.get_level_values("year").unique())
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 6.5 * CM), sharey=True)
    for ax, mode in zip(axes, MODES):
        sub = long.xs(mode, level="mode")
        bottom = np.zeros(len(years))
        for g in grades:
            pct = sub.xs(g, level="grade")["row_pct"].reindex(years).fillna(0).to_numpy()
            n = sub.xs(g, level="grade")["learners"].reindex(years).fillna(0).to_numpy()
            bars = ax.bar([str(y) for y in years], pct, bottom=bottom, color=GRADE_COLORS[g], label=GRADE_LABELS[g], width=0.6)
            ax.bar_label(bars, labels=[f"{p:.1f}%\n(n={int(k):,})" if p >= 6 else "" for p, k in zip(pct, n)],
                         label_type="center", fontsize=6, color="white" if g in ("intermediate", "senior") else "black")
            bottom += pct
        ax.set_title(MODE_LABELS[mode])
        ax.set_xlabel("Year")
        ax.set_ylim(0, 100)
    axes[0].set_ylabel("Share of the year's learners (%)")
    axes[1].legend(title="Title", loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def live_share_by_title(share: pd.DataFrame) -> plt.Figure:
    """Point-range plot: share of each title's learners in live projects, per year, with 95% CI.

    ``share`` has columns year, grade, share, ci_low, ci_high (proportions).
    """
    fig, ax = plt.subplots(figsize=(WIDTH * 0.75, 6.5 * CM))
    grades = [g for g in GRADES if g in set(share["grade"])]
    years = sorted(share["year"].unique())
    width = 0.22
    for k, g in enumerate(grades):
        sub = share[share["grade"] == g].set_index("year").reindex(years)
        x = np.arange(len(years)) + (k - (len(grades) - 1) / 2) * width
        y = 100 * sub["share"].to_numpy()
        err = np.vstack([y - 100 * sub["ci_low"].to_numpy(), 100 * sub["ci_high"].to_numpy() - y])
        ax.errorbar(x, y, yerr=err, fmt="o", color=GRADE_COLORS[g], label=GRADE_LABELS[g], capsize=3, markersize=5)
    ax.set_xticks(np.arange(len(years)), [str(y) for y in years])
    ax.set_xlabel("Year")
    ax.set_ylabel("Learners in live projects (%)")
    ax.legend(title="Title", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def fan_chart(trends: dict, names: list[str], ylabel: str, log: bool = True) -> plt.Figure:
    """Observed counts, fitted trend and projections with 50/80/95% prediction bands (a fan)."""
    fig, ax = plt.subplots(figsize=(WIDTH, 7.5 * CM))
    if not names:
        ax.text(0.5, 0.5, "no series with a count in every year to model", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    for name in names:
        m = trends[name]
        mode = "live" if name.lower().startswith("live") else "face_to_face"
        color = MODE_COLORS[mode]
        proj = m.projection
        px = [m.years[-1], *proj.index.tolist()]
        for band, alpha in (("95%", 0.12), ("80%", 0.2), ("50%", 0.3)):
            lo = [m.counts[-1], *proj[f"{band} low"].clip(lower=0.5 if log else 0).tolist()]
            hi = [m.counts[-1], *proj[f"{band} high"].tolist()]
            ax.fill_between(px, lo, hi, color=color, alpha=alpha, linewidth=0)
        ax.plot(m.years, m.counts, "o", color=color, label=f"{name} (observed)")
        ax.plot([*m.years, *proj.index], [*m.fitted, *proj["expected"]], "-", color=color, linewidth=1.2,
                label=f"{name}: {m.family} trend, {100 * m.growth:+.0f}%/year")
    ax.axvline(max(trends[names[0]].years) + 0.5, color="#999", linestyle=":", linewidth=1)
    ax.text(max(trends[names[0]].years) + 0.55, ax.get_ylim()[1], "projection", va="top", fontsize=7, color="#666")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("Year")
    ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    ax.set_xticks(sorted({*trends[names[0]].years, *trends[names[0]].projection.index}))
    fig.tight_layout()
    return fig


def discipline_live_heatmap(shift: pd.DataFrame) -> plt.Figure:
    """Heatmap: share of each discipline's projects delivered live, by year (blank: no projects)."""
    cols = [c for c in shift.columns if c.startswith("live % ")]
    t = shift[cols].rename(columns=lambda c: c.replace("live % ", ""))
    height = max(6.0, 0.45 * len(t) + 2.5) * CM
    fig, ax = plt.subplots(figsize=(WIDTH * 0.75, height))
    sns.heatmap(t, annot=True, fmt=".0f", cmap="Blues", vmin=0, vmax=100, linewidths=0.5, linecolor="white",
                cbar_kws={"label": "Projects delivered live (%)", "shrink": 0.6}, ax=ax, annot_kws={"fontsize": 7})
    ax.set_xlabel("Year")
    ax.set_ylabel("")
    fig.tight_layout()
    return fig


def live_title_mix(mix: pd.DataFrame) -> plt.Figure:
    """Stacked shares of titles among live learners per year; whiskers: each title's 95% CI.

    The whisker of a title is drawn at the top of its segment: it shows how far that
    boundary could move with the title's own uncertainty.
    """
    years = sorted(mix.index.get_level_values("year").unique())
    grades = [g for g in GRADES if g in set(mix.index.get_level_values("grade"))]
    fig, ax = plt.subplots(figsize=(WIDTH * 0.7, 7 * CM))
    bottom = np.zeros(len(years))
    x = np.arange(len(years))
    for g in grades:
        sub = mix.xs(g, level="grade").reindex(years)
        share = sub["share %"].to_numpy()
        ax.bar(x, share, bottom=bottom, color=GRADE_COLORS[g], label=GRADE_LABELS[g], width=0.55)
        top = bottom + share
        err = np.vstack([share - sub["CI low"].to_numpy(), sub["CI high"].to_numpy() - share])
        ax.errorbar(x, top, yerr=err, fmt="none", ecolor="black", capsize=3, linewidth=0.8)
        for xi, b, s in zip(x, bottom, share):
            ax.text(xi, b + s / 2, f"{s:.1f}%", ha="center", va="center", fontsize=7,
                    color="white" if g != "junior" else "black")
        bottom = top
    ax.set_xticks(x, [str(y) for y in years])
    ax.set_ylim(0, 100)
    ax.set_xlabel("Year")
    ax.set_ylabel("Share of live learners (%)")
    ax.legend(title="Title", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


apply_style()  # every figure made after importing this module has the study's style
