"""The locked environment: ``requirements.lock`` and what is derived from it.

``requirements.lock`` pins every package of the project (its dependencies and the ``test``,
``bench``, ``lock`` and ``setup`` extras, with their dependencies) to one version per
environment, with the SHA-256 hashes of every file PyPI offers for it. It is one universal
resolution (``uv pip compile --universal``) for every supported place: Python 3.11, 3.12 and
3.13 on Linux (x86-64, aarch64), macOS (arm64, x86-64) and Windows (x86-64). Entries that hold
only somewhere carry a PEP 508 environment marker (``colorama==0.4.6 ; sys_platform ==
'win32'``); where a platform needs an older release (Intel Macs, ``lock-constraints.txt``) the
package appears twice, with complementary markers. ``make lock`` writes it
(:func:`compile_command`), keeping the current pins unless ``pyproject.toml`` asks for others;
``install.py`` installs it (the entries whose marker holds, with ``--require-hashes --no-deps``).

``environment.yml`` (conda, and Binder/repo2docker, which read it) is generated from the lock
by :func:`environment_yml`: conda supplies Python and pip, pip the exact locked versions.
The report's appendix names the lock's digest and any package whose running version differs.

Run as ``python -m cmestudy.lockfile environment`` to print ``environment.yml``, and
``python -m cmestudy.lockfile compile`` to rewrite the lock (what ``make lock`` does).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from cmestudy.paths import PROJECT_ROOT

LOCK_FILE = PROJECT_ROOT / "requirements.lock"
CONSTRAINTS_FILE = PROJECT_ROOT / "lock-constraints.txt"
ENVIRONMENT_FILE = PROJECT_ROOT / "environment.yml"
#: The extras of pyproject.toml that the lock holds beside the dependencies.
EXTRAS = ("test", "bench", "lock", "setup")
#: Packages PyPI has only as source distributions: built at install time by the locked setuptools
#: (``install.py`` passes ``--no-build-isolation``), so nothing unpinned is fetched to build them.
SOURCE_ONLY = ("fontmeta", "odfpy")
#: The oldest supported Python (the universal resolution covers it and every later one
#: that ``requires-python`` admits).
PYTHON_MIN = "3.11"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?$")


@dataclass(frozen=True)
class Entry:
    """One pinned line of the lock: a package, its version and where it applies."""

    name: str
    version: str
    marker: str = ""

    def applies(self, environment: dict[str, str] | None = None) -> bool:
        """Whether the entry's marker holds in ``environment`` (default: the running Python)."""
        if not self.marker:
            return True
        from packaging.markers import Marker

        return Marker(self.marker).evaluate(environment)


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Jinja2`` = ``jinja2``, ``ruamel.yaml`` = ``ruamel-yaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(path: Path | None = None) -> list[Entry]:
    """Every pinned entry of the lock, in the order of the file (a package may appear twice).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "l"
    >>> _ = p.write_text("numpy==2.3.5 ; sys_platform == 'darwin' \\\\\\n    --hash=sha256:00\\nsix==1.17.0 \\\\\\n")
    >>> entries(p)
    [Entry(name='numpy', version='2.3.5', marker="sys_platform == 'darwin'"), Entry(name='six', version='1.17.0', marker='')]
    """
    out = []
    for line in Path(path or LOCK_FILE).read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line)
        if m:
            out.append(Entry(normalise(m.group(1)), m.group(2), (m.group(3) or "").strip()))
    return out


def pins(path: Path | None = None, environment: dict[str, str] | None = None) -> dict[str, str]:
    """Locked versions by normalised name for one environment (default: the running Python)."""
    return {e.name: e.version for e in entries(path) if e.applies(environment)}


def digest(path: Path | None = None) -> str | None:
    """SHA-256 of the lock file, or None when there is none."""
    path = Path(path or LOCK_FILE)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def drift(path: Path | None = None) -> list[tuple[str, str, str | None]]:
    """Locked packages (for this environment) whose installed version differs: (name, locked, installed or None)."""
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
    package at its locked version from PyPI, with its marker where it has one (pip evaluates
    them). The project itself is installed afterwards (``pip install --no-deps -e .``;
    repo2docker runs ``postBuild``)."""
    lines = [
        "# Generated from requirements.lock by `make lock`: do not edit (tests/test_lock.py checks it).",
        "# Conda users:  conda env create -f environment.yml && conda activate cmestudy",
        "#               pip install --no-deps -e .",
        "# Binder / repo2docker read this file, then run postBuild (which installs cmestudy itself).",
        "name: cmestudy",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={PYTHON_MIN}",
        "  - pip",
        "  - pip:",
    ]
    for e in entries(path):
        line = f"{e.name}=={e.version}" + (f" ; {e.marker}" if e.marker else "")
        lines.append(f'      - "{line}"' if e.marker else f"      - {line}")
    return "\n".join(lines) + "\n"


def compile_command(uv: str, output: Path | None = None) -> list[str]:
    """The ``uv pip compile`` that writes the lock: universal (every platform and Python from
    :data:`PYTHON_MIN` up to what ``requires-python`` admits), with hashes, the extras of
    :data:`EXTRAS` and the platform constraints of ``lock-constraints.txt``. Pins already in
    ``output`` are kept unless ``pyproject.toml`` asks for others."""
    cmd = [uv, "pip", "compile", "pyproject.toml", "--universal", "--python-version", PYTHON_MIN,
           "--generate-hashes", "--constraint", CONSTRAINTS_FILE.name]  # fmt: skip
    for extra in EXTRAS:
        cmd += ["--extra", extra]
    return cmd + ["--custom-compile-command", "make lock", "--quiet", "-o", str(output or LOCK_FILE)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["environment"]:
        sys.stdout.write(environment_yml())
        return 0
    if args == ["compile"]:
        uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
        if uv is None:
            print("uv is not installed (it comes with the `lock` extra: make install)", file=sys.stderr)
            return 1
        return subprocess.run(compile_command(uv), cwd=PROJECT_ROOT).returncode
    print("usage: python -m cmestudy.lockfile environment|compile", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
