"""What the published figures pin down: every learner table consistent with them.

A paper that reports only chi-square statistics leaves its tables underdetermined. This
module finds the integer tables consistent with every published figure of
``published.yml`` at its printed precision, in the spirit of GRIM/GRIMMER and CLOSURE
(Brown & Heathers 2017; Heathers et al. 2018) for means, extended to contingency tables
given by Pearson chi-squares.

The set, for one year
    The 2 x 3 table of learners, delivery mode (live, face-to-face) x title (junior,
    intermediate, senior), with cells ``a b e / c d f`` (live junior, intermediate,
    senior over face-to-face junior, intermediate, senior). It is consistent when each
    published statistic, computed from it, rounds to the printed value: |X^2 - v| <=
    0.5 * 10^-decimals for the 2 x 3 table and for its two 2 x 2 sub-tables that share a
    column (the "pivot", intermediate here). Rows are bounded by the published three-year
    totals (a year cannot have more learners than all years together); every title has at
    least one learner.

Enumeration, column by column
    For a fixed pivot column (b, d), a 2 x 2 statistic of ``[[a, b], [c, d]]`` is, for
    each a, a rational function of c whose level sets are the roots of a cubic,

        (a+b+c+d)(ad - bc)^2 - L (a+b)(b+d)(c+d)(a+c) = 0,

    so the integer c with the statistic in the printed window lie in the intervals
    between the real roots for the window's two ends (the Yates-corrected form splits at
    |ad - bc| = N/2 into two cubics). Every candidate is then checked with the statistic
    itself. The junior and senior hits of the column are paired and kept when the row
    bounds and the 2 x 3 statistic hold. This lists every consistent table of a column
    exactly.

Count
    When there are few columns (b, d) (a small paper), all are enumerated and the count is
    exact. Otherwise columns are drawn at random with replacement, half uniformly over all
    columns and half over the box where a year holds about its share of the totals (where
    the joined set lies), and the count is the Hansen-Hurwitz estimate mean(k / p) over the
    draws (k tables found in a column drawn with probability p), with an interval from its
    standard error (sampling of clusters; Hansen & Hurwitz 1943, Cochran 1977 ch. 9). Each
    table found then stands for 1 / (draws x p) tables of the set.

Joined across years
    The yearly sets are joined by the published totals: the row totals of the years must
    add up to them. With exact enumeration the count of row totals is convolved exactly;
    with sampling, each year's row totals are turned into a binned Gaussian kernel density
    estimate (256 x 256 bins, Scott's bandwidth; Wand 1994) and the densities of the years
    are convolved (FFT), read at the published totals. A
    year's table belongs to the joined set in proportion to how many tables of the other
    years complete it; shares and ranges of derived quantities across the joined set use
    those weights.

Readings of the design
    The same search under other readings of what the published statistics are: Pearson
    chi-square (the reading used everywhere else), the 2 x 2 statistics with Yates'
    continuity correction, goodness of fit of the live learners' titles against equal
    shares (one row), and the title rows x mode columns read as rates: the statistics
    computed on each title's percentages of live and face-to-face learners (rows of 100,
    to two decimals) instead of on counts, a known slip. A reading is consistent when at
    least one joined set of tables reproduces every figure (rates carry no counts, so the
    totals do not join them: any choice per year will do).

References
    Brown NJL, Heathers JAJ (2017). The GRIM test. Soc Psychol Personal Sci 8:363-369.
    Heathers JAJ, Anaya J, van der Zee T, Brown NJL (2018). Recovering data from summary
    statistics: Sample Parameter Reconstruction via Iterative TEchniques (SPRITE). PeerJ
    Preprints 6:e26968v1.
    Hansen MH, Hurwitz WN (1943). On the theory of sampling from finite populations. Ann
    Math Stat 14:333-362.
    Cochran WG (1977). Sampling Techniques, 3rd ed. Wiley.
    Wand MP (1994). Fast computation of multivariate kernel estimators. J Comput Graph
    Stat 3:433-445.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np

from . import paths
from . import published as published_mod
from .fileio import write_bytes
from .schema import GRADES

CACHE_FILE = paths.CONSISTENCY_FILE
READINGS = ("pearson", "yates", "goodness_of_fit", "rates")
RATE_STEPS = 10_000  # the rates reading: percentages printed to two decimals
EXACT_COLUMNS = 200_000  # enumerate every pivot column up to this many; sample beyond


# --------------------------------------------------------------------------- figures
@dataclass
class YearFigures:
    """One year's published statistics: the 2 x k table's and the 2 x 2 ones' (pivot shared)."""

    year: int
    titles: list[str]
    overall: tuple[float, float]  # (low, high) window of the 2 x k statistic
    pairs: dict[str, tuple[float, float]]  # other title -> window of its 2 x 2 with the pivot
    pivot: str
    printed: dict[str, str] = field(default_factory=dict)


