"""CSV exports refused: bad parameters before any byte is streamed, the command line's
bad input (exit 2, no file), and every export's columns documented in the README.
The demo traffic and run are ``test_csv_exports.py``'s (same project and seed)."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from reasonlens import cli
from reasonlens.app import create_app
from reasonlens.export_kinds import KINDS
from reasonlens.settings import Settings
from tests.csv_files import download, run_suite
from tests.demo_data import Loaded, load_demo
from tests.server import Server
from web import api_lists_csv
from web.exports import (
    eval_tables,
    reports,
    run_compare,
    scores,
    sessions,
    spans,
    trace_scores,
    traces,
)
from web.exports.listing import model_columns

PROJECT = "csv-exports"
SUITE = f"""\
name: csv-report
select: {{project: {PROJECT}}}
evaluators:
  - step_budget: {{max_steps: 8}}
  - cost_budget: {{max_tokens_per_trace: 20000}}
  - tool_policy: {{forbidden: [delete_account]}}
thresholds:
  step_budget: {{pass_rate: 0.5}}
"""
VERSIONS = {
    "project": PROJECT,
    "a.agent": "support",
    "a.agent_version": "1.4",
    "b.agent": "support",
    "b.agent_version": "1.5",
}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
HEX32, HEX16 = re.compile(r"^[0-9a-f]{32}$"), re.compile(r"^[0-9a-f]{16}$")


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, PROJECT, traces=150, seed=11)


@pytest.fixture(scope="module")
def run(server: Server, demo: Loaded) -> dict[str, Any]:
    return run_suite(server, SUITE)


# --- Refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/spans.csv", {"trace_id": "xyz"}, 400, "trace_id: must be 32 hexadecimal"),
        ("/api/spans.csv", {"kind": "robot"}, 422, "'agent', 'llm'"),
        ("/api/spans.csv", {"since": "last tuesday"}, 400, "since: 'last tuesday' is not a time"),
        ("/api/eval-runs/987654321/scores.csv", {}, 404, "no eval run 987654321"),
        ("/api/eval-runs/0/scores.csv", {}, 422, "greater than or equal to 1"),
        ("/api/eval-runs/1/scores.csv", {"failed": "perhaps"}, 422, "valid boolean"),
        ("/api/eval-runs/987654321/summary.csv", {}, 404, "no eval run 987654321"),
        ("/compare.csv", {"project": PROJECT}, 400, "give the cohorts to compare"),
        ("/compare.csv", {**VERSIONS, "a.since": "soonish"}, 400, "a.since: 'soonish'"),
        ("/compare.csv", {**VERSIONS, "c.agent": "x"}, 400, "c.agent: not a comparison"),
        ("/compare.csv", {"project": "nowhere", "a.agent": "x"}, 404, "no project named"),
        ("/api/drift.csv", {"agent": "support"}, 422, "project"),
        ("/api/suites/987654321/runs.csv", {}, 404, "no eval suite 987654321"),
        ("/api/eval-runs/987654321/compare.csv", {}, 404, "987654321"),
        ("/api/suites.csv", {"project": "nowhere"}, 404, "no project named 'nowhere'"),
        ("/overview.csv", {"project": PROJECT, "table": "everything"}, 400, "table"),
        ("/overview.csv", {"project": PROJECT, "table": "groups", "since": "x"}, 400, "since"),
        ("/overview.csv", {"project": "nowhere", "table": "groups"}, 404, "no project named"),
        ("/sessions.csv", {"project": "nowhere"}, 404, "no project named 'nowhere'"),
        ("/sessions.csv", {}, 400, "project"),  # a page: its errors are 400 pages
        ("/api/drift.csv", {"project": "nowhere", "agent": "x"}, 400, "no project named"),
    ],
)
def test_bad_parameters_are_refused_before_streaming(
    server: Server, demo: Loaded, path: str, params: dict[str, str], status: int, message: str
) -> None:
    response = httpx.get(f"{server.url}{path}", params=params, timeout=30)
    assert response.status_code == status, response.text
    assert message in html.unescape(response.text)  # /compare.csv errors as a page
    assert not response.headers["content-type"].startswith("text/csv")


# --- The command line -----------------------------------------------------------------


def export(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "reasonlens", "export", *args, "--db", server.database_url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("kind", "query", "path"),
    [
        ("traces", f"project={PROJECT}&agent=support&sort=cost", "/api/traces.csv"),
        ("spans", f"project={PROJECT}&kind=tool", "/api/spans.csv"),
        ("compare", "&".join(f"{k}={v}" for k, v in VERSIONS.items()), "/compare.csv"),
    ],
)
def test_the_cli_writes_the_file_the_api_sends(
    server: Server, demo: Loaded, tmp_path: Path, kind: str, query: str, path: str
) -> None:
    out = tmp_path / f"{kind}.csv"
    done = export(server, kind, query, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout
    params = dict(pair.split("=", 1) for pair in query.split("&"))
    assert out.read_bytes() == download(server, path, **params).content


def test_the_cli_writes_a_runs_scores_and_summary(
    server: Server, run: dict[str, Any], tmp_path: Path
) -> None:
    for kind, path in (("scores", "scores.csv"), ("summary", "summary.csv")):
        out = tmp_path / path
        done = export(server, kind, f"run_id={run['id']}", "-o", str(out))
        assert done.returncode == 0, done.stderr
        wanted = download(server, f"/api/eval-runs/{run['id']}/{path}").content
        assert out.read_bytes() == wanted


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invoices", ""], "KIND is one of traces, spans, scores, summary, compare, drift"),
        (["traces", "since=when-pigs-fly"], "since: 'when-pigs-fly' is not a time"),
        (["traces", "sort=name"], "sort: Input should be"),
        (["spans", "trace_id=abc"], "trace_id: must be 32 hexadecimal characters"),
        (["scores", ""], "run_id: Field required"),
        (["scores", "run_id=987654321"], "run_id: no eval run 987654321"),
        (["compare", f"project={PROJECT}&a.agent=support&z.x=1"], "z.x: not a comparison"),
        (["drift", "project=nowhere&agent=x"], "no project named 'nowhere'"),
    ],
)
def test_the_cli_refuses_bad_input_and_writes_nothing(
    server: Server, demo: Loaded, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out.csv"
    done = export(server, *args, "-o", str(out))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in " ".join(done.stderr.split()), done.stderr
    assert not out.exists() and not list(tmp_path.iterdir())


def test_the_cli_says_when_there_is_no_database(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    command = [sys.executable, "-m", "reasonlens", "export", "traces", "-o",
               str(tmp_path / "out.csv"), "--db", f"sqlite:///{missing}"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "no database" in done.stderr
    assert not missing.exists()


LISTS = [model_columns(export.model) for export in api_lists_csv.LISTS.values()]
README = Path(__file__).parent.parent / "README.md"


def test_every_export_has_its_columns_documented() -> None:
    readme = README.read_text()
    for columns in (traces.COLUMNS, spans.COLUMNS, scores.COLUMNS, reports.SUMMARY_COLUMNS,
                    reports.COMPARE_COLUMNS, reports.DRIFT_COLUMNS, sessions.COLUMNS,
                    reports.RUNS_COLUMNS, reports.SUITES_COLUMNS,
                    *reports.OVERVIEW_COLUMNS.values(), *LISTS,
                    *run_compare.COLUMNS.values(), eval_tables.THRESHOLDS_COLUMNS,
                    eval_tables.DRIFT_SERIES_COLUMNS, trace_scores.COLUMNS):  # fmt: skip
        assert ", ".join(f"`{column}`" for column in columns) in readme


def test_every_cli_kind_is_in_the_readme_and_the_help() -> None:
    """The README's table of exports names each KIND, as does ``reasonlens export --help``;
    and every CSV route is in that table."""
    readme = README.read_text()
    section = readme[readme.index("### CSV exports") :]
    table = section[: section.index("**`GET /api/traces.csv`**")]
    kinds = set(re.findall(r"`([a-z-]+)`", " ".join(
        line.rsplit("|", 2)[1] for line in table.splitlines() if line.startswith("| ")
    )))  # fmt: skip
    assert kinds == set(KINDS)
    help_text = " ".join((cli.export.__doc__ or "").split())
    assert ", ".join(KINDS) + "." in help_text
    paths = create_app(Settings(database_url="sqlite://")).openapi()["paths"]
    routes = {re.sub(r"\{\w+\}", "{}", path) for path in paths if path.endswith(".csv")}
    documented = {
        re.sub(r"\{\w+\}", "{}", path) for path in re.findall(r"`(?:GET )?(/[^`?]+\.csv)", table)
    }
    pages = {"/compare.csv", "/overview.csv", "/sessions.csv"}  # out of the OpenAPI document
    assert routes == documented - pages and len(documented) == len(KINDS)  # a KIND each
