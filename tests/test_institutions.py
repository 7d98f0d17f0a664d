"""Institutions compared (cmestudy.analysis.institutions, cmestudy.report.institution_tables) against R.

Reference values from R 4.2.2 with survey 4.1.1 (Debian packages)::

    S <- list(rbind(c(30,45,12), c(20,18,10)), rbind(c(12,30,8), c(15,12,9)),
              rbind(c(50,60,25), c(10,25,12)), rbind(c(8,20,5), c(9,7,6)))
    A <- array(unlist(lapply(S, as.vector)), dim = c(2, 3, 4))
    mantelhaen.test(A)                 # M^2 = 6.05742369666715, df = 2, p = 0.0483779160989598
    B <- A[, c(1, 2), ]                # junior vs intermediate
    mantelhaen.test(B)                 # 1.55004032265747, p = 0.213129488257008, common OR 0.737794450882706,
                                       # 95% CI 0.474422025444522 1.14737643397412
    # Breslow-Day with Tarone's correction: the code of DescTools::BreslowDayTest(B, correct = TRUE)
    # (polyroot for the expected cell under the MH odds ratio) gives 11.070430758144, df 3, p 0.0113510627450826
    lim <- function(n, p, q) { r <- qbinom(q, n, p)
      a <- (pbinom(r, n, p) - q) / (pbinom(r, n, p) - pbinom(r - 1, n, p)); (r - a) / n }   # Spiegelhalter 2005
    # svychisq with institutions as strata, projects as clusters (P below, one row per learner):
    svychisq(~mode + grade, svydesign(ids = ~project, strata = ~inst, data = d), statistic = "F")
        # F = 1.35663392739385, ndf = 1.41215563955356, ddf = 16.9458676746427, p = 0.274433391832594
    svychisq(~mode + grade, svydesign(ids = ~project, strata = ~inst, data = d), statistic = "Chisq")
        # p = 0.257526171437156
    # over-dispersion (Spiegelhalter 2005b), y and n of FUNNEL below:
    p <- sum(y) / sum(n); s <- sqrt(p * (1 - p) / n); z <- (y / n - p) / s
    q <- quantile(z, c(0.1, 0.9)); zw <- pmin(pmax(z, q[1]), q[2]); I <- length(z); phi <- mean(zw^2)
    pchisq(I * phi, I - 1, lower.tail = FALSE); w <- 1 / s^2
    tau2 <- max(0, (I * phi - (I - 1)) / (sum(w) - sum(w^2) / sum(w)))
        # p 0.666352941176471, phi 15.7171188596875, p-value 1.70746596752403e-34, tau2 0.0217594159587331
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmestudy.analysis import design, institutions
from cmestudy.report import institution_tables

from .conftest import ROOT, run_cli

S = np.array([[[30, 45, 12], [20, 18, 10]], [[12, 30, 8], [15, 12, 9]],
              [[50, 60, 25], [10, 25, 12]], [[8, 20, 5], [9, 7, 6]]])  # fmt: skip
# institution, mode (1 live, 2 face-to-face), learners junior, intermediate, senior: one project per row
P = np.array([[1, 1, 12, 30, 8], [1, 1, 25, 20, 5], [1, 2, 5, 15, 20], [1, 2, 9, 11, 4], [2, 1, 30, 35, 10],
              [2, 1, 8, 40, 22], [2, 2, 14, 9, 3], [2, 2, 6, 10, 9], [3, 1, 15, 8, 2], [3, 1, 3, 12, 14],
              [3, 1, 20, 22, 7], [3, 2, 4, 6, 12], [3, 2, 10, 5, 1], [4, 1, 7, 7, 7], [4, 2, 2, 9, 4],
              [4, 2, 11, 3, 6]])  # fmt: skip
FUNNEL = ([30, 150, 12, 400, 75, 9, 220, 64, 5, 310, 41, 100], [60, 210, 40, 520, 160, 30, 300, 90, 25, 380, 50, 260])
CITY = ROOT / "data" / "examples" / "city"


def test_generalised_cmh_equals_r_mantelhaen_test():
    res = institutions.cmh_test(S)
    assert (res.statistic, res.df, res.pvalue) == pytest.approx((6.05742369666715, 2, 0.0483779160989598), rel=1e-10)


def test_common_odds_ratio_mh_test_and_breslow_day_tarone_equal_r():
    res = institutions.mantel_haenszel(S[:, :, [0, 1]])
    assert (res.odds_ratio, res.ci_low, res.ci_high) == pytest.approx(
        (0.737794450882706, 0.474422025444522, 1.14737643397412), rel=1e-9
    )
    assert (res.statistic, res.pvalue) == pytest.approx((1.55004032265747, 0.213129488257008), rel=1e-9)
    assert (res.breslow_day, res.breslow_day_df, res.breslow_day_p) == pytest.approx(
        (11.070430758144, 3, 0.0113510627450826), rel=1e-9
    )


def test_one_stratum_cmh_is_the_pearson_test_times_n_minus_1_over_n():
    # with K = 1 the CMH statistic is (N - 1) / N times Pearson's X^2 (Landis et al. 1978)
    from scipy.stats import chi2_contingency

    t = S[0]
    n = t.sum()
    assert institutions.cmh_test(t[None]).statistic == pytest.approx(
        chi2_contingency(t, correction=False)[0] * (n - 1) / n, rel=1e-12
    )


def test_design_based_test_with_institutions_as_strata_equals_r_svychisq():
    clusters = np.zeros((len(P), 2, 3))
    clusters[np.arange(len(P)), P[:, 1] - 1] = P[:, 2:]
    res = design.rao_scott(clusters, strata=P[:, 0])
    assert (res.f, res.ndf, res.ddf, res.p_f) == pytest.approx(
        (1.35663392739385, 1.41215563955356, 16.9458676746427, 0.274433391832594), rel=1e-9
    )
    assert res.p_chisq == pytest.approx(0.257526171437156, rel=1e-9)
    # one stratum is the unstratified design: R svychisq(~mode + grade, svydesign(ids = ~project)): F = 1.4810388507741
    assert design.rao_scott(clusters, strata=np.ones(len(P))).f == pytest.approx(1.4810388507741, rel=1e-9)


@pytest.mark.parametrize(
    ("n", "q", "expected"),
    [(20, 0.001, 0.226379771975391), (20, 0.975, 0.787083976804197), (87, 0.025, 0.489960282707597),
     (87, 0.999, 0.752851704682037), (350, 0.001, 0.516981120025298), (350, 0.975, 0.649659360516697)],
)  # fmt: skip
def test_exact_binomial_funnel_limits_equal_the_r_formula(n, q, expected):
    assert float(institutions.exact_limits(n, 0.6, q)) == pytest.approx(expected, rel=1e-12)


def test_overdispersion_and_the_adjusted_limits_equal_r():
    y, n = FUNNEL
    f = institutions.funnel(y, n, [f"i{k}" for k in range(len(y))])
    assert (f.pooled, f.phi, f.overdispersion_p, f.tau2) == pytest.approx(
        (0.666352941176471, 15.7171188596875, 1.70746596752403e-34, 0.0217594159587331), rel=1e-9
    )
    assert f.overdispersed
    low, _ = f.curve(np.array(n[:3]), 0.998, adjusted=True)
    assert low == pytest.approx([0.173222533666804, 0.199552770435209, 0.155598363717535], rel=1e-9)
    # R: ifelse(y/n < lim(n, p, 0.001), -1, ifelse(y/n > lim(n, p, 0.999), 1, 0)); none outside after adjustment
    assert f.table["outside_998"].tolist() == [0, 0, -1, 1, -1, -1, 0, 0, -1, 1, 0, -1]
    assert f.table["outside_998_adjusted"].tolist() == [0] * 12


def test_a_funnel_within_chance_is_not_adjusted():
    n = np.array([100, 200, 300, 400, 500, 600])
    f = institutions.funnel(np.round(0.3 * n) + [1, -2, 0, 3, -1, 2], n, list("abcdef"))
    assert not f.overdispersed and f.tau2 == 0 and (f.table["outside_998"] == 0).all()
    assert "outside_998_adjusted" not in f.table


def _city_study():
    from cmestudy.clean import cleaning
    from cmestudy.ingest import exports
    from cmestudy.schema import load_codebook

    return cleaning.clean(exports.read_raw_dir(CITY, key=b"k" * 16), codebook=load_codebook(CITY))


@pytest.fixture(scope="module")
def city():
    return _city_study()


def test_the_city_example_is_the_generator_s_output(tmp_path):
    """data/examples/city is what `cmestudy example city` writes, byte for byte (GBK, Chinese headers)."""
    result = run_cli("example", "city", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("项目登记.csv", "学员名单.csv", "synthetic.yml"):
        assert (tmp_path / name).read_bytes() == (CITY / name).read_bytes(), name
    assert "举办单位" in (CITY / "项目登记.csv").read_bytes().decode("gbk").splitlines()[0]


def test_the_organiser_column_is_read_from_its_chinese_header(city):
    assert institutions.present(city.projects)
    assert city.projects["institution"].nunique() == 30
    counts = institutions.counts(city.projects, city.learners, [2021, 2022, 2023])
    assert counts[["learners_live", "learners_face_to_face"]].to_numpy().sum() == city.learners["learners"].sum()
    assert counts[["projects_live", "projects_face_to_face"]].to_numpy().sum() == len(city.projects)


def test_without_an_organiser_column_there_is_no_comparison():
    from cmestudy.clean import cleaning
    from cmestudy.ingest import exports
    from cmestudy.schema import load_codebook

    from .conftest import RAW

    study = cleaning.clean(exports.read_raw_dir(RAW, key=b"k" * 16), codebook=load_codebook(RAW))
    assert "institution" not in study.projects and not institutions.present(study.projects)


def _recoverable(values: np.ndarray, hide: np.ndarray, lines) -> list[int]:
    """Hidden cells whose value the published totals pin down: min == max of the cell by linear programming
    over every non-negative table with the shown cells and every line's total."""
    from scipy.optimize import linprog

    flat, hidden = values.ravel().astype(float), np.flatnonzero(hide.ravel())
    pos = {c: k for k, c in enumerate(hidden)}
    rows, rhs = [], []
    for line in lines:
        inside = [c for c in line if c in pos]
        if inside:
            row = np.zeros(len(hidden))
            row[[pos[c] for c in inside]] = 1
            rows.append(row)
            rhs.append(flat[inside].sum())
    pinned = []
    for k, cell in enumerate(hidden):
        c = np.zeros(len(hidden))
        c[k] = 1
        low = linprog(c, A_eq=np.array(rows), b_eq=rhs, bounds=(0, None)).fun
        high = -linprog(-c, A_eq=np.array(rows), b_eq=rhs, bounds=(0, None)).fun
        if high - low < 1:
            pinned.append(int(cell))
    return pinned


