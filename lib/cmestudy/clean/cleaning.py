"""Validate and normalise ingested tables; quarantine recoverable rows; write ``data/processed``.

Rules (the raw-data contract is documented in ``data/raw/README.md``):

* Project register -- fatal if broken, since every count hangs on it: an empty or
  duplicated project id, a year that is not a whole number in the study years, a level
  or delivery mode that is not in the codebook, an empty discipline.
* Aggregated counts -- fatal: a count that is not a non-negative whole number, a
  project id not in the register, a project given both as counts and as enrolments.
* Enrolments -- recoverable, kept in ``quarantine.csv`` with the reason:
  a project id not in the register (excluded), the same learner enrolled twice in one
  project (later rows excluded), a professional title not in the codebook (kept, graded
  ``unknown``: counted in the descriptive tables, excluded from the title tests).

Outputs in the processed directory: ``projects.parquet`` (one row per project),
``learners.parquet`` (learners per project and title grade), ``quarantine.csv`` and
``cleaning.json`` (row counts at each step).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from cmestudy.fileio import write_csv, write_json, write_parquet
from cmestudy.ingest.columnar import duplicated_pairs
from cmestudy.ingest.reading import Ingested
from cmestudy.problems import EXCLUDED, DataError, DataProblem, reason_columns
from cmestudy.schema import GRADES_WITH_UNKNOWN, LEVELS, MODES, Codebook, load_codebook

#: How the codebook codes a project delivered both ways (线上线下结合): set aside with its learners.
BLENDED = "blended"
#: Columns of the coded register that only the cleaning uses.
HELPER_COLUMNS = ["_blended", "_file", "_row"]
#: Why a whole project (with its learners) is set aside: a year outside the study, or blended delivery.
ASIDE = ("outside_years", "blended_mode")
#: A year more than this many years from the register's main run of years is taken for a typo.
MAX_YEAR_GAP = 5
PROJECT_COLUMNS = ["project_id", "year", "level", "mode", "discipline", "title", "credits", "start_date", "hours"]
LEARNER_COLUMNS = ["project_id", "year", "level", "mode", "discipline", "grade", "learners"]
QUARANTINE_COLUMNS = ["file", "row", "project_id", "column", "value", "reason", "action", "code", "rows"]


@dataclass
class Cleaned:
    projects: pd.DataFrame
    learners: pd.DataFrame
    quarantine: pd.DataFrame
    summary: dict = field(default_factory=dict)


def _problem(frame: pd.DataFrame, idx, column: str, message: str, **params) -> DataProblem:
    """The problem of one cell: its file and row, the column, the value, and the catalogue's ``message``."""
    return DataProblem.from_message(
        str(frame.at[idx, "_file"]), int(frame.at[idx, "_row"]), column, str(frame.at[idx, column]), message, **params
    )


def accepted_spellings(codebook: Codebook, kind: str, allowed, lang: str) -> str:
    """The spellings the codebook accepts for each code of a column, the code named in ``lang``: every
    spelling in English, English ones first; the Chinese ones in Chinese (``直播：直播、线上直播、…；面授：…``)."""
    from cmestudy import i18n

    def cjk(text: str) -> bool:
        return any("\u4e00" <= ch <= "\u9fff" for ch in text)

    parts = []
    for code in allowed:
        spellings = list(dict.fromkeys(codebook.values[kind].get(code, ())))
        if lang == "zh":  # the spellings a Chinese export uses
            spellings = [x for x in spellings if cjk(x)] or spellings
        else:  # every spelling, English first (the codebook's order within each script)
            spellings.sort(key=cjk)
        parts.append(i18n.t("problem.spellings", lang, code=i18n.label(code, lang),
                            spellings=i18n.t("punct.enum_sep", lang).join(spellings)))  # fmt: skip
    return i18n.t("punct.clause_sep", lang).join(parts)


