"""Hostile OTLP bodies made from real ones: seeds and their mutations (hypothesis).

Seeds are real payloads: the public fixtures, and the demo's traffic as the real SDK
encodes it (protobuf and OTLP/JSON). Mutations flip, cut and splice their bytes, or
replace nodes of their JSON tree with hostile values (lone surrogates, NUL, huge
numbers, deep nesting).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from hypothesis import strategies as st
from opentelemetry.exporter.otlp.json.common._log_encoder import encode_logs as json_logs
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as json_spans
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from collector.decoded import MAX_VALUE_DEPTH
from tests.demo_runs import run_logged
from tests.otlp import SpanSpec, otlp_json, request
from tests.paths import SHARED_FIXTURES

Seed = tuple[str, str, bytes]  # signal, encoding ("protobuf" or "json"), body


@cache
def seeds() -> tuple[Seed, ...]:
    """Real payloads of both signals in both encodings, a few KB each."""
    found: list[Seed] = []
    _, spans, logs = run_logged(2, seed=7)
    for chunk in (spans[:6], spans[6:14]):
        found.append(("traces", "protobuf", encode_spans(chunk).SerializeToString()))
        found.append(("traces", "json", json_spans(chunk).to_json().encode()))
    for chunk in (logs[:4], logs[4:10]):
        if chunk:
            found.append(("logs", "protobuf", encode_logs(chunk).SerializeToString()))
            found.append(("logs", "json", json_logs(chunk).to_json().encode()))
    examples_dir = SHARED_FIXTURES / "otlp-proto-examples"
    found.append(("traces", "json", (examples_dir / "trace.json").read_bytes()))
    found.append(("logs", "json", (examples_dir / "logs.json").read_bytes()))
    found.append(("logs", "json", (examples_dir / "events.json").read_bytes()))
    found.append(("traces", "json", (SHARED_FIXTURES / "otlp2parquet/trace.json").read_bytes()))
    found.append(("traces", "protobuf", (SHARED_FIXTURES / "otlp2parquet/trace.pb").read_bytes()))
    found += _wrapped_fixtures()
    return tuple(found)


def _wrapped_fixtures() -> list[Seed]:
    """The attribute-map fixtures (OpenInference, GenAI, Vercel) in OTLP envelopes."""
    specs: list[SpanSpec] = []
    for path in sorted((SHARED_FIXTURES / "openinference-genai").glob("*.json")):
        specs.append(SpanSpec("ab" * 16, f"{len(specs) + 1:016x}", path.stem, 1, 2,
                              attributes=json.loads(path.read_text())))  # fmt: skip
    for item in json.loads((SHARED_FIXTURES / "vercel-ai-sdk-v6/all-spans.json").read_text()):
        specs.append(SpanSpec("cd" * 16, f"{len(specs) + 1:016x}", item["name"], 1, 2,
                              attributes=item["attributes"]))  # fmt: skip
    message = request(specs)
    return [
        ("traces", "protobuf", message.SerializeToString()),
        ("traces", "json", otlp_json(message)),
    ]


# --- byte and JSON mutations ----------------------------------------------------------


@st.composite
def mutated_bytes(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` with a few bytes flipped, set, inserted, deleted, duplicated or cut."""
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "copy", "cut"]))
        if action == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0x22, 0x5C, 0x7B, 0x5B]))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif action == "copy":
            size = draw(st.integers(1, 64))
            data[at:at] = data[at : at + size]
        elif action == "cut":
            del data[at:]
    return bytes(data)


# Raw JSON text spliced into a string after serialization: what json.dumps never writes.
_RAW_ESCAPES = [
    r"\ud800", r"\udc00", r"\ud83d", r"\ud83d\ude00", r"\u0000", r"\ud800\u0000",
    r"\\", r"\"", r"\/", r"\uFFFF", r"\uDBFF\uDFFF", "\x7f", "\u2028",
]  # fmt: skip
_SLOT = "\u0001slot\u0001"
# Raw JSON numbers json.dumps cannot write (past int()'s 4,300 digits) or will not.
_NUMBER_SLOT = "\u0001number\u0001"
_RAW_NUMBERS = ["1" * 5000, "1e999999", "-0.0e-0", "123456789012345678901234567890"]

HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        ["", "\x00", "NaN", "Infinity", "-0", "1e400", " 12 ", "١٢٣", "SPAN_KIND_SERVER",
         "STATUS_CODE_ERROR", "ab" * 16, "00" * 16, "cd" * 8, "x" * 5000, "é" * 3000]
    ),
)  # fmt: skip


def _anyvalues(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda v: {"stringValue": v}, inner),
        st.builds(lambda v: {"intValue": v}, inner),
        st.builds(lambda v: {"arrayValue": {"values": v}}, st.lists(inner, max_size=3)),
        st.builds(
            lambda kv: {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in kv]}},
            st.lists(st.tuples(st.text(max_size=8), inner), max_size=3),
        ),
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    )


HOSTILE_JSON = st.recursive(HOSTILE_SCALARS, _anyvalues, max_leaves=12)


_LEAVES_LIKE: dict[type, st.SearchStrategy[Any]] = {
    str: st.one_of(st.text(max_size=40), HOSTILE_SCALARS.filter(lambda v: isinstance(v, str))),
    int: st.one_of(st.integers(-(2**65), 2**65), st.sampled_from([0, 2**63, 2**64 - 1])),
    bool: st.booleans(),
}


def _nodes(document: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) of a JSON tree, without recursion."""
    found: list[tuple[Any, Any]] = []
    stack = [document]
    while stack:
        node = stack.pop()
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(pairs):
            found.append((node, key))
            if isinstance(value, dict | list):
                stack.append(value)
    return found


@st.composite
def mutated_json(draw: st.DrawFn, body: bytes) -> bytes:
    """``body``'s JSON tree with nodes replaced, deleted or deeply nested, serialized
    with or without ASCII escapes, and raw escapes spliced into a string."""
    document = copy.deepcopy(json.loads(body))
    for _ in range(draw(st.integers(1, 4))):
        nodes = _nodes(document)
        if not nodes:
            break
        container, key = draw(st.sampled_from(nodes))
        action = draw(st.sampled_from(["replace", "replace", "delete", "deepen", "slot", "number"]))
        if action == "replace":
            container[key] = draw(HOSTILE_JSON)
        elif action == "delete":
            del container[key]
        elif action == "deepen":
            container[key] = deep_any_value(
                draw(st.integers(MAX_VALUE_DEPTH - 1, MAX_VALUE_DEPTH + 2))
            )
        else:
            container[key] = _SLOT if action == "slot" else _NUMBER_SLOT
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    while _SLOT in text:
        text = text.replace(_SLOT, draw(st.sampled_from(_RAW_ESCAPES)), 1)
    number = json.dumps(_NUMBER_SLOT)
    while number in text:
        text = text.replace(number, draw(st.sampled_from(_RAW_NUMBERS)), 1)
    return text.encode("utf-8", "surrogatepass")


def deep_any_value(depth: int) -> dict[str, Any]:
    """An OTLP/JSON AnyValue nested ``depth`` levels, arrays and kvlists alternating."""
    value: dict[str, Any] = {"stringValue": "leaf"}
    for level in range(depth):
        if level % 2:
            value = {"arrayValue": {"values": [value]}}
        else:
            value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    return value
