"""Filter values an attacker or an unlucky user types: quotes, backslashes, LIKE and glob
wildcards, SQL, unicode, very long text. Each selects exactly the traces that hold it,
through every door that filters (the API and its CSV, the trace table and its search
box, the spans export, sessions, the compare page's cohorts, drift), and none is a 500.

Every trace is stored twice: in the project the queries name, and in a decoy project
whose name the first one's would match as a LIKE pattern.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from collector.limits import MAX_INDEXED_CHARS
from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server

# A LIKE pattern matching DECOY; quotes and a backslash besides.
PROJECT = "flt_100%'\"\\"
DECOY = "fltX100 decoy'\"\\"
T0 = 1_781_000_000_000_000_000
VALUES = {
    "quote": "it's",
    "double": 'say "hi"',
    "backslash": "C:\\temp\\",
    "percent": "100%",
    "percent_decoy": "100x",
    "underscore": "a_b",
    "underscore_decoy": "axb",
    "star": "a*b",
    "star_decoy": "aXYZb",
    "brackets": "[a-c]",
    "brackets_decoy": "b",
    "caret": "[^x]",
    "slash": "a/b",  # SQLAlchemy's escape character
    "slash_percent": "a/%",
    "emoji": "\U0001f916 robot",
    "combining": "e\u0301",  # e and a combining acute accent
    "precomposed": "\u00e9",  # the same letter in one code point: a different string
    "rtl": "\u0645\u0631\u062d\u0628\u0627",
    "capitals": "Gr\u00fc\u00dfe aus K\u00d6LN, \u03a9MEGA, CAF\u00c9",
    "bidi": "\u202eabc\u202c",
    "drop": "'; DROP TABLE spans; --",
    "or": "' OR '1'='1",
    "padded": " padded ",
    "lines": "two\nlines\ttab",
    "newline_end": "ends\n",
    "newline_end_decoy": "ends",
    # As long as the store keeps an indexed identifier whole (longer ones are cut at
    # ingest: collector.limits.MAX_INDEXED_CHARS).
    "long": "L" * (MAX_INDEXED_CHARS - 3) + "end",
}
# Free text searched with ?q=: the values, and fragments that are wildcards elsewhere.
SEARCHES = [
    *(value for key, value in VALUES.items() if key != "long"),
    "%", "_", "\\", "/", "[", "'", '"', "*", "%_", "IT'S", "DROP TABLE", "L" * 999,
    # Case folds beyond ASCII, on SQLite as on PostgreSQL.
    "k\u00f6ln", "\u03c9mega", "caf\u00e9", "GR\u00dcSSE",
]  # fmt: skip
EQUAL_FILTERS = ("service", "agent", "agent_version", "model", "session_id", "user_id")
# Values for the slower reports (drift).
DOORS = ("100%", "a_b", "it's", 'say "hi"', "C:\\temp\\", "e\u0301", "\u202eabc\u202c",
         "'; DROP TABLE spans; --", " padded ", "two\nlines\ttab")  # fmt: skip


@dataclass(frozen=True)
class Stored:
    """The trace id of each value, in PROJECT."""

    ids: dict[str, str]

    def holding(self, value: str) -> set[str]:
        return {self.ids[key] for key, held in VALUES.items() if held == value}

    def searched(self, text: str) -> set[str]:
        """What a case-insensitive substring search of name, input and output finds."""
        return {
            self.ids[key]
            for key, value in VALUES.items()
            if any(text.lower() in f"{field}:{value}".lower() for field in ("n", "in", "out"))
        }


def _send(server: Server, project: str, seed: str) -> dict[str, str]:
    """A trace per value, each with the value as its service (a resource of its own),
    agent, version, session, user and model, and in its name, input and output; one
    OTLP request."""
    ids, trace_ids = Ids(seed), {}
    body = request([])
    del body.resource_spans[:]
    messages = '[{"role": "%s", "parts": [{"type": "text", "content": %s}]}]'
    for index, (key, value) in enumerate(VALUES.items()):
        trace_id, root = ids.trace(), ids.span()
        start = T0 + index * 1_000_000_000
        spans = [
            SpanSpec(trace_id, root, f"n:{value}", start, start + 50_000_000, attributes={
                "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": value,
                "gen_ai.agent.version": value, "gen_ai.conversation.id": value, "user.id": value,
                "gen_ai.input.messages": messages % ("user", json.dumps(f"in:{value}")),
                "gen_ai.output.messages": messages % ("assistant", json.dumps(f"out:{value}")),
            }),
            SpanSpec(trace_id, ids.span(), "chat", start + 1_000, start + 9_000_000, root,
                     attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": value,
                                 "gen_ai.usage.input_tokens": 10}),
        ]  # fmt: skip
        body.resource_spans.extend(request(spans, {"service.name": value}).resource_spans)
        trace_ids[key] = trace_id
    response = post(server.url, body, project=project)
    assert response.status_code == 200, response.text
    return trace_ids


@pytest.fixture(scope="module")
def stored(server: Server) -> Stored:
    _send(server, DECOY, "decoy")
    return Stored(_send(server, PROJECT, "filters"))


@pytest.fixture(scope="module")
def http(server: Server, stored: Stored) -> Iterator[httpx.Client]:
    """One client for the module's few hundred requests (a new one costs ~50 ms)."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _get(http: httpx.Client, path: str, params: Any, status: int = 200) -> httpx.Response:
    response = http.get(path, params=params)
    assert response.status_code == status, f"{path} {str(params)[:300]}: {response.text[:300]}"
    return response


