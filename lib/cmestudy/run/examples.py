"""Synthetic example exports: a city's CME register of many organising institutions (``data/examples/city/``).

Not data of any real institution: a documented generator (``cmestudy example city``) writes the files a
municipal CME office exports, with Chinese headers in GBK, so that the institution comparison of the
report can be seen and tested. The default data set (``data/raw/``, the published study's reconstruction)
is a single hospital's and has no organiser column.

The generator, per institution :math:`i` and year :math:`y`: projects :math:`\\sim 1 + \\mathrm{Poisson}(6 s_i)`
with a size :math:`s_i \\sim \\mathrm{LogNormal}(0, 0.7)`; each project live with probability
:math:`\\mathrm{logit}^{-1}(b_y + u_i)`, :math:`u_i \\sim N(0, 0.6^2)` (institutions differ beyond chance, so the
funnel plot is over-dispersed); learners per project negative binomial with mean 60 (live) or 28
(face-to-face), a fifth of that in the five community health centres; titles drawn per project from a Dirichlet around the study's mode-specific mix, so that
learners cluster in projects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cmestudy.fileio import write_bytes
from cmestudy.published.paper import SYNTHETIC

SEED = 20261206
YEARS = (2021, 2022, 2023)
INSTITUTIONS = 30
#: Of them, community health centres: one or two small projects a year, so that their tables have cells of a
#: few learners (what the report's small-cell suppression is for).
SMALL = 5
SMALL_LEARNERS = 0.2
#: Year effects on the logit of a project being live (COVID-19 years lean online).
YEAR_LOGIT = {2021: 0.0, 2022: 0.8, 2023: 0.3}
LEVELS = {"国家级": 0.15, "市级": 0.35, "院级": 0.50}
DISCIPLINES = ["内科", "外科", "妇产科", "儿科", "护理", "药学", "检验", "影像", "急诊", "全科"]
TITLE_MIX = {"live": (0.33, 0.47, 0.20), "face_to_face": (0.42, 0.32, 0.26)}
TITLES = {
    0: ["住院医师", "护师", "技师", "药师"],
    1: ["主治医师", "主管护师", "主管技师"],
    2: ["副主任医师", "主任医师", "副主任护师"],
}
MODE_TEXT = {"live": "线上直播", "face_to_face": "面授"}


#: What ``synthetic.yml`` says: the report labels a raw folder holding it as a synthetic example.
MARKER = """# Synthetic example data: not the records of any real institution.
# Written by `cmestudy example city` (cmestudy.run.examples); the report labels it as synthetic.
example: city
seed: {seed}
institutions: {institutions}
"""


def city(seed: int = SEED, institutions: int = INSTITUTIONS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The project register and the enrolments of a synthetic city, with Chinese headers."""
    rng = np.random.default_rng(seed)
    small = SMALL if institutions > SMALL else 0
    names = [f"示例医院{i + 1:02d}" for i in range(institutions - small)]
    names += [f"示例社区卫生服务中心{i + 1:02d}" for i in range(small)]
    size = np.r_[rng.lognormal(0.0, 0.7, institutions - small), np.full(small, 0.1)]
    effect = rng.normal(0.0, 0.6, institutions)
    projects, enrolments = [], []
    learner_ids = iter(range(1, 10**7))
    for i, name in enumerate(names):
        for year in YEARS:
            for _ in range(1 + rng.poisson(6 * size[i])):
                live = rng.random() < 1 / (1 + np.exp(-(YEAR_LOGIT[year] + effect[i])))
                mode = "live" if live else "face_to_face"
                pid = f"C{year}{len(projects) + 1:05d}"
                day = pd.Timestamp(year, 1, 1) + pd.Timedelta(days=int(rng.integers(0, 365)))
                projects.append({
                    "项目编号": pid, "年度": year, "项目级别": rng.choice(list(LEVELS), p=list(LEVELS.values())),
                    "授课方式": MODE_TEXT[mode], "学科": rng.choice(DISCIPLINES), "项目名称": f"示例项目{len(projects) + 1}",
                    "举办单位": name, "举办日期": day.strftime("%Y-%m-%d"),
                })  # fmt: skip
                mean = (60 if live else 28) * (SMALL_LEARNERS if i >= institutions - small else 1)
                n = int(rng.negative_binomial(4, 4 / (4 + mean)))
                mix = rng.dirichlet(30 * np.asarray(TITLE_MIX[mode]))
                for grade in rng.choice(3, size=n, p=mix):
                    k = next(learner_ids)
                    enrolments.append({"项目编号": pid, "学员编号": f"L{k:07d}", "姓名": f"测试学员{k:05d}",
                                       "职称": rng.choice(TITLES[int(grade)])})  # fmt: skip
    return pd.DataFrame(projects), pd.DataFrame(enrolments)


def write_city(out_dir, seed: int = SEED, institutions: int = INSTITUTIONS) -> list[Path]:
    """Write the synthetic city's exports into ``out_dir`` as GBK-encoded CSV files (as the platforms
    export them), atomically; the same seed writes the same bytes."""
    projects, enrolments = city(seed, institutions)
    out = Path(out_dir)
    written = [write_bytes(out / SYNTHETIC, MARKER.format(seed=seed, institutions=institutions).encode("utf-8"))]
    for name, frame in (("项目登记.csv", projects), ("学员名单.csv", enrolments)):
        path = out / name
        write_bytes(path, frame.to_csv(index=False, lineterminator="\r\n").encode("gbk"))
        written.append(path)
    return written
