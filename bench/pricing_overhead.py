"""What pricing at ingest costs the whole server: CPU per span with pricing on vs off.

    .venv/bin/python -m bench.pricing_overhead                      # 5 rounds of 120,000 spans
    .venv/bin/python -m bench.pricing_overhead --rounds 3 --spans 100000

Every span goes through ``collector.costing.span_cost`` (price lookup, cost arithmetic)
and ``cost_values`` in the decode workers, and the writer inserts the cost rows into
``span_costs`` beside the spans. This script runs the real server (``tests/server.py``)
on the same ``reasonlens demo`` bodies (about half the spans are model calls) with
pricing on, and with pricing off, alternately, a fresh SQLite database per run.

"off" is the same code with ``span_cost`` replaced, at interpreter start, by a function
that returns no cost: the server runs with a directory on PYTHONPATH holding a
``sitecustomize.py`` that patches ``collector.costing`` before ``collector.pipeline``
imports it (``from collector.costing import span_cost``), in the server process and in
the spawned decode workers alike. No switch in production code. Each run checks what
was stored: "off" must leave ``span_costs`` empty, "on" must write about one row per
model call, or the script fails.

The figure is CPU seconds (user + system) of the server's whole process tree (server
process, decode workers, any other child) per 1,000 spans, read from /proc between the
first request (after a warm-up) and the server falling idle after the last answer.
This 2-core VM is CPU-bound at ingest, and its wall-clock throughput drifts by
15-30% between runs of the same code (other sessions use the cores too), so CPU per
span is the measure that can resolve a difference of a few percent; spans/s is printed
as a second, noisier figure. Medians over rounds, and the ratio on / off - 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bench.demo_payloads import demo_bodies
from bench.ingest import HEADERS, send_all
from bench.proc import load_average, settle, tree_cpu
from store.models import Span, SpanCost
from store.vocabulary import USAGE_KINDS
from tests.server import Server

PATCH = '''"""Written by bench/pricing_overhead.py: pricing switched off at ingest."""

import collector.costing


def _no_cost(*args, **kwargs):
    return (None, None, None, None, None)


collector.costing.span_cost = _no_cost
'''

MODES = ("on", "off")


# ---------------------------------------------------------------- one run


@dataclass
class Result:
    round: int
    mode: str
    spans: int
    seconds: float
    server_cpu: float  # the server process
    worker_cpu: float  # its descendants: decode workers (and any helper process)
    processes: int  # in the tree, server included
    cost_rows: int
    model_calls: int
    load: tuple[float, float]

    @property
    def cpu(self) -> float:
        return self.server_cpu + self.worker_cpu

    @property
    def cpu_per_k(self) -> float:
        """CPU seconds per 1,000 spans."""
        return self.cpu / self.spans * 1000

    @property
    def rate(self) -> float:
        return self.spans / self.seconds


def counts(server: Server) -> tuple[int, int, int]:
    """Stored spans, stored model calls (LLM and embedding spans), span_costs rows."""
    kinds = [kind.value for kind in USAGE_KINDS]
    with server.engine.connect() as connection:
        spans = connection.execute(sa.select(sa.func.count()).select_from(Span)).scalar_one()
        calls = connection.execute(
            sa.select(sa.func.count()).select_from(Span).where(Span.kind.in_(kinds))
        ).scalar_one()
        costs = connection.execute(sa.select(sa.func.count()).select_from(SpanCost)).scalar_one()
    return int(spans), int(calls), int(costs)


def run_once(
    number: int,
    mode: str,
    bodies: list[bytes],
    spans: int,
    warm: list[bytes],
    clients: int,
    workdir: Path,
    patch_dir: Path,
) -> Result:
    database = workdir / f"run{number}-{mode}"
    database.mkdir()
    env: dict[str, str] = {}
    if mode == "off":
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, (str(patch_dir), os.environ.get("PYTHONPATH")))
        )
    server = Server(f"sqlite:///{database / 'reasonlens.db'}", env=env).start()
    try:
        assert server.process is not None
        pid = server.process.pid
        url = f"{server.url}/v1/traces"
        send_all(url, warm, clients, HEADERS)
        settle(pid)
        spans0, calls0, costs0 = counts(server)
        load0 = load_average()
        before = tree_cpu(pid)
        run = send_all(url, bodies, clients, HEADERS)
        settle(pid)
        after = tree_cpu(pid)
        load1 = load_average()
        spans1, calls1, costs1 = counts(server)
    finally:
        server.close()
        shutil.rmtree(database, ignore_errors=True)
    bad = {status: n for status, n in run.statuses.items() if status not in (200, 503)}
    if bad:
        raise SystemExit(f"run {number} ({mode}): unexpected HTTP statuses {run.statuses}")
    if spans1 - spans0 != spans:
        raise SystemExit(f"run {number} ({mode}): stored {spans1 - spans0:,} of {spans:,} spans")
    model_calls, cost_rows = calls1 - calls0, costs1 - costs0
    if model_calls < spans // 10:
        raise SystemExit(f"run {number} ({mode}): only {model_calls:,} model calls stored")
    if mode == "off" and costs1 != 0:
        raise SystemExit(
            f"run {number} (off): {costs1:,} span_costs rows stored: the patch did not take"
        )
    if mode == "on" and not 0.9 * model_calls <= cost_rows <= 1.1 * model_calls:
        raise SystemExit(
            f"run {number} (on): {cost_rows:,} span_costs rows for {model_calls:,} model calls"
        )
    delta = {p: cpu - before.get(p, 0.0) for p, cpu in after.items()}
    server_cpu = delta.pop(pid)
    return Result(
        number, mode, spans, run.seconds, server_cpu, sum(delta.values()), len(after),
        cost_rows, model_calls, (load0, load1),
    )  # fmt: skip


# ---------------------------------------------------------------- report


def print_run(result: Result) -> None:
    per_k = 1000 / result.spans
    print(
        f"{result.round:>5}  {result.mode:<4} {result.spans:>8,} {result.seconds:7.1f} "
        f"{result.rate:8,.0f}   {result.cpu_per_k:7.3f} = {result.server_cpu * per_k:6.3f}"
        f" + {result.worker_cpu * per_k:6.3f} ({result.processes - 1})  {result.cost_rows:>9,}"
        f" {result.model_calls:>12,}   {result.load[0]:4.2f} -> {result.load[1]:4.2f}",
        flush=True,
    )


def summarize(results: list[Result]) -> None:
    medians: dict[str, dict[str, float]] = {}
    for mode in MODES:
        runs = [r for r in results if r.mode == mode]
        per_k = [1000 / r.spans for r in runs]
        medians[mode] = {
            "cpu": statistics.median(r.cpu_per_k for r in runs),
            "server": statistics.median(r.server_cpu * k for r, k in zip(runs, per_k, strict=True)),
            "workers": statistics.median(
                r.worker_cpu * k for r, k in zip(runs, per_k, strict=True)
            ),
            "rate": statistics.median(r.rate for r in runs),
        }
    on, off = medians["on"], medians["off"]
    print("\nmedians        CPU s/1k spans (server + workers)     spans/s")
    for mode in MODES:
        m = medians[mode]
        print(
            f"  pricing {mode:<4} {m['cpu']:7.3f} ({m['server']:6.3f} + {m['workers']:6.3f})"
            f"          {m['rate']:8,.0f}"
        )
    paired_cpu = [
        a.cpu_per_k / b.cpu_per_k - 1
        for a, b in zip(
            [r for r in results if r.mode == "on"], [r for r in results if r.mode == "off"],
            strict=False,
        )
    ]  # fmt: skip
    print(
        f"\noverhead of pricing (on / off - 1, medians):\n"
        f"  CPU per span   {on['cpu'] / off['cpu'] - 1:+.1%}"
        f"  (server process {on['server'] / off['server'] - 1:+.1%}, "
        f"decode workers {on['workers'] / off['workers'] - 1:+.1%})\n"
        f"  throughput     {on['rate'] / off['rate'] - 1:+.1%}  (spans/s; noisy on this VM)\n"
        f"  CPU per span, round by round: " + ", ".join(f"{ratio:+.1%}" for ratio in paired_cpu)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=120_000, help="demo spans per run")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each mode, alternating")
    parser.add_argument("--batch", type=int, default=500, help="spans per request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    args = parser.parse_args()

    started = time.perf_counter()
    bodies, spans = demo_bodies(args.spans, args.batch)
    warm, _ = demo_bodies(4 * args.batch, args.batch, seed=7)
    print(
        f"generated {len(bodies)} demo bodies, {spans:,} spans "
        f"({sum(map(len, bodies)) / spans:.0f} B/span protobuf) in "
        f"{time.perf_counter() - started:.1f} s; {args.rounds} rounds of on and off "
        "(which first alternating); "
        f"{args.clients} clients, {os.cpu_count()} cores, load {load_average():.2f}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="rl-pricing-"))
    patch_dir = workdir / "pricing-off"
    patch_dir.mkdir()
    (patch_dir / "sitecustomize.py").write_text(PATCH)
    print(
        "\nround  mode    spans  wall s  spans/s   CPU s/1k spans (server + workers (n))"
        " cost rows  model calls   load"
    )
    results: list[Result] = []
    try:
        for number in range(1, args.rounds + 1):
            # Which mode goes first alternates, so a load that drifts during a round
            # weighs on both modes alike over the rounds.
            for mode in MODES if number % 2 else MODES[::-1]:
                result = run_once(
                    number, mode, bodies, spans, warm, args.clients, workdir, patch_dir
                )
                results.append(result)
                print_run(result)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summarize(results)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
