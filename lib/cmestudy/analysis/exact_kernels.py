"""The compiled kernels of :mod:`cmestudy.analysis.exact` (Numba; imported only when an exact test is run, as
Numba takes about a second to load). See that module for the method and its references.

A node of the network is a multiset of the row sums still to fill, kept sorted (descending) and
encoded as one integer in base ``max(row sum) + 1``. Sums of log n! are "costs": the probability of a
table is ``exp(const - cost)``, so "at most as probable as the observed table" is ``cost >= thresh``.
"""

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def sort_desc(v):
    for i in range(1, len(v)):
        x = v[i]
        j = i - 1
        while j >= 0 and v[j] < x:
            v[j + 1] = v[j]
            j -= 1
        v[j + 1] = x


@njit(cache=True, inline="always")
def encode(v, weights):
    key = 0
    for i in range(len(v)):
        key += v[i] * weights[i]
    return key


@njit(cache=True)
def decode(key, weights, out):
    for i in range(len(weights)):
        out[i] = key // weights[i]
        key = key % weights[i]


@njit(cache=True)
def log_total(state, cols, k, lf):
    """log of the sum, over the completions of a node (row sums ``state``, columns k..), of 1 / prod n!:
    log(T! / (prod R_i! prod C_j!)) with T the cells left."""
    tot = 0
    logw = 0.0
    for i in range(len(state)):
        tot += state[i]
        logw -= lf[state[i]]
    for j in range(k, len(cols)):
        logw -= lf[cols[j]]
    return logw + lf[tot]


@njit(cache=True)
def moves(state, c, lf, weights, final):
    """Every allocation x of column sum c into rows with caps ``state``: the key of the sorted
    remainder and the sum of log x! (plus, with ``final``, that of the remainder: the last column)."""
    r = len(state)
    cap = 1024
    keys = np.empty(cap, np.int64)
    incs = np.empty(cap, np.float64)
    n = 0
    x = np.zeros(r, np.int64)
    rem = np.empty(r, np.int64)
    # odometer over x[0..r-2]; x[r-1] takes what is left
    used = 0
    while True:
        last = c - used
        if 0 <= last <= state[r - 1]:
            x[r - 1] = last
            inc = 0.0
            for i in range(r):
                inc += lf[x[i]]
                rem[i] = state[i] - x[i]
            if final:
                for i in range(r):
                    inc += lf[rem[i]]
                key = 0
            else:
                sort_desc(rem)
                key = encode(rem, weights)
            if n == cap:
                cap *= 2
                keys2 = np.empty(cap, np.int64)
                incs2 = np.empty(cap, np.float64)
                keys2[:n] = keys
                incs2[:n] = incs
                keys, incs = keys2, incs2
            keys[n] = key
            incs[n] = inc
            n += 1
        # advance the odometer
        i = r - 2
        while i >= 0:
            if x[i] < state[i] and used < c:
                x[i] += 1
                used += 1
                break
            used -= x[i]
            x[i] = 0
            i -= 1
        if i < 0:
            break
    return keys[:n], incs[:n]


@njit(cache=True)
def merged(keys, incs):
    """Allocations with the same remainder and the same sum of log x!, as one with its count."""
    n = len(keys)
    order = np.argsort(keys * 0 + np.floor(incs * 1e9 + 0.5).astype(np.int64), kind="mergesort")
    order = order[np.argsort(keys[order], kind="mergesort")]
    ok = np.empty(n, np.int64)
    oi = np.empty(n)
    oc = np.empty(n)
    m = 0
    for t in range(n):
        j = order[t]
        if m > 0 and ok[m - 1] == keys[j] and abs(oi[m - 1] - incs[j]) < 1e-9:
            oc[m - 1] += 1.0
        else:
            ok[m] = keys[j]
            oi[m] = incs[j]
            oc[m] = 1.0
            m += 1
    return ok[:m], oi[:m], oc[:m]


@njit(cache=True, inline="always")
def set_add(table, key):
    """Add key to an open-addressing set (-1 = empty); 1 if it was new."""
    mask = len(table) - 1
    h = (key * np.int64(-7046029254386353131)) & mask
    while table[h] != -1:
        if table[h] == key:
            return 0
        h = (h + 1) & mask
    table[h] = key
    return 1


@njit(cache=True)
def set_grown(table):
    bigger = np.full(2 * len(table), -1, np.int64)
    for key in table:
        if key != -1:
            set_add(bigger, key)
    return bigger


@njit(cache=True)
def bucket(s):
    return np.int64(np.floor(s * 1e8 + 0.5))