def test_no_hidden_count_of_the_city_can_be_recovered_from_the_totals(city):
    counts = institutions.counts(city.projects, city.learners, [2021, 2022, 2023])
    values = counts[["learners_live", "learners_face_to_face"]].to_numpy()
    lines = institution_tables.learner_lines(counts.index)
    years = counts.index.get_level_values("year").nunique()
    for min_cell in (5, 10, 30):
        hide = institution_tables.suppress(values.reshape(-1, years, 2), min_cell).reshape(values.shape)
        small = (values > 0) & (values < min_cell)
        assert small.any() and hide[small].all()  # every small count is hidden
        assert all(hide.ravel()[line].sum() != 1 for line in lines)
        assert hide.sum() > small.sum()  # secondary suppression was needed
        assert _recoverable(values, hide, lines) == [], min_cell
        table = institution_tables.counts_table(counts, min_cell)
        assert (table[("learners", "live")] == f"<{min_cell}").sum() == small[:, 0].sum()  # small counts: "<5"
        assert (table[("learners", "live")] == "x").sum() == (hide & ~small)[:, 0].sum()  # the others hidden: "x"
        assert (table.loc[hide.any(axis=1), ("learners", "live_pct")] == "").all()  # the share would give it away


def test_a_single_small_count_is_given_away_without_secondary_suppression():
    # the check above can fail: with primary suppression alone, a row total reveals the hidden cell
    values = np.array([[3, 40], [12, 30], [25, 7]])
    lines = [np.array([0, 1]), np.array([2, 3]), np.array([4, 5]), np.array([0, 2, 4]), np.array([1, 3, 5])]
    primary = (values > 0) & (values < 5)
    assert _recoverable(values, primary, lines) == [0]
    hide = institution_tables.suppress(values[:, None, :], 5)[:, 0, :]
    assert _recoverable(values, hide, lines) == []