def _window(value: float, decimals: int) -> tuple[float, float]:
    half = 0.5 * 10.0 ** (-int(decimals))
    return float(value) - half, float(value) + half


def year_figures(pub) -> list[YearFigures]:
    """The published chi-squares of each year, in the structure the search needs.

    Each year must give the statistic of the whole 2 x 3 table and of two 2 x 2 tables that
    share one title (the pivot) and between them cover the other two.
    """
    out = []
    for year in pub.years:
        rows = [c for c in pub.chisquare if int(c["year"]) == int(year)]
        whole = [c for c in rows if len(c["titles"]) == len(GRADES)]
        pairs = [c for c in rows if len(c["titles"]) == 2]
        shared = set.intersection(*(set(c["titles"]) for c in pairs)) if len(pairs) == 2 else set()
        if len(whole) != 1 or len(shared) != 1 or set(pairs[0]["titles"]) | set(pairs[1]["titles"]) != set(GRADES):
            raise ValueError(
                f"{published_mod.FILE_NAME}: {year} needs the chi-square of the whole 2 x 3 table and of two 2 x 2 "
                f"tables sharing one title and covering {list(GRADES)}; found {[c['titles'] for c in rows]}"
            )
        pivot = shared.pop()
        printed = {c["id"]: f"{float(c['value']):.{int(c['decimals'])}f}" for c in rows}
        out.append(
            YearFigures(
                int(year),
                list(GRADES),
                _window(whole[0]["value"], whole[0]["decimals"]),
                {next(t for t in c["titles"] if t != pivot): _window(c["value"], c["decimals"]) for c in pairs},
                pivot,
                printed,
            )
        )
    return out


# --------------------------------------------------------------------------- statistics
def x2_2x2(a, b, c, d, reading: str = "pearson"):
    """Pearson X^2 = N (ad - bc)^2 / ((a+b)(c+d)(a+c)(b+d)) of [[a, b], [c, d]]; with
    ``reading="yates"`` N (|ad - bc| - N/2)^2 / (...) when |ad - bc| > N/2, else 0 (as R's
    ``chisq.test(correct = TRUE)``). NaN where a margin is empty."""
    a, b, c, d = (np.asarray(v, dtype=float) for v in (a, b, c, d))
    n = a + b + c + d
    den = (a + b) * (c + d) * (a + c) * (b + d)
    dev = np.abs(a * d - b * c)
    if reading == "yates":
        dev = np.maximum(dev - n / 2, 0.0)
    with np.errstate(all="ignore"):
        return np.where(den > 0, n * dev**2 / np.where(den > 0, den, 1.0), np.nan)


def x2_2xk(live: np.ndarray, f2f: np.ndarray):
    """Pearson X^2 of stacks of 2 x k tables given as (..., k) live and face-to-face rows."""
    o = np.stack([live, f2f], axis=-2).astype(float)
    with np.errstate(all="ignore"):
        e = o.sum(-1, keepdims=True) * o.sum(-2, keepdims=True) / o.sum((-2, -1), keepdims=True)
        out = ((o - e) ** 2 / e).sum((-2, -1))
    return np.where(np.all(o.sum(-2) > 0, axis=-1), out, np.nan)


def goodness_of_fit(counts: np.ndarray):
    """X^2 = sum (O - n/k)^2 / (n/k) of counts (..., k) against equal shares."""
    o = np.asarray(counts, dtype=float)
    e = o.sum(-1, keepdims=True) / o.shape[-1]
    with np.errstate(all="ignore"):
        return np.where(e[..., 0] > 0, ((o - e) ** 2 / e).sum(-1), np.nan)


def _inside(x, window) -> np.ndarray:
    return (x >= window[0]) & (x <= window[1])


