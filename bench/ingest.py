"""Ingest throughput: OTLP protobuf over HTTP or gRPC, N concurrent clients, acked after commit.

    .venv/bin/python -m bench.ingest --spans 200000              # reasonlens on SQLite
    .venv/bin/python -m bench.ingest --spans 200000 --protocol grpc
    .venv/bin/python -m bench.ingest --spans 200000 --payload demo   # the demo's traffic
    .venv/bin/python -m bench.ingest --spans 1000000 --rss       # + server RSS over the run
    .venv/bin/python -m bench.ingest --phoenix-spans 20000       # + Arize Phoenix, same payloads

reasonlens answers 200 only after COMMIT, so "all requests answered" is "all spans
stored"; the figure is spans / wall time from the first request to the last answer.
Phoenix answers before storing, so its figure is the time until its database holds
every span (bench/peers/phoenix.py polls it).
"""

from __future__ import annotations

import argparse
import http.client
import os
import queue
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.demo_payloads import demo_bodies
from bench.payloads import Payloads
from bench.proc import load_average, tree_cpu
from store.models import Span
from tests.server import Server, free_port


@dataclass
class Run:
    spans: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.spans / self.seconds


def send_all(url: str, bodies: list[bytes], clients: int, headers: dict[str, str]) -> Run:
    """Post every body once, ``clients`` connections in parallel; retry 503 like an exporter."""
    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    parts = urlsplit(url)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            while True:
                started = time.perf_counter()
                connection.request("POST", parts.path, body, headers)
                response = connection.getresponse()
                response.read()
                with lock:
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.status != 503:
                    break
                time.sleep(float(response.getheader("Retry-After", "1")))
            with lock:
                latencies.append(time.perf_counter() - started)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run(0, time.perf_counter() - started, latencies, statuses)


def send_all_grpc(
    target: str, bodies: list[bytes], clients: int, metadata: tuple[tuple[str, str], ...] = ()
) -> Run:
    """As :func:`send_all`, over OTLP/gRPC; RESOURCE_EXHAUSTED is retried as exporters do."""
    import grpc

    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    channel = grpc.insecure_channel(target)
    export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")

    def client() -> None:
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            while True:
                started = time.perf_counter()
                try:
                    export(body, timeout=120, metadata=metadata)
                    code = 0
                except grpc.RpcError as error:
                    code = error.code().value[0]  # type: ignore[attr-defined]
                with lock:
                    statuses[code] = statuses.get(code, 0) + 1
                if code != grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]:
                    break
                time.sleep(1)
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    channel.close()
    return Run(0, seconds, latencies, statuses)


def process_tree_rss(pid: int) -> int:
    """Resident bytes of a process and its descendants (the decode workers)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pids += [int(child) for child in children]
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.main_peak, self.tree_peak = pid, 0, 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.2):
            self.main_peak = max(self.main_peak, process_tree_rss_single(self.pid))
            self.tree_peak = max(self.tree_peak, process_tree_rss(self.pid))

    def stop(self) -> None:
        self._done.set()
        self.join()


def process_tree_rss_single(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def bench_reasonlens(
    args: argparse.Namespace, bodies: list[bytes], spans: int, workdir: Path
) -> Run:
    db_url = args.db or f"sqlite:///{workdir / 'reasonlens.db'}"
    server = Server(db_url).start()
    try:
        assert server.process is not None
        warm = Payloads(args.batch, seed=99)
        key = _signed_in(server) if args.signed_in else None
        headers = HEADERS if key is None else {**HEADERS, "x-api-key": key}
        metadata = () if key is None else (("x-api-key", key),)

        def send(chunk: list[bytes]) -> Run:
            if args.protocol == "grpc":
                return send_all_grpc(server.grpc_target, chunk, args.clients, metadata)
            return send_all(f"{server.url}/v1/traces", chunk, args.clients, headers)

        send(list(warm.bodies(4)))
        pid = server.process.pid
        sampler = RssSampler(pid)
        sampler.start()
        cpu_before, client_before = tree_cpu(pid), _own_cpu()
        run = send(bodies)
        cpu_after, client_after = tree_cpu(pid), _own_cpu()
        sampler.stop()
        run.spans = spans
        stored = server.count(Span) - 4 * args.batch
        assert stored == run.spans, f"stored {stored} of {run.spans}"
        print(
            f"reasonlens {args.protocol:<4} {run.spans:>9,} spans in {run.seconds:6.2f} s = "
            f"{run.rate:9,.0f} spans/s"
            f"  (request p50 {statistics.median(run.latencies) * 1000:.0f} ms, "
            f"statuses {run.statuses})"
        )
        # CPU per span, from /proc: the server process, its decode workers, this client.
        server_cpu = cpu_after.get(pid, 0.0) - cpu_before.get(pid, 0.0)
        workers_cpu = sum(
            cpu - cpu_before.get(child, 0.0) for child, cpu in cpu_after.items() if child != pid
        )
        per_span = 1e6 / spans
        print(
            f"reasonlens  CPU per span: server process {server_cpu * per_span:.1f} µs, "
            f"decode workers {workers_cpu * per_span:.1f} µs, "
            f"client {(client_after - client_before) * per_span:.1f} µs; "
            f"load {load_average():.2f}"
        )
        if args.rss:
            print(
                f"reasonlens  peak RSS: server process {sampler.main_peak / 2**20:.0f} MiB, "
                f"with decode workers {sampler.tree_peak / 2**20:.0f} MiB"
            )
        if args.keep_db:
            print(f"reasonlens  database kept at {db_url}")
        return run
    finally:
        server.close()


def _signed_in(server: Server) -> str:
    """Turn sign-in on (a user) and make an ingest key, as a team's server runs."""
    from store import api_keys, users

    with server.engine.begin() as connection:
        users.create_user(connection, "bench@example.com", "bench password", actor="bench")
        made = api_keys.create_key(connection, "bench", "bench", ["ingest"], actor="bench")
    return made.secret


