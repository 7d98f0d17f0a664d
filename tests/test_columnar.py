"""Columnar primitives and the keyed hash, checked against plain references.

The partitioned encoders must give the same answer as one hash table over all rows (they
are forced to partition here on small inputs); the keyed hash must be SipHash-2-4 as its
authors specify it, checked against their published test vector through an independent
pure-Python implementation.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmestudy.ingest import columnar, privacy

SECRET = b"test-secret-0123456789abcdef-xyz"
MASK = (1 << 64) - 1


def siphash24(key: bytes, message: bytes) -> int:
    """SipHash-2-4 as specified by Aumasson & Bernstein (2012), written from the paper."""

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & MASK

    def sipround(v0, v1, v2, v3):
        v0 = (v0 + v1) & MASK
        v1 = rotl(v1, 13)
        v1 ^= v0
        v0 = rotl(v0, 32)  # noqa: E702
        v2 = (v2 + v3) & MASK
        v3 = rotl(v3, 16)
        v3 ^= v2  # noqa: E702
        v0 = (v0 + v3) & MASK
        v3 = rotl(v3, 21)
        v3 ^= v0  # noqa: E702
        v2 = (v2 + v1) & MASK
        v1 = rotl(v1, 17)
        v1 ^= v2
        v2 = rotl(v2, 32)  # noqa: E702
        return v0, v1, v2, v3

    k0, k1 = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:16], "little")
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573
    tail = len(message) % 8
    blocks = [int.from_bytes(message[i : i + 8], "little") for i in range(0, len(message) - tail, 8)]
    blocks.append(int.from_bytes(message[len(message) - tail :], "little") | ((len(message) & 0xFF) << 56))
    for m in blocks:
        v3 ^= m
        v0, v1, v2, v3 = sipround(*sipround(v0, v1, v2, v3))
        v0 ^= m
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = sipround(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def splitmix64_finaliser(x: int) -> int:
    """The bijective mixing step pandas.util.hash_array applies after SipHash (Steele et al. 2014)."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def test_reference_siphash_matches_the_published_test_vector():
    # Aumasson & Bernstein (2012), Appendix A: key 00..0f, message 00..0e.
    assert siphash24(bytes(range(16)), bytes(range(15))) == 0xA129CA6149BE45E5


def test_keyed_hash_is_siphash_under_the_scheme_key():
    rng = random.Random(3)
    messages = [
        "",
        "L1",
        "S00017",
        "王芳",
        "120101198001011234",
        "13912345678",
        "a" * 300,
        *("".join(rng.choice("0123456789ABCDEFxyz王李") for _ in range(rng.randint(1, 40))) for _ in range(50)),
    ]
    for scheme in privacy.SCHEMES[:2]:
        k = privacy.scheme_key(SECRET, scheme)
        expected = [splitmix64_finaliser(siphash24(k, m.encode("utf-8"))) for m in messages]
        assert privacy.keyed_hash(messages, SECRET, scheme).tolist() == expected
        assert privacy.keyed_hash(pa.array(messages), SECRET, scheme).tolist() == expected


def test_keys_depend_on_the_secret_and_the_scheme():
    a = privacy.keyed_hash(["S1"], SECRET, ("learner_id",))[0]
    assert a != privacy.keyed_hash(["S1"], SECRET[::-1], ("learner_id",))[0]
    assert a != privacy.keyed_hash(["S1"], SECRET, ("phone",))[0]


def test_pseudonymise_takes_the_first_complete_scheme_and_strips_white_space():
    frame = pd.DataFrame(
        {
            "learner_id": ["S1", " S1 ", "", "", "", ""],
            "id_number": ["", "X", "120101198001011234", "", "", ""],
            "name": ["", "", "王芳", "王芳", "王芳", ""],
            "phone": ["", "", "", "13912345678", "", ""],
            "email": ["", "", "", "", "wf@example.org", ""],
        }
    )
    fields = {c: columnar.encode_series(frame[c]) for c in frame.columns}
    keys = privacy.pseudonymise(fields, len(frame), SECRET)
    values = [None if pd.isna(k) else int(k) for k in keys]
    sep = privacy.FIELD_SEPARATOR
    assert values[0] == values[1] == privacy.keyed_hash(["S1"], SECRET, ("learner_id",))[0]
    assert values[2] == privacy.keyed_hash(["120101198001011234"], SECRET, ("id_number",))[0]
    assert values[3] == privacy.keyed_hash([f"王芳{sep}13912345678"], SECRET, ("name", "phone"))[0]
    assert values[4] == privacy.keyed_hash([f"王芳{sep}wf@example.org"], SECRET, ("name", "email"))[0]
    assert values[5] is None


def test_keys_are_stored_as_sixteen_hex_digits():
    assert privacy.key_array(np.array([0, 1, 0xA129CA6149BE45E5], dtype=np.uint64)).to_pylist() == [
        "0000000000000000",
        "0000000000000001",
        "a129ca6149be45e5",
    ]
    assert privacy.key_array(np.array([], dtype=np.uint64)).to_pylist() == []


@pytest.fixture
def partition_small(monkeypatch):
    """Make the encoders partition inputs of any size."""
    monkeypatch.setattr(columnar, "PARTITION_MIN_ROWS", 0)
    monkeypatch.setattr(columnar, "PARTITION_ROWS", 7)
    monkeypatch.setattr(columnar, "DISTINCT_SHARE", 0.0)


def _check_encoding(strings: list[str], enc: columnar.Encoded):
    values = enc.values.to_pylist()
    assert len(set(values)) == len(values), "each distinct value once"
    assert [values[c] for c in enc.codes] == [s.strip() for s in strings]


