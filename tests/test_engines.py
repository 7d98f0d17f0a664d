"""The Dask engine gives the default engine's counts, on a local cluster of two workers."""

from __future__ import annotations

import pandas as pd
import pytest

from cmestudy.clean import cleaning, review
from cmestudy.ingest import exports, reading

from .exports import ENROL_HEADER, PROJECT_HEADER, PROJECTS, enrolments, write_csv

KEY = b"test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def partitioned(tmp_path_factory):
    """A register and enrolments split into partitions of different encodings, with awkward rows."""
    raw = tmp_path_factory.mktemp("partitioned") / "raw"
    raw.mkdir()
    write_csv(raw / "projects.csv", PROJECT_HEADER, PROJECTS)
    rows = enrolments()
    rows += [rows[0], rows[40], ["P21L", "S99001", "规培生"], ["P22F", "S99002", ""], ["P00X", "S99003", "医师"]]
    parts = raw / "enrolments"
    parts.mkdir()
    for i in range(4):
        write_csv(parts / f"part-{i}.csv", ENROL_HEADER, rows[i::4], encoding="gbk" if i % 2 else "utf-8")
    return raw


@pytest.fixture(scope="module")
def local_cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _learners(raw, **kwargs):
    c = cleaning.clean(exports.read_raw_dir(raw, key=KEY, **kwargs), years=[2021, 2022, 2023])
    return c.learners.reset_index(drop=True), c


def test_dask_engine_on_a_two_worker_cluster_matches_the_default_engine(partitioned, local_cluster):
    default, dc = _learners(partitioned)
    dasked, kc = _learners(partitioned, engine="dask", scheduler=local_cluster)
    pd.testing.assert_frame_equal(default, dasked)
    assert default["learners"].sum() == 93 + 2  # duplicates and the orphan excluded, unknown titles kept
    assert default.query("grade == 'unknown'")["learners"].sum() == 2
    reasons = set(kc.quarantine["reason"])
    assert (
        reasons
        == set(dc.quarantine["reason"])
        == {
            "the same learner enrolled more than once in this project",
            "project id not in the project register",
            "professional title not in the codebook (or empty)",
        }
    )


def test_dask_engine_on_local_threads_matches_too(partitioned):
    # the pairs are de-duplicated in more than one hash partition (one per input block), and the
    # learners and the quarantine still equal the default engine's, which de-duplicates all rows at once
    ingested = exports.read_raw_dir(partitioned, key=KEY, engine="dask")
    assert ingested.engine_partitions == 4
    dasked = cleaning.clean(ingested, years=[2021, 2022, 2023])
    default = _learners(partitioned)[1]
    pd.testing.assert_frame_equal(default.learners.reset_index(drop=True), dasked.learners.reset_index(drop=True))
    pd.testing.assert_frame_equal(review.quarantine_table(default), review.quarantine_table(dasked))


def test_both_engines_report_the_same_cleaning_steps_and_provenance(partitioned):
    """The Dask engine counts enrolment rows read and repeated enrolments row by row, and each
    partition's rows, as the default engine does."""
    default, dasked = (exports.read_raw_dir(partitioned, key=KEY, **kw) for kw in ({}, {"engine": "dask"}))
    steps = [review.steps_table(cleaning.clean(i, years=[2021, 2022, 2023])) for i in (default, dasked)]
    pd.testing.assert_frame_equal(*steps)
    assert steps[0].loc["step_enrolment_rows_read", "rows"] == 98  # 93 + 2 repeats + 3 awkward rows
    assert steps[0].loc["step_enrolments_excluded", "rows"] == 3  # 2 repeats and 1 orphan
    quarantine = [review.quarantine_table(cleaning.clean(i, years=[2021, 2022, 2023])) for i in (default, dasked)]
    pd.testing.assert_frame_equal(*quarantine)
    pd.testing.assert_frame_equal(reading.provenance_table(default), reading.provenance_table(dasked))
    assert reading.provenance_table(dasked)["rows"].min() > 0


def test_unknown_engine_is_rejected(partitioned):
    with pytest.raises(ValueError, match="engine must be 'pandas' or 'dask'"):
        exports.read_raw_dir(partitioned, key=KEY, engine="spark")


