"""Retention under load: delete part of a large store while OTLP ingest goes on.

    .venv/bin/python -m bench.ingest --spans 1000000 --keep-db /tmp/rl-1m   # build once
    .venv/bin/python -m bench.retention --store /tmp/rl-1m/reasonlens.db     # SQLite
    .venv/bin/python -m bench.retention --db postgresql+psycopg://postgres@127.0.0.1:5432/rl1m

``bench.ingest``'s payloads are dated from 2025-10-09 on, a minute apart per request,
so its whole store is older than any ``--older-than`` age: the cutoff here is absolute,
the end time that splits the stored traces at ``--fraction`` (half by default). A
SQLite store is copied first (``--store``), so the same store serves every run.

``--partitioned day`` (PostgreSQL) first converts the store (``reasonlens db
partition-spans``, timed: how long spans stay locked), so the deletion drops the old
partitions whole and deletes the rest by batches. The conversion is for good: run the
two modes on copies (``CREATE DATABASE b TEMPLATE a``).

Phase 1 sends ``--live-spans`` of fresh traces (other ids, dated after the cutoff) and
measures the ingest rate and ack latency. Phase 2 starts the deletion in a process of its
own and sends the same traffic until it ends; the deletion rate is traces (and spans)
per second of its run, and the live traffic's rate and latency are counted over the
requests answered while it ran. Then it checks that every acknowledged span is stored
and that exactly the expired traces went.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.ingest import HEADERS, Run, send_all
from bench.payloads import Payloads
from store import partitions
from store.engine import create_engine
from store.models import Span, Trace
from store.retention import delete_before
from tests.server import Server

LIVE_SEED = 7
LIVE_FIRST_BATCH = 100_000  # ~70 days of payload time after the store's first request


def _delete(url: str, cutoff_ns: int, batch: int, result: multiprocessing.Queue) -> None:
    engine = create_engine(url)
    try:
        done = delete_before(engine, cutoff_ns, batch_traces=batch)
        result.put(
            (done.traces, done.spans, done.batches, done.seconds, done.partitions,
             done.partition_lock_s)
        )  # fmt: skip
    finally:
        engine.dispose()


def _cutoff(engine: sa.Engine, fraction: float) -> tuple[int, int, int]:
    """The end time that splits the traces at ``fraction``; traces and spans before it."""
    with engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(Trace)).scalar_one()
        cutoff = connection.execute(
            sa.select(Trace.end_time_ns)
            .order_by(Trace.end_time_ns)
            .offset(int(total * fraction))
            .limit(1)
        ).scalar_one()
        traces, spans = connection.execute(
            sa.select(sa.func.count(), sa.func.sum(Trace.span_count)).where(
                Trace.end_time_ns < cutoff
            )
        ).one()
    return int(cutoff), int(traces), int(spans)


def _p(latencies: list[float], q: float) -> float:
    return statistics.quantiles(latencies, n=100)[q - 1] * 1000 if len(latencies) > 1 else 0.0


def _report(label: str, run: Run) -> None:
    print(
        f"{label:<22} {run.spans:>8,} spans in {run.seconds:6.1f} s = {run.rate:7,.0f} spans/s"
        f"  ack p50 {_p(run.latencies, 50):5.0f} ms  p99 {_p(run.latencies, 99):5.0f} ms"
        f"  statuses {run.statuses}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--store", help="a SQLite store from bench.ingest --keep-db (copied)")
    parser.add_argument("--db", help="or a database URL, used in place (PostgreSQL)")
    parser.add_argument("--fraction", type=float, default=0.5, help="share of traces to delete")
    parser.add_argument("--batch", type=int, default=1000, help="traces per transaction")
    parser.add_argument("--live-spans", type=int, default=100_000, help="phase 1 traffic")
    parser.add_argument("--request-spans", type=int, default=500, help="spans per request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument(
        "--partitioned",
        choices=[interval.value for interval in partitions.Interval],
        help="partition the store's spans first (PostgreSQL --db; for good)",
    )
    args = parser.parse_args()
    if bool(args.store) == bool(args.db):
        parser.error("give --store or --db")
    if args.partitioned and not args.db:
        parser.error("--partitioned needs a PostgreSQL --db")

    workdir = Path(tempfile.mkdtemp(prefix="rl-retention-"))
    if args.store:
        copy = workdir / "reasonlens.db"
        copied = time.perf_counter()
        shutil.copyfile(args.store, copy)
        url = f"sqlite:///{copy}"
        print(f"copied the store ({copy.stat().st_size / 2**30:.1f} GiB) in "
              f"{time.perf_counter() - copied:.0f} s")  # fmt: skip
    else:
        url = args.db
    if args.partitioned:
        engine = create_engine(url)
        with engine.begin() as connection:
            interval = partitions.Interval(args.partitioned)
            converted = partitions.convert(connection, interval, time.time_ns())
        if converted is not None:
            partitions.analyze(engine)
        engine.dispose()
        if converted is not None:
            print(
                f"partitioned by {args.partitioned}: {converted.spans:,} spans copied, "
                f"spans locked {converted.seconds:.1f} s"
            )
    server = Server(url).start()
    try:
        cutoff_ns, expired_traces, expired_spans = _cutoff(server.engine, args.fraction)
        spans_before = server.count(Span)
        print(
            f"store: {server.count(Trace):,} traces, {spans_before:,} spans; to delete: "
            f"{expired_traces:,} traces, {expired_spans:,} spans"
        )
        live = Payloads(args.request_spans, seed=LIVE_SEED)
        per_request = args.request_spans
        requests = args.live_spans // per_request
        endpoint = f"{server.url}/v1/traces"
        next_batch = LIVE_FIRST_BATCH

        def send(count: int) -> Run:
            nonlocal next_batch
            bodies = list(live.bodies(count, first=next_batch))
            next_batch += count
            run = send_all(endpoint, bodies, args.clients, HEADERS)
            run.spans = count * per_request
            return run

        send(4)  # warm up
        quiet = send(requests)
        _report("ingest alone", quiet)

        result: multiprocessing.Queue = multiprocessing.Queue()
        deleter = multiprocessing.Process(target=_delete, args=(url, cutoff_ns, args.batch, result))
        began = time.perf_counter()
        deleter.start()
        during = Run(0, 0.0)
        chunk = max(args.clients * 4, 8)
        while deleter.is_alive():
            run = send(chunk)
            during.spans += run.spans
            during.latencies += run.latencies
            for status, count in run.statuses.items():
                during.statuses[status] = during.statuses.get(status, 0) + count
        during.seconds = time.perf_counter() - began
        deleter.join()
        traces, spans, batches, seconds, dropped, lock_s = result.get(timeout=10)
        print(
            f"retention              {traces:>8,} traces ({spans:,} spans, {batches:,} batches) "
            f"in {seconds:6.1f} s = {traces / seconds:7,.0f} traces/s, "
            f"{spans / seconds:,.0f} spans/s"
        )
        if args.partitioned:
            print(f"  {dropped} partitions dropped whole, spans locked at most {lock_s:.3f} s")
        _report("ingest during it", during)

        sent = (next_batch - LIVE_FIRST_BATCH) * per_request
        stored = server.count(Span)
        assert (traces, spans) == (expired_traces, expired_spans), (traces, spans)
        assert stored == spans_before - spans + sent, (stored, spans_before, spans, sent)
        print(f"checked: every acknowledged span stored ({sent:,}), the expired traces gone")
    finally:
        server.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
