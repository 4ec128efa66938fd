"""CPU per span of each stage of ``collector.pipeline.prepare()``, and a digest of its output.

The decode workers run ``prepare()`` on every request body: decompress and decode,
normalize, build the row tuples, pack them with ``make_batch(sqlite=True)``. This
script times each stage apart and the whole function on ``bench.payloads`` bodies
(CPU time, ``time.process_time``; median of several rounds, because this 2-core VM
drifts by ±15%), and hashes everything ``prepare()`` produces for a wider corpus (the
payloads, the public fixtures, hand-written edge spans; optionally ``--harvest``, a
pickle of RawSpan field dicts recorded by wrapping ``normalize`` during a run of the
normalizer tests) so that an optimisation can prove it changed no row. The digest
depends on ``--batches``: compare digests taken with the same options.

    .venv/bin/python -m bench.prepare_bench                     # figures and digest
    .venv/bin/python -m bench.prepare_bench --digest-only --dump rows.txt
    .venv/bin/python -m bench.prepare_bench --json              # one JSON line, for A/B scripts
"""

from __future__ import annotations

import argparse
import base64
import gc
import gzip
import hashlib
import json
import pickle
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench import normalize_bench
from bench.payloads import Payloads
from collector.body import Encoding, Signal, decompress
from collector.costing import cost_values, span_cost
from collector.decode_proto import decode_protobuf
from collector.decoded import Decoded, finite
from collector.limits import Limits
from collector.pipeline import _normalize, prepare, to_rows
from collector.rows import span_row
from collector.spans import RawSpan, Resource, Scope
from store.batch import SpanRow, make_batch
from store.models import DEFAULT_PROJECT
from store.types import to_json
from tests.paths import SHARED_FIXTURES

LIMIT = 64 << 20
LIMITS = Limits(max_body_bytes=LIMIT)
Case = tuple[str, bytes, Encoding, str | None, str | None]  # label, body, encoding, gzip, project

# ---------------------------------------------------------------- stage timing


def _stage_round(bodies: list[bytes]) -> dict[str, float]:
    """One pass over ``bodies``, stage by stage as ``prepare()`` runs them: CPU seconds."""
    totals = dict.fromkeys(("decode", "normalize", "rows", "make_batch"), 0.0)
    clock = time.process_time
    for body in bodies:
        t0 = clock()
        decoded = decode_protobuf(decompress(body, None, LIMIT))
        t1 = clock()
        canonicals = [_normalize(span) for span in decoded.spans]
        t2 = clock()
        rows = _rows(decoded.spans, canonicals)
        t3 = clock()
        make_batch([(DEFAULT_PROJECT, rows)], sqlite=True)
        t4 = clock()
        totals["decode"] += t1 - t0
        totals["normalize"] += t2 - t1
        totals["rows"] += t3 - t2
        totals["make_batch"] += t4 - t3
    return totals


def _rows(spans: list[RawSpan], canonicals: list[Any]) -> list[SpanRow]:
    """``to_rows`` without the normalizer: resource and scope serialized once each."""
    serialized: dict[int, str] = {}
    out = []
    for span, canonical in zip(spans, canonicals, strict=True):
        for holder in (span.resource, span.scope):
            if id(holder) not in serialized:
                serialized[id(holder)] = to_json(holder.attributes)
        cost = cost_values(canonical, span_cost(canonical, span.start_time_ns, {}))
        resource, scope = serialized[id(span.resource)], serialized[id(span.scope)]
        out.append(span_row(span, canonical, resource, scope, cost))
    return out


def _prepare_round(bodies: list[bytes]) -> float:
    start = time.process_time()
    for body in bodies:
        prepare(Signal.TRACES, body, Encoding.PROTOBUF, None, None, LIMITS, True)
    return time.process_time() - start


def measure(bodies: list[bytes], spans: int, rounds: int) -> dict[str, float]:
    """Median CPU µs per span per stage; stage and whole-prepare rounds alternate."""
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        figures = _stage_round(bodies)
        figures["prepare"] = _prepare_round(bodies)
        for name, seconds in figures.items():
            samples.setdefault(name, []).append(seconds / spans * 1e6)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    medians["sum of stages"] = sum(
        medians[name] for name in ("decode", "normalize", "rows", "make_batch")
    )
    return medians


