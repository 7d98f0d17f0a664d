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
        cls, file: str, row: int | None, column: str | None, value: str | None, message: str, **params
    ) -> DataProblem:
        """A problem whose text is the catalogue's ``message`` (English in ``expected``)."""
        from . import i18n

        frozen = tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v) for k, v in params.items()))
        return cls(file, row, column, value, i18n.t(message, "en", **_in(dict(frozen), "en")), message, frozen)

    def describe(self, lang: str | None = None) -> str:
        """What was expected, in the report's language when the problem has a message id. A value
        given per language (a dict ``{"en": ..., "zh": ...}`` to :meth:`from_message`) is taken in it."""
        if not self.message:
            return self.expected
        from . import i18n

        return i18n.t(self.message, lang, **_in(dict(self.params), lang or i18n.get_language()))

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        got = "" if self.value is None else f": got {_short(self.value)!r}"
        return f"{where}{got}; expected {self.expected}"

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
    """Parameters with every per-language value (pairs of language and text) taken in ``lang``."""
    out = {}
    for k, v in params.items():
        if isinstance(v, tuple) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            v = dict(v).get(lang, dict(v).get("en"))
        out[k] = v
    return out


def _short(value, limit: int = 60) -> str:
    s = str(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


class DataError(ValueError):
    """Raised when raw data cannot be used; carries every problem found."""

    def __init__(self, problems: list[DataProblem], headline: str = "the raw data cannot be used"):
        self.problems = list(problems)
        self.headline = headline
        super().__init__(self.format())

    def format(self, limit: int = MAX_SHOWN) -> str:
        """Every problem, the same problem on many rows once: ``rows 2-22, 45-73: got '云课堂直播'``."""
        n = len(self.problems)
        groups = group_problems(self.problems)
        lines = [f"{self.headline}: {n} problem{'s' if n != 1 else ''}"]
        lines += [f"  - {g}" for g in groups[:limit]]
        if len(groups) > limit:
            lines.append(f"  ... and {len(groups) - limit} more kinds of problem")
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

    def __str__(self) -> str:
        where = self.file
        rows = [r for r in self.rows if r is not None]
        if rows:
            where += f", row {rows[0]}" if len(set(rows)) == 1 else f", rows {row_ranges(rows)}"
        if self.column is not None:
            where += f", column {self.column!r}"
        values = [v for v in self.values if v is not None]
        got = ""
        if values:
            shown = ", ".join(repr(_short(v)) for v in values[:3])
            got = f": got {shown}" + (f" and {len(values) - 3} other values" if len(values) > 3 else "")
        return f"{where}{got}; expected {self.expected}"


def group_problems(problems) -> list[ProblemGroup]:
    """Problems that differ only in their row (and value) as one group each, in order of first appearance."""
    groups: dict = {}
    for p in problems:
        key = (p.file, p.column, p.expected)
        rows, values = groups.setdefault(key, ([], {}))
        rows.append(p.row)
        if p.value is not None:
            values.setdefault(p.value, None)
    return [ProblemGroup(f, c, e, tuple(rows), tuple(values)) for (f, c, e), (rows, values) in groups.items()]


#: Why a row is set aside (``code`` in the quarantine); the reason and action are written out in
#: English from the catalogue (``label.reason_<code>``, ``label.action_<code>``), and in the
#: report's language in the report.
REASONS = (
    "orphan", "duplicate", "unknown_title", "discipline_spelling", "outside_years", "blended_mode", "summary_row",
)  # fmt: skip
EXCLUDED = ("orphan", "duplicate", "outside_years", "blended_mode")  # rows left out of the counts (the others are kept)


def reason_columns(code: str) -> dict:
    """The ``reason``, ``action`` and ``code`` columns of a quarantine row set aside for ``code``."""
    from . import i18n

    return {
        "reason": i18n.t(f"label.reason_{code}", "en"),
        "action": i18n.t(f"label.action_{code}", "en"),
        "code": code,
    }
