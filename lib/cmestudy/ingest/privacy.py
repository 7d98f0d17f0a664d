"""De-identification: learners are linked by a keyed hash, never by who they are.

A learner's identifying values are reduced to a pseudonymous 64-bit ``learner_key``. The
identity used is the first of these schemes whose fields a row has, all non-empty:
learner id; national ID number; name with phone; name with e-mail; phone; e-mail. Then

    learner_key = mix64(SipHash-2-4(k_s, message)),    k_s = BLAKE2b-128(key=secret, data=s)

where ``message`` is the UTF-8 value (the values joined by U+001F for two-field schemes),
``s`` names the scheme (so an ID number and a phone number never share a key), and mix64 is
the bijective SplitMix64 finaliser that ``pandas.util.hash_array`` applies to SipHash's
output. SipHash-2-4 is a keyed pseudorandom function designed for short inputs (Aumasson &
Bernstein 2012): without the 128-bit key its output cannot be computed, so a key cannot be
reversed or recomputed from a guessed name or phone number. BLAKE2b in keyed mode
(RFC 7693) derives each scheme's key from the secret. Each distinct identity is hashed
once, vectorised, so ten million enrolment rows take well under a second here.

The secret is 32 random bytes kept *outside* the repository, created on first use at
``$CMESTUDY_KEY_FILE`` or else ``~/.config/cmestudy/linkage.key`` (mode 0600). With the same
secret, the same learner gets the same key in every file and every run, so enrolments can
be linked and de-duplicated. Two different learners share a 64-bit key with probability
about n^2 / 2^65 for n learners (3e-7 for three million), and only matters if both enrol
in the same project.

References
----------
Aumasson J-P, Bernstein DJ. SipHash: a fast short-input PRF. INDOCRYPT 2012, LNCS 7668:489-508.
Saarinen M-J, Aumasson J-P. The BLAKE2 cryptographic hash and message authentication code
(MAC). RFC 7693, 2015.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cmestudy.ingest.columnar import Encoded, encode_series

KEY_ENV = "CMESTUDY_KEY_FILE"
# Identity schemes in order of preference: the first a row has, all fields non-empty, is used.
SCHEMES = (("learner_id",), ("id_number",), ("name", "phone"), ("name", "email"), ("phone",), ("email",))
FIELD_SEPARATOR = "\x1f"  # ASCII unit separator, between the fields of a two-field scheme
KEY_DTYPE = pd.CategoricalDtype(pd.Index([], dtype="uint64"))


def key_path() -> Path:
    env = os.environ.get(KEY_ENV)
    return Path(env).expanduser() if env else Path.home() / ".config" / "cmestudy" / "linkage.key"


def load_or_create_key(path: Path | None = None) -> bytes:
    """Read the linkage secret, creating it (0600) on first use."""
    path = path or key_path()
    if path.is_file():
        key = path.read_bytes()
        if len(key) < 16:
            raise ValueError(f"linkage key {path} is too short ({len(key)} bytes); expected 32 random bytes")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def scheme_key(secret: bytes, scheme: tuple[str, ...]) -> bytes:
    """The 128-bit SipHash key of one identity scheme: BLAKE2b-128 keyed by the secret."""
    return hashlib.blake2b(
        ("cmestudy learner key: " + "+".join(scheme)).encode(), key=secret[:64], digest_size=16
    ).digest()


def keyed_hash(messages, secret: bytes, scheme: tuple[str, ...] = ("learner_id",)) -> np.ndarray:
    """``mix64(SipHash-2-4(k_s, m))`` of each message (str, bytes, or an Arrow text array), as uint64."""
    if isinstance(messages, (pa.Array, pa.ChunkedArray)):
        data = messages.cast(pa.binary()).to_numpy(zero_copy_only=False)
    else:
        data = np.array([m if isinstance(m, bytes) else str(m).encode("utf-8") for m in messages], dtype=object)
    if len(data) == 0:
        return np.zeros(0, np.uint64)
    # latin-1 maps each of the 16 key bytes to one character, so all 128 bits are used;
    # the messages are bytes already, so the encoding does not touch them.
    return pd.util.hash_array(
        data, encoding="latin-1", hash_key=scheme_key(secret, scheme).decode("latin-1"), categorize=False
    )


def pseudonymise(fields: dict[str, Encoded], n_rows: int, secret: bytes) -> pd.Categorical:
    """The ``learner_key`` of each row from its identifying columns (see the module notes).

    ``fields`` maps identifying column names to encoded columns of ``n_rows`` rows. Rows with
    no usable identity get a missing key. Each distinct identity is hashed once.
    """
    chosen = np.zeros(n_rows, bool)
    parts = []  # (rows, index of each row's identity, key of each identity)
    for scheme in SCHEMES:
        if not all(f in fields for f in scheme):
            continue
        cols = [fields[f] for f in scheme]
        usable = ~chosen
        for c in cols:
            usable &= c.nonempty()
        if not usable.any():
            continue
        rows = slice(None) if usable.all() else np.flatnonzero(usable)
        if len(cols) == 1:
            codes = cols[0].codes[rows]
            used = np.bincount(codes, minlength=len(cols[0].values)) > 0
            if used.all():
                ident, messages = codes, cols[0].values
            else:
                remap = np.cumsum(used) - 1
                ident, messages = remap[codes], cols[0].values.filter(pa.array(used))
        else:
            width = len(cols[1].values)
            combined = cols[0].codes[rows].astype(np.int64) * width + cols[1].codes[rows]
            ident, distinct = pd.factorize(combined, sort=False)
            messages = pc.binary_join_element_wise(
                cols[0].values.take(pa.array(distinct // width)),
                cols[1].values.take(pa.array(distinct % width)),
                FIELD_SEPARATOR,
            )
        parts.append((rows, ident, keyed_hash(messages, secret, scheme)))
        chosen[rows] = True
    if not parts:
        return pd.Categorical.from_codes(np.full(n_rows, -1, np.int64), dtype=KEY_DTYPE)
    keys = np.concatenate([k for _, _, k in parts])
    try:  # distinct identities have distinct keys unless two 64-bit hashes collide
        dtype = pd.CategoricalDtype(pd.Index(keys, dtype="uint64"))
        key_code = None
    except ValueError:  # they collided: the learners share a key, as linkage by key implies
        key_code, distinct_keys = pd.factorize(keys, sort=False)
        dtype = pd.CategoricalDtype(pd.Index(distinct_keys, dtype="uint64"))
    if len(parts) == 1 and isinstance(parts[0][0], slice) and key_code is None:
        codes = parts[0][1]
    else:
        codes = np.full(n_rows, -1, np.int64)
        start = 0
        for rows, ident, k in parts:
            codes[rows] = (start + ident) if key_code is None else key_code[start + ident]
            start += len(k)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def key_array(keys: np.ndarray) -> pa.Array:
    """Keys as text of 16 hexadecimal digits (how they are stored), built as one Arrow buffer."""
    keys = np.ascontiguousarray(keys, dtype=">u8")
    data = keys.tobytes().hex().encode("ascii")
    offsets = np.arange(0, 16 * (len(keys) + 1), 16, dtype=np.int32)
    return pa.StringArray.from_buffers(len(keys), pa.py_buffer(offsets), pa.py_buffer(data))


def resolve_secret(secret) -> bytes:
    """The linkage secret: given, returned by a callable, or else the user's (:func:`load_or_create_key`)."""
    if callable(secret):
        return secret()
    return secret if secret is not None else load_or_create_key()


def deidentify(enrolments: pd.DataFrame, spec, key: bytes) -> pd.DataFrame:
    """Replace the identifying columns of a table of strings by ``learner_key`` (a keyed hash,
    see :func:`pseudonymise`); rows with no identity get no key (and cannot be de-duplicated)."""
    ident = [c for c in spec.identifying if c in enrolments.columns]
    out = enrolments.drop(columns=ident)
    out["learner_key"] = pseudonymise({c: encode_series(enrolments[c]) for c in ident}, len(enrolments), key)
    return out
