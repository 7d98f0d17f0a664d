"""The user guides say only what exists: every ``cmestudy`` command and option, ``make`` target and
``install.py`` option that README.md and README.zh-CN.md name is one the software has."""

from __future__ import annotations

import importlib.util
import re

import pytest

from cmestudy.run import cli

from .conftest import ROOT

GUIDES = ("README.md", "README.zh-CN.md")


def _options(parser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


def _subparsers() -> dict:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


def _calls(text: str, program: str) -> list[str]:
    """Each call of ``program`` in the guide (in code: after a backtick, a path's slash or at a line's
    start), up to the end of its line or inline code."""
    return [m.group(1) for m in re.finditer(rf"(?:^|[`/\\\\]){re.escape(program)}\s+([^`\n]*)", text, re.M)]


@pytest.mark.parametrize("guide", GUIDES)
def test_every_cmestudy_command_and_option_the_guide_names_exists(guide):
    text = (ROOT / guide).read_text(encoding="utf-8")
    commands = _subparsers()
    calls = _calls(text, "cmestudy")
    assert len(calls) >= 5, f"{guide} names few cmestudy commands: {calls}"
    for call in calls:
        words = call.split()
        if not words or not re.fullmatch(r"[a-z]+", words[0]):
            continue  # prose about cmestudy, not a command
        assert words[0] in commands, f"{guide}: `cmestudy {call}` names no command of cmestudy"
        known = _options(commands[words[0]])
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", call):
            assert option in known, f"{guide}: `cmestudy {words[0]}` has no option {option}"


@pytest.mark.parametrize("guide", GUIDES)
def test_every_make_target_and_install_option_the_guide_names_exists(guide):
    text = (ROOT / guide).read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    for target in re.findall(r"`make ([a-z][a-z-]*)", text) + re.findall(r"^make ([a-z][a-z-]*)", text, re.M):
        assert target in targets, f"{guide}: `make {target}` is not a target of the Makefile"
    spec = importlib.util.spec_from_file_location("install", ROOT / "install.py")
    install = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(install)
    known = _options(install.build_parser())
    for call in _calls(text, "install.py"):
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", call):
            assert option in known, f"{guide}: install.py has no option {option}"


def test_the_chinese_guide_is_linked_from_the_top_of_the_readme():
    top = (ROOT / "README.md").read_text(encoding="utf-8")[:3000]
    assert "(README.zh-CN.md)" in top
    guide = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    for heading in ("两条命令", "用自己的导出数据", "如何阅读报告", "遇到问题"):
        assert heading in guide
    assert "--lang zh" in guide and "codebook.yml" in guide and "validate" in guide