def api_ids(http: httpx.Client, **params: str) -> set[str]:
    body = _get(http, "/api/traces", {"project": PROJECT, "limit": "1000", **params}).json()
    assert body["next_cursor"] is None
    return {trace["trace_id"] for trace in body["traces"]}


def csv_ids(http: httpx.Client, path: str, **params: str) -> set[str]:
    text = _get(http, path, {"project": PROJECT, **params}).text
    return {row["trace_id"] for row in csv.DictReader(io.StringIO(text, newline=""))}


_TRACE_LINK = re.compile(r'href="/traces/([0-9a-f]{32})\?')


def page_ids(http: httpx.Client, path: str, params: Any) -> set[str]:
    """The traces a page links to."""
    return set(_TRACE_LINK.findall(_get(http, path, params).text))


@pytest.mark.parametrize("name", EQUAL_FILTERS)
def test_each_filter_selects_exactly_the_traces_holding_the_value(
    http: httpx.Client, stored: Stored, name: str
) -> None:
    for value in [*VALUES.values(), "%", "_", "L" * 20_000]:
        expected = stored.holding(value)
        assert api_ids(http, **{name: value}) == expected, (name, value)
        assert csv_ids(http, "/api/traces.csv", **{name: value}) == expected, (name, value)
        page = {"project": PROJECT, name: value}
        assert page_ids(http, "/traces", page) == expected, (name, value)


def test_the_search_box_finds_text_literally(http: httpx.Client, stored: Stored) -> None:
    # A wildcard that leaked would match every trace.
    assert stored.searched("%") == {stored.ids["percent"], stored.ids["slash_percent"]}
    assert stored.searched("%_") == set()
    for text in SEARCHES:
        expected = stored.searched(text)
        assert api_ids(http, q=text) == expected, text
        assert csv_ids(http, "/api/traces.csv", q=text) == expected, text
        assert page_ids(http, "/traces", {"project": PROJECT, "q": text}) == expected, text


def test_a_search_too_long_is_refused_not_failed(http: httpx.Client, stored: Stored) -> None:
    _get(http, "/api/traces", {"project": PROJECT, "q": "L" * 1001}, status=422)
    _get(http, "/traces", {"project": PROJECT, "q": "L" * 1001}, status=400)


def test_the_spans_export_selects_by_model(http: httpx.Client, stored: Stored) -> None:
    for value in [*VALUES.values(), "%", "_"]:
        if len(value) > 500:  # the export's limit on a model name
            _get(http, "/api/spans.csv", {"project": PROJECT, "model": value}, status=422)
            continue
        assert csv_ids(http, "/api/spans.csv", model=value) == stored.holding(value), value


def test_sessions_are_found_by_their_id(http: httpx.Client, stored: Stored) -> None:
    listed = _get(http, "/sessions", {"project": PROJECT}).text
    assert listed.count('class="session-link') == len(VALUES)
    exported = _get(http, "/sessions.csv", {"project": PROJECT}).text
    rows = list(csv.DictReader(io.StringIO(exported, newline="")))
    assert sorted(row["session_id"] for row in rows) == sorted(VALUES.values())
    for key, value in VALUES.items():
        path = f"/sessions/{quote(value, safe='')}"
        assert page_ids(http, path, {"project": PROJECT}) == {stored.ids[key]}, key
    for value in ("%", "_", "*", "' OR '1'='1' --"):
        _get(http, f"/sessions/{quote(value, safe='')}", {"project": PROJECT}, status=404)


def _cohort_traces(html: str) -> tuple[str, str]:
    """The compare page's "Traces" row: A's count and B's."""
    row = re.search(r'data-metric="Traces">(.*?)</tr>', html, re.S)
    assert row is not None, html[:2000]
    counts = re.findall(r"<a [^>]*>([^<]*)</a>", row.group(1))
    return counts[0], counts[1]


