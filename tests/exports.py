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


# The default data as a Chinese hospital's platforms export them: Chinese headers, levels, modes and
# discipline names; the register as .xlsx with a title row above the header; the learners as GBK CSV
# with names and mobile numbers beside the learner id.
DISCIPLINES_ZH = {
    "Orthopaedic trauma": "创伤骨科",
    "Joint surgery": "关节外科",
    "Spine surgery": "脊柱外科",
    "Sports medicine": "运动医学科",
    "Nursing": "护理",
    "Rehabilitation medicine": "康复医学科",
    "Anaesthesiology": "麻醉科",
    "Hand and microsurgery": "手显微外科",
    "Radiology": "放射科",
    "Pain medicine": "疼痛科",
    "Emergency medicine": "急诊科",
    "Paediatric orthopaedics": "小儿骨科",
    "Clinical pharmacy": "临床药学",
    "Infection control": "医院感染管理",
}
LEVELS_ZH = {"national": "国家级", "municipal": "市级", "hospital": "院级"}
MODES_ZH = {"live broadcast": "线上直播", "face-to-face": "面授"}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"


def chinese_exports(tmp: Path, raw: Path) -> Path:
    """Write the default data set ``raw`` as Chinese platform exports into ``tmp/chinese``."""
    out = tmp / "chinese"
    out.mkdir()
    with open(raw / "projects.csv", encoding="utf-8", newline="") as fh:
        projects = list(csv.DictReader(fh))
    rows = [
        [
            p["project_id"],
            p["year"],
            LEVELS_ZH[p["level"]],
            MODES_ZH[p["mode"]],
            DISCIPLINES_ZH[p["discipline"]],
            p["title"],
            p["credits"],
            p["start_date"],
            p["hours"],
        ]
        for p in projects
    ]
    write_xlsx(
        out / "继续医学教育项目登记表.xlsx",
        ["项目编号", "年度", "项目级别", "授课方式", "学科", "项目名称", "学分", "举办日期", "学时"],
        rows,
        title_row="天津医院继续医学教育项目登记表（2021—2023年）",
    )
    with open(raw / "enrolments.csv", encoding="utf-8", newline="") as fh:
        enrolments = list(csv.DictReader(fh))
    people = {}
    learners = []
    for e in enrolments:
        n = people.setdefault(e["learner_id"], len(people))
        name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n // len(SURNAMES)) % len(GIVEN)] + GIVEN[(n * 7) % len(GIVEN)]
        learners.append([e["project_id"], e["learner_id"], name, f"13{n:09d}", e["professional_title"]])
    write_csv(
        out / "学员名单.csv",
        ["项目编号", "学员编号", "姓名", "手机号", "职称"],
        learners,
        encoding="gbk",
        newline="\r\n",
    )
    return out
