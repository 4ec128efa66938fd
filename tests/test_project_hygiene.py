"""Docs that stay equal to the code, and lint as part of the suite."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer

from reasonlens import cli
from reasonlens.settings import Settings
from tests.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    assert f"`REASONLENS_{field.upper()}`" in README
    assert Settings.model_fields[field].description


def _commands(group: Any, prefix: list[str]) -> list[list[str]]:
    """Typer vendors its own click, so groups are recognised by their ``commands``."""
    found = [prefix]
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            found += _commands(command, [*prefix, name])
        else:
            found.append([*prefix, name])
    return found


# Every command of the CLI, found in the app itself so a new one cannot be missed.
COMMANDS = _commands(typer.main.get_group(cli.app), [])


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command) or "-")
def test_every_command_has_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reasonlens", *command, "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(REPO_ROOT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