def test_compare_cohorts_take_any_value(http: httpx.Client, stored: Stored) -> None:
    pairs = [
        ("service", "100%", "%"), ("agent", "a_b", "_"), ("agent_version", "it's", "'"),
        ("model", "C:\\temp\\", "a*b"), ("session_id", "e\u0301", "\u00e9"),
        ("user_id", "'; DROP TABLE spans; --", "ends\n"), ("q", "100%", "%"),
    ]  # fmt: skip
    for name, a, b in pairs:
        found = stored.searched if name == "q" else stored.holding
        params = {"project": PROJECT, f"a.{name}": a, f"b.{name}": b}
        html = _get(http, "/compare", params).text
        assert _cohort_traces(html) == (str(len(found(a))), str(len(found(b)))), name


def test_a_pasted_filter_keeps_its_values(http: httpx.Client, stored: Stored) -> None:
    """A /traces URL pasted as a cohort: its percent-encoded values come back whole."""
    pasted = "/traces?" + str(httpx.QueryParams({"project": PROJECT, "agent": "100%"}))
    params = {"project": PROJECT, "a.from": pasted, "b.agent": "a_b"}
    response = http.get("/compare", params=params, follow_redirects=True)
    assert response.status_code == 200, response.text
    assert _cohort_traces(response.text) == ("1", "1")


def test_drift_cohorts_take_any_value(http: httpx.Client, stored: Stored) -> None:
    for value in (*DOORS, "ends", "ends\n", VALUES["long"]):
        params = {"project": PROJECT, "agent": value, "version": value,
                  "baseline_version": value}  # fmt: skip
        if len(value) > 1000:  # the drift query's limit on a name
            _get(http, "/api/drift", params, status=422)
            continue
        report = _get(http, "/api/drift", params).json()
        assert report["current"]["traces"] == 1 == report["baseline"]["traces"], value
    for value in ("%", "_"):
        params = {"project": PROJECT, "agent": value, "version": value, "baseline_version": "x"}
        assert _get(http, "/api/drift", params).json()["current"]["traces"] == 0
        _get(http, "/drift", {**params, "baseline_version": "it's"})


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/api/drift", ("metrics", "since", "baseline_since")),
        ("/drift", ("metrics", "since", "baseline_version")),
        ("/compare", ("a.since", "a.from", "b.status")),
        ("/traces", ("since", "cursor", "sort", "order", "status", "min_cost")),
        ("/api/traces", ("since", "cursor", "sort", "status")),
        ("/sessions", ("cursor",)),
        ("/", ("window", "since")),
    ],
)
def test_hostile_values_of_other_parameters_are_refused_not_failed(
    http: httpx.Client, stored: Stored, path: str, names: tuple[str, ...]
) -> None:
    for name in names:
        for value in ("'; DROP TABLE spans; --", "100%", "\u202e\U0001f916", "L" * 5_000):
            params = {"project": PROJECT, name: value}
            if path.endswith("drift"):
                params["agent"] = "a_b"
            response = http.get(path, params=params)
            # 303: a pasted cohort (a.from) redirects to its expanded URL.
            assert response.status_code in (200, 303, 400, 404, 422), (
                path,
                name,
                response.text[:300],
            )


def _finished_run(http: httpx.Client, suite: str) -> int:
    response = http.post("/api/suites", content=suite, headers={"content-type": "application/yaml"})
    assert response.status_code in (200, 201), response.text
    started = http.post(f"/api/suites/{response.json()['id']}/runs").json()["run_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = http.get(f"/api/eval-runs/{started}").json()
        if run["status"] != "running":
            assert run["status"] in ("passed", "failed"), run
            return int(started)
        time.sleep(0.05)
    raise AssertionError(f"run {started} did not finish")


def test_a_runs_scores_filter_by_evaluator_literally(http: httpx.Client, stored: Stored) -> None:
    """The run page, its scores API and the run comparison narrow to one evaluator."""
    suite = f"name: filters\nselect: {{project: {json.dumps(PROJECT)}}}\n" + (
        "evaluators:\n  - step_budget: {max_steps: 1}\n  - cost_budget: {max_tokens_per_trace: 5}\n"
    )
    first, second = _finished_run(http, suite), _finished_run(http, suite)
    scores = f"/api/eval-runs/{second}/scores"
    every = _get(http, scores, {"evaluator": "step_budget", "limit": 1000}).json()["scores"]
    assert len(every) == len(VALUES)
    for value in ("step%", "step_budge_", "%", "_", "' OR '1'='1", "step_budget ", "\u202e"):
        assert _get(http, scores, {"evaluator": value}).json()["scores"] == [], value
        _get(http, f"/evals/runs/{second}", {"evaluator": value})
        compare = _get(http, "/evals/compare", {"a": first, "b": second, "evaluator": value}, 400)
        assert "gave verdicts in these runs" in compare.text
    _get(http, scores, {"evaluator": "L" * 201}, status=422)
