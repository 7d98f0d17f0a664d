#!/usr/bin/env python3
"""Set up cmestudy: a virtual environment holding exactly the files of ``requirements.lock``.

Standard library only, so it runs before anything is installed, on Linux, macOS and Windows::

    python install.py                      # .venv with every locked package, cmestudy and its kernel
    python install.py wheelhouse DIR       # the files an offline install needs (this machine's platform)
    python install.py wheelhouse DIR --target windows-x86_64 --python 3.12
    python install.py --offline DIR        # install from DIR, with no network at all

How the install cannot drift (see the README, "Reproduce in a few years"):

1. The installer comes first and is itself pinned. The venv's own pip (whatever version the
   Python brought) installs only ``pip`` and ``setuptools`` at the versions of the lock, each file
   checked against its SHA-256 (``--require-hashes --no-deps``: nothing is resolved).
2. That pinned pip installs every entry of the lock whose environment marker holds here, with
   ``--require-hashes --no-deps``: the lock is complete for every supported Python and platform
   (``make lock`` resolves it universally; a test checks each), so nothing is resolved against
   what the index offers today, and a later release of any package, or of one named with an
   extra such as ``fonttools[woff]``, cannot enter. ``pip check`` then confirms that every
   requirement of every installed package is met.
3. The two locked source distributions (``fontmeta``, ``odfpy``) are built with the pinned
   setuptools already in the venv (``--no-build-isolation``), so no build step fetches anything.
4. cmestudy itself (``pip install --no-deps --no-build-isolation -e .``) and its Jupyter kernel.

A stamp in the venv records the digest of the lock, ``pyproject.toml`` and the Python version:
a second run with nothing changed returns at once.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "requirements.lock"
SUPPORTED = ((3, 11), (3, 12), (3, 13))
#: What the first step installs with the venv's own pip, from the lock's own pins and hashes.
INSTALLER = ("pip", "setuptools")
STAMP_NAME = ".cmestudy-installed"
KERNEL = ("cmestudy", "Python (cmestudy)")

#: Packages PyPI has only as source distributions (cmestudy.lockfile.SOURCE_ONLY; a test keeps the two
#: equal): a wheelhouse holds them as source, built at install time with the locked setuptools.
SOURCE_ONLY = ("fontmeta", "odfpy")


def _manylinux(arch: str, newest: int = 28, oldest: int = 5) -> list[str]:
    """pip widens a macOS tag to the older ones itself, but not ``manylinux_2_28``: list them all."""
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    out = []
    for minor in range(newest, oldest - 1, -1):
        out.append(f"manylinux_2_{minor}_{arch}")
        if minor in legacy:
            out.append(f"{legacy[minor]}_{arch}")
    return out


#: Wheelhouse targets: pip's platform tags and the marker environment the lock's entries are selected by.
TARGETS = {
    "linux-x86_64": (_manylinux("x86_64"), {"sys_platform": "linux", "platform_system": "Linux",
                                            "os_name": "posix", "platform_machine": "x86_64"}),
    "linux-aarch64": (_manylinux("aarch64", oldest=17), {"sys_platform": "linux", "platform_system": "Linux",
                                                         "os_name": "posix", "platform_machine": "aarch64"}),
    "macos-arm64": (["macosx_12_0_arm64"], {"sys_platform": "darwin", "platform_system": "Darwin",
                                            "os_name": "posix", "platform_machine": "arm64"}),
    "macos-x86_64": (["macosx_12_0_x86_64"], {"sys_platform": "darwin", "platform_system": "Darwin",
                                              "os_name": "posix", "platform_machine": "x86_64"}),
    "windows-x86_64": (["win_amd64"], {"sys_platform": "win32", "platform_system": "Windows",
                                       "os_name": "nt", "platform_machine": "AMD64"}),
}  # fmt: skip


class SetupError(RuntimeError):
    """A step of the set-up failed; the message says which and what to do."""


def supported_message(version: tuple[int, int]) -> str | None:
    """The one sentence printed, before anything is installed, on a Python cmestudy does not support."""
    version = tuple(version)
    if version in SUPPORTED:
        return None
    names = ", ".join(f"{a}.{b}" for a, b in SUPPORTED[:-1]) + f" and {SUPPORTED[-1][0]}.{SUPPORTED[-1][1]}"
    return (
        f"cmestudy runs on Python {names}, and this is Python {version[0]}.{version[1]} "
        f"({sys.executable}): install one of those and run the set-up with it "
        f"(make report PYTHON=python3.12, or py -3.12 install.py on Windows)."
    )


# ---------------------------------------------------------------------------------------------
# The lock


def lock_entries(path: Path = LOCK) -> list[tuple[str, str, str, str]]:
    """Each pinned entry of a ``uv pip compile`` lock: (normalised name, version, marker, block).

    The block is the entry's text (pin, marker and hashes), as a requirements file takes it.
    """
    out, block = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")):
            if block:
                out.append(_entry(block))
            block = [line]
        elif block and line.strip().startswith("--hash="):
            block.append(line)
    if block:
        out.append(_entry(block))
    return out


def _entry(block: list[str]) -> tuple[str, str, str, str]:
    head = block[0].rstrip(" \\")
    pin, _, marker = head.partition(";")
    name, _, version = pin.strip().partition("==")
    name = re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]", "", name)).lower()
    return name, version.strip(), marker.strip(), "\n".join(block).rstrip(" \\")


def requirements_text(entries, names=None) -> str:
    """A requirements file of the given entries (all when ``names`` is None), hashes included."""
    keep = [e for e in entries if names is None or e[0] in names]
    return "\n".join(e[3] for e in keep) + "\n"


# ---------------------------------------------------------------------------------------------
# The virtual environment


def venv_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def python_version(python: Path) -> tuple[int, int]:
    out = subprocess.run(
        [str(python), "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1])


def run(args: list[str], what: str, quiet: bool = False) -> None:
    """Run one step; on failure, a SetupError that names the step (pip has printed why)."""
    if not quiet:
        print("+ " + " ".join(str(a) for a in args), flush=True)
    if subprocess.run([str(a) for a in args]).returncode != 0:
        raise SetupError(f"the set-up stopped while {what} (the lines above say why)")


def digest(python_version_: tuple[int, int], offline: bool) -> str:
    h = hashlib.sha256()
    for path in (LOCK, ROOT / "pyproject.toml", Path(__file__)):
        h.update(path.read_bytes())
    h.update(f"{python_version_} offline={offline}".encode())
    return h.hexdigest()


def ensure_venv(env: Path, rebuild_for_other_python: bool) -> Path:
    """The venv's interpreter: made with this Python when missing; rebuilt with it when it was
    made with another version and the user asked for this one."""
    python = venv_python(env)
    mine = sys.version_info[:2]
    if python.exists():
        try:
            theirs = python_version(python)
        except (OSError, subprocess.CalledProcessError):
            theirs = None
        if theirs is None or (theirs != mine and rebuild_for_other_python):
            why = "does not run" if theirs is None else f"was made with Python {theirs[0]}.{theirs[1]}"
            print(f"{env.name} {why}: making it again with Python {mine[0]}.{mine[1]}", flush=True)
            shutil.rmtree(env)
        else:
            message = supported_message(theirs)
            if message:
                raise SetupError(message)
            return python
    print(f"creating {env.name} with Python {mine[0]}.{mine[1]} ({sys.executable})", flush=True)
    venv.EnvBuilder(with_pip=True, clear=False).create(env)
    return python


def pip_args(offline: Path | None) -> list[str]:
    args = ["--disable-pip-version-check", "--no-input"]
    if offline is not None:
        args += ["--no-index", "--find-links", str(offline)]
    return args


def install_installer(python: Path, entries, offline: Path | None, quiet: bool) -> None:
    """Step 1: the pinned pip and setuptools, hash-checked, with whatever pip the venv has."""
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "installer.txt"
        req.write_text(requirements_text(entries, INSTALLER), encoding="utf-8")
        run([python, "-m", "pip", "install", "-q", *pip_args(offline), "--require-hashes", "--no-deps", "-r", req],
            "installing the pinned installer (pip, setuptools) from requirements.lock", quiet)  # fmt: skip


def install_command(python: Path, offline: Path | None = None, lock: Path = LOCK) -> list[str]:
    """Step 2, the command itself (the tests run it with ``--dry-run``)."""
    return [str(python), "-m", "pip", "install", "-q", *pip_args(offline),
            "--require-hashes", "--no-deps", "--no-build-isolation", "-r", str(lock)]  # fmt: skip


def setup(env: Path, offline: Path | None, rebuild_for_other_python: bool, quiet: bool, version=None) -> Path:
    """Make or update the venv; ``version`` is this Python's (a test passes another)."""
    message = supported_message(tuple(version or sys.version_info[:2]))
    if message:
        raise SetupError(message)
    if offline is not None and not offline.is_dir():
        raise SetupError(f"no wheelhouse at {offline}: make one with `python install.py wheelhouse {offline}`")
    python = ensure_venv(env, rebuild_for_other_python)
    stamp = env / STAMP_NAME
    want = digest(python_version(python), offline is not None)
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == want:
        return python
    entries = lock_entries()
    install_installer(python, entries, offline, quiet)
    print(f"installing the packages of requirements.lock into {env.name}, each checked against its SHA-256 "
          f"(about a minute the first time)", flush=True)  # fmt: skip
    run(install_command(python, offline), "installing the packages of requirements.lock", quiet)
    run([python, "-m", "pip", "check"], "checking that every installed package has what it requires", quiet)
    run([python, "-m", "pip", "install", "-q", *pip_args(offline), "--no-deps", "--no-build-isolation", "-e", ROOT],
        "installing cmestudy itself", quiet)  # fmt: skip
    run([python, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL[0], "--display-name", KERNEL[1]],
        "registering the Jupyter kernel", quiet)  # fmt: skip
    stamp.write_text(want + "\n", encoding="utf-8")
    print(f"{env.name} is ready: every package at its locked version", flush=True)
    return python


