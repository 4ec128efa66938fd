"""Request latency at a steady offered rate, and the percentiles every bench script quotes.

A saturation run tells the most a server takes, not how long an exporter waits at a
rate the server can keep up with. :func:`paced` offers requests on a fixed schedule
(an open loop: request ``i`` is due at ``start + i / rate`` whatever the answers do)
from enough connections that the client is never the bottleneck, and times each
request from when it was due, so a server that stalls is charged for the requests
queued behind the stall too (no coordinated omission).
"""

from __future__ import annotations

import math
import queue
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.protocols import Send


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least ``fraction`` at or
    below it (so p99 of 100 samples is the 99th, not an interpolation past it)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True)
class Timing:
    """Median and tail of a repeated request, in seconds."""

    name: str
    samples: tuple[float, ...]
    rows: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 0.95)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 0.99)


@dataclass
class Paced:
    """What a paced run measured."""

    offered_rps: float
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # due -> answered
    service: list[float] = field(default_factory=list)  # sent -> answered
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def achieved_rps(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def late(self) -> float:
        """p99 of how late requests left: near 0 when the schedule held."""
        return percentile(
            [lat - svc for lat, svc in zip(self.latencies, self.service, strict=True)], 0.99
        )

    def p(self, fraction: float) -> float:
        return percentile(self.latencies, fraction)


def paced(connect: Callable[[], Send], bodies: list[bytes], rate: float, clients: int) -> Paced:
    """Send ``bodies`` at ``rate`` requests/s on ``clients`` connections (one per thread).

    ``connect`` is :func:`bench.protocols.poster`'s factory. The clients share one
    queue of due times; an idle client sleeps until its request is due, a late one
    sends at once. 503 and RESOURCE_EXHAUSTED are retried inside the sender, and the
    wait counts.
    """
    result = Paced(rate)
    due: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
    lock = threading.Lock()
    start = time.perf_counter() + 0.2  # every client connected before the first is due
    for index, body in enumerate(bodies):
        due.put((start + index / rate, body))

    def client() -> None:
        post = connect()
        while True:
            try:
                at, body = due.get_nowait()
            except queue.Empty:
                return
            wait = at - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            status = post(body)
            answered = time.perf_counter()
            with lock:
                result.latencies.append(answered - at)
                result.service.append(answered - sent)
                result.statuses[status] = result.statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - start
    return result
