"""Fisher's exact test for r x c tables (Freeman-Halton), exactly, and by Monte Carlo where it cannot be.

The two-sided p-value is the probability, under independence with the table's margins fixed,
of every table at most as probable as the observed one:

.. math:: p = \\sum_{T:\\, P(T) \\le P(T_{obs})(1 + 10^{-7})} P(T), \\qquad
          P(T) = \\frac{\\prod_i R_i! \\prod_j C_j!}{N! \\prod_{ij} n_{ij}!}

(the relative tolerance is R's ``fisher.test``'s, so that ties in floating point count as
ties). :func:`fisher_exact_rxc` computes it by the network algorithm of Mehta & Patel (1983):
the table is built column by column; a node is the multiset of the row sums still to fill, and
the partial tables reaching it are merged when their probabilities are equal. At each node two
bounds on the completions decide whether all of them count (their total probability has a closed
form), none does, or the node is expanded; the last two columns are never expanded: the
completions of a node are sorted once, and each partial table finds its share by binary search.
The kernel is compiled by Numba.

Tables whose work would exceed :data:`WORK_LIMIT` node expansions are left to
:func:`fisher_monte_carlo`: tables drawn with the observed margins (Patefield 1981, through
``scipy.stats.random_table``), the p-value estimated as the share at most as probable as the
observed one, with a 99% confidence interval ``p ± 2.576 sqrt(p(1 - p)/B)``, as SPSS Exact Tests'
``/METHOD=MC CIN(99)`` reports it.

References
----------
Mehta CR, Patel NR (1983). A network algorithm for performing Fisher's exact test in r x c
contingency tables. JASA 78(382):427-434.
Mehta CR, Patel NR (1986). Algorithm 643: FEXACT. ACM TOMS 12(2):154-161.
Patefield WM (1981). Algorithm AS 159: an efficient method of generating random r x c tables
with given row and column totals. Applied Statistics 30(1):91-97.
IBM SPSS Exact Tests (2019), chapter 1, "Monte Carlo estimates of p values".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cmestudy import defaults

#: Relative tolerance for "at most as probable" (as R's fisher.test).
RELERR = 1e-7
#: Node expansions (partial table x allocation of a column) beyond which the exact test gives way
#: to Monte Carlo, whatever the time: a bound for tests; runs are bounded by time
#: (:data:`cmestudy.defaults.EXACT_SECONDS`, as SPSS Exact Tests' ``TIMER``).
WORK_LIMIT = 10**15
#: Weight of the 2 x c partial rows left out, relative to the observed table's probability (hence
#: to the p-value, which is at least that): they are too improbable to change p beyond 1e-10.
DROPPED = 1e-10
#: Completions of the last two columns held in memory (a quarter as many partial tables), beyond which
#: the exact test gives way to Monte Carlo: at most about 1 GB for each of the two runs.
MAX_ENTRIES = 32_000_000
#: Tables drawn by the Monte Carlo estimate, and the level of its interval.
MC_SAMPLES = 100_000
MC_CONFIDENCE = 0.99


@dataclass(frozen=True)
class FisherResult:
    """A Fisher-Freeman-Halton p-value and how it was obtained."""

    pvalue: float
    method: str  # "exact" or "monte_carlo"
    ci_low: float | None = None  # Monte Carlo only: the interval at MC_CONFIDENCE
    ci_high: float | None = None
    samples: int | None = None
    seed: int | None = None


def _log_factorials(n: int) -> np.ndarray:
    from scipy.special import gammaln

    return gammaln(np.arange(n + 2) + 1.0)


def _two_row(t: np.ndarray, lf: np.ndarray, thresh: float, limit: int) -> float | None:
    """The 2 x c case (see :func:`cmestudy.analysis.exact_kernels.two_row`); rows are the table's shorter side."""
    from cmestudy.analysis import exact_kernels

    if t.shape[0] != 2:
        t = t.T
    cols = np.sort(t.sum(axis=0)).astype(np.int64)  # the two largest last: their cells are summed as tails
    n = int(cols.sum())
    r0 = int(min(t[0].sum(), t[1].sum()))
    const = float(lf[cols].sum() + lf[r0] + lf[n - r0] - lf[n])
    partial = float(np.prod(np.minimum(cols[:-2], r0) + 1.0)) * max(1, len(cols) - 2)
    # drop partial rows whose completions weigh less than 1e-10 P(observed) / (number of partial rows)
    log_tiny = const - thresh + math.log(DROPPED) - math.log(partial)
    p, dropped = exact_kernels.two_row(cols, r0, lf, thresh, const, log_tiny, int(limit))
    if p < 0:
        return None
    assert dropped <= DROPPED * math.exp(const - thresh) * 1.01, "dropped weight above its bound"
    return min(1.0, p)


