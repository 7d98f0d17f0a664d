"""The reconstructed default data set: raw records that reproduce the published figures.

The study's participant records are not public. This module rebuilds a data set in the
documented raw format whose aggregates reproduce every published figure
(``published.yml``), under stated assumptions (``reconstruction.yml``), in three steps:

1. **Solve the learner counts.** For each year, the 2 x 3 table of learners, delivery
   mode (live, face-to-face) x title grade (junior, intermediate, senior), has 6 cells
   and 2 fixed row totals (assumed learners per mode and year, summing to the published
   40,366 live and 7,330 face-to-face). Three published Pearson chi-squares constrain
   it: the 2 x 3 table and its junior-vs-intermediate and senior-vs-intermediate 2 x 2
   sub-tables. A continuous solution nearest the assumed title shares is found by
   SLSQP; then every integer table within +-``radius`` of it is scored at once and
   those whose three statistics round to the published three decimals are kept
   (|X^2 - published| < 0.0005), also requiring intermediate to be the largest live
   group and the title with the highest live share. The nearest of those wins (ties
   broken by cell values), so the solution is unique and deterministic.
2. **Lay out projects.** Projects per year, level and mode, disciplines (with live
   delivery reaching ``live_disciplines[year]`` disciplines), sizes weighted by level, start
   dates by the seasonal pattern ``project_months`` (fewer projects around the Spring
   Festival and in high summer).
3. **Generate enrolments.** Each project draws its own mix of title grades around its
   discipline's mix (Dirichlet, ``title_mix`` in the assumptions), so that learners are
   clustered in projects as in real exports. Each (year, mode, grade) count is split over
   that year's projects of that mode by a seeded multinomial draw with probabilities
   proportional to the project's size times its share of the grade (so the yearly tables,
   and every published figure, stay as solved); each learner gets a specific
   professional title of the grade (e.g. 主治医师 for intermediate) and a pseudonymous
   learner id from a seeded pool, so some learners attend several projects.

The random generator is ``numpy.random.Generator(PCG64(seed))`` and the CSV writer fixes
formatting and line endings, so regenerating gives byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

from cmestudy.analysis.crosstab import pearson_chi2
from cmestudy.fileio import read_yaml, write_bytes
from cmestudy.published import paper as published_mod
from cmestudy.schema import GRADES, LEVELS, MODES

ASSUMPTIONS_FILE = "reconstruction.yml"
PROJECTS_FILE = "projects.csv"
ENROLMENTS_FILE = "enrolments.csv"
TOLERANCE = 0.0005  # |X^2 - published| below this rounds to the published 3 decimals
PAIR_COLUMNS = {("junior", "intermediate"): [0, 1], ("senior", "intermediate"): [2, 1]}


@dataclass
class YearSolution:
    year: int
    live: tuple[int, int, int]
    face_to_face: tuple[int, int, int]
    statistics: dict[str, float]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([self.live, self.face_to_face], index=list(MODES), columns=list(GRADES))


def _targets(pub, year: int) -> np.ndarray:
    out = {}
    for c in pub.chisquare:
        if int(c["year"]) == year:
            out[tuple(c["titles"])] = float(c["value"])
    need = [("junior", "intermediate", "senior"), *PAIR_COLUMNS]
    if set(out) != set(need):
        raise ValueError(
            f"published.yml must give, for {year}, the chi-square of the 2 x 3 table and of "
            f"{sorted(PAIR_COLUMNS)}; found {sorted(out)}"
        )
    return np.array([out[k] for k in need])


def _stats_of(live: np.ndarray, f2f: np.ndarray) -> np.ndarray:
    """Three statistics for stacks of tables: 2 x 3, junior/intermediate, senior/intermediate."""
    tab = np.stack([live, f2f], axis=-2)  # (..., 2, 3)
    return np.stack([pearson_chi2(tab)] + [pearson_chi2(tab[..., cols]) for cols in PAIR_COLUMNS.values()], axis=-1)


def continuous_solution(goal: np.ndarray, n_live: float, n_f2f: float, prior: dict) -> tuple[np.ndarray, np.ndarray]:
    """Real-valued cells with the given row totals reproducing ``goal``, nearest the prior shares (SLSQP)."""
    p0 = np.array([prior["live"][g] for g in GRADES], float)
    q0 = np.array([prior["face_to_face"][g] for g in GRADES], float)
    x0 = np.array([p0[0] / p0.sum(), p0[2] / p0.sum(), q0[0] / q0.sum(), q0[2] / q0.sum()])

    def cells(x):
        return (np.array([x[0], 1 - x[0] - x[1], x[1]]) * n_live, np.array([x[2], 1 - x[2] - x[3], x[3]]) * n_f2f)

    res = optimize.minimize(
        lambda x: float(np.sum((x - x0) ** 2)),
        x0,
        method="SLSQP",
        constraints=[{"type": "eq", "fun": lambda x: _stats_of(*cells(x)) - goal}],
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    if (
        not res.success
        or np.any(res.x <= 0)
        or res.x[0] + res.x[1] >= 1
        or res.x[2] + res.x[3] >= 1
        or np.max(np.abs(_stats_of(*cells(res.x)) - goal)) > 1e-6
    ):
        raise RuntimeError(f"no real-valued table reproduces the statistics {goal.tolist()} ({res.message})")
    return cells(res.x)


def _chi2_2x2(a, b, c, d):
    """X^2 = N (ad - bc)^2 / ((a+b)(c+d)(a+c)(b+d)) for the table [[a, b], [c, d]]."""
    return (a + b + c + d) * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))


def _solve_c(a, b, d, target, start, iterations: int = 10):
    """Solve X^2([[a, b], [c, d]]) = target for c by Newton's method on the cubic

    (a+b+c+d)(ad-bc)^2 - target (a+b)(b+d)(c+d)(a+c) = 0,

    started at ``start`` on the branch c > ad/b (column b has the higher share in row 1).
    """
    s, k = a + b + d, target * (a + b) * (b + d)
    k3, k2 = b * b, s * b * b - 2 * a * b * d - k
    k1, k0 = a * a * d * d - 2 * a * b * d * s - k * (a + d), s * a * a * d * d - k * a * d
    c = start
    for _ in range(iterations):
        c = c - (((k3 * c + k2) * c + k1) * c + k0) / ((3 * k3 * c + 2 * k2) * c + k1)
    return c


def _pair_hits(others: np.ndarray, li: np.ndarray, fi: np.ndarray, target: float, ratio: float):
    """Integer (other_live, other_f2f) with X^2 of [[other_live, li], [other_f2f, fi]] within 0.0005 of target.

    Returns (index into li/fi, other_live, other_f2f) for every hit.
    """
    a = others[None, :].astype(float)
    b, d = li[:, None].astype(float), fi[:, None].astype(float)
    with np.errstate(all="ignore"):
        c = _solve_c(a, b, d, target, a * ratio)
        found = []
        for cand in (np.floor(c), np.ceil(c)):
            good = np.isfinite(cand) & (cand > 0)
            cand = np.where(good, cand, 1.0)
            hit = good & (np.abs(_chi2_2x2(a, b, cand, d) - target) < TOLERANCE) & (cand * b > a * d)
            i, j = np.nonzero(hit)
            found.append((i, others[j], cand[i, j].astype(np.int64)))
    return tuple(np.concatenate(parts) for parts in zip(*found))


def year_candidates(
    goal: np.ndarray, live_c: np.ndarray, f2f_c: np.ndarray, radius: tuple[int, int, int] = (150, 60, 200)
) -> np.ndarray:
    """All integer 2 x 3 tables near the real solution whose three statistics match ``goal``.

    Row totals are free. The intermediate column (li, fi) runs over a grid of
    +-radius[0] x +-radius[1]; for each, the junior (and senior) live count runs over
    +-radius[2] and the face-to-face count solving the pairwise statistic is found by
    :func:`_solve_c`; junior and senior hits of the same intermediate column are paired
    and kept when the 2 x 3 statistic matches too. Returns an array (K, 2, 3), sorted.
    """
    r_li, r_fi, r_other = radius
    li = np.arange(round(live_c[1]) - r_li, round(live_c[1]) + r_li + 1)
    fi = np.arange(round(f2f_c[1]) - r_fi, round(f2f_c[1]) + r_fi + 1)
    LI, FI = (x.ravel() for x in np.meshgrid(li, fi, indexing="ij"))
    junior = np.arange(round(live_c[0]) - r_other, round(live_c[0]) + r_other + 1)
    senior = np.arange(round(live_c[2]) - r_other, round(live_c[2]) + r_other + 1)
    found = []
    for s in range(0, len(LI), 2000):
        L, F = LI[s : s + 2000], FI[s : s + 2000]
        i1, lj, fj = _pair_hits(junior, L, F, goal[1], f2f_c[0] / live_c[0])
        i2, ls, fs = _pair_hits(senior, L, F, goal[2], f2f_c[2] / live_c[2])
        if not len(i1) or not len(i2):
            continue
        # pair every junior hit with every senior hit of the same intermediate column
        o2 = np.argsort(i2, kind="stable")
        i2, ls, fs = i2[o2], ls[o2], fs[o2]
        lo, hi = np.searchsorted(i2, i1, "left"), np.searchsorted(i2, i1, "right")
        rep = hi - lo
        j1 = np.repeat(np.arange(len(i1)), rep)
        j2 = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)]) if rep.sum() else np.array([], int)
        if not len(j1):
            continue
        k = i1[j1]
        live = np.stack([lj[j1], L[k], ls[j2]], axis=-1).astype(float)
        f2f = np.stack([fj[j1], F[k], fs[j2]], axis=-1).astype(float)
        ok = np.abs(pearson_chi2(np.stack([live, f2f], axis=-2)) - goal[0]) < TOLERANCE
        ok &= (live[:, 1] > live[:, 0]) & (live[:, 1] > live[:, 2])
        found.append(np.stack([live[ok], f2f[ok]], axis=-2).astype(np.int64))
    if not found:
        return np.zeros((0, 2, 3), dtype=np.int64)
    out = np.concatenate(found)
    out = out[np.lexsort(out.reshape(len(out), -1).T[::-1])]
    return out


def choose(
    candidates: dict[int, np.ndarray], totals: dict[str, int], assumed: dict[str, dict[int, int]]
) -> dict[int, np.ndarray]:
    """One table per year with live and face-to-face totals summing to the published ones.

    Meet in the middle: every combination of earlier-year tables is formed at once and
    the row totals the last year then needs are looked up among its tables. Among the
    combinations with live learners rising year on year, the one nearest the assumed
    yearly totals (sum of squared relative deviations) wins; ties go to the
    lexicographically first choice of candidate indices.
    """
    years = sorted(candidates)
    rows = {y: candidates[y].sum(axis=2) for y in years}  # (K, 2): live, f2f totals per table
    earlier, last = years[:-1], years[-1]
    grids = np.meshgrid(*(np.arange(len(rows[y])) for y in earlier), indexing="ij")
    picks = {y: g.ravel() for y, g in zip(earlier, grids)}
    acc = sum(rows[y][picks[y]] for y in earlier)
    need = np.array([totals["live"], totals["face_to_face"]]) - acc
    scale = int(max(rows[last][:, 1].max(), need[:, 1].max(), 0)) + 1
    last_keys = rows[last][:, 0] * scale + rows[last][:, 1]
    order = np.argsort(last_keys, kind="stable")
    sorted_keys = last_keys[order]
    need_keys = np.where((need >= 0).all(axis=1), need[:, 0] * scale + need[:, 1], -1)
    lo = np.searchsorted(sorted_keys, need_keys, "left")
    hi = np.searchsorted(sorted_keys, need_keys, "right")
    combo = np.repeat(np.arange(len(need_keys)), hi - lo)
    if not len(combo):
        raise RuntimeError("no combination of yearly tables sums to the published totals; widen search_radius")
    j = order[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi) if b > a])]
    chosen = {y: picks[y][combo] for y in earlier} | {last: j}
    live = np.stack([rows[y][chosen[y], 0] for y in years], axis=1)
    ok = np.all(np.diff(live, axis=1) > 0, axis=1)
    if not ok.any():
        raise RuntimeError("no combination sums to the published totals with live learners rising year on year")
    dev = sum(
        ((rows[y][chosen[y], m] - assumed[mode][y]) / assumed[mode][y]) ** 2
        for y in years
        for m, mode in enumerate(MODES)
    )
    keys = [np.round(dev, 12)] + [chosen[y] for y in years]
    valid = np.flatnonzero(ok)
    best = valid[np.lexsort([k[valid] for k in keys[::-1]])[0]]
    return {y: candidates[y][chosen[y][best]] for y in years}


def solve(raw_dir) -> list[YearSolution]:
    """Solve the learner tables of every published year (see the module docstring)."""
    pub = published_mod.load(raw_dir)
    if pub is None:
        raise FileNotFoundError(f"{Path(raw_dir) / published_mod.FILE_NAME} is missing")
    a = load_assumptions(raw_dir)
    totals = {t["mode"]: int(t["value"]) for t in pub.totals}
    assumed = {m: {y: int(a["learners"][m][y]) for y in pub.years} for m in MODES}
    for mode in MODES:
        if sum(assumed[mode].values()) != totals[mode]:
            raise ValueError(
                f"reconstruction.yml: learners.{mode} sums to {sum(assumed[mode].values()):,} over "
                f"{pub.years}, but the published total is {totals[mode]:,}"
            )
    radius = tuple(a.get("search_radius", (150, 60, 200)))
    cands = {}
    for y in pub.years:
        goal = _targets(pub, y)
        live_c, f2f_c = continuous_solution(
            goal, assumed["live"][y], assumed["face_to_face"][y], a["title_share_prior"]
        )
        cands[y] = year_candidates(goal, live_c, f2f_c, radius)
        if not len(cands[y]):
            raise RuntimeError(f"{y}: no integer table near the real solution reproduces the published statistics")
    picked = choose(cands, totals, assumed)
    out = []
    for y in pub.years:
        t = picked[y]
        st = _stats_of(t[0].astype(float), t[1].astype(float))
        out.append(
            YearSolution(
                y,
                tuple(int(v) for v in t[0]),
                tuple(int(v) for v in t[1]),
                dict(
                    zip(
                        ["junior/intermediate/senior", "junior/intermediate", "senior/intermediate"],
                        (float(v) for v in st),
                    )
                ),
            )
        )
    return out


def load_assumptions(raw_dir) -> dict:
    path = Path(raw_dir) / ASSUMPTIONS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the reconstruction needs its assumptions")
    return read_yaml(path.read_text(encoding="utf-8"))


def _project_register(a: dict, years: list[int], rng: np.random.Generator) -> pd.DataFrame:
    disciplines = list(a["disciplines"])
    weights = a.get("project_months") or {m: 1.0 for m in range(1, 13)}
    months = np.array([float(weights[m]) for m in range(1, 13)])
    months /= months.sum()
    rows = []
    for year in years:
        k_live = int(a["live_disciplines"][year])
        for mode in MODES:
            counts = a["projects"][mode][year]
            n = sum(int(counts[lv]) for lv in LEVELS)
            if mode == "live":
                if n < k_live:
                    raise ValueError(f"{year}: {n} live projects cannot cover {k_live} disciplines")
                pool = disciplines[:k_live]
                disc = pool + list(rng.choice(pool, size=n - k_live))
            else:
                disc = list(rng.choice(disciplines, size=n))
            disc = list(rng.permutation(np.array(disc, dtype=object)))
            i = 0
            for lv in LEVELS:
                for seq in range(1, int(counts[lv]) + 1):
                    code = f"{year}-{'L' if mode == 'live' else 'F'}{lv[0].upper()}{seq:02d}"
                    month = int(rng.choice(12, p=months)) + 1
                    day = int(rng.integers(1, 29))
                    kind = "Live course" if mode == "live" else "Workshop"
                    rows.append(
                        {
                            "project_id": code,
                            "year": year,
                            "level": lv,
                            "mode": "live broadcast" if mode == "live" else "face-to-face",
                            "discipline": disc[i],
                            "title": f"{kind} in {disc[i].lower()}: update {year} ({lv} {seq})",
                            "credits": int(a["credits"][lv]),
                            "start_date": f"{year}-{month:02d}-{day:02d}",
                            "hours": int(a["hours"][lv]),
                            "_mode": mode,
                        }
                    )
                    i += 1
    return pd.DataFrame(rows)


def title_mixes(a: dict, register: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Each project's own mix of title grades (rows: projects of the register; columns: GRADES).

    A project's mix is drawn from a Dirichlet distribution whose mean is its discipline's mix
    (``title_mix.disciplines``, or ``title_mix.default``) and whose concentration is
    ``title_mix.concentration``: the smaller it is, the more projects of one discipline differ.
    Without ``title_mix`` every project has the same mix (no clustering of titles).
    """
    spec = a.get("title_mix")
    if not spec:  # no clustering assumed: every project the same mix, titles split by size alone
        return np.ones((len(register), len(GRADES)))
    kappa = float(spec["concentration"])
    by_discipline = spec.get("disciplines") or {}
    out = np.empty((len(register), len(GRADES)))
    for i, disc in enumerate(register["discipline"]):
        mean = by_discipline.get(disc, spec["default"])
        m = np.array([float(mean[g]) for g in GRADES])
        out[i] = rng.dirichlet(kappa * m / m.sum())
    return out


