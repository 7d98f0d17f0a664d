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
from pathlib import Path

import numpy as np

from cmestudy import paths
from cmestudy.fileio import write_bytes
from cmestudy.published import paper as published_mod
from cmestudy.published.pinned_search import (  # noqa: F401  (the search's names, as consistency's)
    RATE_STEPS,
    YearFigures,
    goodness_of_fit,
    is_consistent,
    pair_hits,
    x2_2x2,
    x2_2xk,
    year_figures,
)
from cmestudy.published.pinned_sets import (  # noqa: F401
    EXACT_COLUMNS,
    Grid,
    YearSet,
    _density_at,
    _normal_interval,
    _percentile_interval,
    _rows,
    derived,
    join,
    summary,
    weighted_quantiles,
    year_set,
)
from cmestudy.schema import GRADES

CACHE_FILE = paths.CONSISTENCY_FILE
READINGS = ("pearson", "yates", "goodness_of_fit", "rates")


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
    from cmestudy.analysis import describe
    from cmestudy.schema import MODES

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
