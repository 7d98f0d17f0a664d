"""Data problems: what is wrong with an input, where, and what was expected.

Every check in cmestudy reports a :class:`DataProblem` naming the file, the row as the
user sees it in Excel (1-based, counting the header row), the column as it is headed
in the file, the offending value, and what was expected. Unusable input raises
:class:`DataError` carrying all problems found, not just the first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

MAX_SHOWN = 50


@dataclass(frozen=True)
class DataProblem:
    """What is wrong, where, and what was expected.

    ``expected`` is English (the command line's language). A problem the report shows
    also carries ``message``, the catalogue id of the same text, and its ``params``, so the
    report can say it in its own language (:meth:`describe`).
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str
    message: str | None = None
    params: tuple = ()

    @classmethod
    def from_message(
        cls, file: str, row: int | None, column: str | None, value: str | None, message: str, /, **params
    ) -> DataProblem:
        """A problem whose text is the catalogue's ``message`` (English in ``expected``)."""
        from cmestudy import i18n

        frozen = tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v) for k, v in params.items()))
        return cls(file, row, column, value, i18n.t(message, "en", **_in(dict(frozen), "en")), message, frozen)

    def describe(self, lang: str | None = None) -> str:
        """What was expected, in the report's language when the problem has a message id. A value
        given per language (a dict ``{"en": ..., "zh": ...}`` to :meth:`from_message`) is taken in it."""
        if not self.message:
            return self.expected
        from cmestudy import i18n

        return i18n.t(self.message, lang, **_in(dict(self.params), lang or i18n.get_language()))

    def __str__(self) -> str:
        return self.text("en")

    def text(self, lang: str = "en") -> str:
        """The problem as a line in ``lang``."""
        return ProblemGroup(self.file, self.column, self.expected, (self.row,),
                            () if self.value is None else (self.value,), self).describe(lang)  # fmt: skip

    def to_dict(self) -> dict:
        out = asdict(self)
        out["params"] = [list(kv) for kv in self.params]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> DataProblem:
        d = dict(d)
        d["params"] = tuple(tuple(kv) for kv in d.get("params") or ())
        return cls(**d)


def _in(params: dict, lang: str) -> dict:
    """Parameters with every per-language value (a dict, or pairs of language and text) taken in ``lang``."""
    out = {}
    for k, v in params.items():
        if isinstance(v, tuple) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            v = dict(v)
        if isinstance(v, dict):
            v = v.get(lang, v.get("en"))
        out[k] = v
    return out


def kind_name(kind: str) -> dict:
    """A table's name per language: its code in English sentences (``projects``), its label in Chinese."""
    from cmestudy import i18n

    return {"en": kind, "zh": i18n.t(f"label.kind_{kind}", "zh")}


def _short(value, limit: int = 60) -> str:
    s = str(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


class DataError(ValueError):
    """Raised when raw data cannot be used; carries every problem found.

    ``headline`` is the catalogue id of what could not be done (``problem.headline.cannot_read``,
    with ``params`` such as ``file``); :meth:`format` writes it and every problem in a language.
    """

    def __init__(self, problems: list[DataProblem], headline: str = "problem.headline.unusable", **params):
        self.problems = list(problems)
        self.headline_id, self.params = headline, params
        super().__init__(self.format())

    @property
    def headline(self) -> str:
        from cmestudy import i18n

        return i18n.t(self.headline_id, "en", **_in(self.params, "en"))

    def format(self, limit: int = MAX_SHOWN, lang: str = "en") -> str:
        """Every problem, the same problem on many rows once: ``rows 2-22, 45-73: got '云课堂直播'``."""
        from cmestudy import i18n

        n = len(self.problems)
        groups = group_problems(self.problems)
        headline = i18n.t(self.headline_id, lang, **_in(self.params, lang))
        lines = [i18n.t("problem.format.count_one" if n == 1 else "problem.format.count", lang, headline=headline, n=n)]
        lines += [f"  - {g.describe(lang)}" for g in groups[:limit]]
        if len(groups) > limit:
            lines.append(i18n.t("problem.format.more", lang, n=len(groups) - limit))
        return "\n".join(lines)


def row_ranges(rows, most: int = 12) -> str:
    """Row numbers as ranges: [2, 3, 4, 9] -> "2-4, 9"; more than ``most`` ranges are cut short.

    >>> row_ranges([2, 3, 4, 9, 11, 12])
    '2-4, 9, 11-12'
    """
    rows = sorted(set(rows))
    ranges = []
    for r in rows:
        if ranges and r == ranges[-1][1] + 1:
            ranges[-1][1] = r
        else:
            ranges.append([r, r])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges[:most])
    if len(ranges) > most:
        text += f", … ({len(rows):,} rows in all)"
    return text


@dataclass(frozen=True)
class ProblemGroup:
    """The same problem (file, column, what was expected) on one row or many."""

    file: str
    column: str | None
    expected: str
    rows: tuple
    values: tuple
    problem: DataProblem | None = None  # the first of the group: says what was expected in any language

    def describe(self, lang: str = "en") -> str:
        """``file, rows 2-22, column '授课方式': got '云课堂'; expected ...`` in ``lang``."""
        from cmestudy import i18n

        where = self.file
        rows = [r for r in self.rows if r is not None]
        if rows:
            where += (
                i18n.t("problem.format.row", lang, row=rows[0])
                if len(set(rows)) == 1
                else i18n.t("problem.format.rows", lang, rows=row_ranges(rows))
            )
        if self.column is not None:
            where += i18n.t("problem.format.column", lang, column=self.column)
        values = [v for v in self.values if v is not None]
        got = ""
        if values:
            shown = i18n.t("punct.list_sep", lang).join(i18n.t("problem.format.value", lang, value=_short(v))
                                                          for v in values[:3])  # fmt: skip
            if len(values) > 3:
                shown = i18n.t("problem.format.and_others", lang, values=shown, n=len(values) - 3)
            got = i18n.t("problem.format.got", lang, values=shown)
        expected = self.problem.describe(lang) if self.problem is not None else self.expected
        return i18n.t("problem.format.line", lang, where=where, got=got, expected=expected)

    def __str__(self) -> str:
        return self.describe("en")


def group_problems(problems) -> list[ProblemGroup]:
    """Problems that differ only in their row (and value) as one group each, in order of first appearance."""
    groups: dict = {}
    for p in problems:
        key = (p.file, p.column, p.expected)
        rows, values, first = groups.setdefault(key, ([], {}, p))
        rows.append(p.row)
        if p.value is not None:
            values.setdefault(p.value, None)
    return [
        ProblemGroup(f, c, e, tuple(rows), tuple(values), first) for (f, c, e), (rows, values, first) in groups.items()
    ]


#: Why a row is set aside (``code`` in the quarantine); the reason and action are written out in
#: English from the catalogue (``label.reason_<code>``, ``label.action_<code>``), and in the
#: report's language in the report.
REASONS = (
    "orphan", "duplicate", "unknown_title", "discipline_spelling", "outside_years", "blended_mode", "summary_row",
)  # fmt: skip
EXCLUDED = ("orphan", "duplicate", "outside_years", "blended_mode")  # rows left out of the counts (the others are kept)


def reason_columns(code: str) -> dict:
    """The ``reason``, ``action`` and ``code`` columns of a quarantine row set aside for ``code``."""
    from cmestudy import i18n

    return {
        "reason": i18n.t(f"label.reason_{code}", "en"),
        "action": i18n.t(f"label.action_{code}", "en"),
        "code": code,
    }
