"""Fonts that draw every character of the report, from the project's own dependencies.

No system font is needed. Latin, Greek and symbols come from DejaVu (bundled with
matplotlib); Chinese from Noto Sans CJK SC and Noto Serif CJK SC (SIL Open Font
License 1.1), bundled with the PyPI package ``mplfonts``. That package was chosen because
it is the one source of the Noto CJK fonts on PyPI that this project's registries
carry (the per-font ``noto-cjk-*`` wheels, 14 MB each, are not there); it costs 85 MB
installed, of which the report uses two files.

* **Figures** (matplotlib): :func:`use_in_matplotlib` registers the CJK font with
  ``font_manager.addfont`` and puts it in the sans-serif stack: after DejaVu Sans in an
  English report (Chinese names from the data fall back to it), first in a Chinese one.
  Both fonts draw U+2212, so matplotlib's minus sign renders in either.
* **HTML and PDF** (WeasyPrint): :func:`font_face_css` subsets each font to the
  characters of the page (fontTools, a fraction of a second) and embeds it as a data
  URI in ``@font-face`` rules, so the HTML is self-contained and the PDF embeds only
  those glyphs. (WeasyPrint would subset the 16-23 MB fonts itself, keeping every glyph
  id, which takes seconds per font without HarfBuzz's subsetter.)
* **Coverage**: :func:`missing_glyphs` finds characters no font of a stack can draw;
  ``report`` warns about them naming the text, before anything is rendered.
"""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path

#: Font files by role: (package holding it, path inside the package).
FILES = {
    "sans": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSans.ttf"),
    "sans-bold": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSans-Bold.ttf"),
    "sans-italic": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSans-Oblique.ttf"),
    "sans-bold-italic": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSans-BoldOblique.ttf"),
    "mono": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSansMono.ttf"),
    "cjk-sans": ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf"),
    "cjk-serif": ("mplfonts", "fonts/NotoSerifCJKsc-Regular.otf"),
}
#: Family name of each role in the report's CSS (private names, so no system font is picked instead).
FAMILY = {
    "sans": "cme-sans",
    "sans-bold": "cme-sans",
    "sans-italic": "cme-sans",
    "sans-bold-italic": "cme-sans",
    "mono": "cme-mono",
    "cjk-sans": "cme-cjk-sans",
    "cjk-serif": "cme-cjk-serif",
}
#: What each family's @font-face declares (weight, style).
FACE = {
    "sans": ("normal", "normal"),
    "sans-bold": ("bold", "normal"),
    "sans-italic": ("normal", "italic"),
    "sans-bold-italic": ("bold", "italic"),
    "mono": ("normal", "normal"),
    "cjk-sans": ("normal", "normal"),
    "cjk-serif": ("normal", "normal"),
}
#: The font stacks of the document by language: body text, headings, code. Characters fall back along each.
STACKS = {
    "en": {"body": ["sans", "cjk-sans"], "heading": ["sans", "cjk-sans"], "mono": ["mono", "sans", "cjk-sans"]},
    "zh": {"body": ["cjk-serif", "sans"], "heading": ["cjk-sans", "sans"], "mono": ["mono", "cjk-sans"]},
}
MATPLOTLIB_FAMILY = {"sans": "DejaVu Sans", "cjk-sans": "Noto Sans CJK SC"}


class MissingGlyphWarning(UserWarning):
    """Text the report's fonts cannot draw (it would print as empty boxes)."""


class FontNotFound(RuntimeError):
    pass


@cache
def path(role: str) -> Path:
    """The file of a font role, found inside the package that ships it."""
    package, inner = FILES[role]
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FontNotFound(
            f"the font {inner} comes with the Python package {package!r}, which is not installed "
            f"(it is a dependency of cmestudy: reinstall with `pip install -e .`)"
        )
    p = Path(next(iter(spec.submodule_search_locations))) / inner
    if not p.is_file():
        raise FontNotFound(f"the font file {p} is missing from the package {package!r}")
    return p


@cache
def coverage(role: str) -> frozenset[int]:
    """The code points a font can draw."""
    from fontTools.ttLib import TTFont

    with TTFont(str(path(role)), lazy=True) as font:
        return frozenset(font.getBestCmap())


