"""The benchmark suite in one run, reasonlens beside its peers, as a markdown table.

    .venv/bin/python -m bench.suite --quick     # smoke run, a few minutes
    .venv/bin/python -m bench.suite             # the full run: 200k spans a door, a 1M-span store
    .venv/bin/python -m bench.suite --store-db sqlite:///bench/out/demo-1m/reasonlens.db

Stages, each with its figures printed as it ends and appended to
``bench/out/suite-<UTC time>.md``:

1. Ingest, per OTLP door (HTTP protobuf, HTTP JSON, gRPC), each on a fresh SQLite
   store: the peers' request bodies, then ``--spans`` at saturation (4 clients,
   bench/ingest.py's loops, the server's RSS sampled), then the ack latency of each
   request at a steady 50% of that rate (bench/latency.py).
2. Peers on the very same bodies, through every door they have: Arize Phoenix and
   MLflow's tracking server, each from its own venv (bench/peers/install_*.sh); a
   peer that is not installed is reported as such. Their rate is spans over the time
   until their database holds every span (Phoenix answers before it stores), and the
   ratio is reasonlens's rate on the same bodies over theirs.
3. A store of the demo's traffic (``reasonlens demo``'s generator) at ``--store-spans``
   (1,000,000), ingested over HTTP protobuf, or ``--store-db`` to reuse one built by
   the same code.
4. Query and page latency on it: ``/api/traces`` and ``/traces`` with
   bench/page_traces.py's filters and sorts, pages through a cursor, sessions.
5. CSV exports of the whole store (bench/csv_export.py), with the server's memory.
6. The deterministic eval suite over the whole store (bench/evals.py).

The VM is shared, so the load average is recorded before and after every stage; quote
ratios measured in one run and medians, not single figures.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import csv_export
from bench.api_query import query_timings
from bench.demo_payloads import demo_bodies
from bench.evals import eval_runs
from bench.ingest import RssSampler, Run
from bench.latency import Paced, Timing, paced
from bench.page_traces import PROJECT, TRACE_PAGES, page_timings
from bench.payloads import Payloads
from bench.peers.process import PeerError, free_port, wait_for_spans
from bench.protocols import PROTOCOLS, Protocol, payload_bodies, poster, send
from store.models import Span
from tests.server import Server

ROOT = Path(__file__).resolve().parents[1]
BATCH = 500  # spans per request: the OTel SDK's batch processor sends up to 512
CLIENTS = 4
LATENCY_CLIENTS = 8  # enough that a request never waits for a free connection at 50%
PEER_FIRST = 100_000  # batch numbers of the peers' bodies: ids unlike any other run's
WARM_SEED = 99


@dataclass(frozen=True)
class Sizes:
    spans: int  # per door, at saturation
    peer_spans: int  # per peer and door
    latency_seconds: float  # of offered load at 50%
    store_spans: int  # demo spans in the store for stages 3-6
    repeat: int  # requests per query or page, after one warm-up
    csv_repeat: int
    eval_repeat: int


QUICK = Sizes(20_000, 1_000, 5.0, 20_000, 5, 1, 1)
FULL = Sizes(200_000, 10_000, 20.0, 1_000_000, 20, 1, 1)


class Report:
    """The markdown the suite prints and writes, rewritten after every stage so that a
    run stopped midway keeps what it measured."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        for line in lines:
            print(line, flush=True)
        self.lines += lines
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(self.lines) + "\n")

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.add(
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows),
            "",
        )


@contextlib.contextmanager
def stage(report: Report, title: str) -> Iterator[None]:
    """A section headed with the load it started under; its end load and wall time after."""
    load, started = os.getloadavg()[0], time.perf_counter()
    report.add(f"## {title}", "")
    yield
    report.add(
        f"_Load {load:.1f} -> {os.getloadavg()[0]:.1f}; {time.perf_counter() - started:.0f} s._",
        "",
    )


def mib(size: float) -> str:
    return f"{size / 2**20:,.0f} MiB"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def ratio(ours: float, theirs: float) -> str:
    return f"**{ours / theirs:,.0f}x**" if theirs else "-"


