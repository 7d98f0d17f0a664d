"""De-identification: learners are linked by a keyed hash, never by who they are.

A learner's identifying values (learner id, or national ID number, or name with phone
or e-mail) are reduced to a pseudonymous key

    key = BLAKE2b-128(key=secret, message="field=value|field=value"), hex-encoded

BLAKE2b in keyed mode is a message authentication code (RFC 7693, sec. 2.5): like
HMAC-SHA256 it cannot be computed without the secret, and it is several times faster,
which matters for exports of millions of rows. Each distinct identity is hashed once. The secret is 32 random bytes kept *outside* the repository, created on
first use at ``$CMESTUDY_KEY_FILE`` or else ``~/.config/cmestudy/linkage.key``
(mode 0600). Without the secret the key cannot be reversed or recomputed from a
guessed name or phone number; with the same secret, the same learner gets the same
key in every file and every run, so enrolments can be linked and de-duplicated.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

KEY_ENV = "CMESTUDY_KEY_FILE"


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


def keyed_hash(values: pd.Series, key: bytes) -> pd.Series:
    """Keyed BLAKE2b-128 of each string in ``values`` (hex); each distinct value is hashed once."""
    codes, uniques = pd.factorize(values, sort=False)
    k = key[:64]  # BLAKE2b takes keys of up to 64 bytes
    hashed = np.array([hashlib.blake2b(str(u).encode("utf-8"), key=k, digest_size=16).hexdigest() for u in uniques],
                      dtype=object)
    out = hashed[codes] if len(hashed) else np.array([], dtype=object)
    return pd.Series(out, index=values.index, dtype="string[pyarrow]")
