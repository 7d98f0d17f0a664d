"""What the published figures pin down: the set of a year, sampled or enumerated, and the sets joined across years.

A year's consistent tables (:class:`YearSet`) are found over every pivot column, or over columns
drawn at random with the Hansen-Hurwitz estimate of their count (Hansen & Hurwitz 1943; Cochran
1977, ch. 9); the years are joined by the published totals through the convolution of their row
totals, exactly or by binned kernel density estimates (Wand 1994). The method and its references
are in :mod:`cmestudy.published.consistency`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from cmestudy.published.pinned_search import (
    RATE_STEPS,
    YearFigures,
    _inside,
    column_tables,
    goodness_of_fit,
    x2_2x2,
    x2_2xk,
)

EXACT_COLUMNS = 200_000  # enumerate every pivot column up to this many; sample beyond


# --------------------------------------------------------------------------- one year
@dataclass
class YearSet:
    year: int
    reading: str
    columns: int  # pivot columns (b, d) in the domain
    drawn: int  # of which enumerated (sampled: draws, with replacement)
    exact: bool
    tables: np.ndarray  # (n, 2, 3) consistent tables found
    column_counts: np.ndarray  # tables found per drawn column
    seconds: float
    column_p: np.ndarray | None = None  # sampled: each drawn column's probability of being drawn

    @property
    def table_weights(self) -> np.ndarray:
        """How many consistent tables each found table stands for: 1 when every column was
        enumerated, else 1 / (draws x probability of its column) (Hansen & Hurwitz 1943)."""
        if self.exact or self.column_p is None:
            return np.ones(len(self.tables))
        return np.repeat(1.0 / (self.drawn * self.column_p), self.column_counts)

    def estimate(self) -> tuple[float, float]:
        """Size of the set and its standard error: exact (error 0), or the Hansen-Hurwitz
        estimate mean(k / p) over the drawn columns."""
        if self.exact or self.column_p is None:
            return float(len(self.tables)), 0.0
        z = self.column_counts / self.column_p
        return float(z.mean()), float(z.std(ddof=1) / np.sqrt(len(z))) if len(z) > 1 else 0.0

    def count(self, confidence: float = 0.95) -> tuple[float, float, float]:
        """Size of the set with its interval at ``confidence`` (exact: all three equal)."""
        est, se = self.estimate()
        return (est, *_normal_interval(est, se, confidence))


def _normal_interval(estimate: float, se: float, confidence: float) -> tuple[float, float]:
    """estimate -+ z se at ``confidence`` (a count: never below 0)."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return max(estimate - z * se, 0.0), estimate + z * se


def _percentile_interval(replicates, confidence: float) -> tuple[float, float]:
    """The middle ``confidence`` of bootstrap replicates (the percentile interval)."""
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(replicates, [tail, 100 - tail])
    return float(lo), float(hi)


def year_set(
    fig: YearFigures,
    live_max: int,
    f2f_max: int,
    reading: str = "pearson",
    seconds: float = 60.0,
    seed: int = 0,
    exact_columns: int = EXACT_COLUMNS,
    min_columns: int = 30,
    focus: tuple[int, int] | None = None,
) -> YearSet:
    """The consistent tables of one year: every pivot column when there are at most
    ``exact_columns`` of them; otherwise columns drawn at random, with replacement, for
    ``seconds`` (and at least ``min_columns`` of them). With ``focus`` = (b, d), half the
    draws are uniform over columns up to (b, d) and half over all columns: the joined set
    lies mostly there (a year has about its share of the totals), so its tables are found
    more often, and every table's weight corrects for it."""
    t0 = time.perf_counter()
    if reading in ("goodness_of_fit", "rates"):
        tables = _gof_tables(fig, live_max) if reading == "goodness_of_fit" else _rate_tables(fig)
        return YearSet(fig.year, reading, 1, 1, True, tables, np.array([len(tables)]), time.perf_counter() - t0)
    ncol = (live_max + 1) * (f2f_max + 1)
    exact = ncol <= exact_columns
    if exact:
        order = ((b, d, 1.0 / ncol) for b in range(live_max + 1) for d in range(f2f_max + 1))
    else:
        order = _column_draws(live_max, f2f_max, focus, np.random.default_rng([seed, fig.year]))
    found, counts, probs = [], [], []
    for b, d, p in order:
        t = column_tables(fig, b, d, live_max, f2f_max, reading)
        found.append(t)
        counts.append(len(t))
        probs.append(p)
        if not exact and time.perf_counter() - t0 > seconds and len(counts) >= min_columns:
            break
    tables = np.concatenate(found) if found else np.zeros((0, 2, 3), np.int64)
    return YearSet(fig.year, reading, ncol, len(counts), exact, tables, np.array(counts), time.perf_counter() - t0,
                   None if exact else np.array(probs))  # fmt: skip