def test_a_learners_repeated_enrolment_keeps_its_first_title_in_both_engines(tmp_path):
    # the same learner in the same project twice, first as intermediate (part-0), then as junior
    # (part-1): after the hash-partitioned shuffle the Dask engine still keeps the first, as the
    # default engine does, so both count one intermediate learner
    raw = tmp_path / "raw"
    (raw / "enrolments").mkdir(parents=True)
    write_csv(raw / "projects.csv", PROJECT_HEADER, PROJECTS)
    pid = PROJECTS[0][0]
    write_csv(raw / "enrolments" / "part-0.csv", ENROL_HEADER, [[pid, "S00001", "主治医师"], [pid, "S00002", "护师"]])
    write_csv(raw / "enrolments" / "part-1.csv", ENROL_HEADER, [[pid, "S00001", "住院医师"], [pid, "S00003", "护师"]])
    default, dasked = _learners(raw)[0], _learners(raw, engine="dask")[0]
    pd.testing.assert_frame_equal(default, dasked)
    mine = dasked[(dasked.project_id == pid) & (dasked.learners > 0)].set_index("grade")["learners"]
    assert mine.to_dict() == {"junior": 2, "intermediate": 1}


def test_the_workers_write_the_rows_set_aside_in_full(partitioned, tmp_path):
    # the quarantine the client gets is summarised (a row per reason and project or title, with its
    # number of rows); the workers write every row as partitioned Parquet
    ingested = exports.read_raw_dir(partitioned, key=KEY, engine="dask", quarantine_dir=tmp_path / "q")
    q = ingested.quarantine
    orphans = pd.read_parquet(tmp_path / "q" / "orphans")
    unknown = pd.read_parquet(tmp_path / "q" / "unknown_titles")
    assert len(orphans) == q.loc[q.code == "orphan", "rows"].sum() > 0
    assert len(unknown) == q.loc[q.code == "unknown_title", "rows"].sum() > 0
    assert set(orphans.columns) == {"project_id", "professional_title"}  # no learner ids leave the ingest
    assert len(list((tmp_path / "q" / "orphans").glob("*.parquet"))) == 4  # one file per partition


def test_a_directory_of_gzip_and_parquet_parts_is_read_by_both_engines(partitioned, tmp_path):
    # the same enrolments as the partitioned CSV files, as .csv.gz and .parquet parts: the learner
    # counts of both engines equal those from the plain CSV files, and provenance names each part
    import gzip

    raw = tmp_path / "raw"
    (raw / "enrolments").mkdir(parents=True)
    (raw / "projects.csv").write_bytes((partitioned / "projects.csv").read_bytes())
    for i, part in enumerate(sorted((partitioned / "enrolments").glob("part-*.csv"))):
        if i % 2:
            frame = pd.read_csv(part, dtype=str, keep_default_na=False, encoding="gbk")
            frame.to_parquet(raw / "enrolments" / f"part-{i}.parquet", index=False)
        else:
            (raw / "enrolments" / f"part-{i}.csv.gz").write_bytes(gzip.compress(part.read_bytes()))
    expected = _learners(partitioned)[0]
    pd.testing.assert_frame_equal(_learners(raw)[0], expected)
    pd.testing.assert_frame_equal(_learners(raw, engine="dask")[0], expected)
    names = set(reading.provenance_table(exports.read_raw_dir(raw, key=KEY, engine="dask")).index)
    assert {"enrolments/part-0.csv.gz", "enrolments/part-1.parquet"} <= names


def test_the_threaded_disk_shuffle_keeps_at_most_its_buffer_in_memory_and_restores_partd():
    import partd
    import partd.buffer

    from cmestudy.ingest import engines

    default = partd.buffer.Buffer(partd.Dict(), partd.Dict()).available_memory
    with pytest.raises(RuntimeError):
        with engines._disk_shuffle_buffer(engines.DISK_SHUFFLE_BUFFER):
            assert partd.Buffer(partd.Dict(), partd.Dict()).available_memory == engines.DISK_SHUFFLE_BUFFER
            raise RuntimeError("a failing computation")
    assert partd.buffer.Buffer(partd.Dict(), partd.Dict()).available_memory == default == 1e9
