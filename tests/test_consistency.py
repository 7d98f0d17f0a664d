"""Tables consistent with published chi-squares (cmestudy.published.consistency), checked by brute force.

The reference is an exhaustive listing: every 2 x 3 table whose rows fit within small
totals, scored with the statistics' formulas, is compared with what the search finds.
"""

import itertools
import json

import numpy as np
import pytest
import yaml

from cmestudy import paths
from cmestudy.published import consistency as C
from cmestudy.published import paper
from cmestudy.published import pinned_search as S
from cmestudy.published import pinned_sets as P

from .conftest import run_cli

# a small "paper": two years, statistics printed to one decimal, row totals small enough to list
PAPER_TABLES = {2021: ([4, 9, 3], [6, 3, 5]), 2022: ([5, 8, 2], [3, 1, 2])}
LIVE = sum(sum(live) for live, _ in PAPER_TABLES.values())  # 31
F2F = sum(sum(f2f) for _, f2f in PAPER_TABLES.values())  # 20
COLS = {"junior": 0, "intermediate": 1, "senior": 2}


def _paper(folder, decimals=1, tables=PAPER_TABLES):
    chis = []
    for year, (live, f2f) in tables.items():
        t = np.array([live, f2f], float)
        value = round(float(C.x2_2xk(t[0], t[1])), decimals)
        chis.append({"id": f"all_{year}", "year": year, "titles": list(COLS), "value": value, "decimals": decimals})
        for other in ("junior", "senior"):
            j = COLS[other]
            v = round(float(C.x2_2x2(t[0, j], t[0, 1], t[1, j], t[1, 1])), decimals)
            chis.append({"id": f"{other}_{year}", "year": year, "titles": [other, "intermediate"], "value": v,
                         "decimals": decimals})  # fmt: skip
    doc = {
        "citation": "A synthetic paper",
        "years": sorted(tables),
        "totals": [
            {"id": "live", "mode": "live", "value": sum(sum(v[0]) for v in tables.values()), "decimals": 0},
            {"id": "f2f", "mode": "face_to_face", "value": sum(sum(v[1]) for v in tables.values()), "decimals": 0},
        ],
        "chisquare": chis,
        "claims": [
            {"id": "intermediate_largest_live", "text": {"en": "largest"}},
            {"id": "live_learners_increase", "text": {"en": "rising"}},
            {"id": "live_projects_increase", "text": {"en": "projects"}},
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "published.yml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return folder


def _brute(fig, live_max, f2f_max, reading="pearson"):
    """Every table with rows within the bounds whose statistics round to the figures."""
    rows_l = np.array([r for r in itertools.product(range(live_max + 1), repeat=3) if sum(r) <= live_max])
    rows_f = np.array([r for r in itertools.product(range(f2f_max + 1), repeat=3) if sum(r) <= f2f_max])
    i, j = (g.ravel() for g in np.meshgrid(np.arange(len(rows_l)), np.arange(len(rows_f)), indexing="ij"))
    found = set()
    for s in range(0, len(i), 1_000_000):
        live, f2f = rows_l[i[s : s + 1_000_000]], rows_f[j[s : s + 1_000_000]]
        ok = S._inside(C.x2_2xk(live, f2f), fig.overall)
        for other, window in fig.pairs.items():
            k = COLS[other]
            ok &= S._inside(C.x2_2x2(live[:, k], live[:, 1], f2f[:, k], f2f[:, 1], reading), window)
        found |= {tuple(r) for r in np.concatenate([live[ok], f2f[ok]], axis=1).tolist()}
    return found


def _as_set(tables):
    return {tuple(r) for r in np.asarray(tables).reshape(-1, 6).tolist()}


@pytest.mark.parametrize("reading", ["pearson", "yates"])
def test_the_pair_search_finds_exactly_the_tables_a_full_scan_finds(reading):
    rng = np.random.default_rng(7)
    for _ in range(60):
        a_max, c_max = int(rng.integers(1, 200)), int(rng.integers(1, 150))
        b, d = int(rng.integers(0, 150)), int(rng.integers(0, 100))
        window = S._window(float(rng.choice([0.5, 3.84, 6.49, 16.764])), int(rng.integers(1, 4)))
        a, c = np.meshgrid(np.arange(a_max + 1), np.arange(c_max + 1), indexing="ij")
        hit = S._inside(C.x2_2x2(a, b, c, d, reading), window)
        expected = set(zip(a[hit].tolist(), c[hit].tolist()))
        got = set(zip(*(v.tolist() for v in C.pair_hits(b, d, window, a_max, c_max, reading))))
        assert got == expected, (b, d, window, a_max, c_max)


@pytest.mark.slow  # an exhaustive comparison with brute force (about 50 s): make test-slow
def test_on_a_small_paper_the_command_finds_exactly_the_consistent_tables(tmp_path):
    raw = _paper(tmp_path / "paper")
    out = tmp_path / "consistency.json"
    proc = run_cli("consistency", "--raw", raw, "--out", out, "--seconds", "5", timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    figs = C.year_figures(paper.load(raw))
    pearson = result["readings"]["pearson"]
    brute = {}
    for fig in figs:
        brute[fig.year] = _brute(fig, LIVE, F2F)
        y = pearson["years"][str(fig.year)]
        n = len(brute[fig.year])
        assert (y["count"]["estimate"], y["count"]["low"], y["count"]["high"], y["count"]["exact"]) == (n, n, n, True)
        assert _as_set(C.year_set(fig, LIVE, F2F).tables) == brute[fig.year]
        assert tuple(PAPER_TABLES[fig.year][0] + PAPER_TABLES[fig.year][1]) in brute[fig.year]
    # joined: pairs of yearly tables whose rows add up to the published totals
    pairs = [
        (t1, t2)
        for t1 in brute[2021]
        for t2 in brute[2022]
        if sum(t1[:3]) + sum(t2[:3]) == LIVE and sum(t1[3:]) + sum(t2[3:]) == F2F
    ]
    assert len(pairs) >= 1
    assert pearson["joined"]["estimate"] == len(pairs) and pearson["joined"]["exact"]
    assert result["readings"]["pearson"]["verdict"] == "consistent"
    # a statement's share is the share of joined pairs in which it holds
    largest = sum(all(t[1] > t[0] and t[1] > t[2] for t in pair) for pair in pairs) / len(pairs)
    rising = sum(sum(t1[:3]) < sum(t2[:3]) for t1, t2 in pairs) / len(pairs)
    claims = pearson["claims"]
    assert claims["intermediate_largest_live"]["share"] == pytest.approx(largest)
    assert claims["live_learners_increase"]["share"] == pytest.approx(rising)
    assert claims["live_projects_increase"]["verdict"] == "not_about_tables"


@pytest.mark.slow  # an exhaustive comparison with brute force (about 50 s): make test-slow
def test_readings_that_cannot_reproduce_the_figures_are_reported_inconsistent(tmp_path):
    raw = _paper(tmp_path / "paper")
    result = C.analyse(raw, seconds=5)
    figs = C.year_figures(paper.load(raw))
    yates = {fig.year: _brute(fig, LIVE, F2F, "yates") for fig in figs}
    verdict = result["readings"]["yates"]["verdict"]
    assert verdict == ("inconsistent" if not all(yates.values()) else verdict)
    for fig in figs:
        assert result["readings"]["yates"]["years"][str(fig.year)]["found"] == len(yates[fig.year])
    # goodness of fit of the live titles: (x - p)^2 / (x + p) of the 2021 pairs needs more learners than 31
    gof = {
        fig.year: [
            r for r in itertools.product(range(LIVE + 1), repeat=3) if sum(r) <= LIVE and C.is_consistent([r, (0, 0, 0)], fig, "goodness_of_fit")
        ]
        for fig in figs
    }  # fmt: skip
    for fig in figs:
        assert result["readings"]["goodness_of_fit"]["years"][str(fig.year)]["found"] == len(gof[fig.year])
    assert (
        result["readings"]["goodness_of_fit"]["verdict"]
        == "inconsistent"
        == ("inconsistent" if not all(gof.values()) else "?")
    )
    assert result["readings"]["pearson"]["verdict"] == "consistent"


@pytest.mark.slow
def test_goodness_of_fit_search_matches_a_full_scan_where_it_finds_tables():
    # figures computed from one row of live titles, read as goodness of fit: the search finds it and all others
    live = (30, 52, 41)
    fig = C.YearFigures(
        2021,
        list(COLS),
        S._window(round(float(C.goodness_of_fit(np.array(live))), 2), 2),
        {o: S._window(round(float(C.goodness_of_fit(np.array([live[COLS[o]], live[1]]))), 2), 2) for o in ("junior", "senior")},
        "intermediate",
    )  # fmt: skip
    found = _as_set(C.year_set(fig, 130, 0, "goodness_of_fit").tables)
    brute = {
        (*r, 0, 0, 0)
        for r in itertools.product(range(131), repeat=3)
        if sum(r) <= 130 and C.is_consistent([r, (0, 0, 0)], fig, "goodness_of_fit")
    }
    assert live + (0, 0, 0) in brute and found == brute


@pytest.mark.slow
@pytest.mark.parametrize("focus", [None, (10, 6)])
def test_sampling_estimates_the_count_of_a_set_it_could_list(tmp_path, focus):
    """Forced to sample 300 columns (uniformly, or half of them in a focus box), the
    Hansen-Hurwitz interval covers the exact count about 95% of the time."""
    raw = _paper(tmp_path / "paper")
    fig = C.year_figures(paper.load(raw))[1]
    exact = len(C.year_set(fig, LIVE, F2F).tables)
    covered, estimates = 0, []
    for seed in range(20):
        est = C.year_set(fig, LIVE, F2F, seconds=0.0, seed=seed, exact_columns=0, min_columns=300, focus=focus)
        assert not est.exact and est.drawn == 300
        if focus is None:
            assert np.allclose(est.table_weights, est.columns / 300)
        n, lo, hi = est.count()
        covered += lo <= exact <= hi
        estimates.append(n)
    assert covered >= 15  # 19 of 20 expected
    assert abs(np.mean(estimates) - exact) < 0.15 * exact  # unbiased: the mean of 20 estimates is close


@pytest.mark.slow
def test_the_default_reconstruction_is_among_the_consistent_tables():
    from cmestudy.published import reconstruct

    figs = C.year_figures(paper.load(paths.RAW_DIR))
    for fig, sol in zip(figs, reconstruct.solve(paths.RAW_DIR)):
        assert fig.year == sol.year and C.is_consistent([sol.live, sol.face_to_face], fig)
        bumped = [list(sol.live), list(sol.face_to_face)]
        bumped[0][1] += 1  # one more intermediate live learner breaks a printed third decimal
        assert not C.is_consistent(bumped, fig)


def test_the_shipped_analysis_is_for_the_published_figures_beside_it():
    result, state = C.cached(paths.RAW_DIR)
    assert state == "ok", "run `make consistency` after changing data/raw/published.yml"
    p = result["readings"]["pearson"]
    assert set(p["years"]) == {"2021", "2022", "2023"} and p["verdict"] == "consistent"
    for year in p["years"].values():
        assert year["found"] > 0 and year["count"]["low"] <= year["count"]["estimate"] <= year["count"]["high"]
    # every kept table reproduces its year's figures
    figs = {str(f.year): f for f in C.year_figures(paper.load(paths.RAW_DIR))}
    for year, sample in p["sample"].items():
        tables = np.asarray(sample["tables"]).reshape(-1, 2, 3)
        assert len(tables) and all(C.is_consistent(t, figs[year]) for t in tables[:200])


def test_the_command_names_a_missing_published_file(tmp_path):
    proc = run_cli("consistency", "--raw", tmp_path, "--out", tmp_path / "x.json")
    assert proc.returncode == 2 and "published.yml is missing" in proc.stderr and "Traceback" not in proc.stderr


def test_the_rates_reading_finds_every_table_of_percentages_a_full_scan_finds():
    """Statistics computed on percentages (integer percentages here, to keep the scan small)."""
    live = np.array([40, 55, 30])  # each title's % of learners in live projects
    pct = np.array([live, 100 - live], float)

    def window(v):
        return S._window(round(float(v), 2), 2)

    fig = C.YearFigures(
        2021,
        list(COLS),
        window(C.x2_2xk(pct[0], pct[1])),
        {o: window(C.x2_2x2(pct[0, COLS[o]], pct[0, 1], pct[1, COLS[o]], pct[1, 1])) for o in ("junior", "senior")},
        "intermediate",
    )
    found = _as_set(P._rate_tables(fig, steps=100))
    g = np.array(list(itertools.product(range(101), repeat=3)), float)
    ok = S._inside(C.x2_2xk(g, 100 - g), fig.overall)
    for o, w in fig.pairs.items():
        ok &= S._inside(C.x2_2x2(g[:, COLS[o]], g[:, 1], 100 - g[:, COLS[o]], 100 - g[:, 1]), w)
    brute = {(*r, *(100 - np.array(r))) for r in g[ok].astype(int).tolist()}
    assert (40, 55, 30, 60, 45, 70) in brute and found == brute