def _column_draws(live_max: int, f2f_max: int, focus, rng: np.random.Generator):
    """Endless draws (b, d, probability of drawing that column) from the mixture of the
    uniform distributions over all columns and over the ``focus`` box (if any)."""
    n_all = (live_max + 1) * (f2f_max + 1)
    if focus is not None:
        fb, fd = min(focus[0], live_max), min(focus[1], f2f_max)
        n_focus = (fb + 1) * (fd + 1)
    while True:
        if focus is not None and rng.random() < 0.5:
            b, d = int(rng.integers(0, fb + 1)), int(rng.integers(0, fd + 1))
        else:
            b, d = int(rng.integers(0, live_max + 1)), int(rng.integers(0, f2f_max + 1))
        if focus is None:
            yield b, d, 1.0 / n_all
        else:
            yield b, d, 0.5 / n_all + (0.5 / n_focus if b <= fb and d <= fd else 0.0)


def _rate_tables(fig: YearFigures, steps: int = RATE_STEPS) -> np.ndarray:
    """Rates reading, exactly: every choice of each title's live percentage (to two decimals;
    face-to-face is 100 minus it) whose statistics, computed on the 2 x 3 table of
    percentages, round to the figures. Pairs with the pivot are scored on the full grid of
    percentages, matched on the pivot's, and the 2 x 3 statistic checked. Tables are
    returned in units of 1/``steps`` of each title's learners (live row over face-to-face row)."""
    scale = steps / 100
    grid = np.arange(steps + 1, dtype=float)
    hits = {}
    for other, window in fig.pairs.items():
        found_p, found_x = [], []
        for start in range(0, steps + 1, 500):  # 500 pivot values at a time
            pv = grid[start : start + 500]
            v = x2_2x2(
                grid[:, None] / scale,
                pv[None, :] / scale,
                (steps - grid[:, None]) / scale,
                (steps - pv[None, :]) / scale,
            )
            i, j = np.nonzero(_inside(v, window))
            found_p.append(j + start)
            found_x.append(i)
        hits[other] = (np.concatenate(found_p), np.concatenate(found_x))  # (pivot, other), in steps
    (o1, (p1, x1)), (o2, (p2, x2)) = hits.items()
    live = _rows_sharing_pivot(fig, (o1, p1, x1), (o2, p2, x2))
    keep = _inside(x2_2xk(live / scale, (steps - live) / scale), fig.overall)
    return np.stack([live[keep], steps - live[keep]], axis=1)


def _gof_tables(fig: YearFigures, live_max: int) -> np.ndarray:
    """Goodness-of-fit reading: live title counts (one row) whose statistics match, exactly.

    For a pair (x, p) with the pivot p, (x - p)^2 / (x + p) lies in the window [lo, hi] for
    x between the roots of (x - p)^2 - L (x + p) = 0, x = p + L/2 +- sqrt(L^2/4 + 2 L p);
    every integer there is checked."""
    (o1, w1), (o2, w2) = fig.pairs.items()
    p = np.arange(live_max + 1, dtype=float)

    def hits(window):
        xs, ps = [], []
        for sign in (-1.0, 1.0):
            r = [p + L / 2 + sign * np.sqrt(L * L / 4 + 2 * L * p) for L in window]
            lo, hi = np.minimum(*r), np.maximum(*r)
            first, last = np.maximum(np.floor(lo) - 1, 0), np.minimum(np.ceil(hi) + 1, live_max)
            n = np.maximum(last - first + 1, 0).astype(np.int64)
            rows = np.repeat(np.arange(len(p)), n)
            offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
            xs.append(np.repeat(first, n) + offs)
            ps.append(rows)
        x, q = np.concatenate(xs), np.concatenate(ps)
        good = _inside(goodness_of_fit(np.stack([x, q], -1)), window) & (x + q <= live_max)
        key = np.unique(q[good].astype(np.int64) * (live_max + 1) + x[good].astype(np.int64))
        return key // (live_max + 1), key % (live_max + 1)

    live = _rows_sharing_pivot(fig, (o1, *hits(w1)), (o2, *hits(w2)))
    live = live[(live.sum(1) <= live_max) & _inside(goodness_of_fit(live), fig.overall)]
    return np.stack([live, np.zeros_like(live)], axis=1)