# --------------------------------------------------------------------------- roots
def _real_roots(coef: np.ndarray) -> np.ndarray:
    """Real roots of the polynomials of degree <= 3 in the rows of ``coef`` (n, 4), highest
    power first, as an (n, 3) array with NaN where there is none.

    Cubics by the trigonometric and Cardano formulas for the depressed cubic t^3 + pt + q
    (three real roots when 4p^3 + 27q^2 < 0), quadratics by the quadratic formula; every
    root is then polished by two Newton steps on the original polynomial.
    """
    coef = np.asarray(coef, dtype=float)
    n = len(coef)
    scale = np.abs(coef).max(axis=1, keepdims=True)
    c = coef / np.where(scale > 0, scale, 1.0)
    out = np.full((n, 3), np.nan)
    tiny = 1e-13
    cubic = np.abs(c[:, 0]) > tiny
    with np.errstate(all="ignore"):
        # cubics: x = t - B/3 with t^3 + p t + q = 0
        B, C_, D = (c[:, k] / c[:, 0] for k in (1, 2, 3))
        p = C_ - B * B / 3
        q = 2 * B**3 / 27 - B * C_ / 3 + D
        disc = (q / 2) ** 2 + (p / 3) ** 3
        three = cubic & (disc < 0)
        m = 2 * np.sqrt(-p / 3)
        theta = np.arccos(np.clip(3 * q / (p * m), -1.0, 1.0)) / 3
        for k in range(3):
            out[:, k] = np.where(three, m * np.cos(theta - 2 * np.pi * k / 3) - B / 3, out[:, k])
        sq = np.sqrt(np.maximum(disc, 0.0))
        one = np.cbrt(-q / 2 + sq) + np.cbrt(-q / 2 - sq) - B / 3
        out[:, 0] = np.where(cubic & ~three, one, out[:, 0])
        # quadratics (and lines) where the cubic term vanishes
        quad = ~cubic & (np.abs(c[:, 1]) > tiny)
        dq = c[:, 2] ** 2 - 4 * c[:, 1] * c[:, 3]
        r = np.sqrt(np.where(dq >= 0, dq, np.nan))
        out[:, 0] = np.where(quad, (-c[:, 2] + r) / (2 * c[:, 1]), out[:, 0])
        out[:, 1] = np.where(quad, (-c[:, 2] - r) / (2 * c[:, 1]), out[:, 1])
        line = ~cubic & ~quad & (np.abs(c[:, 2]) > tiny)
        out[:, 0] = np.where(line, -c[:, 3] / c[:, 2], out[:, 0])
        for _ in range(2):
            val = np.zeros_like(out)
            der = np.zeros_like(out)
            for k in range(4):
                der = der * out + val
                val = val * out + c[:, k : k + 1]
            step = np.where(der != 0, val / der, 0.0)
            out = out - np.where(np.isfinite(step) & (np.abs(step) < 1 + np.abs(out)), step, 0.0)
    return out


def _pearson_cubic(a, b, d, level):
    """Coefficients in c of (a+b+c+d)(ad-bc)^2 - level (a+b)(b+d)(c+d)(a+c)."""
    s, k = a + b + d, level * (a + b) * (b + d)
    return np.stack(
        [b * b + 0 * a, s * b * b - 2 * a * b * d - k, a * a * d * d - 2 * a * b * d * s - k * (a + d),
         s * a * a * d * d - k * a * d],
        axis=-1,
    )  # fmt: skip


def _yates_cubics(a, b, d, level):
    """Coefficients in c of (c+s)(alpha + beta c)^2 - level (a+b)(b+d)(c+d)(a+c), one for
    each sign of ad - bc (alpha = +-ad - s/2, beta = -+b - 1/2), and the roots of
    alpha + beta c = 0 where the correction starts."""
    s, k = a + b + d, level * (a + b) * (b + d)
    out, edges = [], []
    for sign in (1.0, -1.0):
        alpha, beta = sign * a * d - s / 2, -sign * b - 0.5 + 0 * a
        out.append(
            np.stack(
                [
                    beta * beta,
                    2 * alpha * beta + s * beta * beta - k,
                    alpha * alpha + 2 * alpha * beta * s - k * (a + d),
                    s * alpha * alpha - k * a * d,
                ],
                axis=-1,
            )  # fmt: skip
        )
        with np.errstate(all="ignore"):
            edges.append(-alpha / beta)
    return out, edges