def test_partitioned_encoding_equals_the_plain_one(partition_small):
    rng = random.Random(11)
    alphabet = ["a", "b", "L", "0", "1", "9", "王", "芳", " ", "\t"]
    strings = ["".join(rng.choice(alphabet) for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 5, 8]))) for _ in range(4000)]
    enc = columnar.encode_arrow(pa.chunked_array([strings[:1500], strings[1500:]]))
    _check_encoding(strings, enc)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(alphabet="ab 王\t1", max_size=4), max_size=40), max_size=5))
def test_a_column_encoded_while_parsed_keeps_its_values(chunks):
    # the CSV reader's dictionary columns: one dictionary per chunk, " a" and "a" in different
    # chunks, empty chunks and no chunks at all; the codes point to the stripped values
    column = pa.chunked_array(
        [pa.array(c, pa.string()).dictionary_encode() for c in chunks], pa.dictionary(pa.int32(), pa.string())
    )
    _check_encoding([s for c in chunks for s in c], columnar.encode_arrow(column))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(alphabet="ab 王\t1", max_size=4), max_size=80), max_size=6))
def test_partitioned_encoding_of_many_chunks_property(chunks):
    # as the CSV reader gives a column: chunks (some empty) encoded partition by partition without
    # being joined first; a value in several chunks gets one code
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(columnar, "PARTITION_MIN_ROWS", 0)
        mp.setattr(columnar, "PARTITION_ROWS", 5)
        mp.setattr(columnar, "DISTINCT_SHARE", 0.0)
        column = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], pa.string())
        _check_encoding([s for c in chunks for s in c], columnar.encode_arrow(column))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ab 王\t1", max_size=4), max_size=300))
def test_partitioned_encoding_property(strings):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(columnar, "PARTITION_MIN_ROWS", 0)
        mp.setattr(columnar, "PARTITION_ROWS", 5)
        mp.setattr(columnar, "DISTINCT_SHARE", 0.0)
        _check_encoding(strings, columnar.encode_arrow(pa.array(strings, type=pa.string())))


def test_partitioned_duplicates_equal_pandas(partition_small):
    rng = np.random.default_rng(5)
    a = rng.integers(0, 30, 20_000)
    b = rng.integers(0, 500, 20_000)
    expected = pd.DataFrame({"a": a, "b": b}).duplicated(keep="first").to_numpy()
    got = columnar.duplicated_pairs(a, b)
    assert expected.sum() > 1000 and (got == expected).all()


def test_duplicated_pairs_by_hand():
    assert columnar.duplicated_pairs([0, 0, 1, 0, 1], [5, 5, 5, 6, 5]).tolist() == [False, True, False, False, True]
    with pytest.raises(ValueError, match="non-negative"):
        columnar.duplicated_pairs([0, -1], [1, 1])


def test_identities_whose_keys_collide_share_the_key(monkeypatch):
    """Linkage is by key: if two identities' 64-bit keys were equal they would be one learner."""
    monkeypatch.setattr(privacy, "keyed_hash", lambda messages, secret, scheme: np.zeros(len(messages), np.uint64))
    fields = {"learner_id": columnar.encode_series(pd.Series(["S1", "S2", "S1", ""]))}
    keys = privacy.pseudonymise(fields, 4, SECRET)
    codes = list(keys.codes)
    assert codes[0] == codes[1] == codes[2] and codes[3] == -1
    assert list(keys.categories) == [0]


def test_the_checksum_of_a_file_larger_than_its_block_stays_within_the_block(tmp_path):
    """A 300 MB file hashed in a fresh process: its resident memory grows by about one block (8 MB),
    not by the file (a memory map kept every hashed page resident: 1 GB for a 1 GB export)."""
    import hashlib
    import subprocess
    import sys

    big = tmp_path / "big.csv"
    chunk = b"P21L,S00001,\xe4\xb8\xbb\xe6\xb2\xbb\xe5\x8c\xbb\xe5\xb8\x88\n" * 200_000  # 4.2 MB
    with big.open("wb") as fh:
        for _ in range(75):
            fh.write(chunk)
        fh.write(b"\x00tail")
    script = (
        "import resource, sys\n"
        "from cmestudy.fileio import sha256_and_nul\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "digest, nul = sha256_and_nul(sys.argv[1])\n"
        "print(digest, nul, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(big)], capture_output=True, text=True, check=True)
    digest, nul, grew_kb = out.stdout.split()
    assert digest == hashlib.sha256(big.read_bytes()).hexdigest() and int(nul) == 75 * len(chunk)
    assert int(grew_kb) < 40_000, f"the checksum grew the process by {int(grew_kb) // 1000} MB"


def test_the_stored_enrolments_keep_every_learner_key(tmp_path):
    """The enrolment table written and read back: the same keys on the same rows, a row with no
    identity still without one (a de-duplication that saw no keys would count repeats as learners)."""
    import pandas as pd

    from cmestudy.ingest import storage

    keys = np.array([2**64 - 1, 7, 2**63 + 5], dtype=np.uint64)
    frame = pd.DataFrame(
        {
            "project_id": pd.Categorical(["P1", "P1", "P2", "P1"]),
            "professional_title": pd.Categorical(["护师", "护师", "医师", ""]),
            "learner_key": pd.Categorical.from_codes([0, 2, -1, 0], dtype=pd.CategoricalDtype(pd.Index(keys))),
            "_file": pd.Categorical(["e.csv"] * 4),
            "_row": np.arange(2, 6),
        }
    )
    storage.write_enrolments(tmp_path / "enrolments.parquet", frame)
    back = storage.read_enrolments(tmp_path / "enrolments.parquet")
    assert list(back.columns) == list(frame.columns)
    assert back["learner_key"].cat.codes.tolist() == [0, 2, -1, 0]
    assert back["learner_key"].cat.categories.tolist() == keys.tolist()