# Stage 1: reasonlens, every door


@dataclass
class Door:
    protocol: Protocol
    same_bodies: Run  # the peers' bodies
    saturation: Run
    latency: Paced
    server_peak: int
    tree_peak: int


def _stored(server: Server) -> int:
    return server.count(Span)


def _check(run: Run, server: Server, expected: int) -> None:
    stored = _stored(server)
    assert stored == expected, f"stored {stored} spans, sent {expected} ({run.statuses})"


def ingest_door(protocol: Protocol, index: int, sizes: Sizes, workdir: Path) -> Door:
    """One door on a fresh store: the peers' bodies, saturation, then paced latency."""
    payloads, warm = Payloads(BATCH), Payloads(BATCH, seed=WARM_SEED)
    peer_batches, batches = sizes.peer_spans // BATCH, sizes.spans // BATCH
    server = Server(f"sqlite:///{workdir / f'reasonlens-{protocol}.db'}").start()
    try:
        assert server.process is not None
        url = f"{server.url}/v1/traces"
        sent = 0

        def timed(bodies: list[bytes]) -> Run:
            nonlocal sent
            run = send(protocol, url, server.grpc_target, bodies, CLIENTS)
            sent += len(bodies) * BATCH
            run.spans = len(bodies) * BATCH
            _check(run, server, sent)
            return run

        timed(payload_bodies(protocol, warm, 4, first=index * 10))
        same = timed(payload_bodies(protocol, payloads, peer_batches, _peer_first(index)))
        bodies = payload_bodies(protocol, payloads, batches, first=index * batches)
        sampler = RssSampler(server.process.pid)
        sampler.start()
        saturation = timed(bodies)
        rate = saturation.rate / 2 / BATCH  # requests/s at half the measured maximum
        count = max(20, round(rate * sizes.latency_seconds))
        first = 2 * PEER_FIRST + index * count
        latency_bodies = payload_bodies(protocol, payloads, count, first)
        latency = paced(poster(protocol, url, server.grpc_target), latency_bodies, rate,
                        LATENCY_CLIENTS)  # fmt: skip
        sampler.stop()
        sent += count * BATCH
        stored = _stored(server)
        assert stored == sent, f"stored {stored} spans after the paced run, sent {sent}"
        return Door(protocol, same, saturation, latency, sampler.main_peak, sampler.tree_peak)
    finally:
        server.close()


def _peer_first(index: int) -> int:
    return PEER_FIRST + index * 10_000


# Stage 2: peers


@dataclass
class PeerRun:
    spans: int
    seconds: float  # first request -> every span in its database
    answered: float  # first request -> last answer
    ack_p50: float
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.spans / self.seconds


@dataclass
class PeerResult:
    name: str
    version: str = ""
    startup_s: float = 0.0
    peak_rss: int = 0
    runs: dict[Protocol, PeerRun | str] = field(default_factory=dict)
    missing: str = ""  # why it did not run at all


def peer_doors(
    name: str, start: Callable[[Path, int], Any], sizes: Sizes, workdir: Path
) -> PeerResult:
    """Every door on one running peer, each with its own ids (the peers deduplicate)."""
    result = PeerResult(name)
    batches = sizes.peer_spans // BATCH
    with contextlib.ExitStack() as stack:
        try:
            peer = stack.enter_context(start(workdir / name.lower(), free_port()))
        except PeerError as error:
            result.missing = str(error).splitlines()[0]
            return result
        result.version, result.startup_s = peer.version, peer.startup_seconds
        grpc_port = getattr(peer, "grpc_port", None)
        target = f"127.0.0.1:{grpc_port}" if grpc_port else ""
        headers: dict[str, str] = getattr(peer, "headers", {})
        timeout = max(600.0, sizes.peer_spans / 10)
        for index, protocol in enumerate(PROTOCOLS):
            if protocol == "grpc" and not target:
                result.runs[protocol] = "no OTLP/gRPC endpoint"
                continue
            try:
                result.runs[protocol] = _peer_door(
                    peer, protocol, index, target, headers, batches, timeout
                )
            except PeerError as error:
                result.runs[protocol] = f"failed: {str(error).splitlines()[0]}"
        result.peak_rss = peer.peak_rss_bytes
    return result