def pair_hits(b: int, d: int, window, a_max: int, c_max: int, reading: str = "pearson"):
    """Every integer (a, c), 0 <= a <= a_max, 0 <= c <= c_max, whose 2 x 2 statistic of
    [[a, b], [c, d]] lies in ``window``. Exact: candidates come from the intervals between
    the real roots of the level cubics, then each is checked with :func:`x2_2x2`."""
    a = np.arange(a_max + 1, dtype=float)
    if not len(a) or c_max < 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    b, d = float(b), float(d)
    cuts = []
    for level in window:
        if reading == "yates":
            cubics, edges = _yates_cubics(a, b, d, level)
            cuts += [e[:, None] for e in edges]
        else:
            cubics = [_pearson_cubic(a, b, d, level)]
        for cu in cubics:
            # the roots, and the turning points of the cubic: between two cuts it has at most
            # one root, so two close roots missed in rounding still leave their segment
            cuts.append(_real_roots(cu))
            cuts.append(_real_roots(np.concatenate([np.zeros((len(a), 1)), cu[:, :3] * [3.0, 2.0, 1.0]], axis=1)))
    if b > 0:
        cuts.append((a * d / b)[:, None])  # where ad - bc changes sign
    pts = np.concatenate(cuts, axis=1)
    pts = np.where((pts > 0) & (pts < c_max), pts, np.nan)
    pts = np.sort(np.concatenate([np.zeros((len(a), 1)), pts, np.full((len(a), 1), float(c_max))], axis=1), axis=1)
    lo, hi = pts[:, :-1], pts[:, 1:]
    mid = (lo + hi) / 2
    ok = np.isfinite(mid) & _inside(x2_2x2(a[:, None], b, mid, d, reading), window)
    first = np.ceil(lo) - 1  # one integer beyond each end: the checks below decide
    last = np.floor(hi) + 1
    first = np.where(ok, np.maximum(first, 0), 0)
    last = np.where(ok, np.minimum(last, c_max), -1)
    counts = np.maximum(last - first + 1, 0).astype(np.int64)
    rows = np.repeat(np.arange(len(a)), counts.sum(axis=1))
    if len(rows):
        starts = np.repeat(first.ravel(), counts.ravel())
        offs = np.arange(len(starts)) - np.repeat(np.cumsum(counts.ravel()) - counts.ravel(), counts.ravel())
        cs = starts + offs
    else:
        cs = np.zeros(0)
    key = np.unique(rows.astype(np.int64) * (c_max + 1) + cs.astype(np.int64))
    ra, rc = key // (c_max + 1), key % (c_max + 1)
    good = _inside(x2_2x2(ra, b, rc, d, reading), window)
    return ra[good].astype(np.int64), rc[good].astype(np.int64)


