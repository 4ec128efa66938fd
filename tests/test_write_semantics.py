"""Idempotent writes, order-independent rollups, and acknowledged spans surviving a crash."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import httpx

from store.models import Span, Trace
from tests.acked_load import AckedLoad, assert_rollups_match_spans, parts, stored_keys
from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server

LLM = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}


def agent_trace(seed: str) -> list[SpanSpec]:
    """A root agent span, two LLM calls and a failing tool call, in start order."""
    ids = Ids(seed)
    trace, root = ids.trace(), ids.span()
    t0 = 1_700_000_000_000_000_000
    return [
        SpanSpec(trace, root, "invoke_agent triage", t0, t0 + 9_000_000,
                 attributes={"gen_ai.operation.name": "invoke_agent",
                             "gen_ai.agent.name": "triage", "gen_ai.usage.input_tokens": 777}),
        SpanSpec(trace, ids.span(), "chat gpt-4o-mini", t0 + 1_000_000, t0 + 3_000_000, root,
                 {**LLM, "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5,
                  "session.id": "s-1"}),
        SpanSpec(trace, ids.span(), "execute_tool search", t0 + 3_000_000, t0 + 4_000_000, root,
                 {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
                 error="search index offline"),
        SpanSpec(trace, ids.span(), "chat gpt-4o-mini", t0 + 4_000_000, t0 + 8_000_000, root,
                 {**LLM, "gen_ai.usage.input_tokens": 20, "gen_ai.usage.output_tokens": 7,
                  "gen_ai.agent.version": "3.1"}),
    ]  # fmt: skip


def trace_json(server: Server, project: str) -> dict[str, Any]:
    [trace] = httpx.get(f"{server.url}/api/traces", params={"project": project}).json()["traces"]
    return dict(trace)


EXPECTED = {
    "name": "invoke_agent triage",
    "agent_name": "triage",
    "agent_version": "3.1",
    "session_id": "s-1",
    "span_count": 4,
    "llm_call_count": 2,
    "tool_call_count": 1,
    "error_count": 1,
    "input_tokens": 30,
    "output_tokens": 12,
    "status": "ok",
    "duration_ms": 9.0,
    "start_time_unix_nano": 1_700_000_000_000_000_000,
}


def test_same_batch_twice_is_stored_once(server: Server, project: str) -> None:
    body = request(agent_trace(project))
    assert post(server.url, body, project=project).status_code == 200
    assert post(server.url, body, project=project).status_code == 200
    assert server.count(Span, project) == 4
    assert server.count(Trace, project) == 1
    assert EXPECTED.items() <= trace_json(server, project).items()


def test_rollup_is_right_when_spans_arrive_in_reverse_across_requests(
    server: Server, project: str
) -> None:
    root, *children = agent_trace(project)
    for part in ([children[2]], children[:2], [root]):  # the root comes last
        assert post(server.url, request(part), project=project).status_code == 200
    assert server.count(Span, project) == 4
    assert EXPECTED.items() <= trace_json(server, project).items()


def test_trace_without_its_root_yet(server: Server, project: str) -> None:
    _, *children = agent_trace(project)
    assert post(server.url, request(children), project=project).status_code == 200
    trace = trace_json(server, project)
    assert trace["root_span_id"] is None
    assert trace["name"] == "chat gpt-4o-mini"  # the earliest span stands in
    assert trace["status"] == "error"  # no root to say otherwise; a span failed
    assert trace["span_count"] == 3


def test_numbers_are_stored_exactly(server: Server, project: str) -> None:
    """Floats and 64-bit integers keep every digit through the worker's batch."""
    ids = Ids(project)
    trace, root = ids.trace(), ids.span()
    huge = 2**62 + 1  # not representable as a double
    # A time, since token counts past 10**12 are not read (collector/normalize/values.py).
    attributes = {**LLM, "llm.cost.total": 0.1 + 0.2, "big": huge}
    spec = SpanSpec(trace, root, "chat gpt-4o-mini", huge, huge + 10, attributes=attributes)
    assert post(server.url, request([spec]), project=project).status_code == 200
    detail = httpx.get(f"{server.url}/api/traces/{trace}").json()
    assert detail["cost_usd"] == 0.1 + 0.2 == 0.30000000000000004
    [span] = detail["spans"]
    assert span["cost_usd"] == 0.30000000000000004
    assert span["start_time_unix_nano"] == huge
    assert span["attributes"]["big"] == huge