def _peer_door(
    peer: Any,
    protocol: Protocol,
    index: int,
    target: str,
    headers: dict[str, str],
    batches: int,
    timeout: float,
) -> PeerRun | str:
    payloads, warm = Payloads(BATCH), Payloads(BATCH, seed=WARM_SEED)
    before = peer.count_spans()
    probe = send(protocol, peer.otlp_endpoint, target,
                 payload_bodies(protocol, warm, 2, first=index * 10), 2, headers)  # fmt: skip
    if set(probe.statuses) - {0, 200}:
        return f"refused: {probe.statuses}"
    wait_for_spans(peer, before + 2 * BATCH, timeout)  # warm, and every worker up
    before = peer.count_spans()
    bodies = payload_bodies(protocol, payloads, batches, _peer_first(index))
    started = time.perf_counter()
    accepted = send(protocol, peer.otlp_endpoint, target, bodies, CLIENTS, headers)
    seconds = wait_for_spans(peer, before + batches * BATCH, timeout, since=started,
                             poll_interval=0.5)  # fmt: skip
    return PeerRun(
        batches * BATCH,
        seconds,
        accepted.seconds,
        statistics.median(accepted.latencies),
        accepted.statuses,
    )


def report_ingest(report: Report, doors: list[Door], peers: list[PeerResult]) -> None:
    report.add(
        f"Saturation: {CLIENTS} clients, {BATCH}-span requests (~1 KB/span of protobuf), "
        "reasonlens acknowledging after COMMIT. Latency: each request timed from when it "
        f"was due, at a steady 50% of the saturation rate, on {LATENCY_CLIENTS} connections."
    )
    report.table(
        ["door", "spans", "spans/s", "ack p50 / p95 / p99 at 50% (ms)", "late p99 (ms)",
         "server RSS peak", "with decode workers"],
        [
            [door.protocol, f"{door.saturation.spans:,}", f"{door.saturation.rate:,.0f}",
             f"{ms(door.latency.p(0.5))} / {ms(door.latency.p(0.95))} / "
             f"{ms(door.latency.p(0.99))} ({len(door.latency.latencies)} requests at "
             f"{door.latency.offered_rps:.1f}/s)",
             ms(door.latency.late), mib(door.server_peak), mib(door.tree_peak)]
            for door in doors
        ],
    )  # fmt: skip
    header = ["door", "reasonlens, same bodies (spans/s)"]
    for peer in peers:
        header += [f"{peer.name} {peer.version} (spans/s stored)", "ratio"]
    rows = []
    for door in doors:
        row = [door.protocol, f"{door.same_bodies.rate:,.0f}"]
        for peer in peers:
            run = peer.runs.get(door.protocol, peer.missing or "-")
            if isinstance(run, PeerRun):
                row += [
                    f"{run.rate:,.1f} ({run.spans:,} in {run.seconds:.1f} s; all answered "
                    f"after {run.answered:.1f} s, ack p50 {ms(run.ack_p50)} ms)",
                    ratio(door.same_bodies.rate, run.rate),
                ]
            else:
                row += [run, "-"]
        rows.append(row)
    report.add(
        "Peers on the same request bodies, each door they have; their rate counts the time "
        "until their SQLite database holds every span (polled every 0.5 s)."
    )
    report.table(header, rows)
    for peer in peers:
        if not peer.missing:
            report.add(
                f"- {peer.name} {peer.version}: started in {peer.startup_s:.0f} s, "
                f"peak RSS {mib(peer.peak_rss)} (its process tree)."
            )
    report.add("")


# Stages 3-6: the store


@dataclass(frozen=True)
class Built:
    spans: int
    bytes_per_span: float
    rate: float
    server_peak: int
    tree_peak: int
    generated_s: float


