"""Dashboard pages on a large store: /traces with typical filters, /sessions, and the CSV.

    .venv/bin/python -m bench.ingest --spans 1000000 --payload demo --keep-db bench/out/demo-1m
    .venv/bin/reasonlens db upgrade --db sqlite:///bench/out/demo-1m/reasonlens.db
    .venv/bin/python -m bench.page_traces --db sqlite:///bench/out/demo-1m/reasonlens.db

Each page is requested ``--repeat`` times (default 20) after one warm-up, over
keep-alive HTTP against the real server on loopback; the figures are wall-clock per
request as the client sees it (median and p95). Then ``/api/traces.csv`` exports the
whole store once, with the server's resident memory sampled meanwhile.

The store is only read: the server starts with migrations off, so it never rewrites a
shared benchmark store behind its owner's back (bring it to the current schema first,
or a copy of it, with ``reasonlens db upgrade``). The SQLite upkeep thread still
refreshes planner statistics, as in production.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.latency import Timing
from tests.server import Server

PROJECT = "default"
TRACE_PAGES: dict[str, dict[str, str]] = {
    "newest 50": {},
    "agent": {"agent": "support"},
    "agent + version": {"agent": "support", "agent_version": "1.5"},
    "agent + version (56 traces)": {"agent": "checkout", "agent_version": "1.5.0"},
    "status=error": {"status": "error"},
    "agent + status=error": {"agent": "checkout", "status": "error"},
    "model": {"model": "gpt-4o-mini-2024-07-18"},
    "cost range": {"min_cost": "0.001", "max_cost": "0.05"},
    "cost range (none match)": {"min_cost": "0.5"},
    "duration range": {"min_duration_ms": "5000"},
    "last 6 hours": {"since": "6h"},
    "text search (common)": {"q": "arrived scratched"},
    "text search (absent)": {"q": "no trace says this"},
    "sort by duration": {"sort": "duration"},
    "sort by cost": {"sort": "cost"},
    "sort by spans": {"sort": "spans"},
    "sort by tokens": {"sort": "tokens"},
    "agent, by duration asc": {"agent": "research", "sort": "duration", "order": "asc"},
}
_NEXT = re.compile(r'class="next-page" href="([^"]*)"')
_SESSION = re.compile(r'class="session-link mono" href="([^"]*)"')


def timed(client: httpx.Client, url: str) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.text


def time_page(client: httpx.Client, name: str, url: str, repeat: int) -> tuple[Timing, str]:
    """Times ``url``; returns the timing and the page, for the links on it."""
    _, body = timed(client, url)  # warm-up
    samples = tuple(timed(client, url)[0] for _ in range(repeat))
    rows = body.count('class="trace-link"') or body.count('class="session-link')
    return Timing(name, samples, rows), body


def page_timings(client: httpx.Client, repeat: int) -> Iterator[Timing]:
    """Every page of the benchmark, as each finishes: /traces with each filter and sort,
    three pages through a cursor, /sessions and its second page, one session."""
    base = f"/traces?project={PROJECT}"
    for name, params in TRACE_PAGES.items():
        query = "".join(f"&{key}={value}" for key, value in params.items())
        timing, body = time_page(client, name, base + query, repeat)
        yield timing
    timing, body = time_page(client, "agent (page 1)", f"{base}&agent=support", repeat)
    yield timing
    for page in (2, 3):
        timing, body = time_page(client, f"agent (page {page})", next_href(body, "/traces"),
                                 repeat)  # fmt: skip
        yield timing
    timing, sessions = time_page(client, "/sessions", f"/sessions?project={PROJECT}", repeat)
    yield timing
    timing, later = time_page(client, "/sessions page 2", next_href(sessions, "/sessions"),
                              repeat)  # fmt: skip
    yield timing
    found = _SESSION.search(later)
    assert found, "no session listed"
    yield time_page(client, "/sessions/{id}", found.group(1).replace("&amp;", "&"), repeat)[0]


def next_href(body: str, path: str) -> str:
    found = _NEXT.search(body)
    assert found, "no next page"
    return path + found.group(1).replace("&amp;", "&")


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def export_csv(client: httpx.Client, pid: int) -> None:
    """The whole store as CSV, with the server's RSS sampled every 20 ms."""
    peak, done = [rss_kib(pid, "VmRSS")], threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak.append(rss_kib(pid, "VmRSS"))

    before = peak[0]
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    with client.stream("GET", "/api/traces.csv", params={"project": PROJECT}) as response:
        response.raise_for_status()
        chunks = list(response.iter_bytes())
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    body = b"".join(chunks)
    # Counted after the clock stops, by a CSV reader: quoted cells may hold line breaks.
    rows = sum(1 for _ in csv.reader(io.StringIO(body.decode(), newline=""))) - 1
    print(f"CSV of the whole project: {rows:,} rows, {len(body) / 2**20:,.0f} MiB in "
          f"{elapsed:.1f} s = {rows / elapsed:,.0f} rows/s; server RSS "
          f"{before / 1024:.0f} MiB before, peak {max(peak) / 1024:.0f} MiB during")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", required=True, help="database URL of an ingested store")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-csv", action="store_true", help="skip the whole-store export")
    args = parser.parse_args()
    server = Server(args.db, env={"REASONLENS_MIGRATE_ON_START": "false"}).start()
    assert server.process is not None
    try:
        with httpx.Client(base_url=server.url, timeout=600) as client:
            time.sleep(2)  # let the upkeep thread's ANALYZE at start finish
            for timing in page_timings(client, args.repeat):
                print(f"{timing.name:28} median {timing.median * 1000:7.1f} ms   "
                      f"p95 {timing.p95 * 1000:7.1f} ms   {timing.rows:3} rows")  # fmt: skip
            if not args.no_csv:
                export_csv(client, server.process.pid)
    finally:
        server.close()


if __name__ == "__main__":
    main()
