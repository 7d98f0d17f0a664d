"""install.py, the set-up of the README's two commands: it cannot drift, the lock is complete for
every supported Python and platform, and a Python it does not support is named before anything
is installed.

The tests that ask PyPI are skipped where it cannot be reached (they say so).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from cmestudy import lockfile

from .conftest import ROOT

spec = importlib.util.spec_from_file_location("install", ROOT / "install.py")
install = importlib.util.module_from_spec(spec)
spec.loader.exec_module(install)

#: uv's names of the places the lock must serve (install.TARGETS names the same places).
PLATFORMS = {
    "linux-x86_64": "x86_64-unknown-linux-gnu",
    "linux-aarch64": "aarch64-unknown-linux-gnu",
    "macos-arm64": "aarch64-apple-darwin",
    "macos-x86_64": "x86_64-apple-darwin",
    "windows-x86_64": "x86_64-pc-windows-msvc",
}
PYTHONS = ("3.11", "3.12", "3.13")


def _pypi_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10).close()
        return True
    except OSError:
        return False


needs_pypi = pytest.mark.skipif(not _pypi_reachable(), reason="PyPI cannot be reached from here")


def _wheel(folder: Path, name: str, version: str, metadata: str) -> Path:
    """A minimal, valid pure-Python wheel (PEP 427) of ``name`` ``version``."""
    dist = f"{name}-{version}"
    files = {
        f"{name}_placeholder/__init__.py": b"",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{metadata}".encode(),
        f"{dist}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        record = []
        for arcname, data in files.items():
            z.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{arcname},sha256={digest},{len(data)}")
        z.writestr(f"{dist}.dist-info/RECORD", "\n".join([*record, f"{dist}.dist-info/RECORD,,"]) + "\n")
    return path


def test_a_python_that_is_not_supported_is_named_in_one_sentence_before_anything_is_installed(tmp_path):
    assert install.supported_message((3, 11)) is None and install.supported_message((3, 13)) is None
    message = install.supported_message((3, 10))
    assert "Python 3.11, 3.12 and 3.13" in message and "this is Python 3.10" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    with pytest.raises(install.SetupError, match="3.11, 3.12 and 3.13"):
        install.setup(tmp_path / "venv", None, False, True, version=(3, 14))
    assert not (tmp_path / "venv").exists()  # nothing was created


def test_the_lock_entries_install_py_reads_are_the_ones_cmestudy_reads():
    mine = [(name, version, marker) for name, version, marker, _ in install.lock_entries()]
    theirs = [(e.name, e.version, e.marker) for e in lockfile.entries()]
    assert mine == theirs and len(mine) > 150
    pip_block = next(block for name, _, _, block in install.lock_entries() if name == "pip")
    assert pip_block.startswith("pip==") and "--hash=sha256:" in pip_block and not pip_block.endswith("\\")


def test_the_installer_is_pinned_in_the_lock_and_installed_first():
    pins = lockfile.pins()
    for name in install.INSTALLER:
        assert name in pins, f"{name} must be pinned in requirements.lock (the `setup` extra)"
    from importlib import metadata

    assert metadata.version("pip") == pins["pip"]  # the pip that installed this venv is the locked one


def test_install_py_and_cmestudy_agree_on_the_source_only_packages():
    assert install.SOURCE_ONLY == lockfile.SOURCE_ONLY
    assert {"manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux1_x86_64"} <= set(
        install.TARGETS["linux-x86_64"][0]
    )  # pip does not widen manylinux_2_28 to the older tags itself


def test_the_install_command_resolves_nothing():
    cmd = install.install_command(Path("python"))
    assert {"--require-hashes", "--no-deps", "--no-build-isolation"} <= set(cmd)


def test_wheelhouse_markers_select_the_target_platform_entries():
    """The entries a Windows 3.12 wheelhouse holds: Windows-only ones in, Linux-only ones out."""
    chosen = {
        e[0] for e in install.entries_for(install.lock_entries(), "windows-x86_64", (3, 12), Path(sys.executable))
    }
    assert {"colorama", "pywinpty", "aiohttp"} <= chosen and "pexpect" not in chosen
    mac = install.entries_for(install.lock_entries(), "macos-x86_64", (3, 11), Path(sys.executable))
    numba = [e[1] for e in mac if e[0] == "numba"]
    assert len(numba) == 1 and numba[0] != lockfile.pins()["numba"]  # the last release with Intel-Mac wheels


@needs_pypi
def test_a_newer_release_named_with_an_extra_cannot_enter_the_install(tmp_path):
    """weasyprint requires ``fonttools[woff]``: pip 23.2, resolving that requirement in hash-checking
    mode, took a fonttools newer than the lock and stopped the install (issue 25). A find-links
    folder offering fonttools 99.0.0 (and a newer brotli) must change nothing: the dry run of
    install.py's own command installs exactly the lock's versions."""
    links = tmp_path / "links"
    links.mkdir()
    _wheel(links, "fonttools", "99.0.0", "Provides-Extra: woff\nRequires-Dist: brotli>=1 ; extra == 'woff'\n")
    _wheel(links, "brotli", "99.0.0", "")
    report = tmp_path / "report.json"
    cmd = install.install_command(Path(sys.executable)) + [
        "--dry-run", "--ignore-installed", "--report", str(report), "--find-links", str(links),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    planned = {
        lockfile.normalise(i["metadata"]["name"]): i["metadata"]["version"]
        for i in json.loads(report.read_text())["install"]
    }
    assert planned["fonttools"] == lockfile.pins()["fonttools"] != "99.0.0"
    assert planned == lockfile.pins()  # every package at its locked version, nothing else


@needs_pypi
@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("target", PLATFORMS)
def test_the_lock_is_complete_with_wheels_for_every_supported_python_and_platform(target, python, tmp_path):
    """uv resolves the lock for the target in hash-checking mode: a requirement missing from the
    lock (as aiohttp was for Python 3.12) has no trusted hash and fails; every package but the
    two source-only ones must come as a wheel (nothing to compile on a user's machine)."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (the `lock` extra)")
    binary = sorted({e.name for e in lockfile.entries()} - set(lockfile.SOURCE_ONLY))
    cmd = [
        uv,
        "pip",
        "install",
        "--dry-run",
        "--require-hashes",
        "-r",
        str(lockfile.LOCK_FILE),
        "--python-platform",
        PLATFORMS[target],
        "--python-version",
        python,
        "--target",
        str(tmp_path / "t"),
    ]
    for name in binary:
        cmd += ["--only-binary", name]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, f"{target}, Python {python}: {proc.stderr[-1500:]}"
    assert "Would install" in proc.stderr
