"""The report's languages: one message catalogue per language, and numbers written its way.

Every word the report shows comes from a catalogue, ``messages/<lang>.yml`` in this
package, under a message id (``section.ingest.title``, ``label.live``, ...). A sentence
with numbers is one whole template per language with named placeholders
(``"{year}年，不同授课方式的职称构成差异有统计学意义（{test}）"``), never pieces glued
together, because word order differs between languages. Code holds ids, never
translated text. A test checks that both catalogues hold the same ids with the same
placeholders, and that every id the code and the notebooks use exists.

The language of a process is set once (:func:`set_language`, by
``report.setup_notebook`` in a notebook and by the pipeline for the document) and read
by :func:`t`. Statistics are written as each language's journals write them: APA style in
English (``χ²(2, N = 12,476) = 18.284, p < .001``), GB/T 3358.1 symbols and Chinese
medical-journal style in Chinese (``χ²=18.284，P<0.001``, with italic *P*).

References
----------
GB/T 3358.1-2009 Statistics -- Vocabulary and symbols -- Part 1.
GB/T 15835-2011 General rules for writing numerals in publications (groups of three digits
from the fifth digit on).
American Psychological Association (2020). Publication Manual, 7th ed., sec. 6.36-6.46.
"""

from __future__ import annotations

import math
import re
import string
from functools import cache
from importlib import resources

from cmestudy.fileio import read_yaml

#: Languages with a catalogue, and their names as their speakers write them.
LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT = "en"

_STATE = {"lang": DEFAULT}


class UnknownLanguage(ValueError):
    def __init__(self, lang):
        listed = ", ".join(f"{code} ({name})" for code, name in LANGUAGES.items())
        super().__init__(f"unknown report language {lang!r}; available: {listed}")


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise UnknownLanguage(lang)
    return lang


def from_locale(environ=None) -> str:
    """The language of the system's locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, first set wins, as
    POSIX reads them): ``zh`` for a Chinese locale (``zh_CN.UTF-8``), else English.

    >>> from_locale({"LANG": "zh_CN.UTF-8"}), from_locale({"LC_ALL": "C", "LANG": "zh_CN"}), from_locale({})
    ('zh', 'en', 'en')
    """
    import os

    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else DEFAULT
    return DEFAULT


def set_language(lang: str) -> None:
    """Set the language of everything this process writes into the report."""
    _STATE["lang"] = check_language(lang)


def get_language() -> str:
    return _STATE["lang"]


def _flatten(doc: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in doc.items():
        ident = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, ident + "."))
        else:
            out[ident] = "" if value is None else str(value)
    return out


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All messages of a language, by dotted id."""
    text = resources.files("cmestudy").joinpath("messages", f"{check_language(lang)}.yml").read_text(encoding="utf-8")
    return _flatten(read_yaml(text) or {})


def placeholders(template: str) -> set[str]:
    """The named fields of a message template."""
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def has(msg_id: str, lang: str | None = None) -> bool:
    return msg_id in catalogue(lang or get_language())


def t(msg_id: str, lang: str | None = None, **params) -> str:
    """The message ``msg_id`` in ``lang`` (default: the process's language), filled with ``params``.

    A missing id is an error naming it: a report never shows an id instead of text.
    """
    lang = lang or get_language()
    try:
        template = catalogue(lang)[msg_id]
    except KeyError:
        raise KeyError(f"message {msg_id!r} is missing from the {lang!r} catalogue (messages/{lang}.yml)") from None
    return template.format(**params) if params else template


def label(value, lang: str | None = None):
    """The display label of a code (``live`` -> "Live broadcast" / "直播"); anything else as it is."""
    if isinstance(value, str) and ("label." + value) in catalogue(lang or get_language()):
        return t("label." + value, lang)
    return value


def join(items, lang: str | None = None) -> str:
    """Clauses joined as the language joins a list of parallel statements ("; " or "；")."""
    return t("punct.clause_sep", lang).join(items)


# --------------------------------------------------------------------------- numbers
THIN = "\u2009"  # thin space: the digit-group separator of GB/T 15835 for Chinese text


def integer(n, lang: str | None = None) -> str:
    """A whole number: 40,366 (English); 40 366 with a thin space from five digits on (Chinese).

    >>> integer(40366, "en"), integer(40366, "zh") == "40\u2009366", integer(7330, "zh")
    ('40,366', True, '7330')
    """
    n = int(n)
    if (lang or get_language()) == "zh":
        return f"{n:,}".replace(",", THIN) if abs(n) >= 10_000 else str(n)
    return f"{n:,}"


def number(x, decimals: int = 3, lang: str | None = None) -> str:
    """A decimal number with ``decimals`` places (grouped as :func:`integer` above 9,999)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    s = f"{float(x):,.{decimals}f}"
    if (lang or get_language()) == "zh":
        whole = s.split(".")[0].replace(",", "").lstrip("-")
        s = s.replace(",", THIN) if len(whole) > 4 else s.replace(",", "")
    return s.replace("-", "−")


def p_value(p: float, lang: str | None = None) -> str:
    """A p-value in a table cell: ``.032``/``<.001`` (APA) or ``0.032``/``<0.001`` (Chinese journals).

    >>> p_value(0.0004, "en"), p_value(0.032, "en"), p_value(0.0004, "zh"), p_value(0.032, "zh")
    ('<.001', '.032', '<0.001', '0.032')
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    if (lang or get_language()) == "zh":
        return "<0.001" if p < 0.001 else f"{p:.3f}"
    return "<.001" if p < 0.001 else f"{p:.3f}".lstrip("0")


def p_clause(p: float, lang: str | None = None) -> str:
    """A p-value in a sentence, symbol included, never split across lines: ``p < .001`` / ``*P*<0.001``."""
    lang = lang or get_language()
    if lang == "zh":
        return "*P*<0.001" if p < 0.001 else f"*P*={p:.3f}"
    return "*p*\u00a0<\u00a0.001" if p < 0.001 else "*p*\u00a0=\u00a0" + f"{p:.3f}".lstrip("0")


def level(confidence: float) -> str:
    """A confidence level as a percentage: 0.95 -> "95", 0.975 -> "97.5".

    >>> level(0.95), level(0.975)
    ('95', '97.5')
    """
    return f"{100 * float(confidence):.10g}"


def percent(x, decimals: int = 1) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{decimals}f}"


_MARKUP = re.compile(r"\*\*|\*")


def plain(text: str) -> str:
    """Text without the ``**bold**``/``*italic*`` markers of the catalogue (for figures and file names)."""
    return _MARKUP.sub("", text)