def build_store(report: Report, sizes: Sizes, directory: Path) -> str:
    """The demo's traffic at ``sizes.store_spans`` over HTTP protobuf into a fresh store.

    In a spawned process: a million generated spans and their bodies take ~7 GB, which
    this process would keep (CPython returns little to the system) and hand on to every
    process it starts afterwards, whose ru_maxrss then reports it (bench/evals.py).
    """
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    url = f"sqlite:///{directory / 'reasonlens.db'}"
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        built = pool.submit(_build, url, sizes.store_spans).result()
    report.table(
        ["store", "spans", "bytes/span", "ingest spans/s", "server RSS peak", "with workers"],
        [[str(directory / "reasonlens.db"), f"{built.spans:,}", f"{built.bytes_per_span:,.0f}",
          f"{built.rate:,.0f}", mib(built.server_peak), mib(built.tree_peak)]],
    )  # fmt: skip
    report.add(
        f"(Generating the demo's traffic took {built.generated_s:.0f} s, outside the rate.)", ""
    )
    return url


def _build(url: str, spans: int) -> Built:
    generated = time.perf_counter()
    bodies, spans = demo_bodies(spans, BATCH)
    generated = time.perf_counter() - generated
    server = Server(url).start()
    try:
        assert server.process is not None
        sampler = RssSampler(server.process.pid)
        sampler.start()
        run = send("http-protobuf", f"{server.url}/v1/traces", "", bodies, CLIENTS)
        sampler.stop()
        run.spans = spans
        _check(run, server, spans)
    finally:
        server.close()
    size = sum(map(len, bodies)) / spans
    return Built(spans, size, run.rate, sampler.main_peak, sampler.tree_peak, generated)


def timing_rows(timings: list[Timing]) -> list[list[str]]:
    return [[t.name, ms(t.median), ms(t.p95), str(t.rows) if t.rows else ""] for t in timings]


def queries_and_exports(report: Report, sizes: Sizes, url: str) -> None:
    server = Server(url, env={"REASONLENS_MIGRATE_ON_START": "false"}).start()
    assert server.process is not None
    try:
        decode_workers = set(csv_export.children(server.process.pid))
        with httpx.Client(base_url=server.url, timeout=3600) as client:
            time.sleep(2)  # let the upkeep thread's ANALYZE at start finish
            traces = client.get("/api/traces", params={"project": PROJECT, "limit": 1})
            assert traces.json()["traces"], "the store is empty"
            with stage(report, "Query latency: GET /api/traces (JSON)"):
                queries = {
                    name: {"project": PROJECT, **params} for name, params in TRACE_PAGES.items()
                }
                api = list(query_timings(client, queries, sizes.repeat))
                report.add(f"{sizes.repeat} requests each after one warm-up, keep-alive HTTP.")
                report.table(["filter", "median (ms)", "p95 (ms)", ""], timing_rows(api))
            with stage(report, "Page latency: dashboard HTML"):
                pages = list(page_timings(client, sizes.repeat))
                report.table(["page", "median (ms)", "p95 (ms)", "rows"], timing_rows(pages))
            with stage(report, "CSV export of the whole store (gzip, as a browser asks)"):
                rows = []
                for name, (path, params) in csv_export.EXPORTS.items():
                    runs = [
                        csv_export.export(client, server.process.pid, path, params, decode_workers)
                        for _ in range(sizes.csv_repeat)
                    ]
                    best = statistics.median(r.rows_per_s for r in runs)
                    figures = runs[-1]
                    rows.append([
                        name, f"{figures.rows:,}", f"{figures.mib:,.0f} MiB", f"{best:,.0f}",
                        f"{statistics.median(r.rows_per_cpu_s for r in runs):,.0f}",
                        ms(figures.first_byte_s),
                        f"{figures.rss_before_mib:,.0f} / {figures.rss_peak_mib:,.0f} MiB",
                        f"{figures.export_worker_peak_mib:,.0f} MiB",
                    ])  # fmt: skip
                report.table(
                    ["export", "rows", "size", "rows/s (median)", "per CPU s",
                     "first byte (ms)", "server RSS before / peak", "export worker peak"],
                    rows,
                )  # fmt: skip
    finally:
        server.close()