def _enrolments(
    a: dict, register: pd.DataFrame, solutions: list[YearSolution], rng: np.random.Generator
) -> pd.DataFrame:
    size = register["level"].map(a["size_by_level"]).astype(float).to_numpy()
    weights = size * rng.gamma(6.0, 1.0, size=len(register))
    mix = title_mixes(a, register, rng)
    parts = []
    for sol in solutions:
        for mode, row in (("live", sol.live), ("face_to_face", sol.face_to_face)):
            mask = ((register["year"] == sol.year) & (register["_mode"] == mode)).to_numpy()
            ids = register.loc[mask, "project_id"].to_numpy()
            for g, (grade, total) in enumerate(zip(GRADES, row)):
                w = weights[mask] * mix[mask, g]
                per_project = rng.multinomial(total, w / w.sum())
                titles = a["titles"][grade]
                names = list(titles)
                probs = np.array([titles[t] for t in names], float)
                probs /= probs.sum()
                for pid, k in zip(ids, per_project):
                    if k:
                        parts.append(
                            pd.DataFrame(
                                {
                                    "project_id": pid,
                                    "grade": grade,
                                    "professional_title": rng.choice(names, size=k, p=probs),
                                }
                            )
                        )
    e = pd.concat(parts, ignore_index=True)
    # Learner ids: each specific title has a pool about 60% the size of its enrolments,
    # and a project draws its learners of that title from the pool without replacement.
    e["learner_id"] = ""
    next_id = 1
    for _title, idx in sorted(e.groupby("professional_title").groups.items()):
        sub = e.loc[idx]
        need = sub.groupby("project_id").size()
        pool_size = max(int(need.max()), int(round(0.6 * len(sub))))
        pool = np.array([f"TJ{n:06d}" for n in range(next_id, next_id + pool_size)], dtype=object)
        next_id += pool_size
        for _pid, rows in sorted(sub.groupby("project_id").groups.items()):
            e.loc[rows, "learner_id"] = rng.choice(pool, size=len(rows), replace=False)
    return e.sort_values(["project_id", "learner_id"], kind="stable")[
        ["project_id", "learner_id", "professional_title"]
    ]


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def generate(raw_dir) -> dict[str, bytes]:
    """Build the reconstructed raw files (name -> bytes) from the assumptions and published figures."""
    a = load_assumptions(raw_dir)
    solutions = solve(raw_dir)
    years = [s.year for s in solutions]
    rng = np.random.Generator(np.random.PCG64(int(a["seed"])))
    register = _project_register(a, years, rng)
    enrol = _enrolments(a, register, solutions, rng)
    projects = register.drop(columns="_mode")
    return {PROJECTS_FILE: _csv_bytes(projects), ENROLMENTS_FILE: _csv_bytes(enrol)}


def write(raw_dir) -> dict[str, Path]:
    """Regenerate the reconstructed files in ``raw_dir`` (atomically); returns their paths."""
    out = {}
    for name, data in generate(raw_dir).items():
        out[name] = write_bytes(Path(raw_dir) / name, data)
    return out


__all__ = ["solve", "generate", "write", "YearSolution", "year_candidates", "choose"]
