"""`reasonlens eval run` as a CI gate: exit 0 when thresholds hold, 1 when one fails, 2 on
a bad suite file, with a message that names the line and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from reasonlens.cli import app
from store.models import EvalRun
from tests.demo_data import load_demo
from tests.server import Server

PROJECT = "gate"
REASONLENS = str(Path(sys.executable).with_name("reasonlens"))


@pytest.fixture(scope="module")
def loaded(server: Server) -> Server:
    load_demo(server, PROJECT, traces=60, seed=5)
    return server


def _run(server: Server, tmp_path: Path, suite: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "suite.yaml"
    path.write_text(suite)
    return subprocess.run(
        [REASONLENS, "eval", "run", str(path), "--db", server.database_url],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"},
    )


def _run_in_process(server: Server, tmp_path: Path, suite: str) -> tuple[int, str]:
    """The same command in this process: the bad-suite cases need no interpreter start."""
    path = tmp_path / "suite.yaml"
    path.write_text(suite)
    result = CliRunner().invoke(app, ["eval", "run", str(path), "--db", server.database_url])
    return result.exit_code, result.output


def _runs(server: Server) -> list[tuple[str, int | None]]:
    with server.engine.connect() as connection:
        return [
            (row.status, row.selection_size)
            # In the order made: without ORDER BY, PostgreSQL returns an updated row
            # wherever its new version landed.
            for row in connection.execute(
                sa.select(EvalRun.status, EvalRun.selection_size).order_by(EvalRun.id)
            )
        ]


def _suite(pass_rate: float, max_steps: int = 30) -> str:
    return (
        f"name: gate\nselect: {{project: {PROJECT}}}\n"
        f"evaluators:\n  - step_budget: {{max_steps: {max_steps}}}\n"
        f"thresholds:\n  step_budget: {{pass_rate: {pass_rate}}}\n"
    )


def test_holding_thresholds_exit_0_and_print_the_summary(loaded: Server, tmp_path: Path) -> None:
    before = len(_runs(loaded))
    done = _run(loaded, tmp_path, _suite(0.9))
    assert done.returncode == 0, done.stderr
    assert "step_budget" in done.stdout and "100.0%" in done.stdout
    assert "60 traces" in done.stdout and "passed" in done.stdout
    assert _runs(loaded)[before:] == [("passed", 60)]


def test_a_failed_threshold_exits_1(loaded: Server, tmp_path: Path) -> None:
    code, output = _run_in_process(loaded, tmp_path, _suite(1.0, max_steps=2))
    assert code == 1, output
    assert "FAILED" in output
    assert _runs(loaded)[-1][0] == "failed"


@pytest.mark.parametrize(
    ("suite", "where"),
    [
        (
            _suite(0.9).replace("max_steps", "max_stepz"),
            "suite.yaml:4:30: evaluators[0].step_budget.max_stepz",
        ),
        (_suite(0.9).replace("pass_rate: 0.9", "pass_rate: 2"), "suite.yaml:6:28: thresholds."),
        ("name: x\nselect: [unclosed\n", "suite.yaml:3:1: not valid YAML"),
        (_suite(0.9).replace(f"project: {PROJECT}", "project: p, since: yesterday"), "since"),
    ],
)
def test_a_bad_suite_exits_2_naming_where_and_stores_nothing(
    loaded: Server, tmp_path: Path, suite: str, where: str
) -> None:
    before = _runs(loaded)
    code, output = _run_in_process(loaded, tmp_path, suite)
    assert code == 2, output
    assert where in output.replace("\n", "")
    assert _runs(loaded) == before
