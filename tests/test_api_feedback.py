"""Human feedback through the API: stored as a ``human`` score on the trace (or span),
refused whole when it is bad."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from store.models import Score
from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server


def send_trace(server: Server, project: str, trace_id: str, span_id: str) -> None:
    spans = [SpanSpec(trace_id, span_id, "answer", 1_000, 2_000)]
    assert post(server.url, request(spans), project=project).status_code == 200


def test_human_feedback_is_stored_as_a_human_score(server: Server, project: str) -> None:
    ids = Ids(project)
    trace, span, twin = ids.trace(), ids.span(), ids.trace()
    send_trace(server, project, trace, span)
    send_trace(server, project, twin, ids.span())
    send_trace(server, f"{project}-b", twin, ids.span())
    url = f"{server.url}/api/scores"

    given = {
        "trace_id": trace.upper(),
        "span_id": span,
        "name": "helpful",
        "passed": False,
        "label": "wrong tool",
        "value": 0.25,
        "explanation": "<script>window.__xss=1</script> picked the wrong tool",
    }
    response = httpx.post(url, json=given)
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["trace_id"] == trace and stored["project"] == project
    assert (stored["evaluator"], stored["metric"], stored["source"]) == (
        "helpful",
        "helpful",
        "human",
    )
    assert stored["run_id"] is None and stored["explanation"] == given["explanation"]
    with server.engine.connect() as connection:
        row = connection.execute(sa.select(Score).where(Score.id == stored["id"])).one()
    assert (row.source, row.passed, row.value, row.span_id) == ("human", False, 0.25, span)

    trace_only = httpx.post(
        url, json={"trace_id": trace, "name": "tone", "metric": "stars", "value": 4}
    )
    assert trace_only.status_code == 201 and trace_only.json()["span_id"] is None

    # An id stored in two projects needs the project named.
    twice = httpx.post(url, json={"trace_id": twin, "name": "tone", "passed": True})
    assert twice.status_code == 400 and "several projects" in twice.json()["detail"]
    named = httpx.post(
        url, json={"trace_id": twin, "project": project, "name": "t", "passed": True}
    )
    assert named.status_code == 201 and named.json()["project"] == project


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"trace_id": "ab" * 16}, 404),  # no such trace
        ({"span_id": "cd" * 8}, 404),  # no such span in it
        ({"project": "no-such-project"}, 404),
        ({"trace_id": "xyz"}, 422),
        ({"span_id": "123"}, 422),
        ({"name": ""}, 422),
        ({"name": "n" * 201}, 422),
        ({"label": "l" * 201}, 422),
        ({"explanation": "e" * 10_001}, 422),
        ({"name": "nul\x00byte"}, 422),
        ({"value": None, "passed": None, "label": None}, 422),  # says nothing
        ({"unknown": 1}, 422),
    ],
)
def test_bad_feedback_is_refused(
    server: Server, project: str, change: dict[str, Any], status: int
) -> None:
    ids = Ids(project)
    trace, span = ids.trace(), ids.span()
    send_trace(server, project, trace, span)
    body = {"trace_id": trace, "span_id": span, "name": "helpful", "passed": True, **change}
    response = httpx.post(f"{server.url}/api/scores", json=body)
    assert response.status_code == status, response.text
    with server.engine.connect() as connection:
        count = connection.scalar(
            sa.select(sa.func.count()).select_from(Score).where(Score.trace_id == trace)
        )
    assert count == 0


def test_infinite_values_are_refused(server: Server, project: str) -> None:
    ids = Ids(project)
    trace, span = ids.trace(), ids.span()
    send_trace(server, project, trace, span)
    body = b'{"trace_id": "%s", "name": "x", "value": Infinity}' % trace.encode()
    response = httpx.post(
        f"{server.url}/api/scores", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
