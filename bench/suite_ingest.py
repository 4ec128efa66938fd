"""Stages 1 and 2 of the benchmark suite (``bench/suite.py``): reasonlens through each
OTLP door, and its peers (Phoenix, MLflow) on the very same request bodies."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.ingest import RssSampler, Run
from bench.latency import Paced, paced
from bench.payloads import Payloads
from bench.peers.process import PeerError, free_port, wait_for_spans
from bench.protocols import PROTOCOLS, Protocol, payload_bodies, poster, send
from bench.suite_run import Report, Sizes, mib, ms, ratio, stage
from store.models import Span
from tests.server import Server

BATCH = 500  # spans per request: the OTel SDK's batch processor sends up to 512
CLIENTS = 4
LATENCY_CLIENTS = 8  # enough that a request never waits for a free connection at 50%
PEER_FIRST = 100_000  # batch numbers of the peers' bodies: ids unlike any other run's
WARM_SEED = 99


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


def check_stored(run: Run, server: Server, expected: int) -> None:
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
            check_stored(run, server, sent)
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