def test_within_institutions_on_the_city(city):
    inside = institutions.within(city.learners, city.projects, [2021, 2022, 2023])
    tests = inside["tests"]
    assert list(tests.index) == [2021, 2022, 2023]
    assert (tests["cmh_df"] == 2).all() and (tests["institutions"] == 30).all()
    assert set(tests["pattern"]) <= {"most", "few", "pool_only", "none"}
    assert list(inside["pairs"].index.get_level_values("second").unique()) == ["intermediate"]


@pytest.mark.slow
def test_one_report_per_institution_and_a_rerun_runs_only_the_changed_one(tmp_path):
    """`cmestudy run --by institution`: the regional report and one per institution, their raw folders
    de-identified; a changed row of one institution reruns it and the regional report, nothing else."""
    from cmestudy.run import examples

    from .test_cache import executed

    raw = tmp_path / "raw"
    examples.write_city(raw, institutions=3)
    out = tmp_path / "out"
    args = ("run", "--raw", raw, "--out", out, "--by", "institution", "--formats", "html", "--no-progress")
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    names = ["示例医院01", "示例医院02", "示例医院03"]
    assert sorted(p.name for p in (out / "institutions").iterdir()) == names
    for name in names:
        folder = out / "institutions" / name
        assert (folder / "report.html").is_file()
        text = (folder / "raw" / "enrolments.csv").read_text(encoding="utf-8")
        assert "测试学员" not in text and "L0000001" not in text  # names and platform ids never leave the ingest
        assert "section.chisquare.institutions" not in (folder / "report.html").read_text(encoding="utf-8")
    assert "chisquare-institutions" in (out / "report.html").read_text(encoding="utf-8")
    projects = pd.read_csv(raw / "项目登记.csv", encoding="gbk", dtype=str)
    enrolments = pd.read_csv(raw / "学员名单.csv", encoding="gbk", dtype=str)
    row = enrolments.index[
        enrolments["项目编号"] == projects.loc[projects["举办单位"] == names[1], "项目编号"].iloc[0]
    ][0]
    enrolments.loc[row, "职称"] = "主任医师" if enrolments.loc[row, "职称"] != "主任医师" else "护师"
    enrolments.to_csv(raw / "学员名单.csv", index=False, encoding="gbk", lineterminator="\r\n")
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert executed(again.stderr) >= {"01_ingest", "02_clean"}  # the regional run
    reran = [
        line.split(":")[0]
        for line in again.stderr.splitlines()
        if line.startswith("示例医院") and "up to date" not in line
    ]
    assert reran == [names[1]], again.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "heading", "figure"), [("en", "Institutions compared", "funnel plot"),
                                                        ("zh", "各举办单位比较", "漏斗图")])  # fmt: skip