def _code_column(frame, column, kind, codebook, problems, allowed):
    from cmestudy import i18n

    coded = codebook.code_values(kind, frame[column])
    if coded.isna().any():
        accepted = {lang: accepted_spellings(codebook, kind, allowed, lang) for lang in ("en", "zh")}
        for idx in frame.index[coded.isna()]:
            problems.append(
                DataProblem.from_message(
                    str(frame.at[idx, "_file"]), int(frame.at[idx, "_row"]), column, str(frame.at[idx, column]),
                    "problem.coded_value", name={"en": column, "zh": i18n.label(column, "zh")},
                    accepted=accepted,
                )
            )  # fmt: skip
    return coded


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates as exports write them: ISO (2021-05-14), with slashes or dots (2021/5/14, 2021.5.14),
    Chinese (2021年5月14日), or a date and time (Excel date cells are read as ISO already); empty
    cells are NaT, and so are values that are not dates.

    >>> parse_dates(pd.Series(["2021年5月14日", "2021/5/4", "2021.05.04 09:30", ""])).dt.strftime("%Y-%m-%d").tolist()
    ['2021-05-14', '2021-05-04', '2021-05-04', nan]
    """
    text = values.astype("string").str.strip()
    text = text.str.replace(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?", r"\1-\2-\3", regex=True)
    text = text.str.replace(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})", r"\1-\2-\3", regex=True)
    text = text.mask(text.eq(""))
    return pd.to_datetime(text, errors="coerce", format="mixed")


def clean_projects(projects: pd.DataFrame, codebook: Codebook) -> tuple[pd.DataFrame, list[DataProblem], pd.DataFrame]:
    """Code and check the register. Returns (projects of every year, fatal problems, quarantine notes).

    Choosing the study years is an analysis choice made afterwards (:func:`clean`): a valid
    year outside them is not a problem of the register.
    """
    problems: list[DataProblem] = []
    p = projects.copy()
    for c in PROJECT_COLUMNS:
        if c not in p.columns:
            p[c] = ""
    p = p.fillna("")
    year_num = pd.to_numeric(p["year"].str.replace(r"年$", "", regex=True), errors="coerce")
    for idx in p.index[year_num.isna() | (year_num % 1 != 0) | (year_num < 1900) | (year_num > 2100)]:
        problems.append(_problem(p, idx, "year", "problem.year_format"))
    empty_id = p["project_id"].eq("")
    for idx in p.index[empty_id]:
        problems.append(_problem(p, idx, "project_id", "problem.project_id"))
    dup = p["project_id"].ne("") & p.duplicated("project_id", keep=False)
    for _pid, grp in p[dup].groupby("project_id", sort=True):
        first = grp.index[0]
        for idx in grp.index[1:]:
            problems.append(
                _problem(
                    p,
                    idx,
                    "project_id",
                    "problem.unique_project_id",
                    file=str(p.at[first, "_file"]),
                    row=int(p.at[first, "_row"]),
                )  # fmt: skip
            )
    level = _code_column(p, "level", "level", codebook, problems, LEVELS)
    mode = _code_column(p, "mode", "mode", codebook, problems, MODES + (BLENDED,))
    for idx in p.index[p["discipline"].eq("")]:
        problems.append(_problem(p, idx, "discipline", "problem.discipline"))
    discipline = p["discipline"]
    notes = pd.DataFrame(columns=QUARANTINE_COLUMNS)
    if codebook.values.get("discipline"):
        coded = codebook.code_values("discipline", p["discipline"])
        unknown = coded.isna() & p["discipline"].ne("")
        notes = pd.DataFrame(
            {
                "file": p.loc[unknown, "_file"],
                "row": p.loc[unknown, "_row"],
                "project_id": p.loc[unknown, "project_id"],
                "column": "discipline",
                "value": p.loc[unknown, "discipline"],
                **reason_columns("discipline_spelling"),
            }
        )
        discipline = coded.fillna(p["discipline"])
    credits = pd.to_numeric(p["credits"].replace("", np.nan), errors="coerce")
    hours = pd.to_numeric(p["hours"].replace("", np.nan), errors="coerce")
    for col, num in (("credits", credits), ("hours", hours)):
        bad = p[col].ne("") & (num.isna() | (num < 0))
        for idx in p.index[bad]:
            problems.append(_problem(p, idx, col, "problem.non_negative_number"))
    start = parse_dates(p["start_date"])
    for idx in p.index[p["start_date"].ne("") & start.isna()]:
        problems.append(_problem(p, idx, "start_date", "problem.date"))
    out = pd.DataFrame(
        {
            "project_id": p["project_id"].astype("string"),
            "year": year_num.astype("Int64"),
            "level": pd.Categorical(level, categories=LEVELS),
            "mode": pd.Categorical(mode.where(mode.isin(MODES)), categories=MODES),
            "discipline": discipline.astype("string"),
            "title": p["title"].astype("string"),
            "credits": credits.astype("Float64"),
            "start_date": start.dt.date.astype("string")
            if start.notna().any()
            else pd.Series(pd.NA, index=p.index, dtype="string"),
            "hours": hours.astype("Float64"),
            "_blended": mode.eq(BLENDED).fillna(False).astype(bool),  # delivered both ways: set aside by clean()
            "_file": p["_file"].astype(str),
            "_row": p["_row"],
        }
    )
    if "institution" in projects.columns:  # optional: only a register that names its organisers has the column
        out["institution"] = p["institution"].astype(str).str.strip().replace("", pd.NA).astype("string")
    return out.sort_values(["year", "project_id"], kind="stable").reset_index(drop=True), problems, notes


def clean_counts(counts: pd.DataFrame, register: set[str]) -> tuple[pd.DataFrame, list[DataProblem]]:
    problems: list[DataProblem] = []
    c = counts.copy()
    if "unknown" not in c.columns:
        c["unknown"] = ""
    c = c.fillna("")
    rows = []
    for grade in GRADES_WITH_UNKNOWN:
        text = c[grade].str.replace(",", "", regex=False).str.strip()
        num = pd.to_numeric(text.replace("", "0"), errors="coerce")
        bad = num.isna() | (num < 0) | (num % 1 != 0)
        for idx in c.index[bad]:
            problems.append(_problem(c, idx, grade, "problem.count_value"))
        rows.append(pd.DataFrame({"project_id": c["project_id"], "grade": grade, "learners": num.where(~bad, 0)}))
    for idx in c.index[~c["project_id"].isin(register)]:
        problems.append(_problem(c, idx, "project_id", "problem.counts_registered"))
    dup = c.duplicated("project_id", keep="first")
    for idx in c.index[dup]:
        problems.append(_problem(c, idx, "project_id", "problem.counts_one_row"))
    long = pd.concat(rows, ignore_index=True)
    long["learners"] = long["learners"].astype("int64")
    return long, problems


def _codes(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes and categories of a column (strings are encoded first; missing -> -1)."""
    cat = column.array if isinstance(column.dtype, pd.CategoricalDtype) else pd.Categorical(column)
    return np.asarray(cat.codes), cat.categories


