"""Columnar primitives for large enrolment exports: encode text columns, find repeated pairs.

An enrolment export of ten million rows holds a few thousand project ids, a dozen
professional titles and a few million learners. Every later step works on small integer
codes instead of the strings:

* :func:`encode_arrow` / :func:`encode_series` turn a text column into an :class:`Encoded`
  column: ``codes`` (one ``int32`` per row) and ``values`` (the distinct values, stripped
  of surrounding white space, each once), so that ``values[codes[i]]`` is row ``i``.
* :func:`duplicated_pairs` marks the rows whose (a, b) code pair occurred on an earlier row.

Both are *partitioned*: hash tables of millions of entries do not fit a processor's
cache, and lookups that miss it dominate the time. The rows are first split into
partitions by a cheap digit of the value (a hash of the value's length and last two bytes
for text, the low bits of the code for pairs); each partition then has a hash table small
enough to stay in cache, and partitions are disjoint by construction, so their results
are simply put side by side. This is the radix-partitioned hashing of Manegold, Boncz &
Kersten (2000) and of column stores such as DuckDB (Raasveldt & Mühleisen 2019). A
skewed digit makes a partition larger, never the result different.

References
----------
Patrascu M, Thorup M. The power of simple tabulation hashing. J ACM 2012;59(3):14.
Zobrist AL. A new hashing method with application for game playing. Tech. rep. 88,
University of Wisconsin, 1970.
Manegold S, Boncz PA, Kersten ML. Optimizing database architecture for the new
bottleneck: memory access. VLDB Journal 2000;9:231-246.
Raasveldt M, Mühleisen H. DuckDB: an embeddable analytical database. SIGMOD 2019.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PARTITION_ROWS = 150_000  # rows per partition: a hash table of this size stays in a 2 MB cache
PARTITION_MIN_ROWS = 1 << 20  # below this one hash table is as fast
SAMPLE_ROWS = 1 << 16
WORKERS = min(4, os.cpu_count() or 1)
DISTINCT_SHARE = 0.2  # partition a text column when a sample of it is at least this share distinct


@dataclass
class Encoded:
    """A text column as integer codes into its distinct, stripped values."""

    codes: np.ndarray  # int32, one per row, indexes ``values``
    values: pa.Array  # utf8, distinct

    def __len__(self) -> int:
        return len(self.codes)

    def nonempty(self) -> np.ndarray:
        """Per row: the value is not empty."""
        present = pc.not_equal(self.values, "").to_numpy(zero_copy_only=False)
        if present.all():
            return np.ones(len(self.codes), bool)
        return present[self.codes]

    def take(self, rows: np.ndarray) -> Encoded:
        return Encoded(self.codes[rows], self.values)

    def normalised(self) -> Encoded:
        """The column with its distinct values in Unicode NFKC and stripped (full-width digits and
        letters as ASCII, ideographic spaces as spaces), values that become equal merged."""
        import unicodedata

        values = self.values.to_pylist()
        norm = [unicodedata.normalize("NFKC", v).strip() for v in values]
        if norm == values:
            return self
        distinct, inverse = np.unique(np.array(norm, dtype=object), return_inverse=True)
        return Encoded(inverse.astype(np.int32)[self.codes], pa.array(list(distinct), pa.string()))

    def categorical(self) -> pd.Categorical:
        """The column as a pandas Categorical (for columns with few distinct values)."""
        cats = pd.Index(self.values.to_numpy(zero_copy_only=False), dtype="string")
        return pd.Categorical.from_codes(self.codes, dtype=pd.CategoricalDtype(cats))


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets and the bytes of an Arrow string array, as NumPy views (no copy)."""
    offset_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(
        arr.buffers()[1], dtype=offset_type, count=len(arr) + 1, offset=arr.offset * np.dtype(offset_type).itemsize
    )
    data = arr.buffers()[2]
    return offsets, (np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8))


