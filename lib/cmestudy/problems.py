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
    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        got = "" if self.value is None else f": got {_short(self.value)!r}"
        return f"{where}{got}; expected {self.expected}"

    def to_dict(self) -> dict:
        return asdict(self)


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
        n = len(self.problems)
        lines = [f"{self.headline}: {n} problem{'s' if n != 1 else ''}"]
        lines += [f"  - {p}" for p in self.problems[:limit]]
        if n > limit:
            lines.append(f"  ... and {n - limit} more")
        return "\n".join(lines)
