"""The documented API objects (web/schemas.py) name exactly the fields the API sends."""

from __future__ import annotations

import httpx

from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server
from web.schemas import SpanOut, TraceDetailOut, TraceOut


def test_documented_fields_are_the_sent_fields(server: Server, project: str) -> None:
    ids = Ids(project)
    trace, root = ids.trace(), ids.span()
    specs = [SpanSpec(trace, root, "root", 1, 5), SpanSpec(trace, ids.span(), "child", 2, 3, root)]
    assert post(server.url, request(specs), project=project).status_code == 200

    listed = httpx.get(f"{server.url}/api/traces", params={"project": project}).json()
    assert set(listed["traces"][0]) == set(TraceOut.model_fields)
    detail = httpx.get(f"{server.url}/api/traces/{trace}").json()
    assert set(detail) == set(TraceDetailOut.model_fields)
    span = detail["spans"][0]
    assert set(span) == set(SpanOut.model_fields)
    assert set(span["children"][0]) == set(SpanOut.model_fields)
    TraceDetailOut.model_validate(detail)  # the documented types hold too


def test_openapi_describes_the_trace_objects(server: Server) -> None:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    components = schema["components"]["schemas"]
    assert {"TraceOut", "TraceList", "SpanOut", "TraceDetailOut"} <= set(components)
    assert "cost_usd" in components["TraceOut"]["properties"]