def _network(t: np.ndarray, lf: np.ndarray, thresh: float, limit: int, seconds: float) -> float | None:
    """The network algorithm on the table and its transpose side by side (see :func:`fisher_exact_rxc`)."""
    import threading
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from cmestudy.analysis import exact_kernels

    n = int(t.sum())
    stop = np.zeros(1, np.int64)

    def run(tt):
        rows = np.sort(tt.sum(axis=1))[::-1].astype(np.int64)
        cols = np.sort(tt.sum(axis=0)).astype(np.int64)
        const = float(lf[rows].sum() + lf[cols].sum() - lf[n])
        return exact_kernels.network(rows, cols, lf, thresh, const, int(limit), MAX_ENTRIES, stop)

    timer = threading.Timer(seconds, lambda: stop.__setitem__(0, 2))
    timer.daemon = True
    timer.start()
    result = -1.0
    try:
        with ThreadPoolExecutor(2, thread_name_prefix="fexact") as pool:
            pending = {pool.submit(run, t), pool.submit(run, t.T.copy())}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    p = f.result()
                    if p >= 0 and result < 0:
                        result = p
                        stop[0] = 1
    finally:
        timer.cancel()
    return None if result < 0 else min(1.0, float(result))


def fisher_exact_rxc(table, seconds: float | None = None, limit: int = WORK_LIMIT) -> float | None:
    """The exact two-sided Fisher-Freeman-Halton p-value of an r x c table, or None when it cannot be had
    within ``seconds`` (default :data:`cmestudy.defaults.EXACT_SECONDS`), ``limit`` node expansions or
    :data:`MAX_ENTRIES` partial tables in memory (see the module docstring).

    Tables with two rows or two columns are summed directly (:func:`cmestudy.analysis.exact_kernels.two_row`).
    Otherwise the network algorithm runs; which margin spans its nodes changes the work several-fold
    and is hard to foresee, so the table and its transpose run side by side (the kernel releases the
    GIL) and the first to finish stops the other.

    >>> job = [[1, 2, 1, 0], [3, 3, 6, 1], [10, 10, 14, 9], [6, 7, 12, 11]]
    >>> round(fisher_exact_rxc(job), 6)   # R: fisher.test(Job)$p.value, ?fisher.test
    0.782685
    """
    t = np.asarray(table, dtype=np.int64)
    if t.ndim != 2 or (t < 0).any():
        raise ValueError(f"a table of counts >= 0 is needed, got {t.tolist()}")
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if min(t.shape, default=0) < 2:
        return 1.0
    lf = _log_factorials(int(t.sum()))
    thresh = float(lf[t].sum()) - math.log1p(RELERR)
    if min(t.shape) == 2:
        return _two_row(t, lf, thresh, limit)
    return _network(t, lf, thresh, limit, defaults.EXACT_SECONDS if seconds is None else seconds)


def fisher_monte_carlo(
    table, samples: int = MC_SAMPLES, seed: int = defaults.SEED, confidence: float = MC_CONFIDENCE
) -> FisherResult:
    """Monte Carlo estimate of the Fisher-Freeman-Halton p-value with its confidence interval."""
    from scipy import stats
    from scipy.special import gammaln

    t = np.asarray(table, dtype=np.int64)
    rows, cols = t.sum(axis=1), t.sum(axis=0)
    lf = gammaln(np.arange(int(t.sum()) + 2) + 1.0)
    s_obs = float(lf[t].sum())
    rng = np.random.default_rng(seed)
    count = 0
    left = samples
    while left:
        batch = min(left, 20_000)
        draws = stats.random_table(rows, cols).rvs(size=batch, random_state=rng)
        count += int((lf[draws].sum(axis=(1, 2)) >= s_obs - math.log1p(RELERR)).sum())
        left -= batch
    p = count / samples
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    half = z * math.sqrt(p * (1 - p) / samples)
    return FisherResult(p, "monte_carlo", max(0.0, p - half), min(1.0, p + half), samples, seed)


def fisher_test(table, seconds: float | None = None, limit: int = WORK_LIMIT) -> FisherResult:
    """Fisher's exact test of an r x c table: exact when it can be had within ``seconds`` (and ``limit``),
    else the Monte Carlo estimate with its 99% interval (:func:`fisher_monte_carlo`)."""
    p = fisher_exact_rxc(table, seconds, limit)
    if p is not None:
        return FisherResult(p, "exact")
    return fisher_monte_carlo(table)