def evals(report: Report, sizes: Sizes, url: str) -> None:
    rows = []
    for result in eval_runs(url, PROJECT, None, sizes.eval_repeat):
        rows.append([
            f"{result['traces']:,}", f"{result['spans']:,}", f"{result['wall_s']:.1f}",
            f"{result['traces_per_s']:,.0f}", f"{result['peak_rss_mb']:,.0f} MB",
            f"{result['stage_rss_mb']:,.0f} MB", result["status"],
        ])  # fmt: skip
    report.add("Every deterministic evaluator (bench/evals.py's suite) over the whole store.")
    report.table(
        ["traces", "spans", "wall (s)", "traces/s", "peak RSS", "read/write process peak",
         "suite verdict"],
        rows,
    )  # fmt: skip


def ingest(report: Report, sizes: Sizes, workdir: Path, *, peers: bool) -> None:
    with stage(report, "Ingest: reasonlens per OTLP door, and its peers on the same bodies"):
        doors = []
        for index, protocol in enumerate(PROTOCOLS):
            door = ingest_door(protocol, index, sizes, workdir)
            doors.append(door)
            print(f"reasonlens {protocol}: {door.saturation.rate:,.0f} spans/s, ack p50 "
                  f"{ms(door.latency.p(0.5))} ms at 50%", flush=True)  # fmt: skip
        results: list[PeerResult] = []
        if peers:
            from bench.peers.mlflow import run_mlflow
            from bench.peers.phoenix import run_phoenix

            for name, start in (("Phoenix", run_phoenix), ("MLflow", run_mlflow)):
                results.append(peer_doors(name, start, sizes, workdir))
                print(f"{name}: {results[-1].missing or 'measured'}", flush=True)
        report_ingest(report, doors, results)


# The run


def _commit() -> str:
    found = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    return found.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few minutes")
    parser.add_argument("--spans", type=int, help="spans per door at saturation")
    parser.add_argument("--peer-spans", type=int, help="spans per peer and door")
    parser.add_argument("--store-spans", type=int, help="demo spans in the store")
    parser.add_argument("--store-db", help="reuse this store (built by this code) for 4-6")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest stages")
    parser.add_argument("--no-peers", action="store_true", help="skip Phoenix and MLflow")
    parser.add_argument("--no-store", action="store_true", help="stop after the ingest stages")
    parser.add_argument("--out", type=Path, help="the markdown file (default bench/out/...)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    sizes = Sizes(
        args.spans or sizes.spans,
        args.peer_spans or sizes.peer_spans,
        sizes.latency_seconds,
        args.store_spans or sizes.store_spans,
        sizes.repeat,
        sizes.csv_repeat,
        sizes.eval_repeat,
    )
    now = datetime.now(UTC)
    out = args.out or ROOT / "bench" / "out" / f"suite-{now:%Y%m%d-%H%M}.md"
    report = Report(out)
    started = time.perf_counter()
    report.add(
        f"# Benchmark suite, {now:%Y-%m-%d %H:%M} UTC ({'quick' if args.quick else 'full'})",
        "",
        f"Commit {_commit()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at "
        f"the start. Spans per door {sizes.spans:,}, per peer and door {sizes.peer_spans:,}; "
        f"latency {sizes.latency_seconds:.0f} s of offered load per door; store "
        f"{sizes.store_spans:,} spans; {sizes.repeat} requests per query or page.",
        "",
    )
    workdir = Path(tempfile.mkdtemp(prefix="rl-suite-"))
    try:
        if not args.no_ingest:
            ingest(report, sizes, workdir, peers=not args.no_peers)
        if not args.no_store:
            if args.store_db:
                url = args.store_db
                report.add(f"Store: {url} (reused).", "")
            else:
                with stage(report, f"Store: {sizes.store_spans:,} spans of the demo's traffic"):
                    directory = ROOT / "bench" / "out" / f"suite-store-{sizes.store_spans}"
                    url = build_store(report, sizes, directory)
            queries_and_exports(report, sizes, url)
            with stage(report, "Evals"):
                evals(report, sizes, url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report.add(
        f"Suite finished in {time.perf_counter() - started:.0f} s, load "
        f"{os.getloadavg()[0]:.1f}. Written to {out}."
    )


if __name__ == "__main__":
    main()
