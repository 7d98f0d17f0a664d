"""Small platform exports for the input tests: written as a CME office's platforms write them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

PROJECT_HEADER = ["项目编号", "年度", "项目级别", "授课方式", "学科", "项目名称"]
ENROL_HEADER = ["项目编号", "学员编号", "职称"]
COUNT_HEADER = ["项目编号", "初级", "中级", "高级"]

# Two projects a year, one live and one face-to-face, and a title mix that differs by mode.
PROJECTS = [
    ["P21L", "2021", "国家级", "直播", "骨科", "脊柱微创技术进展"],
    ["P21F", "2021", "院级", "面授", "护理", "骨科护理规范"],
    ["P22L", "2022", "市级", "线上直播", "骨科", "关节置换围手术期管理"],
    ["P22F", "2022", "院级", "线下", "康复医学", "术后康复训练"],
    ["P23L", "2023", "天津市级", "云直播", "麻醉", "区域阻滞麻醉"],
    ["P23F", "2023", "国家级", "面授", "骨科", "创伤骨科新进展"],
]
MIX = {"L": {"住院医师": 6, "主治医师": 9, "副主任医师": 4}, "F": {"护师": 5, "主管护师": 4, "主任医师": 3}}


def enrolments() -> list[list[str]]:
    rows, n = [], 0
    for pid, *_ in PROJECTS:
        for title, k in MIX[pid[-1]].items():
            for _ in range(k):
                n += 1
                rows.append([pid, f"S{n:05d}", title])
    return rows


def write_csv(path: Path, header, rows, encoding="utf-8", delimiter=",", newline="\n") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    if header is not None:
        w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, header, rows, title_row: str | None = None, merge: list[str] | None = None) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "导出"
    if title_row:
        ws.append([title_row])
    ws.append(header)
    for r in rows:
        ws.append(r)
    for rng in merge or []:
        ws.merge_cells(rng)
    wb.save(path)
    return path


def valid_raw(tmp: Path) -> Path:
    raw = tmp / "raw"
    raw.mkdir()
    write_csv(raw / "项目登记.csv", PROJECT_HEADER, PROJECTS)
    write_csv(raw / "学员名单.csv", ENROL_HEADER, enrolments())
    return raw
