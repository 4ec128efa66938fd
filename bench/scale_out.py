"""Scale-out ingest: one collector against two on one PostgreSQL, and SQLite for reference.

    .venv/bin/python -m bench.scale_out                        # 3 rounds x 100,000 spans
    .venv/bin/python -m bench.scale_out --spans 50000 --rounds 1 --only pg1,pg2

Each run starts fresh: a new database, the collectors (``reasonlens serve``, default
settings), a warm-up (and ANALYZE on PostgreSQL), then ``--clients`` connections (split
evenly over the collectors, as a round-robin load balancer would) post 500-span
OTLP/HTTP protobuf requests (bench/payloads.py) until all are acknowledged, which is
after COMMIT. It prints spans/s, the requests' p50/p99 acknowledgement latency, and
where the CPU went per 1,000 spans: the collectors' server processes, their decode
workers, the PostgreSQL backends serving this database, and this load generator; then
the store's size on disk per span, by table with its indexes. The runs alternate, a
round at a time, so a drift of the VM's speed falls on every configuration alike.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bench.ingest import HEADERS, Run, send_all
from bench.payloads import Payloads
from bench.pricing_overhead import load_average, tree_cpu
from store.models import Span
from tests.databases import fresh_database
from tests.server import Server

CONFIGS = {
    "pg1": ("PostgreSQL, 1 collector", "postgresql", 1),
    "pg2": ("PostgreSQL, 2 collectors", "postgresql", 2),
    "sqlite1": ("SQLite, 1 collector", "sqlite", 1),
}


@dataclass
class Figures:
    config: str
    spans: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    cpu: dict[str, float]  # CPU seconds by part
    disk: dict[str, tuple[int, int, int]]  # table -> (rows, table bytes, index bytes)
    load: float
    connections: int  # PostgreSQL connections the collectors hold after the run

    @property
    def rate(self) -> float:
        return self.spans / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def backend_cpu(engine: sa.Engine, database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to ``database`` (their
    /proc entries: the server runs on this machine)."""
    with engine.connect() as connection:
        pids = connection.scalars(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"
            ),
            {"d": database},
        ).all()
    found: dict[int, float] = {}
    for pid in pids:
        found.update({p: cpu for p, cpu in tree_cpu(pid).items() if p == pid})
    return found


def disk_use(engine: sa.Engine) -> dict[str, tuple[int, int, int]]:
    """Rows, table bytes (with TOAST) and index bytes of the tables ingest writes."""
    tables = ("spans", "span_costs", "traces", "projects")
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            sizes = dict(
                connection.exec_driver_sql(
                    "SELECT name, sum(pgsize) FROM dbstat GROUP BY name"
                ).all()
            )
            indexes = dict(
                connection.exec_driver_sql(
                    "SELECT tbl_name, group_concat(name) FROM sqlite_master "
                    "WHERE type = 'index' GROUP BY tbl_name"
                ).all()
            )
            result = {}
            for table in tables:
                rows = connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
                names = (indexes.get(table) or "").split(",")
                result[table] = (
                    int(rows),
                    int(sizes.get(table, 0)),
                    sum(int(sizes.get(name, 0)) for name in names if name),
                )
            return result
    sizes = sa.text(
        "SELECT pg_table_size(CAST(:t AS regclass)), pg_indexes_size(CAST(:t AS regclass))"
    )
    result = {}
    with engine.connect() as connection:
        for table in tables:
            rows = connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
            data, index = connection.execute(sizes, {"t": table}).one()
            result[table] = (int(rows), int(data), int(index))
    return result


