"""The CSV exports of the dashboard's remaining tables from the command line: it writes
the bytes the pages' links download, and refuses bad parameters with exit 2 and no file;
the routes refuse them before streaming (``test_csv_tables.py`` has the pages' tables)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from reasonlens.cli import app
from tests.compare_data import trace_ids
from tests.csv_pages import fetch
from tests.csv_tables_data import PROJECT, Data, tables_data, tables_demo
from tests.demo_data import Loaded
from tests.server import Server


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return tables_demo(server)


@pytest.fixture(scope="module")
def data(server: Server, demo: Loaded) -> Data:
    return tables_data(server)


# --- The command line -----------------------------------------------------------------


def export(server: Server, *args: str) -> tuple[int, str]:
    """``reasonlens export`` through its typer app, in this process (a process each
    costs seconds of imports on a loaded machine; ``test_csv_refusals.py`` and the
    first case below run the real entry point): exit code and what it wrote to stderr."""
    result = CliRunner().invoke(app, ["export", *args, "--db", server.database_url])
    return result.exit_code, result.stderr


def test_the_cli_writes_the_files_the_links_download(
    server: Server, data: Data, tmp_path: Path
) -> None:
    trace = trace_ids(server.engine, PROJECT)[0]
    cases = [
        ("eval-compare", f"b={data.b}&against={data.a}&table=regressed&limit=3",
         f"/api/eval-runs/{data.b}/compare.csv?against={data.a}&table=regressed&limit=3"),
        ("eval-compare", f"b={data.hostile_b}&table=escalations",
         f"/api/eval-runs/{data.hostile_b}/compare.csv?table=escalations"),
        ("suite-drift", f"suite_id={data.drift_suite}",
         f"/api/suites/{data.drift_suite}/drift.csv"),
        ("jobs", f"suite_id={data.jobs_suite}&limit=20",
         f"/api/suites/{data.jobs_suite}/jobs.csv?limit=20"),
        ("eval-runs", f"project={PROJECT}", f"/api/eval-runs.csv?project={PROJECT}"),
        ("thresholds", f"run_id={data.drift_runs[0]}",
         f"/api/eval-runs/{data.drift_runs[0]}/thresholds.csv"),
        ("run-drift", f"run_id={data.drift_runs[0]}",
         f"/api/eval-runs/{data.drift_runs[0]}/drift.csv"),
        ("trace-scores", f"trace_id={trace}&project={PROJECT}",
         f"/api/traces/{trace}/scores.csv?project={PROJECT}"),
        ("runs", f"suite_id={data.drift_suite}", f"/api/suites/{data.drift_suite}/runs.csv"),
        ("suites", f"project={PROJECT}", f"/api/suites.csv?project={PROJECT}"),
        ("sessions", f"project={PROJECT}", f"/sessions.csv?project={PROJECT}"),
        ("overview", f"project={PROJECT}&table=tools&window=7d",
         f"/overview.csv?project={PROJECT}&table=tools&window=7d"),
        ("runaways", f"project={PROJECT}&limit=5", f"/api/runaways.csv?project={PROJECT}&limit=5"),
        ("schedules", f"project={PROJECT}", f"/api/schedules.csv?project={PROJECT}"),
        ("alert-rules", f"project={PROJECT}", f"/api/alert-rules.csv?project={PROJECT}"),
    ]  # fmt: skip
    kind, query, href = cases[0]
    command = [sys.executable, "-m", "reasonlens", "export", kind, query, "-o",
               str(tmp_path / "first.csv"), "--db", server.database_url]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "first.csv").read_bytes() == fetch(server, href)
    for number, (kind, query, href) in enumerate(cases):
        out = tmp_path / f"{number}-{kind}.csv"
        code, errors = export(server, kind, query, "-o", str(out))
        assert code == 0, (kind, errors)
        assert out.read_bytes() == fetch(server, href), kind


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval-compare", "b=1&table=everything"], "table: Input should be"),
        (["eval-compare", "b=987654321"], "no eval run 987654321"),
        (["eval-compare", "limit=3"], "b: Field required"),
        (["suite-drift", "suite_id=987654321"], "no eval suite 987654321"),
        (["suite-drift", "suite_id=1&cursor=garbage"], "cursor:"),
        (["jobs", "suite_id=1&limit=0"], "limit: Input should be greater than or equal to 1"),
        (["thresholds", "run_id=x"], "run_id: Input should be a valid integer"),
        (["run-drift", "run_id=987654321"], "no eval run 987654321"),
        (["trace-scores", "trace_id=xyz"], "trace_id must be 32 hexadecimal characters"),
        (["trace-scores", f"trace_id={'ab' * 16}&project=nowhere"], "no project named"),
        (["eval-runs", "project=nowhere"], "no project named 'nowhere'"),
        (["sessions", ""], "project: Field required"),
        (["overview", "project=csv-tables&table=everything"], "table: Input should be"),
        (["runaways", "since=last-tuesday"], "since: 'last-tuesday' is not a time"),
        (["alerts", "state=sleeping"], "state: Input should be"),
        (["schedules", "project=nowhere"], "no project named 'nowhere'"),
    ],
)
def test_the_cli_refuses_bad_parameters_and_writes_nothing(
    server: Server, demo: Loaded, tmp_path: Path, args: list[str], message: str
) -> None:
    code, errors = export(server, *args, "-o", str(tmp_path / "out.csv"))
    assert code == 2, errors
    assert message in " ".join(errors.split()), errors
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/eval-runs/1/compare.csv", {"table": "everything"}, 422, "table"),
        ("/api/eval-runs/1/compare.csv", {"limit": "0"}, 422, "limit"),
        ("/api/suites/987654321/drift.csv", {}, 404, "no eval suite 987654321"),
        ("/api/suites/987654321/jobs.csv", {}, 404, "no eval suite 987654321"),
        ("/api/eval-runs/987654321/thresholds.csv", {}, 404, "no eval run 987654321"),
        ("/api/eval-runs/987654321/drift.csv", {}, 404, "no eval run 987654321"),
        ("/api/eval-runs.csv", {"project": "nowhere"}, 404, "no project named 'nowhere'"),
        ("/api/traces/xyz/scores.csv", {}, 400, "32 hexadecimal"),
    ],
)
def test_the_routes_refuse_before_streaming(
    server: Server, path: str, params: dict[str, str], status: int, message: str
) -> None:
    response = httpx.get(f"{server.url}{path}", params=params, timeout=30)
    assert response.status_code == status, response.text
    assert message in response.text
    assert not response.headers["content-type"].startswith("text/csv")
