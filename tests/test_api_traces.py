"""GET /api/traces filters, sorting and keyset pagination, checked against a Python oracle."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server

PROJECT = "api-traces"
T0 = 1_750_000_000_000_000_000
SECOND = 1_000_000_000
TEXTS = ["refund 100% now", "order_42 shipped", "O'Brien asked", "Grüße aus Köln", "plain question"]


@dataclass(frozen=True)
class Expected:
    trace_id: str
    service: str
    agent: str
    version: str
    model: str
    status: str
    session: str
    user: str
    start: int
    duration_ns: int
    cost: float
    text: str
    tokens: int
    spans: int


def build_dataset(count: int = 40) -> tuple[list[Expected], dict[str, list[SpanSpec]]]:
    rng = random.Random(7)
    ids = Ids(7)
    expected: list[Expected] = []
    by_service: dict[str, list[SpanSpec]] = {}
    for i in range(count):
        trace, root = ids.trace(), ids.span()
        e = Expected(
            trace_id=trace,
            service=rng.choice(["checkout", "support"]),
            agent=rng.choice(["planner", "worker"]),
            version=rng.choice(["1.0", "2.0"]),
            model=rng.choice(["gpt-4o", "claude-sonnet"]),
            status=rng.choice(["ok", "ok", "error"]),
            session=f"session-{i % 6}",
            user=f"user-{i % 4}",
            start=T0 + i * 60 * SECOND,
            duration_ns=rng.randint(1, 5000) * 1_000_000,
            cost=round(rng.uniform(0.001, 0.5), 6),
            text=f"{TEXTS[i % len(TEXTS)]} #{i}",
            tokens=rng.randint(10, 900) * 2,
            spans=rng.randint(2, 4),
        )
        expected.append(e)
        specs = [
            SpanSpec(trace, root, f"invoke_agent {e.agent}", e.start, e.start + e.duration_ns,
                     attributes={"gen_ai.operation.name": "invoke_agent",
                                 "gen_ai.agent.name": e.agent, "gen_ai.agent.version": e.version,
                                 "input.value": e.text, "output.value": f"answer {i}",
                                 "session.id": e.session, "user.id": e.user},
                     error="agent failed" if e.status == "error" else None),
            SpanSpec(trace, ids.span(), f"chat {e.model}", e.start + 1, e.start + 2, root,
                     {"gen_ai.operation.name": "chat", "gen_ai.request.model": e.model,
                      "gen_ai.usage.input_tokens": e.tokens // 2,
                      "gen_ai.usage.output_tokens": e.tokens // 2, "llm.cost.total": e.cost}),
        ]  # fmt: skip
        for _ in range(e.spans - 2):
            specs.append(
                SpanSpec(trace, ids.span(), "execute_tool lookup", e.start + 3, e.start + 4, root,
                         {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"})
            )  # fmt: skip
        by_service.setdefault(e.service, []).extend(specs)
    return expected, by_service


@pytest.fixture(scope="module")
def dataset(server: Server) -> list[Expected]:
    expected, by_service = build_dataset()
    for service, specs in by_service.items():
        response = post(server.url, request(specs, {"service.name": service}), project=PROJECT)
        assert response.status_code == 200, response.text
    return expected


def fetch_all(server: Server, **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of a listing, following next_cursor."""
    cursor = None
    while True:
        page_params = {"project": PROJECT, "limit": 7, **params}
        if cursor:
            page_params["cursor"] = cursor
        response = httpx.get(f"{server.url}/api/traces", params=page_params)
        assert response.status_code == 200, response.text
        body = response.json()
        yield from body["traces"]
        cursor = body["next_cursor"]
        if cursor is None:
            return


def ids_for(server: Server, **params: Any) -> list[str]:
    return [trace["trace_id"] for trace in fetch_all(server, **params)]


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / SECOND, UTC).isoformat().replace("+00:00", "Z")


