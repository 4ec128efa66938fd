"""The overview and compare pages on a large store: server time per request, median and p95.

    .venv/bin/python -m bench.ingest --spans 1000000 --payload demo --keep-db bench/out/demo-1m
    mkdir -p bench/out/demo-1m-analytics && cp bench/out/demo-1m/reasonlens.db* \\
        bench/out/demo-1m-analytics/                          # a copy from before 0004
    .venv/bin/python -m bench.page_overview_compare \\
        --db sqlite:///bench/out/demo-1m-analytics/reasonlens.db

A store behind the head revision is migrated first, timed (revision 0004 adds
``traces.escalated``, backfills it and builds the analytics indexes). Then each page runs
``--repeat`` times after two warm-ups, over keep-alive HTTP against the real server; the
figures are wall-clock per request on loopback (the server's time plus well under a
millisecond). The compared cohorts are support 1.4 against 1.5 (~40,000 traces each in
the demo store), the newest hours holding 50,000 traces against the hours before holding
as many, and the two halves of the last day of data (~80,000 each); each cohort's size
is printed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa

import migrations
from store.engine import create_engine
from store.models import Project, Trace
from store.queries import filter_conditions
from tests.server import Server
from web.filters import TraceFilterParams, trace_selection

HOUR_NS = 3600 * 1_000_000_000


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def migrate(url: str) -> None:
    engine = create_engine(url)
    current, head = migrations.current_revision(engine), migrations.head_revision()
    if current != head:
        started = time.perf_counter()
        migrations.upgrade(engine)
        print(f"migrated {current} -> {head} in {time.perf_counter() - started:.1f} s")
    engine.dispose()


def pages(url: str, project: str) -> dict[str, dict[str, str]]:
    """The requests to time, with cohorts drawn from the store's own newest day."""
    engine = create_engine(url)
    with engine.connect() as connection:
        latest = connection.scalar(
            sa.select(sa.func.max(Trace.start_time_ns))
            .join(Project, Project.id == Trace.project_id)
            .where(Project.name == project)
        )
    engine.dispose()
    assert latest is not None, f"no traces in project {project!r}"
    end = (latest // HOUR_NS + 1) * HOUR_NS
    return {
        "overview (last 24 h of data)": {"_path": "/", "project": project},
        "compare support 1.4 vs 1.5": {
            "_path": "/compare", "project": project,
            "a.agent": "support", "a.agent_version": "1.4",
            "b.agent": "support", "b.agent_version": "1.5",
        },
        "compare two ~50,000-trace windows": balanced(url, project, end, 50_000),
        "compare two 12 h windows": windows(project, end, 12 * HOUR_NS),
    }  # fmt: skip


def windows(project: str, end: int, length: int) -> dict[str, str]:
    """The ``length`` before ``end`` against the ``length`` before that."""
    return {
        "_path": "/compare", "project": project,
        "a.since": iso(end - 2 * length), "a.until": iso(end - length - 1),
        "b.since": iso(end - length), "b.until": iso(end - 1),
    }  # fmt: skip


def balanced(url: str, project: str, end: int, target: int) -> dict[str, str]:
    """The newest whole hours holding ``target`` traces, against the hours before holding
    as many (traffic is not flat over a day, so equal lengths would not be equal sizes)."""
    engine = create_engine(url)
    hour = (Trace.start_time_ns - sa.literal(end, sa.BigInteger)) // sa.literal(HOUR_NS)
    with engine.connect() as connection:
        counts = dict(
            connection.execute(
                sa.select(hour, sa.func.count())
                .join(Project, Project.id == Trace.project_id)
                .where(Project.name == project, Trace.start_time_ns < end)
                .group_by(hour)
            ).all()
        )
    engine.dispose()
    bounds, total, edge = [end], 0, -1
    while len(bounds) < 3 and edge > min(counts, default=0) - 1:
        total += counts.get(edge, 0)
        if total >= target:
            bounds.append(end + edge * HOUR_NS)
            total = 0
        edge -= 1
    assert len(bounds) == 3, "not enough traces for two cohorts of that size"
    return {
        "_path": "/compare", "project": project,
        "a.since": iso(bounds[2]), "a.until": iso(bounds[1] - 1),
        "b.since": iso(bounds[1]), "b.until": iso(bounds[0] - 1),
    }  # fmt: skip


def sizes(url: str, params: dict[str, str]) -> str:
    """How many traces each cohort of a comparison holds."""
    engine = create_engine(url)
    counts = []
    with engine.connect() as connection:
        for side in ("a", "b"):
            given = {k[2:]: v for k, v in params.items() if k.startswith(f"{side}.")}
            selection = trace_selection(
                TraceFilterParams.model_validate({"project": params["project"], **given})
            )
            query = sa.select(sa.func.count()).select_from(Trace)
            counts.append(connection.scalar(query.where(*filter_conditions(selection.filter))))
    engine.dispose()
    return " vs ".join(f"{count:,}" for count in counts) + " traces"


def timed(client: httpx.Client, params: dict[str, str]) -> float:
    params = dict(params)
    path = params.pop("_path")
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", required=True, help="database URL of an ingested store")
    parser.add_argument("--project", default="default")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    migrate(args.db)
    requests = pages(args.db, args.project)
    server = Server(args.db).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for name, params in requests.items():
                for _ in range(2):
                    timed(client, params)
                times = sorted(timed(client, params) for _ in range(args.repeat))
                p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
                cohorts = f", {sizes(args.db, params)}" if params["_path"] == "/compare" else ""
                print(
                    f"{name:<34} median {statistics.median(times) * 1000:6.0f} ms"
                    f"   p95 {p95 * 1000:6.0f} ms   ({args.repeat} requests{cohorts})"
                )
    finally:
        server.close()


if __name__ == "__main__":
    main()
