"""Docs that stay equal to the code, and lint as part of the suite."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reasonlens.settings import Settings
from tests.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    assert f"`REASONLENS_{field.upper()}`" in README
    assert Settings.model_fields[field].description


@pytest.mark.parametrize("command", [[], ["serve"], ["db"], ["db", "upgrade"]])
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
