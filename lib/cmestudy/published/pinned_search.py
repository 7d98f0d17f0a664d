"""What the published figures pin down, one year and one pivot column at a time: the exact search.

The published figures of a year (:class:`YearFigures`), the chi-square statistics of a 2 x 2 and a
2 x 3 table under each reading, and the enumeration of every table of a pivot column whose
statistics round to the printed values: the cubic level sets of a 2 x 2 statistic,
:math:`(a+b+c+d)(ad-bc)^2 - L(a+b)(b+d)(c+d)(a+c) = 0`, bound the candidate cells, each then
checked with the statistic itself. The method and its references are in
:mod:`cmestudy.published.consistency`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cmestudy.published import paper as published_mod
from cmestudy.schema import GRADES

RATE_STEPS = 10_000  # the rates reading: percentages printed to two decimals


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
