"""How wide text prints in the Word report, from the real metrics of the fonts it names.

The Word report sets Latin text in Times New Roman and East Asian text in 宋体 (SimSun); Word,
WPS and LibreOffice (which substitutes the metric-compatible Liberation Serif for Times New Roman)
lay it out with those fonts' advance widths. The widths of Times New Roman come from
``metrics/times.json`` (measured from Liberation Serif 2.1.5, regular and bold); an East Asian
character (Unicode East Asian Width W or F) is one em in 宋体 and in every CJK font.

:func:`width_pt` is a line's printed width; :func:`min_width_pt` the widest piece a line can be
broken into without breaking a number, a word or a short Chinese label (four characters or fewer).
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache
from importlib import resources

#: Width of a character the table does not hold, in em (wider than any Latin letter but M and W).
UNKNOWN_EM = 0.72
#: A run of Chinese characters this long or shorter is a label that never breaks (授课方式, 行百分比).
SHORT_CJK = 4


@cache
def _widths(bold: bool) -> dict[int, float]:
    data = json.loads(resources.files("cmestudy.report").joinpath("metrics", "times.json").read_text(encoding="utf-8"))
    upm = data["units_per_em"]
    out: dict[int, float] = {}
    for units, ranges in data["styles"]["bold" if bold else "regular"].items():
        for r in ranges:
            first, last = (r, r) if isinstance(r, int) else r
            for cp in range(first, last + 1):
                out[cp] = int(units) / upm
    return out


def is_wide(ch: str) -> bool:
    """Whether a character is set full-width (one em): Chinese, Japanese, Korean, full-width forms."""
    return unicodedata.east_asian_width(ch) in "WF"


def char_em(ch: str, bold: bool = False) -> float:
    if is_wide(ch):
        return 1.0
    if unicodedata.combining(ch):
        return 0.0
    return _widths(bold).get(ord(ch), UNKNOWN_EM)


def width_pt(text: str, size: float, bold: bool = False) -> float:
    """The printed width of one line of ``text`` at ``size`` points.

    >>> round(width_pt("12,476", 9), 2), width_pt("授课方式", 9)   # Times New Roman digits are half an em
    (24.75, 36.0)
    """
    return size * sum(char_em(ch, bold) for ch in text)


def pieces(text: str) -> list[str]:
    """What a line may be broken into: words at spaces; a run of more than :data:`SHORT_CJK` wide
    characters between any two of them (as Word and browsers break Chinese), a shorter one never.

    >>> pieces("not computable: no live learners"), pieces("理论频数<5的格子数"), pieces("行百分比/%")
    (['not', 'computable:', 'no', 'live', 'learners'], ['理', '论', '频', '数', '<5', '的', '格', '子', '数'], ['行百分比/%'])
    """
    out = []
    for word in text.split():
        wide = sum(is_wide(ch) for ch in word)
        if wide <= SHORT_CJK:
            out.append(word)
        else:
            out += _split_wide(word)
    return out


def _split_wide(word: str) -> list[str]:
    parts, narrow = [], ""
    for ch in word:
        if is_wide(ch):
            if narrow:
                parts.append(narrow)
                narrow = ""
            parts.append(ch)
        else:
            narrow += ch
    if narrow:
        parts.append(narrow)
    return parts


def min_width_pt(text: str, size: float, bold: bool = False) -> float:
    """The narrowest a cell of ``text`` can print without breaking a piece (:func:`pieces`)."""
    return max((width_pt(p, size, bold) for line in text.split("\n") for p in pieces(line)), default=0.0)


def max_width_pt(text: str, size: float, bold: bool = False) -> float:
    """The width of the cell's widest line, unbroken."""
    return max((width_pt(line.strip(), size, bold) for line in text.split("\n")), default=0.0)
