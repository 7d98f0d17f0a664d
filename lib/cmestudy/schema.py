"""The raw-data contract: the codebook, header matching and value coding.

The codebook (``codebook.yml`` in this package) names the tables an export may hold
(project register, participant-level enrolments, aggregated counts), the aliases of
every column header, and the values each coded column may take. A ``codebook.yml``
placed beside the raw files adds aliases to it, so users extend the contract without
touching code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from cmestudy.fileio import read_yaml

if TYPE_CHECKING:
    import pandas as pd

PACKAGE_CODEBOOK = "codebook.yml"
USER_CODEBOOK = "codebook.yml"

LEVELS = ("national", "municipal", "hospital")
MODES = ("live", "face_to_face")
GRADES = ("junior", "intermediate", "senior")
GRADES_WITH_UNKNOWN = GRADES + ("unknown",)


def normalise_label(text) -> str:
    """Fold a header or coded value for matching: NFKC, lower case, no spaces/_-/brackets.

    >>> normalise_label(" Project_ID "), normalise_label("项目编号（必填）")
    ('projectid', '项目编号必填')
    """
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return re.sub(r"[\s_\-()（）\[\]【】:：*]+", "", s)


# Professional titles as people type them, graded by rule (after the codebook's explicit lists):
# a grade word in brackets first (主治医师（中级）), then a grade word anywhere (中级职称, 副高级), then a
# title stem, senior before intermediate before junior (副主任医师 holds 医师). A position is not a title.
_BRACKETS = re.compile(r"[(（\[【]([^)）\]】]*)[)）\]】]")
_GRADE_WORDS = (
    ("senior", re.compile(r"正高|副高|高级|教授|研究员")),
    ("intermediate", re.compile(r"中级")),
    ("junior", re.compile(r"初级|员级|士级|师级")),
)
_STEMS = (
    ("senior", re.compile(r"主任(医|护|技|药|检验|治疗)师|主任医生")),
    ("intermediate", re.compile(r"主治|主管(医|护|技|药|药剂|检验|治疗)?师")),
    ("junior", re.compile(r"(医|护|技|药|药剂|检验|治疗)(师|士)|医生")),
)
_POSITIONS = re.compile(r"护士长|科主任|院长|科长|处长|主任$|组长|干事")


def grade_title(text) -> str:
    """A professional title's grade by rule: ``junior``, ``intermediate``, ``senior`` or ``unknown``.

    >>> [grade_title(t) for t in ["主治医师（中级）", "副高级", "住院医师(规培)", "副主任医师/副教授", "护士长"]]
    ['intermediate', 'senior', 'junior', 'senior', 'unknown']
    """
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))
    if not s:
        return "unknown"
    for qualifier in _BRACKETS.findall(s):
        for grade, pattern in _GRADE_WORDS:
            if pattern.search(qualifier):
                return grade
    bare = _BRACKETS.sub("", s)
    if _POSITIONS.search(bare) and not any(p.search(bare) for _, p in _GRADE_WORDS):
        return "unknown"
    for grade, pattern in _GRADE_WORDS + _STEMS:
        if pattern.search(bare):
            return grade
    return "unknown"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    recognise_by: tuple[str, ...]
    columns: dict[str, Column]
    identifying: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c for c, spec in self.columns.items() if spec.required)

    def header_lookup(self) -> dict[str, str]:
        """Map each normalised alias (and the canonical name) to the canonical column."""
        out: dict[str, str] = {}
        for name, col in self.columns.items():
            for alias in (name, *col.aliases):
                out.setdefault(normalise_label(alias), name)
        return out


@dataclass
class Codebook:
    tables: dict[str, TableSpec]
    values: dict[str, dict[str, tuple[str, ...]]]
    order: dict[str, tuple[str, ...]]
    labels: dict[str, dict[str, str]]
    sources: list[str] = field(default_factory=list)
    read: dict = field(default_factory=dict)

    def value_lookup(self, kind: str) -> dict[str, str]:
        """Map each normalised spelling of a coded value to its code."""
        out: dict[str, str] = {}
        for code, spellings in self.values[kind].items():
            for s in (code, *spellings):
                out.setdefault(normalise_label(s), code)
        return out

    def code_values(self, kind: str, values: pd.Series, default: str | None = None) -> pd.Series:
        """Code every value of a column by the codebook (each distinct value looked up once).

        Values the codebook does not know become ``default`` (None: missing).
        """
        lookup = self.value_lookup(kind)
        distinct = values.dropna().unique()
        return values.map({v: lookup.get(normalise_label(v), default) for v in distinct})

    def grade_titles(self, values: pd.Series) -> pd.Series:
        """Grade professional titles (职称): the codebook's lists first, then :func:`grade_title`'s rules.

        Each distinct value is graded once. A title neither list nor rule grades is ``unknown``; a
        title the codebook lists under ``unknown`` (a position such as 护士长) stays so.
        """
        lookup = self.value_lookup("title_grade")
        distinct = values.dropna().unique()
        graded = {}
        for v in distinct:
            key = normalise_label(v)
            graded[v] = lookup[key] if key in lookup else grade_title(v)
        return values.map(graded).fillna("unknown")

    def label(self, kind: str, code: str) -> str:
        return self.labels.get(kind, {}).get(code, str(code))


def _parse(doc: dict, sources: list[str]) -> Codebook:
    tables = {}
    for name, t in doc["tables"].items():
        cols = {
            c: Column(c, spec.get("type", "text"), bool(spec.get("required", False)), tuple(spec.get("aliases", [])))
            for c, spec in t["columns"].items()
        }
        tables[name] = TableSpec(
            name, t.get("description", ""), tuple(t["recognise_by"]), cols, tuple(t.get("identifying", []))
        )
    values = {k: {code: tuple(v or []) for code, v in (d or {}).items()} for k, d in doc["values"].items()}
    order = {k: tuple(v) for k, v in doc.get("order", {}).items()}
    return Codebook(tables, values, order, doc.get("labels", {}), sources, dict(doc.get("read") or {}))


def _merge(base: dict, extra: dict) -> dict:
    """Add the aliases and value spellings of ``extra`` to ``base``. A value spelling the user lists
    under a code is taken from any other code of the same column (线上线下结合 moves from
    ``blended`` to ``live``); no alias is ever removed."""
    for tname, t in (extra.get("tables") or {}).items():
        if tname not in base["tables"]:
            raise ValueError(f"codebook: unknown table {tname!r}; expected one of {sorted(base['tables'])}")
        for cname, spec in (t.get("columns") or {}).items():
            if cname not in base["tables"][tname]["columns"]:
                raise ValueError(f"codebook: table {tname!r} has no column {cname!r}")
            base["tables"][tname]["columns"][cname].setdefault("aliases", []).extend(spec.get("aliases", []))
    if extra.get("read"):
        unknown = set(extra["read"]) - {"sheet"}
        if unknown:
            raise ValueError(f"codebook: unknown read option(s) {sorted(unknown)}; expected 'sheet'")
        base["read"] = dict(extra["read"])
    for kind, codes in (extra.get("values") or {}).items():
        if kind not in base["values"]:
            raise ValueError(f"codebook: unknown coded column {kind!r}; expected one of {sorted(base['values'])}")
        if base["values"][kind] is None:
            base["values"][kind] = {}
        for code, spellings in (codes or {}).items():
            moved = {normalise_label(x) for x in spellings or []}
            for other, theirs in base["values"][kind].items():  # a spelling listed here leaves any other code
                if other != code and theirs:
                    base["values"][kind][other] = [x for x in theirs if normalise_label(x) not in moved]
            base["values"][kind].setdefault(code, []).extend(spellings or [])
    return base


@lru_cache(maxsize=8)
def _load_cached(user_path: str | None, user_mtime: float | None) -> Codebook:
    text = resources.files("cmestudy").joinpath(PACKAGE_CODEBOOK).read_text(encoding="utf-8")
    doc = read_yaml(text)
    sources = ["cmestudy/codebook.yml"]
    if user_path:
        extra = read_yaml(Path(user_path).read_text(encoding="utf-8")) or {}
        doc = _merge(doc, extra)
        sources.append(user_path)
    return _parse(doc, sources)


def load_codebook(raw_dir: str | Path | None = None) -> Codebook:
    """The package codebook, extended by ``RAW_DIR/codebook.yml`` when present."""
    if raw_dir is not None:
        p = Path(raw_dir) / USER_CODEBOOK
        if p.is_file():
            return _load_cached(str(p.resolve()), p.stat().st_mtime)
    return _load_cached(None, None)