def _may_need_strip(values: pa.Array) -> bool:
    """Whether any value could start or end with white space: its first or last byte is ASCII
    white space or belongs to a multi-byte character (Unicode spaces such as U+3000 are)."""
    if len(values) == 0:
        return False
    offsets, data = _buffers(values)
    nonempty = offsets[1:] > offsets[:-1]
    edges = np.concatenate([data[offsets[:-1][nonempty]], data[offsets[1:][nonempty] - 1]])
    return bool(((edges <= 0x20) | (edges >= 0x80)).any())


def _strip(codes: np.ndarray, values: pa.Array) -> Encoded:
    """Strip surrounding white space from ``values``; values that become equal are merged."""
    values = values.cast(pa.string()) if values.type != pa.string() else values
    if not _may_need_strip(values):
        return Encoded(codes.astype(np.int32, copy=False), values)
    stripped = pc.utf8_trim_whitespace(values)
    if pc.all(pc.equal(stripped, values)).as_py() is not False:
        return Encoded(codes.astype(np.int32, copy=False), values)
    merged = stripped.dictionary_encode()
    remap = merged.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    return Encoded(remap[codes], merged.dictionary)


_TABLES = np.random.default_rng(20210101).integers(0, 1 << 16, size=(3, 256), dtype=np.uint16)


def _partition_digit(arr: pa.Array, bits: int) -> np.ndarray:
    """A ``bits``-bit digit per string: a tabulation hash (Zobrist 1970; Patrascu & Thorup
    2012) of its last two bytes and its length. It depends on the string alone: for strings
    shorter than two bytes, the bytes before the string's start are not used."""
    offsets, data = _buffers(arr)
    if len(data) < 2:  # so that the wrapped indices below exist
        data = np.concatenate([data, np.zeros(2, np.uint8)])
    ends = offsets[1:]
    lengths = np.diff(offsets)
    last, second = data[ends - 1], data[ends - 2]  # an index of -1 or -2 wraps around; fixed below
    short = np.flatnonzero(lengths < 2)
    last[short] = np.where(lengths[short] > 0, last[short], 0)
    second[short] = 0
    h = _TABLES[0][last] ^ _TABLES[1][second] ^ _TABLES[2][(lengths & 0xFF).astype(np.uint8)]
    return h >> np.uint16(16 - bits)


def _partition_bits(n: int) -> int:
    return int(np.clip(np.ceil(np.log2(max(n, 1) / PARTITION_ROWS)), 1, 12))


def _partitions(digit: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Row order grouping equal digits (stable, so rows keep their order within a partition) and bounds."""
    order = np.argsort(digit, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(digit, minlength=1 << bits))])
    return order, bounds


def encode_arrow(column: pa.Array | pa.ChunkedArray) -> Encoded:
    """Encode an Arrow text column (no nulls). Large columns with many distinct values are
    encoded partition by partition (see the module notes); the codes are the same either way
    up to the order of ``values``. A dictionary-encoded column (as the CSV reader makes it, one
    dictionary per chunk) keeps its encoding: its chunks' dictionaries are unified."""
    if pa.types.is_dictionary(column.type):
        return _from_dictionary(column)
    chunks = [c for c in (column.chunks if isinstance(column, pa.ChunkedArray) else [column]) if len(c)]
    n = sum(len(c) for c in chunks)
    sample = chunks[0].slice(0, SAMPLE_ROWS) if chunks else pa.array([], pa.string())
    if not chunks or n < PARTITION_MIN_ROWS or len(pc.unique(sample)) < DISTINCT_SHARE * len(sample):
        arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if pa.types.is_string(arr.type) and arr.nbytes > (1 << 30):
            arr = arr.cast(pa.large_string())
        enc = arr.dictionary_encode()
        return _strip(enc.indices.to_numpy(zero_copy_only=False), enc.dictionary)
    return _encode_partitioned(chunks, n)


def _encode_partitioned(chunks: list[pa.Array], n: int) -> Encoded:
    """Encode the chunks of a column partition by partition, without first joining them: each chunk's
    rows are grouped by partition digit (one copy of the chunk), and each partition's pieces, from
    every chunk, are encoded together with one hash table; a row's code is written straight to its
    place. Partitions hold disjoint values, so their dictionaries are put side by side."""
    bits = _partition_bits(n)
    parts = 1 << bits
    starts = np.cumsum([0] + [len(c) for c in chunks])

    def group(k: int):
        chunk = chunks[k]
        order, bounds = _partitions(_partition_digit(chunk, bits), bits)
        grouped = chunk.take(pa.array(order))
        order += starts[k]  # rows of the whole column
        return [(order[lo:hi], grouped.slice(lo, hi - lo)) for lo, hi in zip(bounds[:-1], bounds[1:])]

    def encode(pieces: list[tuple[np.ndarray, pa.Array]]):
        rows = np.concatenate([r for r, _ in pieces])
        column = pa.chunked_array([a for _, a in pieces], chunks[0].type)
        enc = column.dictionary_encode()  # one dictionary across the pieces
        if not enc.num_chunks:
            return rows, np.zeros(0, np.int32), pa.array([], chunks[0].type)
        local = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in enc.chunks])
        return rows, local, enc.chunk(0).dictionary

    with ThreadPoolExecutor(WORKERS) as pool:  # Arrow and NumPy release the GIL: chunks and partitions run side by side
        grouped = list(pool.map(group, range(len(chunks))))
        encoded = list(pool.map(encode, ([g[p] for g in grouped] for p in range(parts))))
    del grouped
    codes = np.empty(n, np.int32)
    seen = 0
    for rows, local, dictionary in encoded:
        codes[rows] = local + seen
        seen += len(dictionary)
    dictionaries = [d for _, _, d in encoded]
    if sum(d.nbytes for d in dictionaries) > (1 << 30):  # 32-bit offsets would overflow
        dictionaries = [d.cast(pa.large_string()) for d in dictionaries]
    return _strip(codes, pa.concat_arrays(dictionaries))