@dataclass(frozen=True)
class Missing:
    text: str
    characters: str

    def __str__(self) -> str:
        return f"no font can draw {', '.join(repr(c) for c in self.characters)} in {self.text[:80]!r}"


def _drawable(ch: str) -> bool:
    return ch.isspace() or not ch.isprintable() or ch in "\u00ad\u200b\u2060\ufeff"


def missing_glyphs(texts, lang: str, stack: str = "body") -> list[Missing]:
    """The texts (strings) holding characters that no font of the language's ``stack`` can draw."""
    roles = STACKS[lang][stack]
    covered = frozenset().union(*(coverage(r) for r in roles))
    out = []
    for text in texts:
        bad = "".join(dict.fromkeys(c for c in str(text) if ord(c) not in covered and not _drawable(c)))
        if bad:
            out.append(Missing(str(text), bad))
    return out


def warn_missing(texts, lang: str, where: str, stack: str = "body") -> list[Missing]:
    """Warn (:class:`MissingGlyphWarning`) about every text the fonts cannot draw; returns them."""
    found = missing_glyphs(texts, lang, stack)
    for m in found:
        warnings.warn(f"missing glyph in {where}: {m}", MissingGlyphWarning, stacklevel=3)
    return found


# --------------------------------------------------------------------------- matplotlib
def use_in_matplotlib(lang: str) -> list[str]:
    """Register the CJK font with matplotlib and set the sans-serif stack for ``lang``; returns it."""
    import logging

    import matplotlib as mpl
    from matplotlib import font_manager

    # the CJK font has no bold face: matplotlib draws bold titles in the regular one, which is fine
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

    cjk = str(path("cjk-sans"))
    if not any(f.fname == cjk for f in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(cjk)
    stack = [MATPLOTLIB_FAMILY[r] for r in (["cjk-sans", "sans"] if lang == "zh" else ["sans", "cjk-sans"])]
    # the families themselves, not the generic "sans-serif": matplotlib falls back glyph by glyph only
    # along an explicit list of families
    mpl.rcParams["font.family"] = stack
    mpl.rcParams["font.sans-serif"] = stack
    mpl.rcParams["axes.unicode_minus"] = True
    return stack


def figure_texts(fig) -> list[str]:
    """Every text drawn in a figure: titles, labels, tick labels, legends, annotations."""
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


# --------------------------------------------------------------------------- HTML and PDF
def subset(role: str, characters: str) -> bytes:
    """The font of ``role`` reduced to ``characters`` (OpenType, layout features kept)."""
    import logging

    from fontTools import subset as ft_subset
    from fontTools.ttLib import TTFont

    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "FFTM NOT subset" is expected

    options = ft_subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.ignore_missing_unicodes = True
    with TTFont(str(path(role)), lazy=True) as font:
        sub = ft_subset.Subsetter(options)
        sub.populate(text=characters)
        sub.subset(font)
        buf = io.BytesIO()
        font.save(buf)
    return buf.getvalue()


def font_face_css(page_text: str, lang: str) -> str:
    """``@font-face`` rules embedding, as data URIs, every font of the language's stacks,
    each subset to the characters of ``page_text`` that it covers."""
    roles = list(dict.fromkeys(r for stack in STACKS[lang].values() for r in stack))
    if "sans" in roles:
        roles += ["sans-bold", "sans-italic", "sans-bold-italic"]
    chars = set(page_text) | set("0123456789")
    rules = []
    for role in roles:
        have = "".join(sorted(c for c in chars if ord(c) in coverage(role)))
        if not have.strip():
            continue
        data = base64.b64encode(subset(role, have)).decode("ascii")
        kind = "opentype" if path(role).suffix == ".otf" else "truetype"
        weight, style = FACE[role]
        rules.append(
            f'@font-face {{ font-family: "{FAMILY[role]}"; font-weight: {weight}; font-style: {style}; '
            f'src: url(data:font/{"otf" if kind == "opentype" else "ttf"};base64,{data}) format("{kind}"); }}'
        )
    return "\n".join(rules)


def css_stack(lang: str, stack: str) -> str:
    """A CSS font-family list for one of the language's stacks."""
    families = list(dict.fromkeys(FAMILY[r] for r in STACKS[lang][stack]))
    return ", ".join(f'"{f}"' for f in families) + (", monospace" if stack == "mono" else ", sans-serif")
