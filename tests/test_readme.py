"""The README's commands exist: its `make` targets are in the Makefile, its `aiops` commands in the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aiops.cli import build_parser
from aiops.demo import DemoSettings
from plumbing.settings import env_vars

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _code_lines() -> list[str]:
    if not README.is_file():
        pytest.skip("README.md is not written yet")
    blocks = re.findall(r"```(?:sh|bash|console|shell)?\n(.*?)```", README.read_text(), re.S)
    return [line.strip().removeprefix("$ ") for block in blocks for line in block.splitlines() if line.strip()]


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


def test_the_two_setup_commands_are_make_targets() -> None:
    assert {"demo", "test"} <= _makefile_targets()


def test_every_make_command_in_the_readme_is_a_target() -> None:
    used = {m for line in _code_lines() for m in re.findall(r"(?:^|&&\s*)make\s+([\w-]+)", line)}
    assert used, "the README shows how to run the demo and the tests with make"
    assert used <= _makefile_targets(), f"not in the Makefile: {sorted(used - _makefile_targets())}"


def test_every_aiops_command_in_the_readme_exists() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    commands = sub.choices  # type: ignore[attr-defined]
    for line in _code_lines():
        m = re.search(r"(?:^|\s)aiops\s+([a-z][\w-]*)(?:\s+([a-z][\w-]*))?", line)
        if not m:
            continue
        assert m.group(1) in commands, f"README: `aiops {m.group(1)}` is not a command ({line})"
        nested = [a for a in commands[m.group(1)]._actions if getattr(a, "choices", None) and isinstance(a.choices, dict)]
        if nested and m.group(2):
            assert m.group(2) in nested[0].choices, f"README: `aiops {m.group(1)} {m.group(2)}` is not a command ({line})"


def test_the_readme_names_the_demo_environment_variables() -> None:
    if not README.is_file():
        pytest.skip("README.md is not written yet")
    text = README.read_text()
    missing = [v for v in env_vars(DemoSettings).values() if v not in text]
    assert not missing, f"README does not mention {missing}"
