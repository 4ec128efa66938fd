"""A drift report on two cohorts of 20,000 traces: the time to read both from the store
and to test every metric.

    .venv/bin/python -m bench.ingest --spans 850000 --keep-db bench/out/drift
    .venv/bin/python -m bench.drift --db sqlite:///bench/out/drift/reasonlens.db

The synthetic payload (``bench/payloads.py``) gives checkout 1.4.0 and 1.5.0 a quarter
of the traces each, so 850,000 spans hold two cohorts of over 20,000 traces. Prints
per run the seconds to load each cohort (traces, their steps and failures, scores)
and to build the report (every built-in metric), then the medians.
"""

from __future__ import annotations

import argparse
import statistics
import time

import sqlalchemy as sa

from evals.drift import cohort
from evals.drift.options import DEFAULT_LIMIT
from evals.drift.report import build_report
from store.engine import create_engine
from store.models import Project
from store.queries import TraceFilter


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", required=True, help="database URL of a kept store")
    parser.add_argument("--project", help="project (default: the store's first)")
    parser.add_argument("--agent", default="checkout")
    parser.add_argument("--baseline", default="1.4.0", help="baseline agent version")
    parser.add_argument("--current", default="1.5.0", help="current agent version")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="traces per cohort")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    engine = create_engine(args.db)
    with engine.connect() as connection:
        project = args.project or connection.scalar(sa.select(Project.name).order_by(Project.id))
    sides = {
        name: TraceFilter(project=project, agent=args.agent, agent_version=version)
        for name, version in (("baseline", args.baseline), ("current", args.current))
    }
    totals, loads, reports = [], [], []
    for run in range(args.repeat):
        began = time.perf_counter()
        with engine.connect() as connection:
            before = cohort.load(connection, sides["baseline"], limit=args.limit)
            after = cohort.load(connection, sides["current"], limit=args.limit)
        loaded = time.perf_counter()
        report = build_report(before, after, limit=args.limit)
        done = time.perf_counter()
        totals.append(done - began)
        loads.append(loaded - began)
        reports.append(done - loaded)
        print(
            f"run {run + 1}: {before.size:,} + {after.size:,} traces, "
            f"load {loads[-1]:.2f} s, report {reports[-1]:.2f} s, total {totals[-1]:.2f} s, "
            f"{len(report['metrics'])} metrics, {report['drifted']} drifted"
        )
    print(
        f"median of {args.repeat}: load {statistics.median(loads):.2f} s, "
        f"report {statistics.median(reports):.2f} s, total {statistics.median(totals):.2f} s "
        f"({engine.dialect.name})"
    )


if __name__ == "__main__":
    main()
