"""Retention from the command line: ``reasonlens retention`` deletes old traces with
every row that hangs off them and leaves the rest as it was; a dry run counts, bad
options delete nothing (``test_retention_schedule.py`` has the setting's schedule and
what runs beside a retention)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from store.models import AuditEntry
from tests.retention_data import of_traces, retention, retention_server, rows, send_traces
from tests.server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's own store (a run for every project deletes old traces anywhere);
    its scheduled retention (30 days) runs too, and no trace here is that old."""
    with retention_server(tmp_path_factory) as running:
        yield running


def overview_groups(server: Server, project: str) -> list[dict[str, str]]:
    response = httpx.get(
        f"{server.url}/overview.csv",
        params={"project": project, "table": "groups", "window": "30d"},
    )
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def test_old_traces_go_with_all_their_rows_and_the_rest_stays(server: Server) -> None:
    mine, other = "retention-a", "retention-b"
    old = send_traces(server, mine, [10, 9, 8])
    recent = send_traces(server, mine, [1, 0])
    send_traces(server, other, [10, 0])
    before = rows(server, mine)
    before_other = rows(server, other)
    assert of_traces(before, set(old)) == {
        "traces": 3, "spans": 9, "span_costs": 3, "log_records": 3, "scores": 3, "runaways": 3
    }  # fmt: skip
    assert len(before["span_costs"]) == 5  # every model call is priced
    assert overview_groups(server, mine)[0]["traces"] == "5"

    done = retention(server, "--older-than", "5d", "--project", mine, "--batch", "2")
    assert done.returncode == 0, done.stderr
    assert "deleted 3 traces (9 spans, 3 log records, 3 scores) in project retention-a" in (
        done.stdout
    )
    assert "(2 batches)" in done.stdout

    after = rows(server, mine)
    assert of_traces(after, set(old)) == dict.fromkeys(of_traces(after, set(old)), 0)
    # What stays is exactly what was there: every column of every row.
    recent_ids = set(recent)
    assert {
        name: [row for row in found if row["trace_id"] in recent_ids]
        for name, found in before.items()
    } == after
    assert of_traces(after, recent_ids)["span_costs"] == 2
    assert rows(server, other) == before_other
    # The dashboard's figures are computed from what stays.
    listed = httpx.get(f"{server.url}/api/traces", params={"project": mine}).json()["traces"]
    assert sorted(trace["trace_id"] for trace in listed) == sorted(recent)
    groups = overview_groups(server, mine)
    assert [(group["traces"], group["tokens"]) for group in groups] == [("2", "3000")]
    with server.engine.connect() as connection:
        entry = connection.execute(
            sa.select(AuditEntry.actor, AuditEntry.action, AuditEntry.target, AuditEntry.detail)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        ).one()
    assert (entry.actor, entry.action, entry.target) == ("cli", "retention.delete", mine)
    assert entry.detail is not None and entry.detail["traces"] == 3

    again = retention(server, "--older-than", "5d", "--project", mine)
    assert again.returncode == 0 and "deleted 0 traces" in again.stdout
    assert rows(server, mine) == after


def test_a_dry_run_counts_and_deletes_nothing_then_every_project_goes(server: Server) -> None:
    projects = ("retention-dry-a", "retention-dry-b")
    old = {project: send_traces(server, project, [7, 6]) for project in projects}
    recent = {project: send_traces(server, project, [0.5]) for project in projects}
    before = {project: rows(server, project) for project in projects}

    dry = retention(server, "--older-than", "3d", "--project", projects[0], "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete 2 traces (6 spans) in project retention-dry-a" in dry.stdout
    assert {project: rows(server, project) for project in projects} == before

    everywhere = retention(server, "--older-than", "3d")
    assert everywhere.returncode == 0, everywhere.stderr
    for project in projects:
        after = rows(server, project)
        assert of_traces(after, set(old[project]))["traces"] == 0
        assert of_traces(after, set(old[project]))["spans"] == 0
        assert [row["trace_id"] for row in after["traces"]] == recent[project]


def test_bad_options_exit_2_and_delete_nothing(server: Server) -> None:
    project = "retention-bad"
    send_traces(server, project, [9, 0])
    before = rows(server, project)
    for options, message in [
        (["--older-than", "30x"], "--older-than: '30x' is not a duration"),
        (["--older-than", "0d"], "would delete every trace"),
        (["--older-than", "1d", "--project", "no-such-project"], "no project 'no-such-project'"),
    ]:
        done = retention(server, *options)
        assert done.returncode == 2, (options, done.stdout, done.stderr)
        assert message in done.stderr
        assert "deleted" not in done.stdout
        assert rows(server, project) == before
