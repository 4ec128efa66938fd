"""GET /api/traces.csv: the API's whole selection as RFC 4180 CSV, safe in a spreadsheet."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from store.exports import iter_trace_rows
from store.models import Trace
from store.queries import SortKey, TraceFilter, list_traces
from tests.demo_data import Loaded, load_demo
from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server
from web.exports.csv_writer import cell
from web.exports.traces import COLUMNS
from web.schemas import TraceOut

DEMO = "csv-demo"
TRICKY = "csv-tricky"
T0 = 1_770_000_000_000_000_000
SECOND = 1_000_000_000
# (input sent, what the cell must read): formula-like text gets a leading apostrophe.
CELLS = [
    ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
    ("+1+2", "'+1+2"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\tleading tab", "'\tleading tab"),
    ("\rleading carriage return", "'\rleading carriage return"),
    ('He said "hi", then left', 'He said "hi", then left'),
    ("line one\nline two\r\nline three", "line one\nline two\r\nline three"),
    ("a,b;c\td", "a,b;c\td"),
    ("Grüße aus Köln 👋 日本語 — ünïcödé", "Grüße aus Köln 👋 日本語 — ünïcödé"),
    ("plain = not at the start", "plain = not at the start"),
    ("'already quoted", "'already quoted"),
]


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, DEMO, traces=120, seed=5)


@pytest.fixture(scope="module")
def tricky(server: Server) -> list[str]:
    """One trace per tricky text, as its name and input; the output carries it too."""
    ids = Ids("csv-tricky")
    traces = []
    for i, (text, _) in enumerate(CELLS):
        trace = ids.trace()
        start = T0 + i * SECOND
        attributes = {"input.value": text, "output.value": text, "session.id": text}
        spec = SpanSpec(trace, ids.span(), text, start, start + SECOND, attributes=attributes)
        assert post(server.url, request([spec]), project=TRICKY).status_code == 200
        traces.append(trace)
    return traces


def export(server: Server, **params: Any) -> httpx.Response:
    response = httpx.get(f"{server.url}/api/traces.csv", params=params, timeout=60)
    assert response.status_code == 200, response.text
    return response


def rows(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


def api_traces(server: Server, **params: Any) -> list[dict[str, Any]]:
    traces, cursor = [], None
    while True:
        page_params = {**params, "limit": 13, **({"cursor": cursor} if cursor else {})}
        body = httpx.get(f"{server.url}/api/traces", params=page_params, timeout=30).json()
        traces += body["traces"]
        cursor = body["next_cursor"]
        if cursor is None:
            return traces


def as_csv_row(trace: dict[str, Any]) -> list[str]:
    """What a trace of the JSON API must read as in the CSV."""
    return [str(cell(trace[column])) for column in COLUMNS]


def test_the_header_is_the_documented_trace_object(server: Server, demo: Loaded) -> None:
    response = export(server, project=DEMO)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="traces-{DEMO}-')
    assert disposition.endswith('.csv"')
    assert rows(response)[0] == list(TraceOut.model_fields)
    assert response.content.startswith(b"trace_id,project,")  # no byte-order mark


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"agent": "support", "status": "error"},
        {"agent": "support", "agent_version": "1.4", "sort": "duration", "order": "asc"},
        {"model": "gpt-4o-mini", "sort": "tokens"},
        {"q": "order", "sort": "spans", "order": "asc"},
        {"min_duration_ms": "2000", "max_duration_ms": "8000", "sort": "cost"},
        {"since": "2026-11-20T00:00:00Z", "until": "2026-11-20T06:00:00Z"},
    ],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "all",
)
def test_the_csv_is_the_api_selection(server: Server, demo: Loaded, params: dict[str, str]) -> None:
    wanted = [as_csv_row(trace) for trace in api_traces(server, project=DEMO, **params)]
    assert wanted
    assert rows(export(server, project=DEMO, **params))[1:] == wanted


def test_cells_are_quoted_neutralised_and_unicode(server: Server, tricky: list[str]) -> None:
    response = export(server, project=TRICKY, order="asc")
    table = rows(response)
    by_column = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert [row["trace_id"] for row in by_column] == tricky
    for row, (_, expected) in zip(by_column, CELLS, strict=True):
        assert row["name"] == row["input"] == row["output"] == row["session_id"] == expected
    raw = response.content.decode("utf-8")
    # RFC 4180: CRLF after every record, quotes doubled inside a quoted field.
    assert raw.endswith("\r\n")
    assert '"He said ""hi"", then left"' in raw
    assert '"\'=HYPERLINK(""http://evil.example"",""click"")"' in raw
    assert "Grüße aus Köln 👋 日本語" in raw


def test_no_formula_survives_anywhere(server: Server, tricky: list[str]) -> None:
    """Whatever column a value lands in, no cell starts like a formula."""
    for row in rows(export(server, project=TRICKY))[1:]:
        for value in row:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_unknown_project_exports_the_header_only(server: Server) -> None:
    assert rows(export(server, project="no-such-project")) == [list(COLUMNS)]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"since": "yesterday-ish"}, 400, "since: 'yesterday-ish' is not a time"),
        ({"min_cost": "-1"}, 422, "greater than or equal to 0"),
        ({"sort": "name"}, 422, "start_time"),
        ({"status": "maybe"}, 422, "'ok' or 'error'"),
    ],
)
def test_bad_parameters_are_refused_before_streaming(
    server: Server, params: dict[str, str], status: int, message: str
) -> None:
    response = httpx.get(f"{server.url}/api/traces.csv", params=params)
    assert response.status_code == status
    assert message in response.text


def test_chunks_join_without_gaps_or_repeats(server: Server, demo: Loaded) -> None:
    """The export reads keyset chunks; small ones cross many boundaries, ties included."""
    for sort in SortKey:
        for descending in (True, False):
            selection = TraceFilter(project=DEMO)
            chunked = [
                row.trace_id
                for row in iter_trace_rows(
                    server.engine,
                    selection,
                    [Trace.trace_id],
                    sort=sort,
                    descending=descending,
                    chunk=7,
                )
            ]
            with Session(server.engine) as session:
                whole = list_traces(
                    session, selection, sort=sort, descending=descending, limit=1000
                )
            assert chunked == [record.trace.trace_id for record in whole.traces]
            assert len(set(chunked)) == len(demo.summary.traces)