# ---------------------------------------------------------------------------------------------
# Wheelhouse: every file an install on the target needs, fetched here, installed there offline


def this_target() -> str:
    system, machine = platform.system(), platform.machine().lower()
    arch = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "arm64", "aarch64": "aarch64"}.get(machine, machine)
    if system == "Darwin":
        return f"macos-{arch}"
    if system == "Windows":
        return f"windows-{arch}"
    return f"linux-{arch}"


def marker_environment(target: str, version: tuple[int, int]) -> dict[str, str]:
    """The PEP 508 marker variables of a CPython ``version`` on ``target``."""
    env = dict(TARGETS[target][1])
    env.update(
        python_version=f"{version[0]}.{version[1]}",
        python_full_version=f"{version[0]}.{version[1]}.0",
        implementation_name="cpython",
        platform_python_implementation="CPython",
        platform_release="",
        platform_version="",
        implementation_version=f"{version[0]}.{version[1]}.0",
    )
    return env


def entries_for(entries, target: str, version: tuple[int, int], python: Path) -> list:
    """The lock's entries whose marker holds on the target, evaluated by pip's own marker parser in
    the venv (``packaging``, vendored by pip), so the rules are the installer's."""
    env = marker_environment(target, version)
    script = (
        "import json, sys\n"
        "from pip._vendor.packaging.markers import Marker\n"
        "env, markers = json.load(sys.stdin)\n"
        "print(json.dumps([not m or Marker(m).evaluate(env) for m in markers]))\n"
    )
    import json

    out = subprocess.run(
        [str(python), "-c", script], input=json.dumps([env, [e[2] for e in entries]]),
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [e for e, keep in zip(entries, json.loads(out), strict=True) if keep]


def wheelhouse(directory: Path, target: str, version: tuple[int, int], env: Path, quiet: bool) -> None:
    """Download the target's files of the lock into ``directory``, each checked against its hash."""
    if target not in TARGETS:
        raise SetupError(f"unknown target {target!r}: one of {', '.join(TARGETS)}")
    if version not in SUPPORTED:
        raise SetupError(supported_message(version) or "")
    python = ensure_venv(env, rebuild_for_other_python=False)
    entries = lock_entries()
    install_installer(python, entries, None, quiet)
    chosen = entries_for(entries, target, version, python)
    directory.mkdir(parents=True, exist_ok=True)
    tags = []
    for tag in TARGETS[target][0]:
        tags += ["--platform", tag]
    binary = [e for e in chosen if e[0] not in SOURCE_ONLY]
    source = [e for e in chosen if e[0] in SOURCE_ONLY]
    where = f"{target}, Python {version[0]}.{version[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "target.txt"
        req.write_text(requirements_text(binary), encoding="utf-8")
        run([python, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--require-hashes", "--no-deps",
             "--only-binary", ":all:", *tags, "--python-version", f"{version[0]}.{version[1]}",
             "--implementation", "cp", "--abi", f"cp{version[0]}{version[1]}", "--abi", "abi3", "--abi", "none",
             "-d", directory, "-r", req], f"downloading the wheels for {where}", quiet)  # fmt: skip
        req.write_text(requirements_text(source), encoding="utf-8")
        run([python, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--require-hashes", "--no-deps",
             "--no-binary", ":all:", "--no-build-isolation", "-d", directory, "-r", req],
            f"downloading the source-only packages ({', '.join(SOURCE_ONLY)})", quiet)  # fmt: skip
    (directory / "TARGET.txt").write_text(
        f"cmestudy wheelhouse for {target}, Python {version[0]}.{version[1]}: {len(chosen)} packages of "
        f"requirements.lock (sha256 {hashlib.sha256(LOCK.read_bytes()).hexdigest()}).\n"
        f"Install with: python install.py --offline {directory.name}\n",
        encoding="utf-8",
    )
    print(f"{directory}: {len(chosen)} packages for {target}, Python {version[0]}.{version[1]}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=["install", "wheelhouse"], default="install")
    parser.add_argument("directory", nargs="?", type=Path, help="wheelhouse: the folder to fill")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="the virtual environment (default .venv)")
    parser.add_argument("--offline", type=Path, metavar="DIR", help="install from a wheelhouse, with no network")
    parser.add_argument("--target", default=None, help=f"wheelhouse platform: {', '.join(TARGETS)}")
    parser.add_argument("--python", default=None, help="wheelhouse Python version, e.g. 3.12 (default: this one)")
    parser.add_argument("--rebuild-for-this-python", action="store_true",
                        help="remake the venv when it was made with another Python version")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="do not echo the commands")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "wheelhouse":
            if args.directory is None:
                parser.error("wheelhouse needs a folder: python install.py wheelhouse wheels/")
            version = tuple(int(x) for x in args.python.split(".")[:2]) if args.python else sys.version_info[:2]
            wheelhouse(args.directory.resolve(), args.target or this_target(), version, args.venv, args.quiet)
        else:
            offline = args.offline.resolve() if args.offline else None
            setup(args.venv, offline, args.rebuild_for_this_python, args.quiet)
    except SetupError as exc:
        print(f"install.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