def bench_phoenix(args: argparse.Namespace, payloads: Payloads, workdir: Path) -> Run:
    from bench.peers.phoenix import run_phoenix, wait_for_spans

    count = args.phoenix_spans // args.batch
    bodies = list(payloads.bodies(count, first=100_000))
    with run_phoenix(workdir / "phoenix", free_port()) as phoenix:
        started = time.perf_counter()
        accepted = send_all(phoenix.otlp_endpoint, bodies, args.clients, HEADERS)
        seconds = wait_for_spans(phoenix, count * args.batch, timeout=3600, since=started,
                                 poll_interval=0.5)  # fmt: skip
        run = Run(count * args.batch, seconds, accepted.latencies, accepted.statuses)
        print(
            f"phoenix {phoenix.version}  {run.spans:>9,} spans stored in {run.seconds:6.2f} s = "
            f"{run.rate:9,.0f} spans/s  (all answered after {accepted.seconds:.2f} s)"
        )
        return run


HEADERS = {"Content-Type": "application/x-protobuf"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=200_000, help="spans to send to reasonlens")
    parser.add_argument("--batch", type=int, default=500, help="spans per request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--protocol", choices=("http", "grpc"), default="http")
    parser.add_argument(
        "--payload",
        choices=("synthetic", "demo"),
        default="synthetic",
        help="synthetic: uniform ~1 KB spans (bench/payloads.py); demo: reasonlens demo traffic",
    )
    parser.add_argument("--rss", action="store_true", help="sample the server's RSS")
    parser.add_argument(
        "--signed-in",
        action="store_true",
        help="turn sign-in on and send an ingest key with every request",
    )
    parser.add_argument("--keep-db", help="directory to keep the SQLite database in")
    parser.add_argument("--phoenix-spans", type=int, default=0, help="also run Phoenix")
    args = parser.parse_args()

    payloads = Payloads(args.batch)
    generated = time.perf_counter()
    if args.payload == "demo":
        bodies, spans = demo_bodies(args.spans, args.batch)
    else:
        bodies = list(payloads.bodies(args.spans // args.batch))
        spans = len(bodies) * args.batch
    print(
        f"generated {len(bodies)} {args.payload} bodies, {spans:,} spans "
        f"({sum(map(len, bodies)) / spans:.0f} B/span protobuf) in "
        f"{time.perf_counter() - generated:.1f} s"
    )
    workdir = Path(args.keep_db) if args.keep_db else Path(tempfile.mkdtemp(prefix="rl-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ours = bench_reasonlens(args, bodies, spans, workdir)
    if args.phoenix_spans:
        theirs = bench_phoenix(args, payloads, workdir)
        print(f"ratio       reasonlens / phoenix = {ours.rate / theirs.rate:.0f}x")


if __name__ == "__main__":
    main()