@njit(cache=True, nogil=True)
def network(rows, cols, lf, thresh, const, limit, max_entries, stop):
    r = len(rows)
    ncol = len(cols)
    last = ncol - 2  # the level whose nodes are completed by the last two columns
    base = rows.max() + 1
    weights = np.empty(r, np.int64)
    w = 1
    for i in range(r - 1, -1, -1):
        weights[i] = w
        w *= base
    state = np.empty(r, np.int64)
    work = 0
    # 1. the nodes of every level
    node_keys = [np.array([encode(rows, weights)], np.int64)]
    for k in range(last):
        table = np.full(1 << 12, -1, np.int64)
        filled = 0
        for key in node_keys[k]:
            decode(key, weights, state)
            mk, mi = moves(state, cols[k], lf, weights, False)
            work += len(mk)
            if work > limit:
                return -1.0
            if stop[0]:
                return -2.0
            for key2 in mk:
                filled += set_add(table, key2)
                if 2 * filled > len(table):
                    table = set_grown(table)
        node_keys.append(np.sort(table[table != -1]))
    # 2. the last level: every completion of each node, sorted, with suffix sums of exp(min - s)
    fkeys = node_keys[last]
    nf = len(fkeys)
    foff = np.zeros(nf + 1, np.int64)
    fmin = np.empty(nf)
    fmax = np.empty(nf)
    finc = np.empty(1 << 16)
    fsuf = np.empty(1 << 16)
    for i in range(nf):
        decode(fkeys[i], weights, state)
        mk, mi = moves(state, cols[last], lf, weights, True)
        work += len(mk)
        if work > limit:
            return -1.0
        if stop[0]:
            return -2.0
        inc = np.sort(mi)
        a = foff[i]
        while a + len(inc) > len(finc):
            if 2 * len(finc) > max_entries:
                return -1.0
            grown = np.empty(2 * len(finc))
            grown[:a] = finc[:a]
            finc = grown
            grown = np.empty(2 * len(fsuf))
            grown[:a] = fsuf[:a]
            fsuf = grown
        # equal sums (rows with equal sums make many) as one entry with its weight
        m0 = inc[0]
        u = a
        for j in range(len(inc)):
            if u > a and inc[j] - finc[u - 1] < 1e-9:
                fsuf[u - 1] += math.exp(m0 - inc[j])
            else:
                finc[u] = inc[j]
                fsuf[u] = math.exp(m0 - inc[j])
                u += 1
        for j in range(u - 2, a - 1, -1):  # suffix sums
            fsuf[j] += fsuf[j + 1]
        foff[i + 1] = u
        fmin[i] = inc[0]
        fmax[i] = inc[-1]
    # 3. exact least and greatest future sum of log n! of every node, backwards
    lo = [np.empty(0)] * (last + 1)
    hi = [np.empty(0)] * (last + 1)
    lo[last] = fmin
    hi[last] = fmax
    for k in range(last - 1, -1, -1):
        keys = node_keys[k]
        lk = np.empty(len(keys))
        hk = np.empty(len(keys))
        for i in range(len(keys)):
            decode(keys[i], weights, state)
            mk, mi = moves(state, cols[k], lf, weights, False)
            work += len(mk)
            if stop[0]:
                return -2.0
            child = np.searchsorted(node_keys[k + 1], mk)
            best = np.inf
            worst = -np.inf
            for q in range(len(mk)):
                best = min(best, mi[q] + lo[k + 1][child[q]])
                worst = max(worst, mi[q] + hi[k + 1][child[q]])
            lk[i] = best
            hk[i] = worst
        lo[k] = lk
        hi[k] = hk
        if work > limit:
            return -1.0
    # 4. forwards with the partial tables' sums (merged when equal). At a node, the sums are sorted; for
    # each move, those whose completions all count (or none) form a suffix (a prefix), taken at once
    # by cumulative sums; only the band between is carried to the next level (or, before the last
    # two columns, looked up in the child's sorted completions).
    p = 0.0
    lkeys = node_keys[0]
    lpast = np.zeros(1)
    lmult = np.ones(1)
    if last == 0:  # two columns: the root is completed directly
        idx = np.searchsorted(finc[: foff[1]], thresh)
        if idx < foff[1]:
            p = math.exp(const - finc[0]) * fsuf[idx]
        return min(1.0, p)
    for k in range(last):
        keys = node_keys[k]
        child_lo = lo[k + 1]
        child_hi = hi[k + 1]
        direct = k == last - 1
        cap = 1 << 16
        while cap < 8 * len(lkeys):
            cap *= 2
        hk = np.full(cap, -1, np.int64)
        hb = np.zeros(cap, np.int64)
        hp = np.zeros(cap)
        hm = np.zeros(cap)
        filled = 0
        a = 0
        n = len(lkeys)
        while a < n:
            b = a
            while b < n and lkeys[b] == lkeys[a]:
                b += 1
            node = np.searchsorted(keys, lkeys[a])
            decode(lkeys[a], weights, state)
            lo_node = lo[k][node]
            hi_node = hi[k][node]
            logw = log_total(state, cols, k, lf)
            m = 0
            for j in range(a, b):
                past = lpast[j]
                if past + lo_node >= thresh:  # every completion is at most as probable: all count
                    p += lmult[j] * math.exp(const - past + logw)
                elif past + hi_node >= thresh:  # else every completion is more probable: none counts
                    m += 1
            if m == 0:
                a = b
                continue
            ps = np.empty(m)
            ms = np.empty(m)
            m = 0
            for j in range(a, b):
                past = lpast[j]
                if past + lo_node < thresh and past + hi_node >= thresh:
                    ps[m] = past
                    ms[m] = lmult[j]
                    m += 1
            order = np.argsort(ps)
            ps = ps[order]
            ms = ms[order]
            ref = ps[0]
            e = np.empty(m)  # mult * exp(ref - past), and its sums from the right
            tail = np.empty(m + 1)
            tail[m] = 0.0
            for j in range(m):
                e[j] = ms[j] * math.exp(ref - ps[j])
            for j in range(m - 1, -1, -1):
                tail[j] = tail[j + 1] + e[j]
            mk, mi = moves(state, cols[k], lf, weights, False)
            mk, mi, mc = merged(mk, mi)
            child = np.searchsorted(node_keys[k + 1], mk)
            work += m * len(mk)
            for q in range(len(mk)):
                f = child[q]
                first_all = np.searchsorted(ps, thresh - mi[q] - child_lo[f])
                first_some = np.searchsorted(ps, thresh - mi[q] - child_hi[f])
                if first_all < m:
                    if direct:
                        logw_f = math.log(fsuf[foff[f]]) - finc[foff[f]]
                    else:
                        decode(mk[q], weights, state)
                        logw_f = log_total(state, cols, k + 1, lf)
                    p += mc[q] * tail[first_all] * math.exp(const - ref - mi[q] + logw_f)
                if direct:
                    lo_f = foff[f]
                    scale = mc[q] * math.exp(const - ref - mi[q] - finc[lo_f])
                    if first_some < first_all:
                        # the thresholds fall as j rises: walk the child's completions down once
                        idx = lo_f + np.searchsorted(finc[lo_f : foff[f + 1]], thresh - ps[first_some] - mi[q])
                        acc = 0.0
                        for j in range(first_some, first_all):
                            need = thresh - ps[j] - mi[q]
                            while idx > lo_f and finc[idx - 1] >= need:
                                idx -= 1
                            acc += e[j] * fsuf[idx]
                        p += scale * acc
                    continue
                key = mk[q]
                for j in range(first_some, first_all):
                    s = ps[j] + mi[q]
                    bk = bucket(s)
                    h = (key * np.int64(-7046029254386353131) + bk * np.int64(0x632BE59BD9B4E019)) & (cap - 1)
                    while hk[h] != -1 and (hk[h] != key or hb[h] != bk):
                        h = (h + 1) & (cap - 1)
                    if hk[h] == -1:
                        hk[h] = key
                        hb[h] = bk
                        hp[h] = s
                        hm[h] = ms[j] * mc[q]
                        filled += 1
                        if 4 * filled > max_entries:
                            return -1.0
                        if filled * 2 > cap:  # grow
                            ncap = cap * 2
                            nk = np.full(ncap, -1, np.int64)
                            nb = np.zeros(ncap, np.int64)
                            npast = np.zeros(ncap)
                            nm = np.zeros(ncap)
                            for t in range(cap):
                                if hk[t] != -1:
                                    g = (
                                        hk[t] * np.int64(-7046029254386353131) + hb[t] * np.int64(0x632BE59BD9B4E019)
                                    ) & (ncap - 1)
                                    while nk[g] != -1:
                                        g = (g + 1) & (ncap - 1)
                                    nk[g] = hk[t]
                                    nb[g] = hb[t]
                                    npast[g] = hp[t]
                                    nm[g] = hm[t]
                            hk, hb, hp, hm, cap = nk, nb, npast, nm, ncap
                    else:
                        hm[h] += ms[j] * mc[q]
            if work > limit:
                return -1.0
            if stop[0]:
                return -2.0
            a = b
        if direct:
            break
        sel = np.flatnonzero(hk != -1)
        order = np.argsort(hk[sel], kind="mergesort")
        lkeys = hk[sel][order]
        lpast = hp[sel][order]
        lmult = hm[sel][order]
        if len(lkeys) == 0:
            break
    return min(1.0, p)