def _rows_sharing_pivot(fig: YearFigures, first, second) -> np.ndarray:
    """Every row (in ``fig.titles`` order) made of a hit of ``first`` and a hit of ``second``
    with the same pivot value. Each is (other title, pivot values, that title's values)."""
    (o1, p1, x1), (o2, p2, x2) = first, second
    order = np.argsort(p2, kind="stable")
    p2, x2 = p2[order], x2[order]
    lo, hi = np.searchsorted(p2, p1, "left"), np.searchsorted(p2, p1, "right")
    i = np.repeat(np.arange(len(p1)), hi - lo)
    j = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi) if b > a] or [np.zeros(0, np.int64)])
    live = np.zeros((len(i), 3), np.int64)
    live[:, fig.titles.index(fig.pivot)] = p1[i]
    live[:, fig.titles.index(o1)] = x1[i]
    live[:, fig.titles.index(o2)] = x2[j]
    return live


# --------------------------------------------------------------------------- joined years
def _rows(tables: np.ndarray) -> np.ndarray:
    return tables.sum(axis=2)  # (n, 2): live, face-to-face learners


@dataclass
class Grid:
    """Row totals (live, face-to-face) of a year's consistent tables on a grid of bins."""

    live_bin: int
    f2f_bin: int
    shape: tuple[int, int]

    def histogram(self, tables: np.ndarray, weights: np.ndarray, sigma=None) -> np.ndarray:
        """Weighted counts of the tables' row totals per bin; with ``sigma`` (in bins), a binned
        Gaussian kernel density estimate (Wand 1994), whose mass stays on the grid."""
        from scipy import ndimage

        r = _rows(tables)
        h = np.zeros(self.shape)
        np.add.at(h, (r[:, 0] // self.live_bin, r[:, 1] // self.f2f_bin), weights)
        if sigma is not None and h.sum() > 0:
            total = h.sum()
            h = ndimage.gaussian_filter(h, sigma, mode="constant", truncate=3.0)
            h *= total / max(h.sum(), 1e-300)
        return h

    def bandwidth(self, tables: np.ndarray) -> tuple[float, float] | None:
        """Scott's rule for two dimensions, h = sd * n^(-1/6), in bins; None on an exact grid."""
        if self.live_bin == 1 and self.f2f_bin == 1:
            return None
        r = _rows(tables).astype(float)
        if len(r) < 2:
            return (1.0, 1.0)
        h = r.std(axis=0) * len(r) ** (-1 / 6)
        return (max(h[0] / self.live_bin, 0.5), max(h[1] / self.f2f_bin, 0.5))


def _convolve(grids: list[np.ndarray], exact: bool) -> np.ndarray:
    from scipy import signal

    out = grids[0]
    for g in grids[1:]:
        out = signal.fftconvolve(out, g)
    # counts (exact grids) are integers: rounding removes the FFT's error, far below 0.5 here
    return np.round(out) if exact else np.maximum(out, 0.0)


def _density_at(conv: np.ndarray, grid: Grid, live, f2f, parts: int) -> np.ndarray:
    """Tables of ``parts`` years whose row totals add up to exactly (live, f2f), per table of
    the remaining year: read from the convolved grid (bilinear, and per unit of each bin)."""
    live, f2f = np.asarray(live, float), np.asarray(f2f, float)
    if grid.live_bin == 1 and grid.f2f_bin == 1:
        i, j = live.astype(np.int64), f2f.astype(np.int64)
        ok = (i >= 0) & (j >= 0) & (i < conv.shape[0]) & (j < conv.shape[1])
        out = np.zeros(len(live))
        out[ok] = conv[i[ok], j[ok]]
        return out
    x = live / grid.live_bin - (parts - 1) / 2 - 0.5
    y = f2f / grid.f2f_bin - (parts - 1) / 2 - 0.5
    i0, j0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - i0, y - j0
    out = np.zeros(len(live))
    for di, wx in ((0, 1 - fx), (1, fx)):
        for dj, wy in ((0, 1 - fy), (1, fy)):
            i, j = i0 + di, j0 + dj
            ok = (i >= 0) & (j >= 0) & (i < conv.shape[0]) & (j < conv.shape[1])
            out[ok] += (wx * wy)[ok] * conv[i[ok], j[ok]]
    return out / (grid.live_bin * grid.f2f_bin)


def join(sets: dict[int, YearSet], totals: tuple[int, int], rng: np.random.Generator | None = None, boot: int = 200):
    """Join the years' sets by the published totals.

    Returns the joined count (estimate, and the 95% bootstrap interval; exact when every
    year was enumerated), per year each found table's weight in the joined set (how many
    tables of the joined set it stands for: its own weight times the number of ways the
    other years complete its row totals to the published ones), and the bootstrap
    replicates of the count (for intervals at other levels).
    """
    years = sorted(sets)
    exact = all(s.exact for s in sets.values())
    live_t, f2f_t = totals
    if exact:
        grid = Grid(1, 1, (live_t + 1, f2f_t + 1))
    else:
        grid = Grid(max(1, -(-(live_t + 1) // 256)), max(1, -(-(f2f_t + 1) // 256)), (256, 256))

    sigma = {y: grid.bandwidth(sets[y].tables) for y in years}
    weight = {y: sets[y].table_weights for y in years}

    def weights_and_count(picks: dict[int, np.ndarray]):
        hists = {y: grid.histogram(sets[y].tables[picks[y]], weight[y][picks[y]], sigma[y]) for y in years}
        out = {}
        for y in years:
            others = [hists[o] for o in years if o != y]
            rows = _rows(sets[y].tables[picks[y]])
            if not others:
                complete = ((rows[:, 0] == live_t) & (rows[:, 1] == f2f_t)).astype(float)
            else:
                conv = _convolve(others, exact)
                rest = np.array([live_t, f2f_t]) - rows
                complete = _density_at(conv, grid, rest[:, 0], rest[:, 1], len(others))
                if not exact:  # the smoothing spreads mass past what the other years' tables can add up to
                    lo = sum(_rows(sets[o].tables).min(axis=0) for o in years if o != y)
                    hi = sum(_rows(sets[o].tables).max(axis=0) for o in years if o != y)
                    complete = np.where(np.all((rest >= lo) & (rest <= hi), axis=1), complete, 0.0)
            out[y] = weight[y][picks[y]] * complete
        last = years[-1]
        return out, float(out[last].sum())

    if any(not len(s.tables) for s in sets.values()):  # a year without tables: nothing to join
        return (0.0, 0.0, 0.0), {y: np.zeros(len(sets[y].tables)) for y in years}, []
    everything = {y: np.arange(len(sets[y].tables)) for y in years}
    weights, count = weights_and_count(everything)
    if exact:
        return (count, count, count), weights, []
    rng = rng or np.random.default_rng(0)
    reps = []
    for _ in range(boot):  # resample the drawn columns of every year (the clusters)
        picks = {}
        for y in years:
            k = sets[y].column_counts
            starts = np.cumsum(k) - k
            cols = rng.integers(0, len(k), len(k))
            picks[y] = (
                np.concatenate([np.arange(starts[c], starts[c] + k[c]) for c in cols]) if k.sum() else np.zeros(0, int)
            )
        reps.append(weights_and_count(picks)[1])
    return (count, *_percentile_interval(reps, 0.95)), weights, [float(r) for r in reps]


# --------------------------------------------------------------------------- what is true in them
def derived(tables: np.ndarray, titles: list[str]) -> dict[str, np.ndarray]:
    """Quantities a reader takes from a table: each title's live share, Cramer's V, learners."""
    t = tables.astype(float)
    with np.errstate(all="ignore"):
        out = {f"live_share_{g}": t[:, 0, k] / (t[:, 0, k] + t[:, 1, k]) for k, g in enumerate(titles)}
        out["cramers_v"] = np.sqrt(x2_2xk(t[:, 0], t[:, 1]) / t.sum(axis=(1, 2)))
    out["learners_live"] = t[:, 0].sum(axis=1)
    out["learners_face_to_face"] = t[:, 1].sum(axis=1)
    return out


def weighted_quantiles(x: np.ndarray, w: np.ndarray, qs) -> list[float]:
    """The ``qs`` quantiles of values ``x`` with weights ``w``: for each q, the smallest x whose
    cumulative weight reaches q of the total."""
    o = np.argsort(x)
    cw = np.cumsum(w[o])
    return [float(x[o][min(np.searchsorted(cw, q * cw[-1]), len(x) - 1)]) for q in qs]


def summary(values: np.ndarray, weights: np.ndarray) -> dict:
    """Range over the tables of the joined set, and weighted 2.5%, 50%, 97.5% points."""
    keep = weights > 1e-9 * weights.max() if len(weights) and weights.max() > 0 else np.zeros(len(values), bool)
    if not keep.any():
        return {"min": None, "max": None, "q025": None, "median": None, "q975": None}
    x, w = values[keep], weights[keep]
    q = weighted_quantiles(x, w, [0.025, 0.5, 0.975])
    return {"min": float(x.min()), "max": float(x.max()), "q025": q[0], "median": q[1], "q975": q[2]}
