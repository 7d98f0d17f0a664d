"""Is a reported p-value consistent with the reported chi-square? (statcheck for the published figures)

References
----------
.. [6] Nuijten, M. B. et al. (2016). The prevalence of statistical reporting errors in
       psychology (1985-2013). Behavior Research Methods 48, 1205-1226 (statcheck).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

__all__ = ["ReportCheck", "check_reported"]


@dataclass(frozen=True)
class ReportCheck:
    statistic: float
    df: int
    decimals: int
    reported_p: str
    p_computed: float
    p_low: float
    p_high: float
    consistent: bool
    note: str


_P_RE = re.compile(r"^\s*[pP]?\s*(<=|>=|<|>|=|≤|≥)?\s*(0?\.\d+|1(?:\.0+)?|0)\s*$")


def check_reported(statistic: float, df: int, reported_p: str, decimals: int = 3) -> ReportCheck:
    """Is a reported p-value consistent with a reported chi-square statistic? ([6])

    The reported statistic is rounded to ``decimals``, so the true value lies in
    [s - h, s + h], h = 0.5 * 10**-decimals; the p-value then lies in
    [sf(s + h), sf(s - h)] of the chi-square distribution with ``df``. The report is
    consistent if that range meets what was reported: ``"<0.05"`` (any bound, with
    ``<``, ``<=``, ``>``, ``>=``) or an exact value ``"0.032"`` (itself taken as rounded
    to its own decimals).

    Examples
    --------
    >>> check_reported(18.284, 2, "<0.05").consistent   # the study's 2021 value
    True
    >>> check_reported(2.0, 1, "<0.05", decimals=1).consistent   # p = .157
    False
    """
    if not np.isfinite(statistic) or statistic < 0:
        raise ValueError(f"statistic must be a non-negative number; got {statistic!r}")
    if int(df) != df or df < 1:
        raise ValueError(f"df must be a positive whole number; got {df!r}")
    if int(decimals) != decimals or decimals < 0:
        raise ValueError(f"decimals must be a non-negative whole number; got {decimals!r}")
    m = _P_RE.match(str(reported_p))
    if not m:
        raise ValueError(f"reported_p must look like '<0.05', '=0.032' or '0.032'; got {reported_p!r}")
    op, val = m.group(1) or "=", float(m.group(2))
    op = {"≤": "<=", "≥": ">="}.get(op, op)
    h = 0.5 * 10.0 ** (-decimals)
    p = float(sps.chi2.sf(statistic, df))
    p_low = float(sps.chi2.sf(statistic + h, df))
    p_high = float(sps.chi2.sf(max(0.0, statistic - h), df))
    if op == "<":
        ok = p_low < val
    elif op == "<=":
        ok = p_low <= val
    elif op == ">":
        ok = p_high > val
    elif op == ">=":
        ok = p_high >= val
    else:
        d = len(m.group(2).split(".")[1]) if "." in m.group(2) else 0
        hp = 0.5 * 10.0 ** (-d)
        ok = p_low <= val + hp and p_high >= val - hp
    note = (
        f"chi2({df}) = {statistic:.{decimals}f} gives p between {p_low:.3g} and {p_high:.3g}; "
        f"reported p {op} {m.group(2)}: {'consistent' if ok else 'INCONSISTENT'}"
    )
    return ReportCheck(float(statistic), int(df), int(decimals), str(reported_p), p, p_low, p_high, bool(ok), note)
