"""The locked environment: ``requirements.lock`` and what is derived from it.

``requirements.lock`` pins every package of the project (its dependencies and the ``test``,
``bench`` and ``lock`` extras, with their dependencies) to one version, with the SHA-256
hashes of every file PyPI offers for it, for Python 3.11 on x86-64 Linux. It is written by
``make lock`` (``uv pip compile``, which keeps the current pins unless ``pyproject.toml``
asks for others) and installed by the README's two commands with ``pip install
--require-hashes``, so that a clone years from now installs the same files or fails.

``environment.yml`` (conda, and Binder/repo2docker, which read it) is generated from the lock
by :func:`environment_yml`: conda supplies Python 3.11 and pip, pip the exact locked versions.
The report's appendix names the lock's digest and any package whose running version differs.

Run as ``python -m cmestudy.lockfile environment`` to print ``environment.yml``.
"""

from __future__ import annotations

import hashlib
import re
import sys
from importlib import metadata
from pathlib import Path

from .paths import PROJECT_ROOT

LOCK_FILE = PROJECT_ROOT / "requirements.lock"
ENVIRONMENT_FILE = PROJECT_ROOT / "environment.yml"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Jinja2`` = ``jinja2``, ``ruamel.yaml`` = ``ruamel-yaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path | None = None) -> dict[str, str]:
    """Locked versions by normalised name, in the order of the file."""
    out = {}
    for line in Path(path or LOCK_FILE).read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line)
        if m:
            out[normalise(m.group(1))] = m.group(2)
    return out


def digest(path: Path | None = None) -> str | None:
    """SHA-256 of the lock file, or None when there is none."""
    path = Path(path or LOCK_FILE)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def drift(path: Path | None = None) -> list[tuple[str, str, str | None]]:
    """Locked packages whose installed version differs: (name, locked, installed or None)."""
    out = []
    for name, locked in pins(path).items():
        try:
            running = metadata.version(name)
        except metadata.PackageNotFoundError:
            running = None
        if running != locked:
            out.append((name, locked, running))
    return out


def environment_yml(path: Path | None = None) -> str:
    """``environment.yml`` pinned from the lock: Python 3.11 and pip from conda-forge, every
    package at its locked version from PyPI. The project itself is installed afterwards
    (``pip install --no-deps -e .``; repo2docker runs ``postBuild``)."""
    lines = [
        "# Generated from requirements.lock by `make lock`: do not edit (tests/test_lock.py checks it).",
        "# Conda users:  conda env create -f environment.yml && conda activate cmestudy",
        "#               pip install --no-deps -e .",
        "# Binder / repo2docker read this file, then run postBuild (which installs cmestudy itself).",
        "name: cmestudy",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
    ]
    lines += [f"      - {name}=={version}" for name, version in pins(path).items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["environment"]:
        print("usage: python -m cmestudy.lockfile environment", file=sys.stderr)
        return 2
    sys.stdout.write(environment_yml())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
