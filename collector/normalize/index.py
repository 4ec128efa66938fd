"""Which attribute keys the rules know, and which rows each one wakes: built once at
import from every table, so the per-span pass (:mod:`.scan`) is dict lookups only.

A key is *known* when some rule reads its value: a field source, a kind rule, an
indexed family (``llm.input_messages.<i>...``), a key deliberately acknowledged below,
or a generic OTel key. Everything else on the span is reported in
``Canonical.unmapped``: the raw attributes are stored regardless, so the report shows
what no column holds yet, it never decides what is kept.

The tables are checked while they are indexed: an unknown convention name, a key
claimed by two conventions or a row waiting for an undeclared family fails the import.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.normalize import confidence, content, outcome, rules, signals, status, text, usage
from collector.normalize.conventions import (
    LOGFIRE,
    OPENINFERENCE,
    OPENLLMETRY,
    PYDANTIC_AI,
    VOCABULARY,
)
from collector.normalize.kind import KIND_RULES, ByPresence, ByValue
from collector.normalize.sources import Derived, Field

# Every field the normalizer fills from the tables, for whichever rows a span wakes.
FIELDS: tuple[Field, ...] = (
    *rules.IDENTITY_FIELDS,
    confidence.CONFIDENCE,
    outcome.OUTCOME,
    *usage.USAGE_FIELDS,
    text.SYSTEM_INSTRUCTIONS,
    text.INPUT_TEXT,
    text.OUTPUT_TEXT,
)
# Tables whose keys count as known but that the normalizer resolves on its own.
OTHER_FIELDS: tuple[Field, ...] = (
    content.INPUT_MESSAGES,
    content.OUTPUT_MESSAGES,
    *status.ERROR_FIELDS,
)

# Flattened lists: ``<name>.<int>.<path>`` (SEMCONV 6.0.3). ``gen_ai.prompt.name`` is
# not one of them: the segment after the name must be an index (pitfall in 6.3).
FAMILIES: tuple[tuple[str, str], ...] = (
    ("llm.input_messages", OPENINFERENCE),
    ("llm.output_messages", OPENINFERENCE),
    ("gen_ai.prompt", OPENLLMETRY),
    ("gen_ai.completion", OPENLLMETRY),
    ("llm.prompts", OPENINFERENCE),
    ("llm.choices", OPENINFERENCE),
    ("evaluations", OPENINFERENCE),
)

# Read on purpose and dropped on purpose, each with its reason.
ACKNOWLEDGED: tuple[tuple[str, str | None, str], ...] = (
    (
        "gen_ai.aggregated_usage.",
        PYDANTIC_AI,
        "a whole run's usage on the agent span; reading it would count the model spans twice",
    ),
    ("input.mime_type", OPENINFERENCE, "the encoding of input.value, which is kept as sent"),
    ("output.mime_type", OPENINFERENCE, "the encoding of output.value, which is kept as sent"),
    ("logfire.msg", LOGFIRE, "Logfire's rendered title; its data is mapped from its own keys"),
    ("logfire.msg_template", LOGFIRE, "Logfire's title template"),
    ("logfire.span_type", LOGFIRE, "Logfire's span/log marker, not a span kind"),
    ("logfire.json_schema", LOGFIRE, "Logfire's schema of the other attributes"),
)

# Generic OTel keys: not agent data, and well known enough that listing them as
# unmapped would bury the keys that matter. Exact keys, then prefixes.
GENERIC_KEYS: frozenset[str] = frozenset({"error.type"})
GENERIC_PREFIXES: tuple[str, ...] = (
    "exception.",
    "http.",
    "server.",
    "client.",
    "url.",
    "network.",
    "service.",
    "telemetry.",
    "code.",
    "thread.",
    "otel.",
)

Use = tuple[str, int]  # (field name, position of the row in the field's sources)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What the rules do with one exact key: its convention and the rows reading it."""

    convention: str | None
    uses: tuple[Use, ...]


def _register(index: dict[str, KeyInfo], key: str, convention: str | None, use: Use | None) -> None:
    if convention is not None and convention not in VOCABULARY:
        raise ValueError(f"rule for {key!r} names unknown convention {convention!r}")
    info = index.get(key)
    if info is None:
        index[key] = KeyInfo(convention, (use,) if use else ())
        return
    if info.convention != convention:
        raise ValueError(f"{key!r} is declared as {info.convention!r} and {convention!r}")
    if use and use not in info.uses:
        index[key] = KeyInfo(convention, (*info.uses, use))


def _build_index() -> dict[str, KeyInfo]:
    index: dict[str, KeyInfo] = {}
    for field in (*FIELDS, *OTHER_FIELDS):
        for position, source in enumerate(field.sources):
            for key in source.keys:
                _register(index, key, source.convention, (field.name, position))
    for attr in status.STATUS_KEYS:
        _register(index, attr.key, attr.convention, None)
    for rule in KIND_RULES:
        if type(rule) is ByValue:
            _register(index, rule.key, rule.convention, None)
        elif type(rule) is ByPresence:
            missing = [key for key in rule.keys if key not in index]
            if missing:
                raise ValueError(f"kind rule reads keys no field declares: {missing}")
    for key, convention, _reason in ACKNOWLEDGED:
        if not key.endswith("."):
            _register(index, key, convention, None)
    for key in GENERIC_KEYS:
        if key not in index:
            _register(index, key, None, None)
    return index


def _signal_uses() -> dict[str, tuple[Use, ...]]:
    uses: dict[str, list[Use]] = {}
    for field in (*FIELDS, *OTHER_FIELDS):
        for position, source in enumerate(field.sources):
            for signal in source.signals if type(source) is Derived else ():
                uses.setdefault(signal, []).append((field.name, position))
    families = {signals.family(name) for name, _ in FAMILIES}
    for signal in uses:
        if signal.startswith(signals.family("")) and signal not in families:
            raise ValueError(f"a row waits for undeclared family signal {signal!r}")
    return {signal: tuple(rows) for signal, rows in uses.items()}


KEY_INDEX: dict[str, KeyInfo] = _build_index()
SIGNAL_USES: dict[str, tuple[Use, ...]] = _signal_uses()
FAMILY_PREFIXES: tuple[str, ...] = tuple(f"{name}." for name, _ in FAMILIES)
FAMILY_SIGNALS: dict[str, str] = {name: signals.family(name) for name, _ in FAMILIES}
PREFIX_CONVENTIONS: tuple[tuple[str, str | None], ...] = (
    *((key, convention) for key, convention, _ in ACKNOWLEDGED if key.endswith(".")),
    *((prefix, None) for prefix in GENERIC_PREFIXES),
)
KNOWN_PREFIXES: tuple[str, ...] = tuple(prefix for prefix, _ in PREFIX_CONVENTIONS)
# Span-name prefixes some row waits for, with the signal each one raises.
NAME_SIGNALS: tuple[tuple[str, str], ...] = tuple(
    (prefix, signal)
    for signal in SIGNAL_USES
    if (prefix := signals.prefix_of_name_signal(signal)) is not None
)
NAME_PREFIXES: tuple[str, ...] = tuple(prefix for prefix, _ in NAME_SIGNALS)