@njit(cache=True)
def _two_column_cost(x, a, b, m, lf):
    """Cost of the last two cells of a 2 x c first row: x of column a, m - x of column b."""
    return lf[x] + lf[a - x] + lf[m - x] + lf[b - m + x]


@njit(cache=True)
def two_column_tails(a, b, m, base, thresh, lf):
    """Sum of exp(base - cost(x)) over the x with cost(x) >= thresh (costs of these two cells only), for the first row's last two cells
    (x of a column of sum a, m - x of one of sum b).

    exp(-cost) is proportional to the hypergeometric probability of x, which is log-concave: the x
    that count form two tails around the mode. Each tail is found by bisection and summed from its
    inner end outwards until the terms no longer change the sum.
    """
    lo = max(0, m - b)
    hi = min(a, m)
    if lo > hi:
        return 0.0
    mode = ((m + 1) * (a + 1)) // (a + b + 2)
    mode = min(max(mode, lo), hi)
    while mode > lo and _two_column_cost(mode - 1, a, b, m, lf) < _two_column_cost(mode, a, b, m, lf):
        mode -= 1
    while mode < hi and _two_column_cost(mode + 1, a, b, m, lf) < _two_column_cost(mode, a, b, m, lf):
        mode += 1
    if _two_column_cost(mode, a, b, m, lf) >= thresh:  # even the most probable counts: all do
        return math.exp(base + lf[a + b] - lf[m] - lf[a + b - m] - lf[a] - lf[b])
    total = 0.0
    # left tail: the largest x < mode with cost >= thresh (cost falls towards the mode)
    if _two_column_cost(lo, a, b, m, lf) >= thresh:
        left, right = lo, mode  # cost(left) >= thresh > cost(right)
        while right - left > 1:
            mid = (left + right) // 2
            if _two_column_cost(mid, a, b, m, lf) >= thresh:
                left = mid
            else:
                right = mid
        x = left
        while x >= lo:
            term = math.exp(base - _two_column_cost(x, a, b, m, lf))
            total += term
            if term <= total * 1e-17:
                break
            x -= 1
    if _two_column_cost(hi, a, b, m, lf) >= thresh:
        left, right = mode, hi  # cost(left) < thresh <= cost(right)
        while right - left > 1:
            mid = (left + right) // 2
            if _two_column_cost(mid, a, b, m, lf) >= thresh:
                right = mid
            else:
                left = mid
        x = right
        upper = 0.0
        while x <= hi:
            term = math.exp(base - _two_column_cost(x, a, b, m, lf))
            upper += term
            if term <= upper * 1e-17:
                break
            x += 1
        total += upper
    return total