def run(config: str, backend_url: str, bodies: list[bytes], clients: int) -> Figures:
    label, backend, collectors = CONFIGS[config]
    with (
        tempfile.TemporaryDirectory(prefix="rl-scale-") as workdir,
        fresh_database(
            Path(workdir), backend_url if backend == "postgresql" else "sqlite://"
        ) as url,
    ):
        servers = [Server(url).start() for _ in range(collectors)]  # the first migrates
        try:
            for n, server in enumerate(servers):  # warm: imports, price book, pool
                send_all(f"{server.url}/v1/traces", list(Payloads(500, seed=90 + n).bodies(2)),
                         2, HEADERS)  # fmt: skip
            warm = 1000 * collectors
            engine = servers[0].engine
            database = engine.url.database or ""
            postgres = backend == "postgresql"
            if postgres:
                # Planner statistics, as autovacuum keeps them on a running store (this
                # VM's cluster runs without it): with none, the cost rows' join to their
                # spans hash-joined every span of the project, 124 ms per 200 rows
                # against 2.8 ms by the unique index.
                with engine.connect() as connection:
                    connection.exec_driver_sql("ANALYZE")
                    connection.commit()
            roots = [server.process.pid for server in servers if server.process is not None]
            before_servers = [tree_cpu(pid) for pid in roots]
            before_db = backend_cpu(engine, database) if postgres else {}
            before_self = time.process_time()
            runs: list[Run] = []
            lock = threading.Lock()

            def send(server: Server, share: list[bytes]) -> None:
                result = send_all(f"{server.url}/v1/traces", share, clients // collectors, HEADERS)
                with lock:
                    runs.append(result)

            threads = [
                threading.Thread(target=send, args=(server, bodies[n::collectors]))
                for n, server in enumerate(servers)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - started
            cpu = {"client": time.process_time() - before_self}
            for pid, before in zip(roots, before_servers, strict=True):
                after = tree_cpu(pid)
                cpu["server"] = cpu.get("server", 0.0) + after[pid] - before[pid]
                cpu["decode"] = cpu.get("decode", 0.0) + sum(
                    value - before.get(child, 0.0) for child, value in after.items() if child != pid
                )
            connections = 0
            if postgres:
                after_db = backend_cpu(engine, database)
                cpu["postgres"] = sum(v - before_db.get(p, 0.0) for p, v in after_db.items())
                connections = len(after_db)  # (the query leaves its own out)
            spans = len(bodies) * 500
            stored = servers[0].count(Span) - warm
            assert stored == spans, f"stored {stored} of {spans}"
            return Figures(
                label,
                spans,
                seconds,
                [latency for result in runs for latency in result.latencies],
                {
                    code: sum(r.statuses.get(code, 0) for r in runs)
                    for code in {c for r in runs for c in r.statuses}
                },
                cpu,
                disk_use(engine),
                load_average(),
                connections,
            )
        finally:
            for server in servers:
                server.close()


def report(figures: Figures) -> None:
    per_k = {part: seconds / figures.spans * 1000 for part, seconds in figures.cpu.items()}
    print(
        f"{figures.config:<26} {figures.spans:>8,} spans {figures.seconds:6.1f} s "
        f"{figures.rate:7,.0f} spans/s  ack p50 {figures.percentile(0.5) * 1000:5.0f} ms "
        f"p99 {figures.percentile(0.99) * 1000:5.0f} ms  CPU s/1k spans: "
        + ", ".join(f"{part} {value:.3f}" for part, value in per_k.items())
        + f" = {sum(per_k.values()):.3f}  (statuses {figures.statuses}, load {figures.load:.1f}"
        + (f", {figures.connections} connections)" if figures.connections else ")"),
        flush=True,
    )


def report_disk(figures: Figures) -> None:
    spans = figures.disk["spans"][0]
    traces = figures.disk["traces"][0]
    print(f"{figures.config}: {spans:,} spans, {traces:,} traces on disk", flush=True)
    total = 0
    for table, (rows, data, index) in figures.disk.items():
        total += data + index
        print(f"  {table:<11} {rows:>9,} rows  table {data / spans:7.0f} B/span  "
              f"indexes {index / spans:6.0f} B/span")  # fmt: skip
    print(f"  all          {total / spans:7.0f} B/span, {total / 2**20:.0f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=100_000, help="spans per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4, help="connections, over all collectors")
    parser.add_argument(
        "--pg",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to create the runs' databases on",
    )
    parser.add_argument("--only", default=",".join(CONFIGS), help="configurations, by name")
    args = parser.parse_args()
    configs = args.only.split(",")
    bodies = list(Payloads(500).bodies(args.spans // 500))
    results: dict[str, list[Figures]] = {config: [] for config in configs}
    for round_number in range(args.rounds):
        print(f"round {round_number + 1}", flush=True)
        for config in configs:
            figures = run(config, args.pg, bodies, args.clients)
            results[config].append(figures)
            report(figures)
    median: Callable[[list[float]], float] = statistics.median
    print("medians")
    for config, runs in results.items():
        print(
            f"{CONFIGS[config][0]:<26} {median([r.rate for r in runs]):7,.0f} spans/s  "
            f"ack p50 {median([r.percentile(0.5) for r in runs]) * 1000:5.0f} ms  "
            f"p99 {median([r.percentile(0.99) for r in runs]) * 1000:5.0f} ms"
        )
    for runs in results.values():
        report_disk(runs[-1])


if __name__ == "__main__":
    main()
