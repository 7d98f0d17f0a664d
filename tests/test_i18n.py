"""The message catalogues: the same ids in every language, every id the code uses present, numbers written
each language's way, and figures drawn with fonts that have every glyph."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import pytest

from cmestudy import i18n

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "cmestudy"
ID = re.compile(
    r"""["']((?:label|word|stat|narrative|section|caption|note|figure|axis|dataset|published|problem|doc"""
    r"""|methods|limitations|punct)\.[A-Za-z0-9_.]+)["']"""
)


def test_every_message_id_exists_in_every_language():
    ids = {lang: set(i18n.catalogue(lang)) for lang in i18n.LANGUAGES}
    reference = ids["en"]
    for lang, have in ids.items():
        assert have == reference, (
            f"{lang}: missing {sorted(reference - have)}; not in English: {sorted(have - reference)}"
        )


def test_translations_use_only_the_placeholders_the_code_fills():
    en = i18n.catalogue("en")
    for lang in i18n.LANGUAGES:
        for ident, template in i18n.catalogue(lang).items():
            unknown = i18n.placeholders(template) - i18n.placeholders(en[ident])
            assert not unknown, f"{lang} {ident}: placeholders {unknown} are not filled by the code"


def _sources():
    files = (
        list(PACKAGE.rglob("*.py"))
        + list((PACKAGE / "report" / "templates").glob("*.j2"))
        + list((ROOT / "notebooks").glob("*.ipynb"))
    )
    assert len(files) > 60 and any(p.suffix == ".j2" for p in files)
    return files


NOT_IDS = {"figure.dpi", "published.yml"}  # a matplotlib setting and a file name that look like ids


def test_every_id_the_code_and_the_notebooks_name_is_in_the_catalogues():
    used = set()
    for path in _sources():
        used |= {u for u in ID.findall(path.read_text(encoding="utf-8")) if u not in NOT_IDS and not u.endswith("_")}
    assert len(used) > 60
    for lang in i18n.LANGUAGES:
        cat = i18n.catalogue(lang)
        missing = sorted(u for u in used if u not in cat and f"{u}.title" not in cat)
        assert not missing, f"ids used but missing from messages/{lang}.yml: {missing}"


def test_an_unknown_language_is_a_clear_error_listing_the_languages():
    with pytest.raises(ValueError, match=r"unknown report language 'fr'; available: en \(English\), zh \(中文\)"):
        i18n.set_language("fr")


def test_numbers_and_p_values_are_written_each_languages_way():
    # GB/T 15835: digit groups from the fifth digit on, separated by a thin space; APA: no leading zero
    assert i18n.integer(40366, "zh") == "40\u2009366" and i18n.integer(7330, "zh") == "7330"
    assert i18n.integer(40366, "en") == "40,366"
    assert i18n.p_value(0.0004, "zh") == "<0.001" and i18n.p_value(0.032, "zh") == "0.032"
    assert i18n.p_value(0.0004, "en") == "<.001" and i18n.p_value(0.032, "en") == ".032"
    assert i18n.p_clause(0.0004, "zh") == "*P*<0.001"
    assert i18n.p_clause(0.0004, "en") == "*p*\u00a0<\u00a0.001"  # never split across lines
    assert i18n.number(-1.5, 1, "en") == "−1.5"  # a true minus sign
    assert i18n.level(0.95) == "95" and i18n.level(0.975) == "97.5"


def test_a_chi_square_is_reported_as_chinese_journals_write_it():
    from cmestudy.analysis import crosstab
    from cmestudy.report import association_tables

    res = crosstab.crosstab_tests([[762, 1121, 594], [4570, 8899, 3769]])
    assert (
        association_tables.report_chi2(res, lang="zh") == f"χ²={res.pearson.statistic:.3f}，*P*<0.001，Cramér *V*=0.04"
    )
    assert association_tables.report_chi2(res, lang="en").startswith("χ²(2, *N* = 19,715) = ")


def test_codes_are_labelled_and_data_are_left_as_they_are():
    assert i18n.label("face_to_face", "zh") == "面授" and i18n.label("face_to_face", "en") == "Face-to-face"
    assert i18n.label("骨科", "zh") == "骨科" and i18n.label(2021, "zh") == 2021


@pytest.mark.parametrize("lang", sorted(i18n.LANGUAGES))
def test_figures_are_drawn_with_fonts_that_have_every_glyph(lang):
    """Every figure of the study, in each language, with Chinese discipline names: no glyph is missing
    (matplotlib's own warning and cmestudy's check both fail the test)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cmestudy.report import fonts, plotting

    from .test_figures import all_figures

    i18n.set_language(lang)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for name, fig in all_figures():
                fig.savefig(io.BytesIO(), format="png")
                assert fonts.missing_glyphs(fonts.figure_texts(fig), lang) == [], name
                plt.close(fig)
        assert plotting.plt.rcParams["font.family"][0] == ("Noto Sans CJK SC" if lang == "zh" else "DejaVu Sans")
    finally:
        i18n.set_language("en")


def test_a_character_no_font_has_is_named_with_its_text():
    from cmestudy.report import fonts

    found = fonts.missing_glyphs(["骨科 ok", "Linear B \U00010000 syllable"], "zh")
    assert len(found) == 1 and found[0].characters == "\U00010000" and "Linear B" in found[0].text
    with pytest.warns(fonts.MissingGlyphWarning, match="Linear B"):
        fonts.warn_missing(["Linear B \U00010000 syllable"], "en", "a table")


@pytest.mark.parametrize(
    "path",
    sorted(PACKAGE.glob("**/*.yml")) + sorted((ROOT / "data" / "raw").glob("*.yml")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_shipped_yaml_file_reads_the_same_with_the_c_parser(path):
    # cmestudy reads YAML with libyaml's parser (fileio.read_yaml); PyYAML's pure-Python safe loader
    # is the reference
    import yaml

    from cmestudy.fileio import read_yaml

    text = path.read_text(encoding="utf-8")
    assert read_yaml(text) == yaml.safe_load(text)