def clean_enrolments(
    enrolments: pd.DataFrame, register: set[str], codebook: Codebook, aside: dict[str, str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grade titles, exclude orphans, repeated enrolments and enrolments of projects set aside
    (``aside``: project id -> the reason's code, ``outside_years`` or ``blended_mode``). Returns
    (long counts, quarantine).

    In this order: a row whose project is not in the register is an orphan; of the rest, a
    learner's second enrolment in a project is a repeat; of the rest, an enrolment in a project
    set aside is set aside with it. Works on the codes of the column-encoded table, so ten
    million rows take about a second: each distinct title is graded once and each distinct
    project id looked up once.
    """
    e = enrolments
    n = len(e)
    pcode, projects = _codes(e["project_id"])
    tcode, titles = _codes(e["professional_title"])
    kcode = _codes(e["learner_key"])[0] if "learner_key" in e.columns else np.full(n, -1, np.int8)
    title_grade = codebook.grade_titles(pd.Series(titles.astype(str), dtype=object))
    grade_code = pd.Categorical(title_grade, categories=GRADES_WITH_UNKNOWN).codes.astype(np.int8)
    grade = np.append(grade_code, GRADES_WITH_UNKNOWN.index("unknown"))[tcode]  # a missing title (-1) is unknown
    orphan = ~np.append(projects.astype(str).isin(register), False)[pcode]
    dup = np.zeros(n, bool)
    keyed = (kcode >= 0) & ~orphan
    keyed = slice(None) if keyed.all() else np.flatnonzero(keyed)
    dup[keyed] = duplicated_pairs(pcode[keyed], kcode[keyed])
    aside = aside or {}
    why = np.append([aside.get(str(p), "") for p in projects], "").astype(str)[pcode]
    why[orphan | dup] = ""
    set_aside = why != ""
    unknown = (grade == GRADES_WITH_UNKNOWN.index("unknown")) & ~orphan & ~dup & ~set_aside
    quarantine = []

    def q(mask, column, code):
        rows = np.flatnonzero(mask)
        if not len(rows):
            return
        sub = e.iloc[rows]
        quarantine.append(
            pd.DataFrame(
                {
                    "file": sub["_file"].astype(str),
                    "row": sub["_row"],
                    "project_id": sub["project_id"].astype(str),
                    "column": column,
                    "value": sub[column].astype("string").fillna("").astype(str),
                    **reason_columns(code),
                }
            )
        )

    q(orphan, "project_id", "orphan")
    q(dup, "project_id", "duplicate")
    for code in ASIDE:
        q(why == code, "project_id", code)
    q(unknown, "professional_title", "unknown_title")
    kept = ~orphan & ~dup & ~set_aside
    n_grades = len(GRADES_WITH_UNKNOWN)
    cell_type = np.int32 if len(projects) * n_grades < 2**31 else np.int64
    cells = np.bincount(pcode[kept].astype(cell_type) * n_grades + grade[kept], minlength=len(projects) * n_grades)
    pid, g = np.divmod(np.flatnonzero(cells), n_grades)
    long = pd.DataFrame(
        {
            "project_id": projects.astype(str)[pid],
            "grade": np.asarray(GRADES_WITH_UNKNOWN, dtype=object)[g],
            "learners": cells[cells > 0].astype("int64"),
        }
    )
    quarantine = pd.concat(quarantine, ignore_index=True) if quarantine else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    return long, quarantine


def implausible_years(
    every: pd.DataFrame, study_years, chosen: bool, this_year: int | None = None
) -> list[DataProblem]:
    """Projects whose year is not plausible for a study, each a problem naming its file and row.

    A study year later than ``this_year`` (default: the current year) cannot have happened yet. And
    unless the study years were chosen (``chosen``, by ``--years``), a year lying more than
    :data:`MAX_YEAR_GAP` years from the register's main run of years is taken for a typo (2031 or
    1995 among 2021-2023): the register's distinct years are split where they are more than
    ``MAX_YEAR_GAP`` apart, and every run but the one with the most projects is reported. Years
    outside the chosen study years are set aside instead, like any other.

    >>> reg = pd.DataFrame({"year": pd.array([2021, 2022, 2022, 2031, 1995], "Int64"), "_file": "p.csv",
    ...                     "_row": [2, 3, 4, 5, 6]})
    >>> [(p.row, p.value) for p in implausible_years(reg, [1995, 2021, 2022, 2031], chosen=False, this_year=2026)]
    [(5, '2031'), (6, '1995')]
    >>> [(p.row, p.value) for p in implausible_years(reg, [2021, 2022], chosen=True, this_year=2026)]
    []
    """
    import datetime

    this_year = this_year or datetime.date.today().year
    known = every["year"].dropna().astype(int)
    if known.empty:
        return []
    sizes = known.value_counts()
    runs: list[list[int]] = []
    for y in sorted(sizes.index):
        if runs and y - runs[-1][-1] <= MAX_YEAR_GAP:
            runs[-1].append(y)
        else:
            runs.append([y])
    main = max(runs, key=lambda r: (int(sizes[r].sum()), r[-1]))
    study = set(int(y) for y in study_years)
    problems = []
    for idx, year in known.items():
        if year not in study:
            continue
        if year > this_year:
            message, values = "problem.year_future", {"year": this_year}
        elif not chosen and year not in main:
            span = f"{main[0]}-{main[-1]}" if main[-1] > main[0] else str(main[0])
            message, values = "problem.year_far", {"years": span, "gap": MAX_YEAR_GAP}
        else:
            continue
        problems.append(
            DataProblem.from_message(
                str(every.at[idx, "_file"]), int(every.at[idx, "_row"]), "year", str(year), message, **values
            )
        )
    return problems


def clean(ingested: Ingested, years=None, codebook: Codebook | None = None) -> Cleaned:
    """Clean the ingested tables; raise :class:`DataError` with every fatal problem.

    ``years`` are the study years; by default every year of the register. Projects of other
    years, their enrolments and their counts are set aside with that reason (counted in the
    cleaning table, listed in the quarantine), never refused.
    """
    codebook = codebook or load_codebook()
    every, problems, project_notes = clean_projects(ingested.projects, codebook)
    register = set(every["project_id"].dropna())
    found = sorted(int(y) for y in every["year"].dropna().unique())
    study_years = sorted({int(y) for y in years}) if years else found
    problems += implausible_years(every, study_years, chosen=bool(years))
    in_years = every["year"].isin(study_years).fillna(False).to_numpy(bool)
    blended = every["mode"].isna().to_numpy() & every["_blended"].to_numpy(bool)
    aside = dict.fromkeys(every.loc[~in_years, "project_id"], "outside_years")
    aside.update(dict.fromkeys(every.loc[in_years & blended, "project_id"], "blended_mode"))
    outside = set(aside)
    if not years:  # the study years are those with projects that are used
        study_years = sorted(int(y) for y in every.loc[in_years & ~blended, "year"].dropna().unique()) or found
    projects = every[in_years & ~blended].drop(columns=HELPER_COLUMNS).reset_index(drop=True)
    if projects.empty and len(every) and not problems:  # nothing left to study: say why, as a problem
        why = pd.Series(list(aside.values())).value_counts()
        files = sorted(set(every["_file"]))
        problems.append(
            DataProblem.from_message(
                files[0], None, None, None, "problem.no_project_left", projects=len(every),
                blended=int(why.get("blended_mode", 0)), outside=int(why.get("outside_years", 0)),
            )
        )  # fmt: skip
    counts_long, count_problems = clean_counts(ingested.counts, register)
    problems += count_problems
    enrol_long, quarantine = clean_enrolments(ingested.enrolments, register, codebook, aside)
    engine_long = (
        ingested.engine_counts
        if ingested.engine_counts is not None
        else pd.DataFrame(
            {"project_id": pd.Series(dtype=str), "grade": pd.Series(dtype=str), "learners": pd.Series(dtype="int64")}
        )
    )
    both = set(counts_long["project_id"]) & (set(enrol_long["project_id"]) | set(engine_long["project_id"]))
    for pid in sorted(both):
        row = ingested.counts.index[ingested.counts["project_id"] == pid][0]
        problems.append(_problem(ingested.counts, row, "project_id", "problem.learners_once"))
    if problems:
        headers = {f.where: f.columns for f in ingested.files}  # a problem names the column as headed in its file
        raise DataError([replace(p, column=headers.get(p.file, {}).get(p.column, p.column)) for p in problems])
    parts = [project_notes, _aside_notes(every, ingested, aside, engine_long), quarantine]
    if ingested.quarantine is not None:  # rows the Dask engine set aside, for projects of the study years
        parts.append(ingested.quarantine[~ingested.quarantine["project_id"].isin(outside)])
    parts = [p for p in parts if len(p)]
    quarantine = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    quarantine["rows"] = (
        (quarantine["rows"] if "rows" in quarantine else pd.Series(1, index=quarantine.index)).fillna(1).astype("int64")
    )  # a row may stand for several (Dask engine)
    keep = lambda t: t[~t["project_id"].isin(outside)]  # noqa: E731
    long = pd.concat([enrol_long, keep(counts_long), keep(engine_long)], ignore_index=True)
    full = pd.MultiIndex.from_product([projects["project_id"], GRADES_WITH_UNKNOWN], names=["project_id", "grade"])
    long = long.groupby(["project_id", "grade"]).learners.sum().reindex(full, fill_value=0).reset_index()
    learners = long.merge(projects[["project_id", "year", "level", "mode", "discipline"]], on="project_id", how="left")
    learners["grade"] = pd.Categorical(learners["grade"], categories=GRADES_WITH_UNKNOWN)
    learners["learners"] = learners["learners"].astype("int64")
    learners = learners[LEARNER_COLUMNS]
    weights = quarantine.groupby("code")["rows"].sum() if len(quarantine) else pd.Series(dtype="int64")
    summary = {
        "years": study_years,
        "projects": int(len(projects)),
        "projects_outside_years": int((~in_years).sum()),
        "projects_blended": int((in_years & blended).sum()),
        "enrolment_rows_read": int(len(ingested.enrolments) + ingested.engine_rows),
        "count_rows_read": int(len(ingested.counts)),
        "enrolments_excluded": int(weights.reindex(list(EXCLUDED), fill_value=0).sum()),
        "titles_unknown": int(learners.loc[learners.grade == "unknown", "learners"].sum()),
        "learners": int(learners["learners"].sum()),
        "quarantine_by_reason": {k: int(v) for k, v in weights.sort_index().items()},
    }
    return Cleaned(projects, learners, quarantine.reset_index(drop=True), summary)


def _aside_notes(every, ingested, aside: dict[str, str], engine_long) -> pd.DataFrame:
    """Quarantine rows for the projects set aside (``aside``: project id -> reason code): each project,
    each row of counts, and the learners the Dask engine counted for such projects (one row standing
    for them)."""
    parts = []
    mask = every["project_id"].isin(aside).to_numpy(bool)
    if mask.any():
        sub = every[mask]
        codes = sub["project_id"].map(aside)
        written = ingested.projects.set_index(["_file", "_row"])["mode"]  # the mode as the file writes it
        column = np.where(codes.eq("blended_mode"), "mode", "year")
        modes = [str(written.get((f, r), "")) for f, r in zip(sub["_file"], sub["_row"], strict=True)]
        value = np.where(column == "mode", modes, sub["year"].astype(str))
        parts.append(
            pd.DataFrame(
                {
                    "file": sub["_file"].to_numpy(),
                    "row": sub["_row"].to_numpy(),
                    "project_id": sub["project_id"].to_numpy(),
                    "column": column,
                    "value": value,
                    **_reasons(codes),
                }
            )
        )
    c = ingested.counts
    if len(c) and aside:
        sub = c[c["project_id"].isin(aside)]
        if len(sub):
            parts.append(
                pd.DataFrame(
                    {
                        "file": sub["_file"].astype(str),
                        "row": sub["_row"],
                        "project_id": sub["project_id"],
                        "column": "project_id",
                        "value": sub["project_id"],
                        **_reasons(sub["project_id"].map(aside)),
                    }
                )
            )
    e = engine_long[engine_long["project_id"].isin(aside)]
    if len(e):
        per = e.groupby("project_id")["learners"].sum()
        parts.append(
            pd.DataFrame(
                {
                    "file": "",
                    "row": pd.NA,
                    "project_id": per.index,
                    "column": "project_id",
                    "value": per.index,
                    **_reasons(per.index.to_series().map(aside)),
                    "rows": per.to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=QUARANTINE_COLUMNS)


def _reasons(codes: pd.Series) -> dict:
    """The reason, action and code columns for a column of reason codes."""
    table = {c: reason_columns(c) for c in set(codes)}
    return {k: [table[c][k] for c in codes] for k in ("reason", "action", "code")}


def write_processed(cleaned: Cleaned, processed_dir) -> Path:
    out = Path(processed_dir)
    write_parquet(out / "projects.parquet", cleaned.projects)
    write_parquet(out / "learners.parquet", cleaned.learners)
    write_csv(out / "quarantine.csv", cleaned.quarantine)
    write_json(out / "cleaning.json", cleaned.summary)
    return out


@dataclass
class Study:
    """The cleaned study data as notebooks 03-05 read it."""

    projects: pd.DataFrame
    learners: pd.DataFrame
    summary: dict

    @property
    def years(self) -> list[int]:
        """The study years: as chosen (``--years``), or every year of the register."""
        return [int(y) for y in self.summary.get("years") or sorted(self.projects["year"].dropna().unique())]

    @property
    def learner_years(self) -> list[int]:
        """The study years in which there are learners."""
        per_year = self.learners.groupby("year")["learners"].sum()
        return [int(y) for y in self.years if per_year.get(y, 0) > 0]


def load_processed(processed_dir) -> Study:
    src = Path(processed_dir)
    if not (src / "projects.parquet").is_file():
        raise FileNotFoundError(f"{src} holds no cleaned tables: run notebooks/02_clean first")
    projects = pd.read_parquet(src / "projects.parquet")
    learners = pd.read_parquet(src / "learners.parquet")
    for frame in (projects, learners):
        frame["level"] = pd.Categorical(frame["level"], categories=LEVELS)
        frame["mode"] = pd.Categorical(frame["mode"], categories=MODES)
    learners["grade"] = pd.Categorical(learners["grade"], categories=GRADES_WITH_UNKNOWN)
    summary = json.loads((src / "cleaning.json").read_text(encoding="utf-8"))
    return Study(projects, learners, summary)
