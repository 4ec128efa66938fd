"""Trace page latency: GET /traces/{id} (and its panel and chain) on a 5,000-span trace.

    .venv/bin/python -m bench.page_trace                      # 5,000 spans, fresh server
    .venv/bin/python -m bench.page_trace --db sqlite:///bench/out/demo-1m/reasonlens.db

Without ``--db``: builds two 5,000-span traces through OTLP/HTTP into a fresh SQLite
server (the second with one ~1 MB attribute) and times the page, the chain view, the
panel fragment of an ordinary span and of the huge one, and the huge value itself.
With ``--db``: a kept store, read only, where it times a typical trace of each agent
(the demo traffic's) and the page without ``?project=``.

Figures are wall-clock per request on loopback over keep-alive HTTP, as a client sees
them: median and p95 of ``--repeat`` requests after one warm-up, and the page size.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

from tests.otlp import SpanSpec, post, request
from tests.server import Server

MS = 1_000_000
T0 = 1_780_000_000_000_000_000
PROJECT = "bench-page-trace"
HUGE_ATTRIBUTE = "tool.output.raw"
BATCH = 1_000


def _ids(seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    while True:
        yield rng.getrandbits(64).to_bytes(8, "big").hex()


def large_trace(trace_id: str, spans: int = 5_000, huge_chars: int = 0) -> list[SpanSpec]:
    """An orchestrator agent delegating to worker agents, each alternating model calls
    (GenAI attributes, ~0.6 KB of messages) and tool calls; every 97th tool call fails.

    ``huge_chars``: the first tool call's result (and a raw attribute beside it) is
    that many characters, as an agent that fetched a whole document would send.
    """
    ids = _ids(int(trace_id[:8], 16))
    root_attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "orchestrator",
        "gen_ai.input.messages": _text("user", "Reconcile the ledger."),
    }
    root = SpanSpec(trace_id, next(ids), "invoke_agent orchestrator", T0, T0)
    root.attributes = root_attributes
    out = [root]
    t = T0 + MS
    worker_number = 0
    while len(out) < spans:
        worker_number += 1
        worker = SpanSpec(trace_id, next(ids), f"invoke_agent worker-{worker_number}", t, t,
                          parent_span_id=root.span_id,
                          attributes={"gen_ai.operation.name": "invoke_agent",
                                      "gen_ai.agent.name": f"worker-{worker_number}"})  # fmt: skip
        out.append(worker)
        for step in range(48):
            if len(out) + 2 > spans:
                break
            t += MS
            out.append(_model_call(trace_id, next(ids), worker.span_id, t, step))
            t += 40 * MS
            tool = _tool_call(trace_id, next(ids), worker.span_id, t, step, len(out))
            if huge_chars and worker_number == 1 and step == 0:
                blob = ("ledger row; " * (huge_chars // 12 + 1))[:huge_chars]
                tool.attributes["gen_ai.tool.call.result"] = blob
                tool.attributes[HUGE_ATTRIBUTE] = blob
            out.append(tool)
            t += 15 * MS
        worker.end = t
        t += MS
    if len(out) < spans:  # fill up to the exact count with short tool calls
        missing = range(spans - len(out))
        out += [_tool_call(trace_id, next(ids), root.span_id, t, i, i) for i in missing]
    root.end = max(span.end for span in out) + MS
    return out


def _text(role: str, content: str) -> str:
    return orjson.dumps([{"role": role, "parts": [{"type": "text", "content": content}]}]).decode()


def _model_call(trace_id: str, span_id: str, parent: str, t: int, step: int) -> SpanSpec:
    question = f"Step {step}: compare entries {step * 7} to {step * 7 + 6} with the bank feed."
    output = [{"role": "assistant", "finish_reason": "tool_call",
               "parts": [{"type": "text", "content": "Looking up the entries."},
                         {"type": "tool_call", "id": f"call_{span_id}", "name": "lookup_entries",
                          "arguments": {"from": step * 7, "to": step * 7 + 6}}]}]  # fmt: skip
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4.1-mini",
        "gen_ai.response.model": "gpt-4.1-mini-2025-04-14",
        "gen_ai.usage.input_tokens": 900 + 40 * step,
        "gen_ai.usage.output_tokens": 60,
        "gen_ai.input.messages": _text("user", question * 4),
        "gen_ai.output.messages": orjson.dumps(output).decode(),
    }
    return SpanSpec(trace_id, span_id, "chat gpt-4.1-mini", t, t + 40 * MS, parent, attributes)


def _tool_call(trace_id: str, span_id: str, parent: str, t: int, step: int, n: int) -> SpanSpec:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "lookup_entries",
        "gen_ai.tool.call.id": f"call_{span_id}",
        "gen_ai.tool.call.arguments": orjson.dumps({"from": step * 7, "to": step * 7 + 6}).decode(),
        "gen_ai.tool.call.result": orjson.dumps(
            {"rows": [step * 7 + i for i in range(7)]}
        ).decode(),
    }
    error = "ledger service timed out" if n % 97 == 0 else None
    return SpanSpec(trace_id, span_id, "execute_tool lookup_entries", t, t + 15 * MS, parent,
                    attributes, error=error)  # fmt: skip


def send(base_url: str, spans: list[SpanSpec], project: str) -> None:
    for start in range(0, len(spans), BATCH):
        response = post(base_url, request(spans[start : start + BATCH]), project=project)
        response.raise_for_status()


def timed(
    client: httpx.Client, url: str, repeat: int, headers: dict[str, str] | None = None
) -> str:
    client.get(url, headers=headers).raise_for_status()  # warm-up
    samples, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
        size = len(response.content)
    samples.sort()
    p95 = samples[max(int(len(samples) * 0.95) - 1, 0)]
    return (f"median {statistics.median(samples) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
            f"{size / 1024:8.1f} KiB")  # fmt: skip


PANEL = {"HX-Request": "true"}


def fresh(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        server = Server(f"sqlite:///{Path(directory) / 'reasonlens.db'}").start()
        try:
            plain, huge = "a1" * 16, "b2" * 16
            started = time.perf_counter()
            spans = large_trace(plain)
            send(server.url, spans, PROJECT)
            huge_spans = large_trace(huge, huge_chars=1_000_000)
            send(server.url, huge_spans, PROJECT)
            print(f"loaded 2 x {len(spans):,} spans in {time.perf_counter() - started:.1f} s")
            huge_span = next(s for s in huge_spans if HUGE_ATTRIBUTE in s.attributes).span_id
            model_span = spans[2].span_id
            query = f"?project={PROJECT}"
            cases = {
                "page, 5,000 spans": (f"/traces/{plain}{query}", None),
                "page, no ?project=": (f"/traces/{plain}", None),
                "page + panel (?span=)": (f"/traces/{plain}{query}&span={model_span}", None),
                "chain view": (f"/traces/{plain}{query}&view=chain", None),
                "panel fragment": (f"/traces/{plain}/spans/{model_span}{query}", PANEL),
                "page, 1 MB attribute": (f"/traces/{huge}{query}", None),
                "chain, 1 MB attribute": (f"/traces/{huge}{query}&view=chain", None),
                "panel of the 1 MB span": (f"/traces/{huge}/spans/{huge_span}{query}", PANEL),
                "the 1 MB value (show all)": (
                    f"/traces/{huge}/spans/{huge_span}/value{query}"
                    f"&path=%5B%22attributes%22%2C%22{HUGE_ATTRIBUTE}%22%5D",
                    None,
                ),
            }
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for name, (url, headers) in cases.items():
                    print(f"{name:28} {timed(client, url, repeat, headers)}")
        finally:
            server.close()


def kept(database_url: str, repeat: int) -> None:
    server = Server(database_url, env={"REASONLENS_MIGRATE_ON_START": "false"}).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for agent in ("support", "checkout", "research", "inbox"):
                page = client.get("/api/traces", params={"agent": agent, "limit": 1}).json()
                if not page["traces"]:
                    continue
                head = page["traces"][0]
                trace_id, project = head["trace_id"], head["project"]
                detail = client.get(f"/api/traces/{trace_id}", params={"project": project}).json()
                span_id = detail["spans"][0]["children"][0]["span_id"]
                query = f"?project={project}"
                print(f"{agent}: trace {trace_id}, {head['span_count']} spans")
                cases = {
                    "page": (f"/traces/{trace_id}{query}", None),
                    "page, no ?project=": (f"/traces/{trace_id}", None),
                    "chain view": (f"/traces/{trace_id}{query}&view=chain", None),
                    "panel fragment": (f"/traces/{trace_id}/spans/{span_id}{query}", PANEL),
                }
                for name, (url, headers) in cases.items():
                    print(f"  {name:26} {timed(client, url, repeat, headers)}")
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", help="database URL of a kept store (read only)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if args.db:
        kept(args.db, args.repeat)
    else:
        fresh(args.repeat)


if __name__ == "__main__":
    main()
