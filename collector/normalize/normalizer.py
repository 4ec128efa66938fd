"""``normalize``: one raw span in, one canonical record out.

The order matters and follows SEMCONV 6.0: one pass over the attributes (span, then
scope, then resource), then the kind (some keys mean different things per kind, 6.0.5),
then messages (the display text falls back on them), then every table-driven field,
then status. The function is pure and synchronous and runs on the ingest hot path:
the pass over the attributes records which table rows the span's keys and signals
wake (:mod:`.scan`, :mod:`.signals`), and only those rows are tried.
"""

from __future__ import annotations

from collector.normalize import signals
from collector.normalize.canonical import Canonical, Message
from collector.normalize.confidence import apply_custom_confidence
from collector.normalize.content import INPUT_MESSAGES, OUTPUT_MESSAGES
from collector.normalize.context import Context
from collector.normalize.events import summarize
from collector.normalize.index import FIELDS
from collector.normalize.kind import derive_kind
from collector.normalize.scan import raise_signal, rows_to_try, scan_attributes
from collector.normalize.sources import SIZED, Attr, Field, Source, resolve
from collector.normalize.status import ERROR_FIELDS, derive_status
from collector.normalize.text import SYSTEM_INSTRUCTIONS_KEY, reasoning_text
from collector.normalize.usage import total_fallback
from collector.spans import RawSpan
from store.vocabulary import Status

_FIELDS_BY_NAME: dict[str, Field] = {field.name: field for field in FIELDS}
# Per field, each row that is a plain attribute (no kind condition), else None: the rows
# the fast path in normalize() may read directly.
_PLAIN_ROWS: dict[str, tuple[Attr | None, ...]] = {
    field.name: tuple(
        src if type(src) is Attr and src.kinds is None else None for src in field.sources
    )
    for field in FIELDS
}


def normalize(span: RawSpan) -> Canonical:
    """Map ``span`` onto the canonical fields, whatever convention(s) it was written in.

    Never raises on attribute values: a value of the wrong type, an undecodable JSON
    string or an absurd nesting is skipped (the next candidate is tried) or rendered as
    text. The raw attributes are stored beside this record, so nothing is lost here.
    """
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
    by_name = _FIELDS_BY_NAME
    for name, rows in hits.items():
        if len(rows) == 1:
            # The common case, one plain attribute row woken: read it without the loop.
            plain = _PLAIN_ROWS.get(name)
            src = plain[rows[0]] if plain is not None else None
            if src is not None:
                value = src.read(found[src.key])
                if value is not None and (type(value) not in SIZED or value):
                    setattr(out, name, value)
                    sources[name] = src
                continue
        else:
            rows.sort()
        field = by_name.get(name)
        if field is None:
            continue  # messages (done above) and errors (only for failed spans, below)
        value, src_used = resolve(field, ctx, rows)
        if src_used is not None:
            setattr(out, name, value)
            sources[name] = src_used

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
    elif scan.custom_confidence:
        apply_custom_confidence(out, scan.custom_confidence, span.attributes)

    out.status = derive_status(ctx)
    if out.status is Status.ERROR:
        for field in ERROR_FIELDS:
            error_rows = rows_to_try(hits, field)
            value = resolve(field, ctx, error_rows)[0] if error_rows else None
            if value is not None:
                setattr(out, field.name, value)

    out.conventions = sorted(scan.conventions | events.conventions)
    out.unmapped = sorted(scan.unmapped)
    return out


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