@njit(cache=True, nogil=True)
def two_row(cols, r0, lf, thresh, const, log_tiny, limit):
    """Fisher-Freeman-Halton p of a 2 x c table from its column sums and first row sum r0.

    The first row's first c - 2 cells are enumerated depth first; the completions of a partial row
    have the total probability exp(const - past + log C(S, m) - sum log C_j!), S the columns left and m
    the row sum left, so a partial row whose completions weigh less than exp(log_tiny) is dropped and
    its weight kept (the second value returned, a bound on the p-value's error). The last two cells are
    summed by :func:`two_column_tails`. Returns (p, dropped), or (-1, 0) beyond ``limit`` partial rows.
    """
    c = len(cols)
    if c == 2:
        return two_column_tails(cols[0], cols[1], r0, const, thresh, lf), 0.0
    suffix = np.zeros(c + 1, np.int64)
    suffix_lf = np.zeros(c + 1)
    for j in range(c - 1, -1, -1):
        suffix[j] = suffix[j + 1] + cols[j]
        suffix_lf[j] = suffix_lf[j + 1] + lf[cols[j]]
    depth = c - 2
    x = np.zeros(depth, np.int64)
    past = np.zeros(depth + 1)
    m = np.zeros(depth + 1, np.int64)
    m[0] = r0
    p = 0.0
    dropped = 0.0
    work = 0
    d = 0
    x[0] = max(0, r0 - suffix[1]) - 1
    while d >= 0:
        x[d] += 1
        if x[d] > min(cols[d], m[d]):
            d -= 1
            continue
        work += 1
        if work > limit:
            return -1.0, 0.0
        past[d + 1] = past[d] + lf[x[d]] + lf[cols[d] - x[d]]
        left = m[d] - x[d]
        m[d + 1] = left
        s = suffix[d + 1]
        log_mass = const - past[d + 1] + lf[s] - lf[left] - lf[s - left] - suffix_lf[d + 1]
        if log_mass < log_tiny:
            dropped += math.exp(log_mass)
            continue
        if d + 1 < depth:
            d += 1
            x[d] = max(0, m[d] - suffix[d + 1]) - 1
            continue
        p += two_column_tails(cols[c - 2], cols[c - 1], left, const - past[d + 1], thresh - past[d + 1], lf)
    return p, dropped