def test_the_city_report_shows_the_section_in_html_pdf_and_word(tmp_path, lang, heading, figure):
    """The section in every format and both languages, and the synthetic label on the title page."""
    import docx

    from . import pdfcheck

    out = tmp_path / "out"
    result = run_cli("run", "--raw", CITY, "--out", out, "--lang", lang, "--no-progress")
    assert result.returncode == 0, result.stderr
    html = (out / "report.html").read_text(encoding="utf-8")
    assert heading in html and figure in html and "funnel" in html
    pdf_text = "".join(w.text for w in pdfcheck.words(out / "report.pdf")[1])
    assert heading.replace(" ", "") in pdf_text
    word = "\n".join(p.text for p in docx.Document(str(out / "report.docx")).paragraphs)
    assert heading in word
    assert ("synthetic example" if lang == "en" else "合成示例数据") in html


def test_projects_without_an_organiser_and_a_year_without_face_to_face(city):
    """Projects with an empty organiser cell are left out of the comparison (no "<NA>" institution); a year
    without face-to-face learners is "not computable" in the tests within institutions, and the others hold."""
    projects = city.projects.copy()
    projects.loc[projects.index[:20], "institution"] = pd.NA
    learners = city.learners[~((city.learners["year"] == 2022) & (city.learners["mode"].astype(str) == "face_to_face"))]
    counts = institutions.counts(projects, learners, [2021, 2022, 2023])
    assert "<NA>" not in counts.index.get_level_values("institution")
    inside = institutions.within(learners, projects, [2021, 2022, 2023])
    assert inside["tests"].loc[2022, "not_computable"] == "no_face_to_face"
    assert inside["tests"].loc[[2021, 2023], "cmh_p"].notna().all()
    table = institution_tables.within_table(inside)
    assert table.loc[2022, ("note", "")] == "nc_no_face_to_face"
    said = institution_tables.sentences(institutions.learner_funnel(counts), inside, 0.05)
    assert not any(s.startswith("2022") for s in said) and any(s.startswith("2021") for s in said)


