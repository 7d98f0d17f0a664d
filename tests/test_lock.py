"""The locked environment (requirements.lock), environment.yml and CITATION.cff.

The lock is what the README's two commands install (pip's hash-checking mode); these tests
fail when it and pyproject.toml disagree, when environment.yml was not regenerated from it,
when the running versions are not the locked ones, or when CITATION.cff is not valid CFF.
"""

import json
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement

from cmestudy import lockfile

from .conftest import ROOT

EXTRAS = lockfile.EXTRAS


def _requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    for extra in EXTRAS:
        reqs += project["optional-dependencies"][extra]
    return [Requirement(r) for r in reqs]


def test_every_requirement_of_pyproject_is_locked_at_a_version_it_allows():
    locked = lockfile.pins()
    assert len(locked) > 50
    for req in _requirements():
        name = lockfile.normalise(req.name)
        assert name in locked, f"{req.name} is in pyproject.toml but not in requirements.lock: run `make lock`"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{req.name}: pyproject.toml asks {req.specifier}, requirements.lock pins {locked[name]}: run `make lock`"
        )


def test_every_pin_has_hashes_and_the_lock_serves_every_platform():
    lines = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    pinned = [i for i, line in enumerate(lines) if line and not line.startswith((" ", "#"))]
    assert len(pinned) == len(lockfile.entries())
    for i in pinned:  # "name==version [; marker] \" then its hashes
        assert "==" in lines[i] and lines[i + 1].strip().startswith("--hash=sha256:"), f"{lines[i]} has no hash"
    windows = {"sys_platform": "win32", "os_name": "nt", "platform_machine": "AMD64", "platform_system": "Windows"}
    assert "colorama" in lockfile.pins(environment=windows)  # Windows-only packages are there, with their marker
    assert "colorama" not in lockfile.pins() or sys.platform == "win32"
    py312 = {"python_full_version": "3.12.1", "python_version": "3.12"}
    assert "aiohttp" in lockfile.pins(environment=py312)  # papermill needs it on 3.12 (issue 25)


def test_environment_yml_is_generated_from_the_lock():
    assert (ROOT / "environment.yml").read_text(encoding="utf-8") == lockfile.environment_yml(), (
        "environment.yml differs from the lock: run `make lock`"
    )
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = [p.split(";")[0].strip().split("==") for p in pip]
    assert [(lockfile.normalise(n), v) for n, v in listed] == [(e.name, e.version) for e in lockfile.entries()]
    assert "python=3.11" in env["dependencies"]


def test_the_running_versions_are_the_locked_ones():
    assert lockfile.drift() == [], "installed versions differ from requirements.lock: run `make test` (it reinstalls)"


def test_make_lock_on_an_unchanged_pyproject_changes_nothing(tmp_path):
    """The command of `make lock` (lockfile.compile_command), writing to a copy of the lock: the copy must not change."""
    uv = shutil.which("uv", path=str(ROOT / ".venv" / "bin")) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (it comes with the `lock` extra)")
    copy = tmp_path / "requirements.lock"
    shutil.copy(ROOT / "requirements.lock", copy)
    assert "python -m cmestudy.lockfile compile" in (ROOT / "Makefile").read_text(encoding="utf-8")
    proc = subprocess.run(lockfile.compile_command(uv, copy), cwd=ROOT, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and ("network" in proc.stderr.lower() or "connect" in proc.stderr.lower()):
        pytest.skip(f"PyPI cannot be reached: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    assert copy.read_text(encoding="utf-8") == (ROOT / "requirements.lock").read_text(encoding="utf-8")


def test_citation_cff_is_valid_and_cites_the_study():
    import jsonschema

    schema = json.loads((ROOT / "tests" / "data" / "citation-file-format-1.2.0.schema.json").read_text())
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    jsonschema.validate(cff, schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    assert cff["version"] == __import__("cmestudy").__version__
    study = cff["references"][0]
    assert (study["year"], study["volume"], study["start"], study["end"]) == (2025, 41, 838, 844)
    bad = dict(cff, authors=[{"nonsense": "x"}])  # the schema does reject what is not CFF
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_the_appendix_names_the_lock_and_any_package_that_runs_at_another_version(tmp_path, monkeypatch):
    from cmestudy import i18n
    from cmestudy.report import document

    i18n.set_language("en")
    state = document.lock_state()
    assert state["digest"] == lockfile.digest() and len(state["digest"]) == 64
    assert (
        state["text"]
        == f"Every one of the {len(lockfile.pins())} packages of requirements.lock runs at its locked version."
    )
    changed = tmp_path / "requirements.lock"
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    numpy = lockfile.pins()["numpy"]
    changed.write_text(text.replace(f"numpy=={numpy}", "numpy==1.0.0"), encoding="utf-8")
    monkeypatch.setattr(lockfile, "LOCK_FILE", changed)
    state = document.lock_state()
    assert state["digest"] == lockfile.digest(changed) != lockfile.digest(ROOT / "requirements.lock")
    assert (
        state["text"]
        == f"Packages running at a version other than the locked one (1; `make report` installs the locked ones): numpy {numpy} (locked 1.0.0)."
    )
    assert ("numpy", numpy, "1.0.0") in document.package_versions()
