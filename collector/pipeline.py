"""Body bytes -> rows grouped by project: decompress, decode, validate, normalize.

One function per OTLP signal (traces, logs); both end in a batch for the writer, with
the evaluation results the agent sent in them (``collector/agent_scores.py``) beside the
rows, so they are committed together.

Pure and synchronous, so it runs in the decode worker processes: the CPU-heavy part of
ingest then uses the second core while the server process parses HTTP and writes.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from collector.agent_scores import EVALUATION_EVENT, log_scores, may_carry_scores, span_scores
from collector.body import Encoding, Signal, decompress
from collector.costing import cost_values, span_cost
from collector.decode_json import decode_json
from collector.decode_logs import decode_logs_json, decode_logs_protobuf
from collector.decode_proto import decode_protobuf
from collector.decoded import Decoded
from collector.limit_items import limit_logs, limit_spans
from collector.limits import Limits
from collector.log_records import DecodedLogs, RawLogRecord
from collector.log_rows import log_row, record_hash
from collector.normalize import normalize
from collector.normalize.canonical import Canonical
from collector.redact import Pattern, Redactor
from collector.redaction import Scrub, redactor_for
from collector.rows import span_row
from collector.spans import RawSpan, Resource, Scope
from store.batch import (
    NO_COST,
    AgentScore,
    LogBatch,
    LogRow,
    ScoreGroups,
    SpanBatch,
    SpanRow,
    make_batch,
)
from store.models import DEFAULT_PROJECT
from store.pricing.book import REGISTRY_ONLY, PriceBook
from store.pricing.prices import Price
from store.projects import project_name_problem
from store.rollup_rows import trace_rows
from store.types import to_json
from store.vocabulary import USAGE_KINDS

log = logging.getLogger(__name__)

PROJECT_ATTRIBUTE = "reasonlens.project"


@dataclass(slots=True)
class Prepared:
    batch: SpanBatch | LogBatch = field(default_factory=SpanBatch)
    rejected: int = 0
    error_message: str = ""


def prepare(
    signal: Signal,
    body: bytes,
    encoding: Encoding,
    content_encoding: str | None,
    project: str | None,
    limits: Limits,
    sqlite: bool,
    prices: PriceBook = REGISTRY_ONLY,
    redaction: tuple[Pattern, ...] = (),
) -> Prepared:
    """What the decode workers run, for every signal. ``project`` is the validated
    ``x-reasonlens-project`` header, if any; ``limits``: what one request may carry
    (``collector/limits.py``); ``sqlite`` packs span rows for a SQLite writer (see
    ``store/batch.py``); ``redaction``: the patterns masked before anything is stored
    (``collector/redact.py``), none by default."""
    raw = decompress(body, content_encoding, limits.max_body_bytes)
    protobuf = encoding is Encoding.PROTOBUF
    redactor = redactor_for(redaction)
    if signal is Signal.LOGS:
        logs = decode_logs_protobuf(raw, limits) if protobuf else decode_logs_json(raw, limits)
        limit_logs(logs, limits)
        return to_log_rows(logs, project, redactor)
    spans = decode_protobuf(raw, limits) if protobuf else decode_json(raw, limits)
    limit_spans(spans, limits)
    return to_rows(spans, project, sqlite=sqlite, book=prices, redactor=redactor)


def to_rows(
    decoded: Decoded,
    project: str | None,
    *,
    sqlite: bool,
    book: PriceBook = REGISTRY_ONLY,
    redactor: Redactor | None = None,
) -> Prepared:
    by_project: dict[str, list[SpanRow]] = defaultdict(list)
    scores: dict[str, list[AgentScore]] = defaultdict(list)
    prices: dict[str, Price] = {}  # the prices that priced these spans, by key
    # A request's spans come grouped by resource and scope (one object per ResourceSpans
    # and ScopeSpans): what depends on those alone (owner project, serialized
    # attributes) is worked out when they change; nothing is serialized for a rejected
    # span.
    resource: Resource | None = None
    scope: Scope | None = None
    owner: str | None = None
    resource_json: str | None = None
    scope_json = ""
    scrub = None if redactor is None else Scrub(redactor)
    for span in decoded.spans:
        if span.resource is not resource:
            resource = span.resource
            owner = project or _resource_project(resource)
            resource_json = None
        if owner is None:
            decoded.reject(
                f"resource attribute {PROJECT_ATTRIBUTE}: "
                + str(project_name_problem(span.resource.attributes.get(PROJECT_ATTRIBUTE)))
            )
            continue
        if scrub is not None:  # before anything reads the span
            span = scrub.span(span)
        canonical = _normalize(span)
        # Only a model call, or a span that reports a cost, has one: half the spans.
        cost = NO_COST
        if canonical.kind in USAGE_KINDS or canonical.cost_usd is not None:
            cost = cost_values(
                canonical, span_cost(canonical, span.start_time_ns, prices, book, owner)
            )
        if resource_json is None:
            resource_json = to_json(span.resource.attributes)
        if span.scope is not scope:
            scope = span.scope
            scope_json = to_json(scope.attributes)
        by_project[owner].append(span_row(span, canonical, resource_json, scope_json, cost))
        if may_carry_scores(span, canonical.kind):
            scores[owner] += _scores(span_scores, span, canonical.kind)
    groups = list(by_project.items())
    batch = make_batch(
        groups,
        sqlite=sqlite,
        scores=_groups(scores),
        prices={key: price.as_json() for key, price in prices.items()},
        # The SQLite writer stores these for traces that came whole (store/batch_copy.py).
        traces=[(name, trace_rows(rows)) for name, rows in groups] if sqlite else (),
    )
    return Prepared(batch, decoded.rejected, decoded.error_message())


def to_log_rows(
    decoded: DecodedLogs, project: str | None, redactor: Redactor | None = None
) -> Prepared:
    by_project: dict[str, list[LogRow]] = defaultdict(list)
    scores: dict[str, list[AgentScore]] = defaultdict(list)
    resource: Resource | None = None
    scope: Scope | None = None
    owner: str | None = None
    resource_json: str | None = None
    scope_json = ""
    seen: Counter[str] = Counter()
    scrub = None if redactor is None else Scrub(redactor)
    for record in decoded.records:
        if record.resource is not resource:
            resource = record.resource
            owner = project or _resource_project(resource)
            resource_json = None
        if owner is None:
            decoded.reject(
                f"resource attribute {PROJECT_ATTRIBUTE}: "
                + str(project_name_problem(resource.attributes.get(PROJECT_ATTRIBUTE)))
            )
            continue
        if scrub is not None:  # before anything reads the record
            record = scrub.record(record)
        if resource_json is None:
            resource_json = to_json(record.resource.attributes)
        if record.scope is not scope:
            scope = record.scope
            scope_json = to_json(scope.attributes)
        # The digest of what is stored: with redaction on, of the masked record.
        digest = record_hash(record)
        occurrence = seen[digest]
        seen[digest] += 1
        if occurrence:  # the same record again within this request: kept, told apart
            digest = record_hash(record, occurrence)
        by_project[owner].append(log_row(record, digest, resource_json, scope_json))
        if record.event_name == EVALUATION_EVENT:
            scores[owner] += _scores(log_scores, record)
    batch = LogBatch(list(by_project.items()), _groups(scores))
    return Prepared(batch, decoded.rejected, decoded.error_message())


def _scores(
    find: Callable[..., list[AgentScore]], item: RawSpan | RawLogRecord, *args: object
) -> list[AgentScore]:
    """The item's evaluation results; none if reading them fails. A malformed evaluation
    must never cost the spans or logs it came with (they keep it raw)."""
    try:
        return find(item, *args)
    except Exception:
        log.exception("evaluation results of %s/%s not read", item.trace_id, item.span_id)
        return []


def _groups(scores: dict[str, list[AgentScore]]) -> ScoreGroups:
    return [(project, found) for project, found in scores.items() if found]


def _resource_project(resource: Resource) -> str | None:
    name = resource.attributes.get(PROJECT_ATTRIBUTE)
    if name is None:
        return DEFAULT_PROJECT
    return None if project_name_problem(name) else str(name)


def _normalize(span: RawSpan) -> Canonical:
    try:
        return normalize(span)
    except Exception:
        # The normalizer tolerates any value by design; if a bug slips through, the span
        # is still stored raw, every attribute reported as not interpreted.
        log.exception("normalizer failed on span %s/%s", span.trace_id, span.span_id)
        return Canonical(unmapped=sorted(span.attributes))
