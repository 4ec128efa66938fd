"""``normalize``: one raw span in, one canonical record out.

The order matters and follows SEMCONV 6.0: one pass over the attributes (span, then
scope, then resource), then the kind (some keys mean different things per kind, 6.0.5),
then messages (the display text falls back on them), then every table-driven field,
then status. The function is pure and synchronous and runs on the ingest hot path:
the pass over the attributes records which table rows the span's keys and signals
wake (:mod:`.scan`, :mod:`.signals`), and only those rows are tried. What depends on
the keys alone is computed once per key set and cached (:mod:`.plan`); the general
scan remains for hand-built spans the plan does not cover, and
``tests/test_normalize_plan.py`` holds the two paths equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from collector.normalize import signals
from collector.normalize.canonical import Canonical, Message
from collector.normalize.confidence import apply_custom_confidence
from collector.normalize.content import INPUT_MESSAGES, OUTPUT_MESSAGES
from collector.normalize.context import Context
from collector.normalize.events import EMPTY, summarize
from collector.normalize.kind import derive_kind
from collector.normalize.plan import FIELDS_BY_NAME, PLAIN_ROWS, Plan, plan_for
from collector.normalize.scan import raise_signal, rows_to_try, scan_attributes, span_signals
from collector.normalize.sources import SIZED, Field, Source, resolve
from collector.normalize.status import ERROR_FIELDS, derive_status
from collector.normalize.text import SYSTEM_INSTRUCTIONS_KEY, reasoning_text
from collector.normalize.usage import total_fallback
from collector.spans import RawSpan
from store.vocabulary import Status


def normalize(span: RawSpan) -> Canonical:
    """Map ``span`` onto the canonical fields, whatever convention(s) it was written in.

    Never raises on attribute values: a value of the wrong type, an undecodable JSON
    string or an absurd nesting is skipped (the next candidate is tried) or rendered as
    text. The raw attributes are stored beside this record, so nothing is lost here.
    """
    plan = plan_for(span)
    if plan is None:
        return _normalize_scanned(span)
    return _normalize_planned(span, plan)


def _normalize_planned(span: RawSpan, plan: Plan) -> Canonical:
    """The hot path: what the keys decide comes from the span's cached :class:`Plan`.

    Does what :func:`_normalize_scanned` does, in the same order, with the signals
    raised collected in a tuple that selects the plan's woken rows.
    """
    events = summarize(span.events)
    raised = span_signals(span)
    if events is not EMPTY:
        raised += tuple(events.signals())
    ctx = Context(span, plan.found(span), plan.families, events)
    ctx.kind = plan.derive_kind(ctx)
    rows = plan.hits(raised).get(INPUT_MESSAGES.name)
    ctx.input_messages = resolve(INPUT_MESSAGES, ctx, rows)[0] if rows else None
    if ctx.input_messages:
        raised += (signals.INPUT_MESSAGES,)
    rows = plan.hits(raised).get(OUTPUT_MESSAGES.name)
    ctx.output_messages = resolve(OUTPUT_MESSAGES, ctx, rows)[0] if rows else None
    if ctx.output_messages:
        raised += (signals.OUTPUT_MESSAGES,)
    if ctx.finish_reasons:
        raised += (signals.FINISH_REASONS,)

    out = Canonical(ctx.kind)  # kind is the first field; by keyword costs 0.3 µs more
    sources: dict[str, Source] = {}
    found = ctx.found
    for name, plain, field, rows in plan.steps(raised):
        if plain is not None:
            value = plain.read(found[plain.key])
            if value is not None and (type(value) not in SIZED or value):
                setattr(out, name, value)
                sources[name] = plain
            continue
        value, src_used = resolve(field, ctx, rows)
        if src_used is not None:
            setattr(out, name, value)
            sources[name] = src_used

    conventions = plan.sorted_conventions
    if events.conventions:
        conventions = sorted(plan.conventions | events.conventions)
    _finish(out, ctx, sources, plan.hits(raised), plan.custom_confidence)
    out.conventions = list(conventions)
    out.unmapped = list(plan.unmapped)
    return out


def _normalize_scanned(span: RawSpan) -> Canonical:
    """The general path, for spans :func:`.plan.plan_for` does not cover."""
    scan = scan_attributes(span)
    hits = scan.hits
    events = summarize(span.events)
    for signal in events.signals():
        raise_signal(hits, signal)
    ctx = Context(span, scan.found, scan.families, events)
    ctx.kind = derive_kind(ctx)
    ctx.input_messages = _messages(INPUT_MESSAGES, ctx, hits, signals.INPUT_MESSAGES)
    ctx.output_messages = _messages(OUTPUT_MESSAGES, ctx, hits, signals.OUTPUT_MESSAGES)
    if ctx.finish_reasons:
        raise_signal(hits, signals.FINISH_REASONS)

    out = Canonical(kind=ctx.kind)
    sources: dict[str, Source] = {}
    found = ctx.found
    for name, rows in hits.items():
        if len(rows) == 1:
            # The common case, one plain attribute row woken: read it without the loop.
            plain = PLAIN_ROWS.get(name)
            src = plain[rows[0]] if plain is not None else None
            if src is not None:
                value = src.read(found[src.key])
                if value is not None and (type(value) not in SIZED or value):
                    setattr(out, name, value)
                    sources[name] = src
                continue
        else:
            rows.sort()
        field = FIELDS_BY_NAME.get(name)
        if field is None:
            continue  # messages (done above) and errors (only for failed spans, below)
        value, src_used = resolve(field, ctx, rows)
        if src_used is not None:
            setattr(out, name, value)
            sources[name] = src_used

    _finish(out, ctx, sources, hits, scan.custom_confidence)
    out.conventions = sorted(scan.conventions | events.conventions)
    out.unmapped = sorted(scan.unmapped)
    return out


def _finish(
    out: Canonical,
    ctx: Context,
    sources: dict[str, Source],
    hits: Mapping[str, Sequence[int]],
    custom_confidence: list[str],
) -> None:
    """What follows the table fields: messages, fallbacks, status and errors."""
    out.input_messages = _with_instructions(
        ctx.input_messages, out.system_instructions, sources.get("system_instructions")
    )
    out.output_messages = ctx.output_messages
    if ctx.output_messages:
        out.reasoning_text = reasoning_text(ctx.output_messages)
    if out.total_tokens is None:
        out.total_tokens = total_fallback(out.input_tokens, out.output_tokens)
    if out.confidence is not None:
        out.confidence_source = sources["confidence"].label
    elif custom_confidence:
        apply_custom_confidence(out, custom_confidence, ctx.span.attributes)

    out.status = derive_status(ctx)
    if out.status is Status.ERROR:
        for field in ERROR_FIELDS:
            error_rows = hits.get(field.name)
            value = resolve(field, ctx, sorted(error_rows))[0] if error_rows else None
            if value is not None:
                setattr(out, field.name, value)


def _messages(
    field: Field, ctx: Context, hits: dict[str, list[int]], signal: str
) -> list[Message] | None:
    """Resolve a message field and, when it found messages, wake the rows reading them."""
    rows = rows_to_try(hits, field)
    if not rows:
        return None
    messages: list[Message] | None = resolve(field, ctx, rows)[0]
    if messages:
        raise_signal(hits, signal)
    return messages


def _with_instructions(
    messages: list[Message] | None, instructions: str | None, source: Source | None
) -> list[Message] | None:
    """Prepend ``gen_ai.system_instructions`` as a system message (SEMCONV 6.2).

    Only when the instructions came from that attribute (not from the messages
    themselves) and the messages carry no system message already.
    """
    if instructions is None or source is None or source.label != SYSTEM_INSTRUCTIONS_KEY:
        return messages
    if messages and any(message.get("role") == "system" for message in messages):
        return messages
    return [{"role": "system", "content": instructions}, *(messages or ())]
