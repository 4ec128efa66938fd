"""``reasonlens demo`` as a user runs it: a subprocess loading a database, the research
agent's content arriving as log events joined to its spans, and Ctrl-C leaving nothing
running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from opentelemetry.sdk._logs import ReadableLogRecord

from store.engine import create_engine
from store.models import LogRecord, Project, Span, Trace
from tests.demo_runs import run, run_logged
from tests.server import Server, free_port


def demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "reasonlens", "demo", "--port", str(free_port()), *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=180, cwd=cwd, check=False
    )


def stored(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return tuple(  # type: ignore[return-value]
                connection.execute(
                    sa.select(sa.func.count())
                    .select_from(model)
                    .join(Project)
                    .where(Project.name == "default")
                ).scalar_one()
                for model in (Trace, Span, LogRecord)
            )
    finally:
        engine.dispose()


def test_demo_command_loads_every_span_then_refuses_a_used_database(
    fresh_db: str, tmp_path: Path
) -> None:
    result = demo("--no-serve", "--traces", "40", "--seed", "3", "--db", fresh_db, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = run(40, seed=3)[0].spans
    assert stored(fresh_db) == (40, expected, 0)  # no research trace: no log events
    assert f"stored 40 traces, {expected} spans and 0 log records" in result.stdout
    assert "Traceback" not in result.stderr

    again = demo("--no-serve", "--traces", "5", "--db", fresh_db, cwd=tmp_path)
    assert again.returncode == 2
    assert "already holds 40 traces" in again.stderr
    assert stored(fresh_db) == (40, expected, 0)


def api_spans(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's span tree, flattened in order."""
    return [item for span in spans for item in (span, *api_spans(span["children"]))]


def test_demo_research_content_arrives_by_log_events_joined_to_its_spans(
    fresh_db: str, tmp_path: Path
) -> None:
    """Through the demo command, /v1/logs, the store and GET /api/traces/{id}."""
    summary, _, records = run_logged(20, seed=4)
    result = demo("--no-serve", "--traces", "20", "--seed", "4", "--db", fresh_db, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stored(fresh_db) == (20, summary.spans, summary.logs)
    assert f"{summary.logs} log records over OTLP/HTTP" in result.stdout
    by_span: dict[str, list[ReadableLogRecord]] = defaultdict(list)
    for record in records:
        by_span[format(record.log_record.span_id or 0, "016x")].append(record)

    research_ids = [t.trace_id for t in summary.traces if t.agent == "research"]
    assert len(research_ids) >= 3
    server = Server(fresh_db).start()
    try:
        llm_spans = 0
        for trace_id in research_ids:
            response = httpx.get(f"{server.url}/api/traces/{trace_id}")
            assert response.status_code == 200, response.text
            trace = response.json()
            assert trace["logs"] == []  # every record names a stored span
            for span in api_spans(trace["spans"]):
                sent = by_span.pop(span["span_id"], [])
                if span["kind"] != "llm":
                    assert span["logs"] == [] and not sent
                    continue
                llm_spans += 1
                assert "gen_ai.input.messages" not in span["attributes"]
                assert "gen_ai.output.messages" not in span["attributes"]
                # The records as generated, in order, and the messages read from them.
                assert [(r["event_name"], r["body"]) for r in span["logs"]] == [
                    (r.log_record.event_name, r.log_record.body) for r in sent
                ]
                system = sent[0].log_record.body
                assert isinstance(system, dict)
                assert span["system_instructions"] == system["content"]
                assert span["input_messages"][0] == {"role": "system", "content": system["content"]}
                roles = [message["role"] for message in span["input_messages"]]
                assert roles[1] == "user" and len(roles) == len(sent) - (span["status"] != "error")
                if span["status"] != "error":
                    [output] = span["output_messages"]
                    choice = sent[-1].log_record.body
                    assert isinstance(choice, dict)
                    assert span["finish_reasons"] == [choice["finish_reason"]]
                    assert output.get("content") == choice["message"].get("content")
                    assert bool(output.get("tool_calls")) == ("tool_calls" in choice["message"])
        assert llm_spans > 10
        assert not by_span  # every generated record was seen under its span
    finally:
        server.close()


def test_demo_serves_until_ctrl_c_and_leaves_nothing_running(fresh_db: str, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    command = [
        sys.executable,
        "-m",
        "reasonlens",
        "demo",
        "--traces",
        "30",
        "--port",
        str(port),
        "--db",
        fresh_db,
    ]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while "until Ctrl-C" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        listing = httpx.get(f"http://127.0.0.1:{port}/api/traces", params={"limit": 100}).json()
        assert len(listing["traces"]) == 30
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert "reasonlens demo: stopped" in log.read_text()
    assert "Traceback" not in log.read_text()
    deadline = time.monotonic() + 10
    while _group_alive(process.pid):
        assert time.monotonic() < deadline, "demo processes left running"
        time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