# --------------------------------------------------------------------------- one column
def column_tables(fig: YearFigures, b: int, d: int, live_max: int, f2f_max: int, reading: str = "pearson"):
    """Every consistent table with pivot column (b, d), as an (n, 2, 3) array in GRADES order."""
    order = list(fig.titles)
    ip = order.index(fig.pivot)
    others = [t for t in order if t != fig.pivot]
    (t1, w1), (t2, w2) = ((t, fig.pairs[t]) for t in others)
    room_l, room_f = live_max - b, f2f_max - d
    if room_l < 0 or room_f < 0:
        return np.zeros((0, 2, 3), np.int64)
    a1, c1 = pair_hits(b, d, w1, room_l, room_f, reading)
    a2, c2 = pair_hits(b, d, w2, room_l, room_f, reading)
    if not len(a1) or not len(a2):
        return np.zeros((0, 2, 3), np.int64)
    found = []
    step = max(1, 4_000_000 // len(a2))
    for s in range(0, len(a1), step):
        i = np.arange(s, min(s + step, len(a1)))
        A1, C1 = a1[i][:, None], c1[i][:, None]
        ok = (A1 + a2[None, :] <= room_l) & (C1 + c2[None, :] <= room_f)
        ii, jj = np.nonzero(ok)
        if not len(ii):
            continue
        live = np.zeros((len(ii), 3), np.int64)
        f2f = np.zeros((len(ii), 3), np.int64)
        live[:, ip], f2f[:, ip] = b, d
        live[:, order.index(t1)], f2f[:, order.index(t1)] = a1[i][ii], c1[i][ii]
        live[:, order.index(t2)], f2f[:, order.index(t2)] = a2[jj], c2[jj]
        keep = _inside(x2_2xk(live, f2f), fig.overall)
        found.append(np.stack([live[keep], f2f[keep]], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 2, 3), np.int64)


def is_consistent(table, fig: YearFigures, reading: str = "pearson") -> bool:
    """Does a 2 x 3 table (rows live, face-to-face; columns in GRADES order) reproduce the year's figures?"""
    t = np.asarray(table, dtype=float)
    ip = fig.titles.index(fig.pivot)
    if reading == "rates":  # t: each title's learners by mode in 1/RATE_STEPS; statistics on the percentages
        t = t / (RATE_STEPS / 100)
        reading = "pearson"
    if reading == "goodness_of_fit":
        ok = _inside(goodness_of_fit(t[0]), fig.overall)
        for other, w in fig.pairs.items():
            ok &= _inside(goodness_of_fit(t[0, [fig.titles.index(other), ip]]), w)
        return bool(ok)
    ok = _inside(x2_2xk(t[0], t[1]), fig.overall)
    for other, w in fig.pairs.items():
        j = fig.titles.index(other)
        ok &= _inside(x2_2x2(t[0, j], t[0, ip], t[1, j], t[1, ip], reading), w)
    return bool(ok)


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


YEARLY_CLAIMS = {
    # claim id in published.yml -> what it says of one year's table (rows live, f2f; GRADES columns)
    "intermediate_largest_live": lambda t: (t[:, 0, 1] > t[:, 0, 0]) & (t[:, 0, 1] > t[:, 0, 2]),
    "intermediate_highest_live_share": lambda t: _share_highest(t, 1),
}
ACROSS_YEARS_CLAIMS = {"live_learners_increase"}


def _share_highest(t: np.ndarray, k: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        s = t[:, 0] / (t[:, 0] + t[:, 1])
    others = [j for j in range(s.shape[1]) if j != k]
    return np.all(s[:, [k]] > s[:, others], axis=1)


def _verdict(share: float | None) -> str:
    if share is None:
        return "undecided"
    return "all" if share >= 1.0 else "none" if share <= 0.0 else "some"


def claims(sets: dict[int, YearSet], weights: dict[int, np.ndarray], pub, totals, cap: int = 1500, seed: int = 0):
    """Which published statements hold in every joined set of tables, in some, or in none.

    A statement about each year holds in a joined set when it holds in all its years; its
    share is estimated over combinations of the found tables of all years but the last,
    the last year's tables entering through their count at the remaining row totals, split
    by whether the statement holds there (as in :func:`join`)."""
    years = sorted(sets)
    exact = all(s.exact for s in sets.values())
    rng = np.random.default_rng(seed)
    first, last = years[:-1], years[-1]
    picks = {}
    for y in first:
        w = weights[y]
        idx = np.flatnonzero(w > 0)
        if len(idx) > cap:  # a weighted draw of the year's tables in the joined set
            idx = rng.choice(idx, cap, replace=True, p=w[idx] / w[idx].sum())
            picks[y] = (idx, np.ones(len(idx)))
        else:
            picks[y] = (idx, w[idx] / max(w[idx].sum(), 1e-300))
    if any(not len(picks[y][0]) for y in first) or not len(sets[last].tables):
        return {c["id"]: {"verdict": "undecided", "share": None, "years": {}} for c in pub.claims}
    grid = (
        Grid(1, 1, (totals[0] + 1, totals[1] + 1))
        if exact
        else Grid(max(1, -(-(totals[0] + 1) // 256)), max(1, -(-(totals[1] + 1) // 256)), (256, 256))
    )
    mesh = np.meshgrid(*(np.arange(len(picks[y][0])) for y in first), indexing="ij")
    combo = {y: m.ravel() for y, m in zip(first, mesh)}
    cw = np.prod([picks[y][1][combo[y]] for y in first], axis=0) if first else np.ones(1)
    rows = {y: _rows(sets[y].tables[picks[y][0][combo[y]]]) for y in first}
    rest = np.array(totals) - sum(rows.values())
    lt = sets[last].tables
    sigma = grid.bandwidth(lt)

    def at(mask_last: np.ndarray) -> np.ndarray:
        h = grid.histogram(lt[mask_last], sets[last].table_weights[mask_last], sigma)
        if h.sum() == 0:
            return np.zeros(len(cw))
        return _density_at(h, grid, rest[:, 0], rest[:, 1], 1)

    base = cw * at(np.ones(len(lt), bool))
    total = base.sum()
    out = {}
    for c in pub.claims:
        cid = c["id"]
        if cid in YEARLY_CLAIMS:
            f = YEARLY_CLAIMS[cid]
            held = np.ones(len(cw), bool)
            for y in first:
                held &= f(sets[y].tables[picks[y][0][combo[y]]])
            joint = float((cw * held * at(f(lt))).sum() / total) if total > 0 else None
            per_year = {}
            for y in years:
                w = weights[y]
                per_year[str(y)] = float(w[f(sets[y].tables)].sum() / w.sum()) if w.sum() > 0 else None
            out[cid] = {"verdict": _verdict(joint), "share": joint, "years": per_year}
        elif cid in ACROSS_YEARS_CLAIMS:
            lives = [rows[y][:, 0] for y in first] + [rest[:, 0]]
            rising = np.all(np.diff(np.stack(lives, axis=1), axis=1) > 0, axis=1)
            share = float((base * rising).sum() / total) if total > 0 else None
            out[cid] = {"verdict": _verdict(share), "share": share, "years": {}}
        else:
            out[cid] = {"verdict": "not_about_tables", "share": None, "years": {}}
    return out


# --------------------------------------------------------------------------- the analysis
def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _count_dict(c: tuple[float, float, float], exact: bool) -> dict:
    return {"estimate": c[0], "low": c[1], "high": c[2], "exact": exact}


def analyse(raw_dir, seconds: float = 60.0, seed: int = 20250315, exact_columns: int = EXACT_COLUMNS,
            readings=READINGS, sample: int = 3000, log=None) -> dict:  # fmt: skip
    """Everything ``cmestudy consistency`` reports, as a JSON-ready dict (see the module docstring).

    ``seconds`` bounds the search of each year under the main (Pearson) reading; the other
    readings get a quarter of it. ``sample`` tables per year are kept, with their joined
    weights, for the report's figure and for placing a data set in the set.
    """
    pub = published_mod.load(raw_dir)
    if pub is None:
        raise FileNotFoundError(f"{Path(raw_dir) / published_mod.FILE_NAME} is missing")
    figs = year_figures(pub)
    by_mode = {t["mode"]: int(t["value"]) for t in pub.totals}
    if set(by_mode) != {"live", "face_to_face"}:
        raise ValueError(f"{pub.path}: totals must give the learners of both modes (live, face_to_face)")
    totals = (by_mode["live"], by_mode["face_to_face"])
    rng = np.random.default_rng(seed)
    result = {
        "published_sha256": _digest(pub.path),
        "published_file": pub.path.name,
        "totals": {"live": totals[0], "face_to_face": totals[1]},
        "seed": seed,
        "seconds_per_year": seconds,
        "titles": list(GRADES),
        "readings": {},
    }
    for reading in readings:
        t0 = time.perf_counter()
        budget = seconds if reading == "pearson" else seconds / 4
        sets = {}
        for fig in figs:
            focus = (totals[0] // len(figs), totals[1] // len(figs))
            sets[fig.year] = year_set(fig, totals[0], 0 if reading == "goodness_of_fit" else totals[1], reading,
                                      budget, seed, exact_columns, focus=focus)  # fmt: skip
            if log:
                c = sets[fig.year].count()
                log(f"  {reading} {fig.year}: {len(sets[fig.year].tables):,} tables in {sets[fig.year].drawn:,} of "
                    f"{sets[fig.year].columns:,} columns ({sets[fig.year].seconds:.1f} s); about {c[0]:.3g} in all")  # fmt: skip
        if reading == "goodness_of_fit":
            # one row: the live learners alone; joined by the live total
            jt = (totals[0], 0)
        else:
            jt = totals
        if reading == "rates":  # percentages carry no counts: any table of each year combines with any other
            n = float(np.prod([len(sets[f.year].tables) for f in figs]))
            joined, weights, replicates = (n, n, n), {f.year: np.ones(len(sets[f.year].tables)) for f in figs}, []
        else:
            joined, weights, replicates = join(sets, jt, rng)
        entry = {
            "years": {},
            "joined": _count_dict(joined, all(s.exact for s in sets.values())) | {"replicates": replicates},
            "verdict": reading_verdict(sets, joined),
            "seconds": time.perf_counter() - t0,
        }
        entry["consistent"] = entry["verdict"] == "consistent"
        for fig in figs:
            ys = sets[fig.year]
            entry["years"][str(fig.year)] = {
                "count": _count_dict(ys.count(), ys.exact) | {"se": ys.estimate()[1]},
                "columns": ys.columns,
                "columns_searched": ys.drawn,
                "found": int(len(ys.tables)),
                "in_joined_set": int((weights[fig.year] > 0).sum()),
                # Kish's effective sample size of the joined weights: how many tables the joined
                # shares and quantiles of this year really rest on
                "joined_effective_tables": _kish(weights[fig.year]),
                "seconds": ys.seconds,
                "printed": fig.printed,
            }
        if reading == "pearson":
            entry["derived"] = {}
            entry["sample"] = {}
            for fig in figs:
                ys, w = sets[fig.year], weights[fig.year]
                entry["derived"][str(fig.year)] = {k: summary(v, w) for k, v in derived(ys.tables, fig.titles).items()}
                keep = np.flatnonzero(w > 0)
                if len(keep) > sample:
                    keep = np.sort(rng.choice(keep, sample, replace=False, p=w[keep] / w[keep].sum()))
                    kept_w = np.full(len(keep), float(w.sum()) / sample)
                else:
                    kept_w = w[keep]
                entry["sample"][str(fig.year)] = {
                    "tables": ys.tables[keep].reshape(len(keep), 6).tolist(),
                    "weights": kept_w.tolist(),
                }
            entry["claims"] = claims(sets, weights, pub, jt, seed=seed)
        result["readings"][reading] = entry
        if log:
            log(f"  {reading}: joined {joined[0]:.3g} [{joined[1]:.3g}, {joined[2]:.3g}] "
                f"({'consistent' if entry['consistent'] else 'inconsistent'})")  # fmt: skip
    return result


def _kish(w: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 (0 without weight)."""
    w = np.asarray(w, float)
    return float(w.sum() ** 2 / (w**2).sum()) if len(w) and (w**2).sum() > 0 else 0.0


def reading_verdict(sets: dict[int, YearSet], joined: tuple[float, float, float]) -> str:
    """ "consistent", "inconsistent" (proven: an exhaustive search found nothing) or "unsettled".

    Exhaustive searches decide: a year without any table, or an exact join of count 0,
    is a proof of inconsistency. With sampled columns a year's table found is a witness;
    the join is then consistent when its estimated count is at least one. A sampled
    year where no table was found leaves the reading unsettled.
    """
    if any(s.exact and not len(s.tables) for s in sets.values()):
        return "inconsistent"
    if all(s.exact for s in sets.values()):
        return "consistent" if joined[0] >= 1 else "inconsistent"
    if any(not len(s.tables) for s in sets.values()):
        return "unsettled"
    return "consistent" if joined[2] >= 1 else "unsettled"


def write(result: dict, path) -> Path:
    """Write the analysis as JSON, atomically."""
    return write_bytes(path, (json.dumps(result, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))


def load(path) -> dict | None:
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def cached(raw_dir, processed_dir=None) -> tuple[dict | None, str]:
    """The cached analysis for the published figures of ``raw_dir``: (result, state), state
    one of "none" (no published figures), "missing", "stale" (published.yml changed), "ok"."""
    pub = published_mod.load(raw_dir)
    if pub is None:
        return None, "none"
    for folder in [Path(raw_dir)] + ([Path(processed_dir)] if processed_dir else []):
        res = load(folder / CACHE_FILE)
        if res is not None:
            return (res, "ok") if res.get("published_sha256") == _digest(pub.path) else (res, "stale")
    return None, "missing"


def locate(result: dict, tables: dict[int, np.ndarray], figures: list[YearFigures] | None = None) -> dict:
    """Where a data set's yearly tables lie in the consistent set: whether each is consistent
    (when the year's ``figures`` are given), and the weighted share of consistent tables at or
    below each of its derived quantities (its percentile)."""
    pub_titles = result["titles"]
    by_year = {str(f.year): f for f in figures or []}
    out = {}
    for year, sample in result["readings"]["pearson"]["sample"].items():
        t = tables.get(int(year))
        if t is None:
            continue
        t = np.asarray(t, dtype=np.int64).reshape(1, 2, 3)
        s = np.asarray(sample["tables"], dtype=np.int64).reshape(-1, 2, 3)
        w = np.asarray(sample["weights"], dtype=float)
        mine = {k: float(v[0]) for k, v in derived(t, pub_titles).items()}
        theirs = derived(s, pub_titles)
        pct = {k: float(w[theirs[k] <= mine[k]].sum() / w.sum()) if w.sum() > 0 else None for k in mine}
        out[year] = {"values": mine, "percentile": pct}
        if year in by_year:
            out[year]["consistent"] = is_consistent(t[0], by_year[year])
    return out


# --------------------------------------------------------------------------- report tables
def study_tables(learners, years) -> dict[int, np.ndarray]:
    """The data set's yearly 2 x 3 tables (rows live, face-to-face; columns GRADES)."""
    from . import describe
    from .schema import MODES

    out = {}
    for y in years:
        t = describe.mode_by_title(learners, y).reindex(index=list(MODES), columns=list(GRADES), fill_value=0)
        out[int(y)] = t.to_numpy(dtype=np.int64)
    return out


def interval(c: dict, confidence: float = 0.95) -> tuple[float, float]:
    """A cached count's interval at ``confidence``: from the bootstrap replicates (joined), the
    standard error (a year), or as cached."""
    if c.get("replicates"):
        return _percentile_interval(c["replicates"], confidence)
    if "se" in c:
        return _normal_interval(c["estimate"], c["se"], confidence)
    return c["low"], c["high"]


def _count_text(c: dict, confidence: float = 0.95) -> str:
    from . import i18n

    if c["exact"]:
        return i18n.integer(c["estimate"])
    lo, hi = interval(c, confidence)
    return i18n.t(
        "consistency.about", value=_sig(c["estimate"]), low=_sig(lo), high=_sig(hi), level=i18n.level(confidence)
    )


def _sig(x: float) -> str:
    """A count to three significant digits, as the language writes it (3.2 × 10⁸, or 4 870)."""
    from . import i18n

    if x < 1e5:
        return i18n.integer(round(x))
    e = int(np.floor(np.log10(x)))
    m = x / 10**e
    if round(m, 2) >= 10:
        m, e = m / 10, e + 1
    sup = str(e).translate(str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"))
    return f"{i18n.number(m, 2)} × 10{sup}"


def count_table(result: dict, confidence: float = 0.95):
    """Per year and joined: the printed statistics, the search, and how many tables are consistent."""
    import pandas as pd

    from . import i18n

    p = result["readings"]["pearson"]
    rows = {}
    for year, y in p["years"].items():
        rows[year] = {
            "published_statistics": i18n.t("punct.list_sep").join(y["printed"].values()),
            "columns_searched": f"{i18n.integer(y['columns_searched'])} / {i18n.integer(y['columns'])}",
            "tables_found": i18n.integer(y["found"]),
            "effective_in_joined_set": i18n.number(y.get("joined_effective_tables", 0.0), 1),
            "consistent_tables": _count_text(y["count"], confidence),
            "search_method": i18n.t("consistency.exact" if y["count"]["exact"] else "consistency.sampled"),
        }
    j = p["joined"]
    rows[i18n.t("consistency.joined")] = {
        "published_statistics": i18n.t(
            "consistency.totals",
            live=i18n.integer(result["totals"]["live"]),
            face_to_face=i18n.integer(result["totals"]["face_to_face"]),
        ),  # fmt: skip
        "columns_searched": "",
        "tables_found": "",
        "effective_in_joined_set": "",
        "consistent_tables": _count_text(j, confidence),
        "search_method": i18n.t("consistency.exact" if j["exact"] else "consistency.convolved"),
    }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "year"
    return out


QUANTITIES = ["live_share_junior", "live_share_intermediate", "live_share_senior", "cramers_v",
              "learners_live", "learners_face_to_face"]  # fmt: skip


def derived_table(result: dict, located: dict | None = None, confidence: float = 0.95):
    """Range (over every table found) and middle ``confidence`` (of the kept weighted sample)
    of each derived quantity across the joined set, beside the data set's value."""
    import pandas as pd

    from . import i18n

    def fmt(k, v):
        if v is None:
            return "–"
        if k.startswith("live_share"):
            return i18n.number(100 * v, 1)
        return i18n.number(v, 3) if k == "cramers_v" else i18n.integer(v)

    rows = {}
    tail = (1 - confidence) / 2
    pearson = result["readings"]["pearson"]
    for year, d in pearson["derived"].items():
        sample = pearson["sample"][year]
        tables = np.asarray(sample["tables"], dtype=float).reshape(-1, 2, 3)
        w = np.asarray(sample["weights"], dtype=float)
        values = derived(tables, result["titles"]) if len(tables) else {}
        for k in QUANTITIES:
            s = d[k]
            q = weighted_quantiles(values[k], w, [tail, 0.5, 1 - tail]) if len(tables) and w.sum() > 0 else [None] * 3
            row = {
                "min": fmt(k, s["min"]),
                "q_low": fmt(k, q[0]),
                "median": fmt(k, q[1]),
                "q_high": fmt(k, q[2]),
                "max": fmt(k, s["max"]),
            }
            if located is not None:
                loc = located.get(year)
                row["this_data"] = (
                    f"{fmt(k, loc['values'][k])} ({i18n.number(100 * loc['percentile'][k], 0)}%)" if loc else "–"
                )
            rows[(int(year), i18n.t(f"consistency.quantity.{k}"))] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples(out.index, names=["year", "quantity"])
    return out


def claims_table(result: dict, pub):
    """Each published statement: in how many of the joined sets it holds."""
    import pandas as pd

    from . import i18n

    got = result["readings"]["pearson"]["claims"]
    rows = {}
    for c in pub.claims:
        g = got.get(c["id"])
        if g is None:
            continue
        share = "–" if g["share"] is None else f"{i18n.number(100 * g['share'], 1)}%"
        years = i18n.join([f"{y}: {i18n.number(100 * v, 1)}%" for y, v in g["years"].items() if v is not None])
        rows[published_mod.claim_text(c)] = {
            "holds_in": i18n.t(f"consistency.verdict.{g['verdict']}"),
            "share_of_joined_sets": share,
            "by_year": years or "–",
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "statement"
    return out


def readings_table(result: dict, confidence: float = 0.95):
    """Each reading of the published statistics: consistent tables per year, joined, verdict."""
    import pandas as pd

    from . import i18n

    rows = {}
    for reading, r in result["readings"].items():
        row = {str(y): _count_text(v["count"], confidence) for y, v in r["years"].items()}
        row["joined"] = _count_text(r["joined"], confidence)
        row["verdict"] = i18n.t(f"consistency.verdict_reading.{r['verdict']}")
        rows[i18n.t(f"consistency.reading.{reading}")] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "reading"
    return out
