"""``reasonlens demo``: a fresh database, the real server, a day of traffic through OTLP.

The traffic goes the way an instrumented agent's does (SDK -> OTLP/HTTP protobuf
exporters -> /v1/traces, and /v1/logs for the log events carrying the research
agent's prompts and completions), so the demo also proves the data path end to end:
it fails unless every export was acknowledged and the store holds every generated
span and log record.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import typer
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from reasonlens.demo import database
from reasonlens.demo.export import BlockingBatchProcessor, BlockingLogProcessor
from reasonlens.demo.generate import Summary, generate
from reasonlens.demo.script import Feature
from reasonlens.demo.server import ServerError, serving
from reasonlens.settings import Settings

# Two exporters keep a request waiting for its commit while the next batch is encoded.
# On two cores the load is CPU-bound either way (1,500 traces: 4.9-5.8 s with 1, 2 or 3).
EXPORTERS = 2
LOG_EXPORTERS = 1  # a fraction of the spans' volume: one keeps up
# Queries that show the scenario: the drifting version, failures, the slowest (waiting on
# a human approval).
EXAMPLES = (
    "/traces?agent=support&agent_version=1.5&sort=tokens",
    "/traces?status=error",
    "/traces?agent=checkout&sort=duration",
    "/compare?a.agent=support&a.agent_version=1.4&b.agent=support&b.agent_version=1.5",
    "/sessions",
)


def run_demo(*, traces: int, seed: int, port: int, db: str | None, serve: bool) -> int:
    """Load the demo traffic and (unless ``serve`` is false) serve it until Ctrl-C."""
    url = db or database.DEFAULT_URL
    try:
        if db is None:
            path = database.recreate_sqlite(url)
            _say(
                f"fresh demo database {path} (deleted and recreated on every run; --db for another)"
            )
        else:
            database.require_empty(url)
            _say(f"loading into {database.display(url)}")
    except database.DatabaseRefused as error:
        _say(str(error), err=True)
        return 2
    # The demo's data is disposable: NORMAL commits without waiting for the disk.
    settings = Settings(
        database_url=url, port=port, grpc_port=0, log_level="warning", sqlite_synchronous="NORMAL"
    )
    with _interrupt_on_sigterm():
        try:
            with serving(settings) as server:
                if not _load(server.url, url, traces, seed):
                    return 1
                if not serve:
                    _say(f"loaded; browse it with: reasonlens serve --db {database.display(url)}")
                    return 0
                _say(f"dashboard at {server.url}/ ; a few places to start:")
                for path in EXAMPLES:
                    typer.echo(f"  {server.url}{path}")
                _say(f"serving {server.url} (OTLP at /v1/traces and /v1/logs) until Ctrl-C")
                server.wait()
        except ServerError as error:
            _say(f"{error} (is port {port} in use? try --port)", err=True)
            return 1
        except KeyboardInterrupt:
            _say("stopped")
    return 0


def _load(base_url: str, database_url: str, traces: int, seed: int) -> bool:
    anchor = datetime.now(UTC)
    processor = BlockingBatchProcessor(
        [OTLPSpanExporter(endpoint=f"{base_url}/v1/traces", timeout=30) for _ in range(EXPORTERS)]
    )
    log_processor = BlockingLogProcessor(
        [OTLPLogExporter(endpoint=f"{base_url}/v1/logs", timeout=30) for _ in range(LOG_EXPORTERS)]
    )
    started = time.perf_counter()
    try:
        summary = generate(
            processor, traces=traces, seed=seed, anchor=anchor, log_processor=log_processor
        )
        generated = time.perf_counter() - started
    finally:
        processor.shutdown()
        log_processor.shutdown()
    elapsed = time.perf_counter() - started
    spans, logs = processor.stats, log_processor.stats
    stored = database.stored(database_url)
    _say(
        f"generated {len(summary.traces):,} traces ({summary.spans:,} spans, {summary.logs:,} "
        f"log records) over the 24 hours before {anchor:%Y-%m-%d %H:%M}Z with seed {seed}; "
        f"exported {spans.exported:,} spans and {logs.exported:,} log records over OTLP/HTTP; "
        f"stored {stored[0]:,} traces, {stored[1]:,} spans and {stored[2]:,} log records "
        f"in {elapsed:.1f}s (generation {generated:.1f}s)"
    )
    _report(summary)
    expected = (len(summary.traces), summary.spans, summary.logs)
    if spans.failed or logs.failed or stored != expected:
        _say(
            f"{spans.failed:,} spans and {logs.failed:,} log records were not acknowledged; "
            f"stored {stored[0]:,}/{expected[0]:,} traces, {stored[1]:,}/{expected[1]:,} spans, "
            f"{stored[2]:,}/{expected[2]:,} log records",
            err=True,
        )
        return False
    return True


def _report(summary: Summary) -> None:
    total = len(summary.traces)
    agents = ", ".join(f"{name} {count:,}" for name, count in sorted(summary.agents().items()))
    typer.echo(f"  traces by agent: {agents}")
    shares = ", ".join(
        f"{feature.value} {100 * summary.count(feature) / total:.1f}%" for feature in Feature
    )
    typer.echo(f"  scenario features (share of traces): {shares}")


@contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM shuts down as gracefully as Ctrl-C does, instead of killing the process."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _say(message: str, err: bool = False) -> None:
    typer.echo(f"reasonlens demo: {message}", err=err)
