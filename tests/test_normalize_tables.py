"""The rule tables themselves: consistent, complete, and the package kept small."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import collector.normalize as package
from collector.normalize import Canonical, index, signals
from collector.normalize.conventions import VOCABULARY
from collector.normalize.index import (
    ACKNOWLEDGED,
    FIELDS,
    KEY_INDEX,
    OTHER_FIELDS,
    SIGNAL_USES,
    KeyInfo,
    _register,
)
from collector.normalize.kind import KIND_RULES, ByPresence
from collector.normalize.sources import Attr, Derived
from store.vocabulary import SpanKind
from tests.test_normalize_support import run

PACKAGE_DIR = Path(package.__file__).parent


def test_public_api() -> None:
    assert package.__all__ == ["Canonical", "Message", "normalize"]


def test_every_module_stays_small() -> None:
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        lines = len(path.read_text().splitlines())
        assert lines < 350, f"{path.name} has {lines} lines: split it by concept"


def test_every_table_field_is_a_canonical_field() -> None:
    names = {field.name for field in dataclasses.fields(Canonical)}
    for field in (*FIELDS, *OTHER_FIELDS):
        assert field.name in names, field.name


def test_every_convention_is_in_the_vocabulary() -> None:
    used = {info.convention for info in KEY_INDEX.values()} - {None}
    used |= {convention for _, convention, _ in ACKNOWLEDGED} - {None}
    assert used <= VOCABULARY
    assert used == VOCABULARY  # and every name in the vocabulary is read by some rule


def test_registering_an_unknown_convention_fails_at_import() -> None:
    index: dict[str, KeyInfo] = {}
    with pytest.raises(ValueError, match="unknown convention"):
        _register(index, "x.key", "not_a_convention", None)


def test_one_key_cannot_belong_to_two_conventions() -> None:
    index: dict[str, KeyInfo] = {}
    _register(index, "x.key", "langfuse", None)
    with pytest.raises(ValueError, match="declared as"):
        _register(index, "x.key", "openinference", None)


def test_a_derived_row_must_say_what_wakes_it() -> None:
    with pytest.raises(ValueError, match="neither keys nor signals"):
        Derived("orphan", lambda ctx: None)


def test_kind_presence_rules_only_read_known_keys() -> None:
    for rule in KIND_RULES:
        if isinstance(rule, ByPresence):
            assert all(key in KEY_INDEX for key in rule.keys), rule


def test_every_awaited_signal_can_be_raised() -> None:
    raised = {
        signals.ROOT,
        signals.STATUS_MESSAGE,
        signals.INPUT_MESSAGES,
        signals.OUTPUT_MESSAGES,
        signals.FINISH_REASONS,
        signals.EXCEPTION_EVENT,
        signals.MESSAGE_EVENTS,
        signals.CHOICE_EVENTS,
        signals.PROMPT_EVENT,
        signals.COMPLETION_EVENT,
        signals.EVALUATION_EVENT,
        *(signals.family(name) for name, _ in index.FAMILIES),
    }
    for signal in SIGNAL_USES:
        assert signal in raised or signals.prefix_of_name_signal(signal), signal


def test_rows_for_a_kind_name_real_kinds() -> None:
    for field in (*FIELDS, *OTHER_FIELDS):
        for source in field.sources:
            assert source.kinds is None or source.kinds <= set(SpanKind), field.name


def test_an_attribute_row_reads_one_key() -> None:
    assert Attr("a.b", None).keys == ("a.b",)


@pytest.mark.parametrize(
    ("key", "known"),
    [
        ("error.type", True),
        ("exception.stacktrace", True),
        ("http.request.method", True),
        ("server.address", True),
        ("url.full", True),
        ("service.name", True),
        ("telemetry.sdk.name", True),
        ("code.function", True),
        ("thread.id", True),
        ("gen_ai.aggregated_usage.input_tokens", True),
        ("input.mime_type", True),
        ("logfire.msg", True),
        ("my.confidence", True),
        ("gen_ai.request.temperature", False),
        ("httpx.custom", False),
        ("servers", False),
    ],
)
def test_generic_and_acknowledged_keys(key: str, known: bool) -> None:
    assert (key not in run({key: "v"}).unmapped) is known


def test_unmapped_lists_only_span_keys_sorted() -> None:
    result = run(
        {"zeta": 1, "alpha": 2, "gen_ai.request.model": "m", "llm.tools.0.tool.json_schema": "{}"},
        resource={"k8s.namespace.name": "prod"},
        scope={"scope.only": True},
    )
    assert result.unmapped == ["alpha", "llm.tools.0.tool.json_schema", "zeta"]


def test_conventions_are_sorted_and_detected_from_keys_and_families() -> None:
    result = run(
        {
            "langfuse.trace.name": "t",
            "ai.telemetry.functionId": "f",
            "llm.output_messages.0.message.role": "assistant",
            "gcp.vertex.agent.llm_request": "{}",
            "mlflow.spanOutputs": "x",
            "gen_ai.usage.input_tokens.cached": 3,
            "guard.score": 0.5,
            "logfire.msg_template": "x",
            "final_result": "done",
            "traceloop.workflow.name": "w",
        }
    )
    assert result.conventions == [
        "google_adk",
        "langfuse",
        "logfire",
        "mlflow",
        "openinference",
        "openlit",
        "openllmetry",
        "pydantic_ai",
        "sentry",
        "vercel_ai",
    ]


def test_resource_keys_do_not_count_as_conventions() -> None:
    result = run({}, resource={"openinference.project.name": "p", "session.id": "s"})
    assert result.conventions == []