def test_project_from_resource_attribute(server: Server, project: str) -> None:
    resource = {"service.name": "tests", "reasonlens.project": project}
    assert post(server.url, request(agent_trace(project), resource)).status_code == 200
    assert server.count(Span, project) == 4


def test_acknowledged_spans_survive_a_crash_mid_load(fresh_db: str) -> None:
    """SIGKILL while four clients are sending: every span acknowledged before it is
    stored (the raw client knows exactly which were); once the collector is back and the
    clients have retried the rest, each span is stored once and each rollup is right.
    tests/test_scale_out.py kills one of two collectors on PostgreSQL the same way."""
    # Decoding in a thread: a collector starts faster, and the kill of decode workers is
    # the next test's. Durability is the writer's: ack after commit.
    crashing = Server(fresh_db, {"REASONLENS_INGEST_WORKERS": "0"}).start()
    try:
        load = AckedLoad([crashing.url], "crash", parts("crash", 80, 1)).start()
        load.wait_acked(10)
        crashing.stop(signal.SIGKILL)  # no shutdown hook runs; queued requests die
        load.join()
        assert load.failed, "the load ended before the kill: nothing was tested"
        assert load.acked_keys <= set(stored_keys(crashing.engine, "crash"))
    finally:
        crashing.close()
    restarted = Server(
        fresh_db, {"REASONLENS_INGEST_WORKERS": "0"}, crashing.port, crashing.grpc_port
    ).start()
    try:
        retry = AckedLoad([restarted.url], "crash", load.failed).start().join()
        assert not retry.failed
        everything = [key for part in load.parts for key in part.keys]
        assert sorted(stored_keys(restarted.engine, "crash")) == sorted(everything)
        rollups = assert_rollups_match_spans(restarted.engine, "crash")
        assert len(rollups) == 400 and {rollup.span_count for rollup in rollups.values()} == {4}
    finally:
        restarted.close()


def _decode_workers(pid: int) -> list[int]:
    """The server's spawned decode workers: its children running multiprocessing's spawn."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def _interrupts_blocked(pid: int) -> bool:
    """Workers start with Ctrl-C blocked, so one that arrives while a worker still imports
    (before its initializer ignores it) cannot kill it mid-start."""
    status = Path(f"/proc/{pid}/status").read_text()
    masks = dict(line.split(":\t") for line in status.splitlines() if ":\t" in line)
    return bool(int(masks["SigBlk"], 16) & (1 << (signal.SIGINT - 1)))


def test_a_killed_decode_worker_is_replaced_and_nothing_half_stored(fresh_db: str) -> None:
    running = Server(fresh_db, env={"REASONLENS_INGEST_WORKERS": "2"}).start()
    try:
        assert running.process is not None
        workers = _decode_workers(running.process.pid)
        assert len(workers) == 2  # all started with the server, not on first use
        assert all(_interrupts_blocked(pid) for pid in workers)
        os.kill(workers[0], signal.SIGKILL)
        answers = [
            post(running.url, request(agent_trace(f"killed-{i}")), project="killed").status_code
            for i in range(6)
        ]
        assert set(answers) <= {200, 503} and answers[-1] == 200
        assert running.count(Span, "killed") == 4 * answers.count(200)
        replaced = _decode_workers(running.process.pid)
        assert len(replaced) == 2 and workers[0] not in replaced
        assert all(_interrupts_blocked(pid) for pid in replaced)
    finally:
        running.close()
