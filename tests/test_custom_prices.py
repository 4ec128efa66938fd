"""Custom prices per project through the API: ahead of the registry, anchored, from
their date on, one project's only; new spans priced at once, stored ones on reprice."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.server import Server

USAGE = {"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500}


def send_call(server: Server, project: str, model: str) -> str:
    """One model call in a trace of its own; its trace id."""
    provider = TracerProvider(resource=Resource({"service.name": "prices"}))
    provider.add_span_processor(
        SimpleSpanProcessor(
            OTLPSpanExporter(
                endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": project}
            )
        )
    )
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        **USAGE,
    }
    with provider.get_tracer("prices").start_as_current_span(
        f"chat {model}", attributes=attributes
    ) as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


def call_of(server: Server, trace_id: str) -> dict[str, Any]:
    (span,) = httpx.get(f"{server.url}/api/traces/{trace_id}", timeout=30).json()["spans"]
    return span


def add_price(server: Server, **fields: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/api/prices", json=fields, timeout=30)


def test_a_custom_price_prices_the_models_its_pattern_names(server: Server, project: str) -> None:
    before = send_call(server, project, "in-house-llm-7")
    assert call_of(server, before)["cost_source"] == "unpriced"

    created = add_price(
        server, project=project, model="In-House-*", input_usd_per_mtok=1.0,
        output_usd_per_mtok=2.0,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    price = created.json()
    listed = httpx.get(f"{server.url}/api/prices", params={"project": project}).json()
    assert listed["prices"] == [price]

    call = call_of(server, send_call(server, project, "in-house-llm-7"))
    assert call["cost_source"] == "computed"
    assert math.isclose(call["cost_usd"], (1000 * 1.0 + 500 * 2.0) / 1e6)
    assert call["cost_breakdown"]["price"] | {"key": None} == {
        "key": None, "source": "custom", "version": str(price["id"]), "provider": None,
        "model": "In-House-*",
    }  # fmt: skip
    # Anchored: the pattern is the whole name.
    assert call_of(server, send_call(server, project, "in-house"))["cost_source"] == "unpriced"
    assert call_of(server, send_call(server, project, "my-in-house-llm"))["cost_source"] == (
        "unpriced"
    )
    # Another project does not see it.
    other = call_of(server, send_call(server, f"{project}-other", "in-house-llm-7"))
    assert other["cost_source"] == "unpriced"

    # Stored spans keep their cost until re-priced.
    assert call_of(server, before)["cost_source"] == "unpriced"
    done = subprocess.run(
        [sys.executable, "-m", "reasonlens", "reprice", "--project", project,
         "--db", server.database_url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert call_of(server, before)["cost_usd"] == call["cost_usd"]

    deleted = httpx.delete(f"{server.url}/api/prices/{price['id']}")
    assert deleted.status_code == 204
    assert call_of(server, send_call(server, project, "in-house-llm-7"))["cost_source"] == (
        "unpriced"
    )
    assert httpx.delete(f"{server.url}/api/prices/{price['id']}").status_code == 404
    for bad in (0, 2**63, 2**64):  # out of a row id's range: refused, never a 500
        assert httpx.delete(f"{server.url}/api/prices/{bad}").status_code == 422


def test_a_custom_price_goes_before_the_registry_from_its_date_on(
    server: Server, project: str
) -> None:
    registry = call_of(server, send_call(server, project, "gpt-4o"))
    assert registry["cost_breakdown"]["price"]["source"] == "genai-prices"
    later = add_price(
        server, project=project, model="gpt-4o", input_usd_per_mtok=100.0,
        output_usd_per_mtok=100.0, effective_from="2999-01-01T00:00:00Z",
    )  # fmt: skip
    assert later.status_code == 201, later.text
    assert (
        call_of(server, send_call(server, project, "gpt-4o"))["cost_usd"] == (registry["cost_usd"])
    )
    now = add_price(
        server, project=project, model="gpt-4o", provider="openai", input_usd_per_mtok=10.0,
        output_usd_per_mtok=20.0,
    )  # fmt: skip
    assert now.status_code == 201, now.text
    call = call_of(server, send_call(server, project, "gpt-4o"))
    assert call["cost_breakdown"]["price"]["source"] == "custom"
    assert math.isclose(call["cost_usd"], (1000 * 10.0 + 500 * 20.0) / 1e6)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ('{"model": "m", "input_usd_per_mtok": NaN, "output_usd_per_mtok": 1}', 422),
        ('{"model": "m", "input_usd_per_mtok": -1, "output_usd_per_mtok": 1}', 422),
        ('{"model": "", "input_usd_per_mtok": 1, "output_usd_per_mtok": 1}', 422),
        ('{"input_usd_per_mtok": 1, "output_usd_per_mtok": 1}', 422),
        ('{"model": "m", "input_usd_per_mtok": 1, "output_usd_per_mtok": 1, "x": 1}', 422),
        ('{"model": "m", "input_usd_per_mtok": 1, "output_usd_per_mtok": 1, '
         '"effective_from": "2026-01-01T00:00:00"}', 422),
        ("not json", 422),
    ],
)  # fmt: skip
def test_a_bad_price_is_refused_and_stores_nothing(
    server: Server, project: str, body: str, status: int
) -> None:
    sent = body.replace('{"', f'{{"project": "{project}", "', 1) if body.startswith("{") else body
    response = httpx.post(
        f"{server.url}/api/prices", content=sent, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert httpx.get(f"{server.url}/api/prices", params={"project": project}).json() == {
        "prices": []
    }
    as_text = httpx.post(f"{server.url}/api/prices", content=sent)
    assert as_text.status_code == 415