# ---------------------------------------------------------------- digest corpus


def _json_value(value: Any) -> dict[str, Any]:
    """A Python value as an OTLP/JSON AnyValue."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": finite(value)}  # "NaN", "Infinity": OTLP/JSON's spelling
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_json_value(item) for item in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": _json_attributes(value)}}
    return {"stringValue": str(value)}


def _json_attributes(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _json_value(value)} for key, value in attributes.items()]


def _spec(name: str, attributes: dict[str, Any], n: int, **extra: Any) -> dict[str, Any]:
    """A span description both encoders below understand; ``n`` makes its ids unique."""
    return {
        "name": name,
        "attributes": attributes,
        "trace_id": f"{n // 4 + 1:032x}",
        "span_id": f"{n + 1:016x}",
        "parent": extra.pop("parent", f"{n // 4 * 4 + 1:016x}" if n % 4 else ""),
        "start": 1_700_000_000_000_000_000 + n * 1000,
        "end": 1_700_000_000_000_000_000 + n * 1000 + extra.pop("duration", 500),
        **extra,
    }


def _encode(specs: list[dict[str, Any]], resource: dict[str, Any]) -> tuple[bytes, bytes]:
    """The same spans as an OTLP/JSON and an OTLP protobuf body."""
    spans = [
        {
            "traceId": spec["trace_id"],
            "spanId": spec["span_id"],
            "parentSpanId": spec["parent"],
            "name": spec["name"],
            "kind": 1,
            "startTimeUnixNano": str(spec["start"]),
            "endTimeUnixNano": str(spec["end"]),
            "attributes": _json_attributes(spec["attributes"]),
            "status": {
                "code": spec.get("status_code", 0),
                "message": spec.get("status_message", ""),
            },
            "traceState": spec.get("trace_state", ""),
            "events": [
                {"name": name, "timeUnixNano": "5", "attributes": _json_attributes(attributes)}
                for name, attributes in spec.get("events", [])
            ],
            "links": [
                {"traceId": trace, "spanId": span, "attributes": _json_attributes(attributes)}
                for trace, span, attributes in spec.get("links", [])
            ],
            "droppedAttributesCount": spec.get("dropped", 0),
        }
        for spec in specs
    ]
    scope = {"name": "bench", "version": "1"}
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": _json_attributes(resource)},
                "scopeSpans": [{"scope": scope, "spans": spans}],
            }
        ]
    }
    # Protobuf's own JSON parser reads ids as base64 (OTLP/JSON has them in hex).
    request = json_format.ParseDict(_map_ids(document, _hex_to_base64), ExportTraceServiceRequest())
    return json.dumps(document).encode(), request.SerializeToString()


def _edge_specs() -> list[dict[str, Any]]:
    """Spans for branches the payloads never take: events, links, odd values, kind rules."""
    tool = {"gen_ai.operation.name": "execute_tool", "input.value": '{"a": 1}', "output": "x"}
    chat = {**tool, "gen_ai.operation.name": "chat"}  # same keys, other kind
    odd = [
        ("exception", {"exception.type": "ValueError", "exception.message": "bad"}),
        ("gen_ai.user.message", {"content": "hi", "body": '{"role": "user"}'}),
        ("gen_ai.choice", {"index": 1, "message": '{"content": "yo"}', "finish_reason": "stop"}),
        ("gen_ai.evaluation.result", {"gen_ai.evaluation.score.value": 0.7}),
        ("gen_ai.content.prompt", {"gen_ai.prompt": '[{"role": "user", "content": "q"}]'}),
    ]
    sets: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("execute_tool lookup", tool, {}),
        ("chat", chat, {}),
        ("tool-ish", {**tool, "gen_ai.operation.name": 7}, {}),
        ("agent run", {"confidence": "0.5", "my.confidence": 0.25, "x.y": b"\x00\xff"}, {}),
        ("running tool x", {"evaluations.0.evaluation.score": 0.9, "gen_ai.prompt.name": "p"}, {}),
        ("invoke_agent   ", {"openinference.span.kind": " agent ", "llm.model_name": 5}, {}),
        ("x", {"langfuse.observation.level": "error", "error.type": ""}, {"status_code": 1}),
        ("x", {"langfuse.observation.level": "WARNING", "error.type": "E"}, {}),
        ("x", {"gen_ai.usage.input_tokens": "12", "gen_ai.usage.output_tokens": 3.0}, {}),
        ("x", {"gen_ai.usage.input_tokens": float("nan"), "llm.cost.prompt": float("inf")}, {}),
        ("x", {"gen_ai.usage.input_tokens": 2**62, "llm.cost.completion": -1.5}, {}),
        ("x", {"traceloop.span.kind": "tool", "traceloop.entity.input": '{"args": [1]}'}, {}),
        ("x", {"gen_ai.prompt.0.role": "user", "gen_ai.prompt.10.content": "b"}, {}),
        ("x", {"gen_ai.evaluation.name": "e", "arr": [1, "a", 2.5], "kv": {"a": {"b": []}}}, {}),
        ("x", {"ai.operationId": "ai.somethingNew", "operation.name": "ai.embed.doEmbed fn"}, {}),
        ("x", {"llm.invocation_parameters": '{"model": "m"}', "metadata": '{"user_id": 5}'}, {}),
        ("x", {}, {"events": odd, "status_message": "boom"}),
        ("x", {"gen_ai.system": "Azure"}, {"links": [("ab" * 16, "cd" * 8, {"k": "v"})]}),
        ("x", {"gen_ai.tool.name": ""}, {"status_code": 2, "trace_state": "a=b", "dropped": 3}),
    ]
    return [_spec(name, attrs, n, **extra) for n, (name, attrs, extra) in enumerate(sets * 2)]


def _fixture_specs(start: int) -> list[dict[str, Any]]:
    """The OpenInference-GenAI attribute maps, Vercel AI SDK spans and the spans of
    ``bench/normalize_bench.py`` (Pydantic AI, OpenInference, Vercel), as specs."""
    named = [(path.stem, json.loads(path.read_text()), {}) for path in _paths("openinference-*")]
    for path in _paths("vercel-ai-sdk-v6"):
        exported = json.loads(path.read_text())  # two of the files are summaries, not spans
        spans = exported if isinstance(exported, list) else []
        named += [(item["name"], item["attributes"], {"parent": ""}) for item in spans]
    named += [(span.name, span.attributes, {}) for span in normalize_bench.build_spans(240)]
    return [_spec(name, attrs, start + n, **extra) for n, (name, attrs, extra) in enumerate(named)]


def _paths(folder: str) -> list[Path]:
    return sorted(SHARED_FIXTURES.glob(f"{folder}/*.json"))


def _fixture_bodies() -> Iterator[tuple[str, bytes]]:
    """Every OTLP/JSON fixture, and the protojson ones again with their base64 ids as hex."""
    for path in sorted(SHARED_FIXTURES.rglob("*.json*")):
        texts = path.read_bytes().splitlines() if path.suffix == ".jsonl" else [path.read_bytes()]
        for i, text in enumerate(texts):
            yield f"{path.name}:{i}", text
            if b'"traceId": "' in text and b"=" in text:
                hex_ids = _map_ids(json.loads(text), _base64_to_hex)
                yield f"{path.name}:{i} hex", json.dumps(hex_ids).encode()


def _map_ids(node: Any, convert: Callable[[str], str]) -> Any:
    """``node`` with ``convert`` applied to every trace, span and parent span id."""
    if isinstance(node, list):
        return [_map_ids(item, convert) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: convert(value) if key in _ID_KEYS else _map_ids(value, convert)
        for key, value in node.items()
    }


_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _base64_to_hex(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).hex()
    except (ValueError, TypeError):
        return value


def _hex_to_base64(value: str) -> str:
    return base64.b64encode(bytes.fromhex(value)).decode()


def corpus(batches: int) -> Iterator[Case]:
    """Every body the digest covers, each with the encoding and project to send it with."""
    for n, body in enumerate(Payloads(500, seed=1).bodies(batches)):
        yield f"payload {n}", body, Encoding.PROTOBUF, None, None
    for label, body in _fixture_bodies():
        yield label, body, Encoding.JSON, None, None
    trace_pb = (SHARED_FIXTURES / "otlp2parquet/trace.pb").read_bytes()
    yield "trace.pb", trace_pb, Encoding.PROTOBUF, None, None
    specs = _edge_specs() + _fixture_specs(1000)
    for label, resource in [
        ("bad project", {"reasonlens.project": " "}),
        ("int project", {"reasonlens.project": 5}),
        ("project", {"service.name": "svc", "reasonlens.project": "team-a"}),
        ("plain", {"service.name": "svc", "service.version": 3}),
    ]:
        as_json, as_pb = _encode(specs, resource)
        yield f"specs json {label}", as_json, Encoding.JSON, None, None
        yield f"specs pb {label}", as_pb, Encoding.PROTOBUF, None, None
    yield "specs pb header", as_pb, Encoding.PROTOBUF, None, "acme"
    yield "specs gzip", gzip.compress(as_json), Encoding.JSON, "gzip", None


def _harvested(path: Path) -> Iterator[RawSpan]:
    """Spans recorded from a run of the normalizer tests (a pickle of field dicts)."""
    for fields in pickle.loads(path.read_bytes()):
        fields["resource"] = Resource(**fields["resource"])
        fields["scope"] = Scope(**fields["scope"])
        yield RawSpan(**fields)


def _outcome(run: Callable[[], Any]) -> Any:
    try:
        return run()
    except Exception as error:
        return f"{type(error).__name__}: {error}"


def _describe(prepared: Any) -> str:
    if isinstance(prepared, str):
        return prepared
    batch = prepared.batch
    ids = {project: sorted(ids) for project, ids in batch.trace_ids.items()}
    return repr((ids, batch.groups, batch.size, prepared.rejected, prepared.error_message))


def _sqlite_rows(prepared: Any) -> str:
    if isinstance(prepared, str) or prepared.batch.sqlite is None:
        return repr(prepared) if isinstance(prepared, str) else "no sqlite"
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(prepared.batch.sqlite)
        return repr(connection.execute("SELECT * FROM rows ORDER BY rowid").fetchall())
    finally:
        connection.close()


def digest(batches: int, harvest: Path | None, dump: Path | None) -> dict[str, str]:
    """sha256 of every row ``prepare()`` builds (groups) and of the packed SQLite rows."""
    rows_hash, sqlite_hash = hashlib.sha256(), hashlib.sha256()
    lines = []
    for label, body, encoding, content_encoding, project in corpus(batches):
        for sqlite, target in ((False, rows_hash), (True, sqlite_hash)):
            prepared = _outcome(
                lambda b=body, e=encoding, c=content_encoding, p=project, s=sqlite: prepare(
                    Signal.TRACES, b, e, c, p, LIMITS, s
                )
            )
            text = _sqlite_rows(prepared) if sqlite else _describe(prepared)
            target.update(f"{label}\n{text}\n".encode())
            lines.append(f"{label} sqlite={sqlite}: {text}")
    if harvest is not None:
        for n, span in enumerate(_harvested(harvest)):
            prepared = _outcome(lambda s=span: to_rows(Decoded(spans=[s]), None, sqlite=False))
            text = _describe(prepared)
            rows_hash.update(f"harvest {n}\n{text}\n".encode())
            lines.append(f"harvest {n}: {text}")
    if dump is not None:
        dump.write_text("\n".join(lines))
    return {"rows": rows_hash.hexdigest(), "sqlite": sqlite_hash.hexdigest()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60, help="bodies of 500 spans to time")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--digest-only", action="store_true")
    parser.add_argument("--no-digest", action="store_true")
    parser.add_argument("--harvest", type=Path, help="pickled spans to add to the digest")
    parser.add_argument("--dump", type=Path, help="write every digested row here, for a diff")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if not args.no_digest:
        result["digest"] = digest(args.batches, args.harvest, args.dump)
    if not args.digest_only:
        bodies = list(Payloads(500, seed=7).bodies(args.batches))
        spans = 500 * args.batches
        # Warm the caches.
        prepare(Signal.TRACES, bodies[0], Encoding.PROTOBUF, None, None, LIMITS, True)
        gc.collect()
        gc.freeze()  # as collector.service._warm_up does in the decode workers
        gc.set_threshold(50_000, 20, 20)
        result["us_per_span"] = measure(bodies, spans, args.rounds)
    if args.json:
        print(json.dumps(result))
        return
    for name, value in result.get("digest", {}).items():
        print(f"digest {name:<6} {value}")
    for name, micros in result.get("us_per_span", {}).items():
        print(f"{name:<14} {micros:6.2f} µs/span CPU (median of {args.rounds})")


if __name__ == "__main__":
    main()