def test_the_split_writes_each_institution_de_identified_and_keeps_rows_without_identity(tmp_path):
    """The raw folders of --by institution: a learner by the regional keyed hash (the same 16 hex digits in
    every institution), a row without any identity kept with an empty id, and only the institution's rows."""
    from cmestudy.ingest import exports, storage
    from cmestudy.run import by_institution

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "projects.csv").write_text(
        "project_id,year,level,mode,discipline,举办单位\nP1,2022,national,live,Surgery,A院\nP2,2022,hospital,面授,Nursing,B/院\n",
        encoding="utf-8",
    )
    (raw / "enrolments.csv").write_text(
        "project_id,姓名,手机号,professional_title\nP1,张三,13800000000,主治医师\nP1,,,护师\nP2,张三,13800000000,主治医师\n",
        encoding="utf-8",
    )
    processed = tmp_path / "processed"
    storage.write_ingested(exports.read_raw_dir(raw, key=b"k" * 16), processed)
    folders = by_institution.split(processed, raw, tmp_path / "out")
    assert {n: p.name for n, p in folders.items()} == {"A院": "A院", "B/院": "B_院"}
    a = pd.read_csv(folders["A院"] / "raw" / "enrolments.csv", dtype=str, keep_default_na=False)
    b = pd.read_csv(folders["B/院"] / "raw" / "enrolments.csv", dtype=str, keep_default_na=False)
    assert a["project_id"].tolist() == ["P1", "P1"] and b["project_id"].tolist() == ["P2"]
    assert a["learner_id"].iloc[1] == "" and len(a["learner_id"].iloc[0]) == 16
    assert a["learner_id"].iloc[0] == b["learner_id"].iloc[0]  # the same person, the same key, no name
    text = (folders["A院"] / "raw" / "enrolments.csv").read_text(encoding="utf-8")
    assert "张三" not in text and "13800000000" not in text