def _from_dictionary(column: pa.Array | pa.ChunkedArray) -> Encoded:
    """The codes and values of a dictionary-encoded text column (no nulls)."""
    chunks = column.unify_dictionaries().chunks if isinstance(column, pa.ChunkedArray) else [column]
    if not chunks:
        return Encoded(np.zeros(0, np.int32), pa.array([], pa.string()))
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks]).astype(np.int32, copy=False)
    return _strip(codes, chunks[0].dictionary)


def encode_series(values: pd.Series) -> Encoded:
    """Encode a pandas text column; missing values become the empty string."""
    codes, uniques = pd.factorize(values.fillna("").astype(str), sort=False)
    return _strip(codes, pa.array(np.asarray(uniques, dtype=object), type=pa.string()))


def duplicated_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True for each row whose pair (a[i], b[i]) occurred on an earlier row (non-negative codes).

    Rows are partitioned by the low bits of ``b`` so that each partition's hash table stays
    in cache; a pair's first occurrence keeps its place, because partitions keep row order.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    n = len(a)
    if n == 0:
        return np.zeros(0, bool)
    if a.min() < 0 or b.min() < 0:
        raise ValueError("duplicated_pairs: codes must be non-negative")
    pair = a * (int(b.max()) + 1) + b
    if n < PARTITION_MIN_ROWS:
        return pd.Series(pair, copy=False).duplicated(keep="first").to_numpy()
    bits = _partition_bits(n)
    order, bounds = _partitions((b & ((1 << bits) - 1)).astype(np.uint16), bits)
    grouped = pair[order]
    sorted_dup = np.zeros(n, bool)

    def mark(i: int) -> None:
        lo, hi = bounds[i], bounds[i + 1]
        sorted_dup[lo:hi] = pd.Series(grouped[lo:hi], copy=False).duplicated(keep="first").to_numpy()

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(mark, range(1 << bits)))
    dup = np.empty(n, bool)
    dup[order] = sorted_dup
    return dup


def union_categoricals(columns: list[pd.Series]) -> pd.Series:
    """Stack categorical columns whose categories differ (file by file) into one."""
    from pandas.api.types import union_categoricals as union

    if len(columns) == 1:
        return columns[0].reset_index(drop=True)
    return pd.Series(union([c.array for c in columns], ignore_order=True))
