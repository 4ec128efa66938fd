"""GET /api/traces latency on a large store: median and p95 per filter, server timed end to end.

    .venv/bin/python -m bench.ingest --spans 1000000 --keep-db bench/out/1m   # build the store
    .venv/bin/python -m bench.api_query --db sqlite:///bench/out/1m/reasonlens.db

Each query runs ``--repeat`` times after one warm-up, over keep-alive HTTP against the
real server; the figures are wall-clock per request as a client sees it on loopback.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator

import httpx

from bench.latency import Timing
from tests.server import Server

QUERIES: dict[str, dict[str, str]] = {
    "newest 50, one project": {"project": "default"},
    "agent": {"project": "default", "agent": "support"},
    "agent + version": {"project": "default", "agent": "checkout", "agent_version": "1.5.0"},
    "status=error": {"project": "default", "status": "error"},
    "model": {"project": "default", "model": "gpt-4o-mini-2024-07-18"},
    "cost range": {"project": "default", "min_cost": "0", "max_cost": "0.01"},
    "duration range": {"project": "default", "min_duration_ms": "3000"},
    "session": {"project": "default", "session_id": "conv-4242"},
    "time window": {"project": "default", "since": "2025-10-09T10:00:00Z",
                    "until": "2025-10-09T12:00:00Z"},
    # In the demo's traffic: ~13% of traces, and 200 of 161,490.
    "text search (common)": {"project": "default", "q": "tracking number"},
    "text search (rare)": {"project": "default", "q": "ships tomorrow"},
    "text search (absent)": {"project": "default", "q": "no trace says this"},
    "sort by cost": {"project": "default", "sort": "cost"},
    "sort by duration": {"project": "default", "sort": "duration"},
    "sort by tokens": {"project": "default", "sort": "tokens"},
    "sort by spans": {"project": "default", "sort": "spans"},
    "agent + version (common)": {"project": "default", "agent": "support", "agent_version": "1.4"},
    "rare cost range": {"project": "default", "min_cost": "0.5"},
    "page 3 (cursor)": {"project": "default", "agent": "support", "_pages": "3"},
}  # fmt: skip


def timed(client: httpx.Client, params: dict[str, str]) -> float:
    params = dict(params)
    pages = int(params.pop("_pages", "1"))
    cursor = None
    started = time.perf_counter()
    for _ in range(pages):
        response = client.get(
            "/api/traces", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        response.raise_for_status()
        cursor = response.json()["next_cursor"]
    return (time.perf_counter() - started) / pages


def query_timings(
    client: httpx.Client, queries: dict[str, dict[str, str]], repeat: int
) -> Iterator[Timing]:
    """Each query ``repeat`` times after one warm-up, as it finishes."""
    for name, params in queries.items():
        timed(client, params)
        yield Timing(name, tuple(timed(client, params) for _ in range(repeat)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", required=True, help="database URL of an ingested store")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    server = Server(args.db, env={"REASONLENS_MIGRATE_ON_START": "true"}).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            total = client.get("/api/traces", params={"limit": 1}).json()
            assert total["traces"], "the store is empty"
            for timing in query_timings(client, QUERIES, args.repeat):
                print(f"{timing.name:24} median {timing.median * 1000:7.1f} ms   "
                      f"p95 {timing.p95 * 1000:7.1f} ms")  # fmt: skip
    finally:
        server.close()


if __name__ == "__main__":
    main()
