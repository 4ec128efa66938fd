"""Deterministic evaluators over a large store: traces/s and peak RSS of one eval run.

    .venv/bin/python -m bench.ingest --spans 1000000 --payload demo --keep-db bench/out/demo-1m
    .venv/bin/python -m bench.evals --db sqlite:///bench/out/demo-1m/reasonlens.db

Runs a suite with every evaluator but the LLM judge (which waits on the network:
``bench/judge.py``) over ``--traces`` of the store's newest traces (default: all of
them), ``--repeat`` times, each in a fresh process so that its peak RSS is its own.
Prints per run: traces and spans scored, wall time, traces/s, peak RSS (the runner's,
and the larger of its reading and writing processes'), and the runner's own split
(read, score, write: reading and writing overlap scoring in their own processes).
Scores are written as in production: each run adds its rows (the store grows by one
score row per trace and metric per run).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import migrations
from evals.runner import run_suite
from evals.suite import load_suite
from store.engine import create_engine
from store.models import Project, Trace

SUITE = """
name: bench-deterministic
select: {{project: {project}, since: "{since}"}}
evaluators:
  - pii
  - prompt_injection
  - loops: {{max_repeats: 3}}
  - tool_policy:
      require_approval: [refund, send_email]
      approval_tools: [request_approval]
      forbidden: [delete_account]
  - step_budget: {{max_steps: 25}}
  - cost_budget: {{max_usd_per_trace: 0.50, max_tokens_per_trace: 200000}}
  - latency: {{max_ms: 30000, span_max_ms: {{llm: 20000, tool: 5000}}}}
  - tool_recovery
  - escalation
  - confident_but_wrong: {{min_confidence: 0.8, correctness: status}}
thresholds:
  pii: {{pass_rate: 0.9}}
  latency: {{max_p95: 30000}}
"""


def _since(url: str, project: str, traces: int | None) -> str:
    """The start time of the ``traces``-th newest trace: the selection is a time window."""
    engine = create_engine(url)
    with engine.connect() as connection:
        query = (
            sa.select(Trace.start_time_ns)
            .join(Project, Project.id == Trace.project_id)
            .where(Project.name == project)
            .order_by(Trace.start_time_ns.desc())
        )
        if traces is None:
            since = connection.scalar(query.with_only_columns(sa.func.min(Trace.start_time_ns)))
        else:
            since = connection.scalar(query.offset(traces - 1).limit(1))
    engine.dispose()
    return str(since)


def one_run(url: str, project: str, since: str) -> dict[str, Any]:
    """One run in this process (the parent starts a fresh process per run)."""
    engine = create_engine(url)
    suite = load_suite(SUITE.format(project=project, since=since))
    started = time.perf_counter()
    result = run_suite(engine, suite)
    wall = time.perf_counter() - started
    traces = result.summary["selection"]["traces"]
    with engine.connect() as connection:
        spans = connection.scalar(
            sa.select(sa.func.sum(Trace.span_count))
            .join(Project, Project.id == Trace.project_id)
            .where(Project.name == project, Trace.start_time_ns >= int(since))
        )
    return {
        "traces": traces,
        "spans": spans or 0,
        "wall_s": wall,
        "traces_per_s": traces / wall,
        # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so a child started by
        # a large parent (bench.suite, after building a 1M-span store) reported the
        # parent's size. VmHWM belongs to the process's own memory map.
        "peak_rss_mb": _vm_hwm_kib() / 1024,
        # The reading and writing processes of a large run: the larger one's peak. Their
        # ru_maxrss starts at this runner's RSS when they were spawned: an upper bound.
        "stage_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "status": result.status,
        "timings": result.summary.get("timings", {}),
    }


def _vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux


def eval_runs(url: str, project: str, traces: int | None, repeat: int) -> Iterator[dict[str, Any]]:
    """``repeat`` runs of the suite over the newest ``traces`` (all if None), each in a
    fresh process so that its peak RSS is its own; the store is migrated first."""
    engine = create_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    since = _since(url, project, traces)
    for _ in range(repeat):
        command = [sys.executable, "-m", "bench.evals", "--db", url, "--project", project]
        output = subprocess.run(
            [*command, "--child", since], check=True, capture_output=True, text=True
        ).stdout
        yield json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--project", default="default")
    parser.add_argument("--traces", type=int, default=None, help="Newest N traces (default all).")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(one_run(args.db, args.project, args.child)))
        return
    results = []
    for attempt, result in enumerate(eval_runs(args.db, args.project, args.traces, args.repeat)):
        results.append(result)
        print(
            f"run {attempt + 1}: {result['traces']:,} traces, {result['spans']:,} spans "
            f"in {result['wall_s']:.1f} s = {result['traces_per_s']:,.0f} traces/s, "
            f"peak RSS {result['peak_rss_mb']:.0f} MB "
            f"(reading/writing processes {result['stage_rss_mb']:.0f} MB each at most), "
            f"{result['status']}; "
            f"split {json.dumps(result['timings'])}"
        )
    print(
        f"median: {statistics.median(r['wall_s'] for r in results):.1f} s, "
        f"{statistics.median(r['traces_per_s'] for r in results):,.0f} traces/s, "
        f"peak RSS {statistics.median(r['peak_rss_mb'] for r in results):.0f} MB"
    )


if __name__ == "__main__":
    main()
