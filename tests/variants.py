"""Small variants of the default data, as real exports differ from it: a mode missing in some years,
titles missing, one to three projects per year and mode, one year only, a stray year, blended
projects, titles the codebook does not grade, no start dates.

The base is drawn from the reconstruction in ``data/raw/`` (three projects per year and mode, at most
40 learners each), so the numbers are of the study's kind while every run stays small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd

from .conftest import RAW

YEARS = (2021, 2022, 2023)
MODES = ("live broadcast", "face-to-face")
GRADES = ("junior", "intermediate", "senior")


@cache
def base() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(projects, enrolments with their grade): three projects per year and mode, 40 learners each at most."""
    from cmestudy.schema import load_codebook

    projects = pd.read_csv(RAW / "projects.csv", dtype=str, keep_default_na=False)
    enrolments = pd.read_csv(RAW / "enrolments.csv", dtype=str, keep_default_na=False)
    kept = projects.groupby(["year", "mode"], sort=True).head(3)
    enrolments = enrolments[enrolments["project_id"].isin(kept["project_id"])]
    enrolments = enrolments.groupby("project_id", sort=False).head(40).copy()
    enrolments["grade"] = load_codebook(RAW).code_values("title_grade", enrolments["professional_title"]).to_numpy()
    return kept.reset_index(drop=True), enrolments.reset_index(drop=True)


@dataclass
class Variant:
    """What is changed from the base. ``projects[(year, mode)]``: how many of its three projects are
    kept (0: the mode is absent that year); ``drop_titles[year]``: grades without learners that year."""

    years: tuple[int, ...] = YEARS
    projects: dict = field(default_factory=dict)
    drop_titles: dict = field(default_factory=dict)
    stray_year: int | None = None  # one project of the first year typed as this year
    blended: int = 0  # projects whose mode is written as 线上线下结合
    ungraded: int = 0  # enrolments whose title is 其他 (no grade)
    dates: bool = True

    def write(self, folder: Path) -> Path:
        projects, enrolments = base()
        keep = []
        for (year, mode), group in projects.groupby(["year", "mode"], sort=True):
            if int(year) in self.years:
                keep += list(group["project_id"].iloc[: self.projects.get((int(year), mode), 3)])
        p = projects[projects["project_id"].isin(keep)].copy()
        e = enrolments[enrolments["project_id"].isin(keep)].copy()
        year_of = p.set_index("project_id")["year"].astype(int)
        for year, grades in self.drop_titles.items():
            e = e[~(e["project_id"].map(year_of).eq(year) & e["grade"].isin(grades))]
        if self.stray_year is not None and len(p):
            p.iloc[0, p.columns.get_loc("year")] = str(self.stray_year)
        for k in range(min(self.blended, len(p))):
            p.iloc[-1 - k, p.columns.get_loc("mode")] = "线上线下结合"
        if self.ungraded:
            e.loc[e.index[: self.ungraded], "professional_title"] = "其他"
        if not self.dates:
            p = p.drop(columns=["start_date"])
        folder.mkdir(parents=True, exist_ok=True)
        p.to_csv(folder / "projects.csv", index=False)
        e.drop(columns=["grade"]).to_csv(folder / "enrolments.csv", index=False)
        return folder

    def absent(self) -> list[tuple[int, str]]:
        """(year, what) for each year of the study whose mode x title table lacks a row or a column."""
        out = []
        for year in self.years:
            modes = [m for m in MODES if self.projects.get((year, m), 3) > 0]
            if len(modes) < 2:
                out.append((year, "mode"))
            if self.drop_titles.get(year):
                out.append((year, "title"))
        return out
