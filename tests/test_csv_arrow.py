"""The long exports' two paths give the same bytes: on SQLite, ranges read as Arrow
batches and written a column at a time (``web/exports/arrow_ranges.py``) by the export
worker process (``web/exports/export_worker.py``, run here as the server runs it); on
PostgreSQL (and for a text search on SQLite), the line writers of ``trace_rows`` and
``span_rows``. Hostile rows: formula-like text, quotes, line breaks, Unicode, nulls
and empty strings, floats on both sides of where Python and Arrow lay digits out
differently, and columns null in every row of the first record batch."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest
import sqlalchemy as sa

from collector.costing import cost_values, span_cost
from collector.normalize.canonical import Canonical
from collector.rows import span_row
from collector.spans import RawSpan, Resource, Scope
from store.batch import SpanRow, make_batch
from store.exports import SpanFilter, TraceRange, sqlite_portable, trace_range_query
from store.queries import SortKey, TraceFilter
from store.vocabulary import SpanKind, Status
from store.write import write_spans
from tests.csv_files import FORMULA_STARTS
from web.exports import csv_arrow, csv_writer, spans, trace_rows, traces
from web.exports.export_process import Job, SpansJob, TracesJob
from web.exports.export_worker import ExportWorker
from web.filters import TraceSelection

BATCH_ROWS = 2048  # store.BATCH_ROWS, not imported: ADBC stays out of here

T0 = 1_770_000_000_000_000_000
TEXTS = [
    *(start + "cmd|' /C calc'!A0" for start in FORMULA_STARTS),
    '=HYPERLINK("http://evil.example","click")', 'He said "hi"', '"', '""', "",
    "line one\nline two\r\nline three", "a,b;c\td", "Grüße 👋 日本語 — ünïcödé",
    "'already quoted", "-", "x" * 3000,
]  # fmt: skip
FLOATS = [
    0.0, 2.0, 1.5e-05, 1e-4, 9.999999999999999e-05, 1e-07, 3.3e-10, 0.1 + 0.2, 1 / 3,
    12345.678, 9999999999.5, 1e10, 12345678901.5, 1e15, 1e16, 2.5e20, 1e-300,
]  # fmt: skip
# Durations (ns) around 100 ns, where Python's repr of the milliseconds turns to an
# exponent, and long enough to pass 1e10 ms.
DURATIONS = [0, 1, 50, 99, 100, 123, 1_000_000, 2_000_000, 1_234_567, 10**16 + 7]
SPANS = 2 * BATCH_ROWS + 300
PROJECTS = ["p-one", '=p"two', "p,three"]


def hostile_rows(rng: random.Random) -> list[tuple[str, list[SpanRow]]]:
    """Traces of a few spans in three projects. The first record batch's spans leave
    the tool, prompt and confidence columns null (the driver would guess them integer
    columns); later ones fill every column."""
    groups: dict[str, list[SpanRow]] = {}
    for n in range(SPANS):
        late = n > BATCH_ROWS + 10

        def text(nulls: float = 0.3, late: bool = late) -> str | None:
            if not late:
                return None
            return None if rng.random() < nulls else rng.choice(TEXTS)

        trace = n // 4
        start = T0 + trace * 1_000_000_000 + rng.randrange(10**9)
        duration = rng.choice(DURATIONS)
        kind = rng.choice([SpanKind.AGENT, SpanKind.LLM, SpanKind.TOOL])
        resource = Resource({"service.name": rng.choice(TEXTS)} if rng.random() < 0.7 else {})
        raw = RawSpan(
            f"{trace + 1:032x}", f"{n % 4 + 1:016x}", None if n % 4 == 0 else f"{1:016x}",
            rng.choice(TEXTS), 1, start, start + duration, {}, resource, Scope(),
            status_code=rng.choice([0, 1, 2]), status_message=rng.choice(TEXTS),
        )  # fmt: skip
        canonical = Canonical(
            kind=kind,
            model=rng.choice(TEXTS) if kind is SpanKind.LLM else None,
            provider=text(),
            input_tokens=rng.randrange(10**6) if kind is SpanKind.LLM else None,
            output_tokens=rng.randrange(10**6) if kind is SpanKind.LLM else None,
            cost_usd=rng.choice(FLOATS) if rng.random() < 0.8 else None,
            input_text=text(0.2), output_text=text(0.2),
            tool_name=text(), tool_arguments=text(), tool_result=text(),
            agent_name=rng.choice(TEXTS), agent_version=text(), session_id=rng.choice(TEXTS),
            user_id=text(), environment=text(), prompt_name=text(), prompt_version=text(),
            confidence=rng.choice(FLOATS) if late and rng.random() < 0.5 else None,
            status=rng.choice([Status.OK, Status.ERROR]),
            error_type=text(), error_message=text(),
            outcome=rng.choice([None, "success", "failure"]),
        )  # fmt: skip
        cost = cost_values(canonical, span_cost(canonical, start, {}))
        row = span_row(raw, canonical, "{}", "{}", cost)
        # Projects in stretches of spans, so that row ids follow ``n``.
        groups.setdefault(PROJECTS[n * len(PROJECTS) // SPANS], []).append(row)
    return list(groups.items())


@pytest.fixture
def hostile(engine: sa.Engine) -> Iterator[sa.Engine]:
    with engine.begin() as connection:
        sqlite = engine.dialect.name == "sqlite"
        write_spans(connection, [make_batch(hostile_rows(random.Random(8)), sqlite=sqlite)])
    yield engine


def trace_selection(sort: SortKey = SortKey.START_TIME, descending: bool = True) -> TraceSelection:
    return TraceSelection(TraceFilter(), sort, descending)


@pytest.fixture
def worker(hostile: sa.Engine) -> Iterator[ExportWorker]:
    if hostile.dialect.name != "sqlite":
        pytest.skip("the export worker reads SQLite only")
    assert hostile.url.database is not None
    worker = ExportWorker(hostile.url.database)
    yield worker
    worker.stop()


def through_worker(worker: ExportWorker, job: Job) -> bytes:
    def unused() -> Iterator[bytes]:
        raise AssertionError("the worker wrote it")

    async def collect() -> bytes:
        body: AsyncIterator[bytes] = worker.stream(b"", job, unused)
        return b"".join([chunk async for chunk in body])

    # A thread of its own: an earlier test's Playwright (session-wide) keeps an event
    # loop running in this one, where anyio.run refuses to start another.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(anyio.run, collect).result()


def test_the_worker_writes_the_line_writers_bytes(hostile: sa.Engine, worker: ExportWorker) -> None:
    for sort, descending in [(SortKey.START_TIME, True), (SortKey.COST, False)]:
        fast = through_worker(worker, TracesJob(TraceFilter(), sort, descending))
        lines = traces.trace_line_chunks(hostile, TraceFilter(), sort, descending)
        assert fast == b"".join(lines)
    written = through_worker(worker, SpansJob(SpanFilter()))
    assert written == b"".join(spans.span_line_chunks(hostile, SpanFilter()))
    assert written.count(b"\r\n") > SPANS  # every span, and line breaks inside cells


def test_a_text_search_keeps_the_line_writer() -> None:
    """SQLite folds non-ASCII case through the server's own Python function, which an
    ADBC connection does not have."""

    def portable(f: TraceFilter) -> bool:
        whole = TraceRange(None, None)
        return sqlite_portable(trace_range_query(f, trace_rows.SELECTED, whole))

    assert not portable(TraceFilter(text="ÜNÏ"))
    assert not portable(TraceFilter(text="unï"))
    assert portable(TraceFilter(text="calc"))


@pytest.mark.parametrize("value", FLOATS + [-v for v in FLOATS] + [float("inf"), -0.0])
def test_float_cells_are_pythons(value: float) -> None:
    import pyarrow as pa

    assert csv_arrow.number(pa.array([value, None])).to_pylist() == [repr(value), None]
    assert csv_writer.number(value) == repr(value)


def test_time_cells_are_the_line_writers() -> None:
    import pyarrow as pa

    times = [0, 1, 999, 1_000, T0, T0 + 999_999_999, 2**63 - 1]
    assert csv_arrow.iso(pa.array(times)).to_pylist() == [csv_writer.iso(ns) for ns in times]
    before_1970 = [-1, -1_500, -(10**9)]
    assert csv_arrow.iso(pa.array(before_1970)).to_pylist() == [
        csv_writer.iso(ns) for ns in before_1970
    ]
