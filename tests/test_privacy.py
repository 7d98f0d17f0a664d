"""Personal data never leave the ingest step, and data strings reach the report escaped.

A small export with names, valid-looking 18-digit national ID numbers, 11-digit mobile
numbers and e-mail addresses is run through the whole pipeline; none of those values may
appear in any file under the processed or output directories.
"""

from __future__ import annotations

import random

import pandas as pd
import pypdf
import pytest

from cmestudy.ingest import storage

from .conftest import run_cli
from .exports import PROJECT_HEADER, PROJECTS, enrolments, write_csv, write_xlsx

SURNAMES = "王李张刘陈杨赵黄周吴"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超"
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def national_id(rng: random.Random) -> str:
    """An 18-digit resident ID number with a valid GB 11643-1999 check digit."""
    body = (
        "120101"
        + f"{rng.randint(1960, 1999)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        + f"{rng.randint(0, 999):03d}"
    )
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS)) % 11]
    return body + check


@pytest.fixture(scope="module")
def pii_run(tmp_path_factory):
    rng = random.Random(7)
    tmp = tmp_path_factory.mktemp("pii")
    raw = tmp / "raw"
    raw.mkdir()
    projects = [r[:] for r in PROJECTS]
    projects[0][4] = "<b>骨科</b><script>alert(1)</script>"
    projects[1][4] = '=HYPERLINK("http://example.invalid","护理")'
    write_csv(raw / "项目.csv", PROJECT_HEADER, projects, encoding="gbk")
    people = {}
    rows = []
    for pid, learner, title in enrolments():
        if learner not in people:
            people[learner] = (
                rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                national_id(rng),
                f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}",
                f"{learner.lower()}@hospital.example",
            )
        name, idn, phone, email = people[learner]
        rows.append([pid, name, idn, phone, email, title])
    header = ["项目编号", "姓名", "身份证号", "手机号", "邮箱", "职称"]
    write_csv(raw / "学员_线上.csv", header, rows[: len(rows) // 2])
    write_xlsx(raw / "学员_线下.xlsx", header, rows[len(rows) // 2 :], title_row="学员名单")
    out = tmp / "out"
    proc = run_cli("run", "--raw", raw, "--out", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    secrets = {v for person in people.values() for v in person}
    return out, secrets, proc


def _texts(path):
    """Every string a file holds, as a reader of that file would find it."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
        yield " ".join(map(str, frame.columns))
        for col in frame.columns:
            yield " ".join(map(str, frame[col].tolist()))
    elif suffix == ".pdf":
        for page in pypdf.PdfReader(str(path)).pages:
            yield (page.extract_text() or "").replace("\x00", "")
    data = path.read_bytes()
    for enc in ("utf-8", "gb18030", "utf-16"):
        yield data.decode(enc, errors="ignore")


def test_no_personal_data_in_processed_or_output(pii_run):
    out, secrets, _ = pii_run
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any(p.name == "report.pdf" for p in files)
    leaks = []
    for path in files:
        for text in _texts(path):
            squashed = "".join(text.split())
            leaks += [(str(path.relative_to(out)), s) for s in secrets if s in text or s in squashed]
    assert not leaks, f"personal data found: {leaks[:5]}"


def test_learners_were_linked_not_lost(pii_run):
    out, _, _ = pii_run
    learners = pd.read_parquet(out / "processed" / "learners.parquet")
    assert learners["learners"].sum() == 93
    enrol = pd.read_parquet(out / "processed" / "ingest" / "enrolments.parquet")
    assert set(enrol.columns) == {"project_id", "professional_title", "learner_code", "_file", "_row"}
    keys = pd.read_parquet(out / "processed" / "ingest" / "learner_keys.parquet")["learner_key"]
    assert (enrol["learner_code"] >= 0).all() and str(keys.dtype) == "uint64"  # keyed hashes, no text of a person
    keys = storage.read_enrolments(out / "processed" / "ingest" / "enrolments.parquet")["learner_key"]
    # one key per learner, the same in the CSV and the Excel file
    assert keys.nunique() == len({learner for _, learner, _ in enrolments()})


def test_data_strings_are_escaped_in_the_report_and_defused_in_csv(pii_run):
    out, _, _ = pii_run
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>骨科</b>" not in page
    tables = [p.read_text(encoding="utf-8-sig") for p in (out / "tables").glob("*.csv")]
    cells = [line.split(",")[0] for t in tables for line in t.splitlines()]
    assert any(c.startswith("\"'=HYPERLINK") for c in cells)
    assert not any(c.startswith(("=", '"=')) for c in cells)