FILTERS: list[tuple[dict[str, Any], Callable[[Expected], bool]]] = [
    ({}, lambda e: True),
    ({"service": "checkout"}, lambda e: e.service == "checkout"),
    ({"agent": "planner"}, lambda e: e.agent == "planner"),
    ({"agent": "planner", "agent_version": "2.0"},
     lambda e: e.agent == "planner" and e.version == "2.0"),
    ({"model": "claude-sonnet"}, lambda e: e.model == "claude-sonnet"),
    ({"status": "error"}, lambda e: e.status == "error"),
    ({"session_id": "session-3"}, lambda e: e.session == "session-3"),
    ({"user_id": "user-1"}, lambda e: e.user == "user-1"),
    ({"since": iso(T0 + 10 * 60 * SECOND), "until": str(T0 + 20 * 60 * SECOND)},
     lambda e: T0 + 600 * SECOND <= e.start <= T0 + 1200 * SECOND),
    ({"min_cost": 0.1, "max_cost": 0.3}, lambda e: 0.1 <= e.cost <= 0.3),
    ({"min_duration_ms": 1000, "max_duration_ms": 3000},
     lambda e: 1000 <= e.duration_ns / 1e6 <= 3000),
    ({"q": "100%"}, lambda e: "100%" in e.text),
    ({"q": "order_42"}, lambda e: "order_42" in e.text),
    ({"q": "_42"}, lambda e: "_42" in e.text),  # _ is literal, not a wildcard
    ({"q": "o'brien"}, lambda e: "o'brien" in e.text.lower()),
    ({"q": "Köln"}, lambda e: "Köln" in e.text),
    ({"q": "ANSWER 7"}, lambda e: e.text.endswith(" #7")),  # the output, any case
    ({"agent": "worker", "status": "ok", "model": "gpt-4o", "service": "support"},
     lambda e: (e.agent, e.status, e.model, e.service) == ("worker", "ok", "gpt-4o", "support")),
]  # fmt: skip


@pytest.mark.parametrize(("params", "predicate"), FILTERS)
def test_filters_match_the_oracle(
    server: Server, dataset: list[Expected], params: dict[str, Any],
    predicate: Callable[[Expected], bool],
) -> None:  # fmt: skip
    newest_first = sorted(dataset, key=lambda e: e.start, reverse=True)
    wanted = [e.trace_id for e in newest_first if predicate(e)]
    assert ids_for(server, **params) == wanted


SORTS: dict[str, Callable[[dict[str, Any]], float]] = {
    "start_time": lambda t: t["start_time_unix_nano"],
    "duration": lambda t: t["duration_ms"],
    "cost": lambda t: t["cost_usd"],
    "tokens": lambda t: t["input_tokens"] + t["output_tokens"],
    "spans": lambda t: t["span_count"],
}


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", list(SORTS))
def test_sort_and_keyset_pagination(
    server: Server, dataset: list[Expected], sort: str, order: str
) -> None:
    traces = list(fetch_all(server, sort=sort, order=order))
    ids = [t["trace_id"] for t in traces]
    assert len(ids) == len(set(ids)) == len(dataset)  # every trace once, across pages
    values = [SORTS[sort](t) for t in traces]
    assert values == sorted(values, reverse=order == "desc")


def test_trace_fields_match_what_was_sent(server: Server, dataset: list[Expected]) -> None:
    by_id = {t["trace_id"]: t for t in fetch_all(server)}
    for e in dataset:
        trace = by_id[e.trace_id]
        assert (trace["service"], trace["agent_name"], trace["agent_version"]) == (
            e.service, e.agent, e.version,
        )  # fmt: skip
        assert trace["status"] == e.status
        assert trace["cost_usd"] == pytest.approx(e.cost)
        assert trace["input"] == e.text
        assert trace["span_count"] == e.spans
        assert trace["input_tokens"] + trace["output_tokens"] == e.tokens
        assert trace["duration_ms"] == e.duration_ns / 1e6


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"cursor": "not-a-cursor"}, 400, "invalid cursor"),
        ({"since": "yesterday-ish"}, 400, "since: 'yesterday-ish' is not a time"),
        ({"sort": "name"}, 422, "start_time"),
        ({"limit": 0}, 422, "greater than or equal to 1"),
        ({"min_cost": -1}, 422, "greater than or equal to 0"),
        ({"status": "maybe"}, 422, "'ok' or 'error'"),
    ],
)
def test_bad_query_parameters(
    server: Server, dataset: list[Expected], params: dict[str, Any], status: int, message: str
) -> None:
    response = httpx.get(f"{server.url}/api/traces", params=params)
    assert response.status_code == status
    assert message in response.text


def test_unknown_project_is_empty(server: Server, dataset: list[Expected]) -> None:
    assert ids_for(server, project="no-such-project") == []


def test_trace_detail_errors(server: Server, dataset: list[Expected]) -> None:
    assert httpx.get(f"{server.url}/api/traces/{'0' * 31}1").status_code == 404
    bad = httpx.get(f"{server.url}/api/traces/not-hex")
    assert bad.status_code == 400 and "32 hexadecimal" in bad.text


def test_same_trace_id_in_two_projects(server: Server) -> None:
    ids = Ids("two-projects")
    spec = SpanSpec(ids.trace(), ids.span(), "shared", T0, T0 + 1)
    for name in ("left", "right"):
        assert post(server.url, request([spec]), project=name).status_code == 200
    ambiguous = httpx.get(f"{server.url}/api/traces/{spec.trace_id}")
    assert ambiguous.status_code == 400 and "left, right" in ambiguous.text
    chosen = httpx.get(f"{server.url}/api/traces/{spec.trace_id}", params={"project": "right"})
    assert chosen.status_code == 200 and chosen.json()["project"] == "right"
