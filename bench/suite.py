"""The benchmark suite in one run, reasonlens beside its peers, as a markdown table.

    .venv/bin/python -m bench.suite --quick     # smoke run, a few minutes
    .venv/bin/python -m bench.suite             # the full run: 200k spans a door, a 1M-span store
    .venv/bin/python -m bench.suite --store-db sqlite:///bench/out/demo-1m/reasonlens.db

Stages, each with its figures printed as it ends and appended to
``bench/out/suite-<UTC time>.md``:

1. Ingest, per OTLP door (HTTP protobuf, HTTP JSON, gRPC), each on a fresh SQLite
   store: the peers' request bodies, then ``--spans`` at saturation (4 clients,
   bench/ingest.py's loops, the server's RSS sampled), then the ack latency of each
   request at a steady 50% of that rate (bench/latency.py).
2. Peers on the very same bodies, through every door they have: Arize Phoenix and
   MLflow's tracking server, each from its own venv (bench/peers/install_*.sh); a
   peer that is not installed is reported as such. Their rate is spans over the time
   until their database holds every span (Phoenix answers before it stores), and the
   ratio is reasonlens's rate on the same bodies over theirs.
3. A store of the demo's traffic (``reasonlens demo``'s generator) at ``--store-spans``
   (1,000,000), ingested over HTTP protobuf, or ``--store-db`` to reuse one built by
   the same code.
4. Query and page latency on it: ``/api/traces`` and ``/traces`` with
   bench/page_traces.py's filters and sorts, pages through a cursor, sessions.
5. CSV exports of the whole store (bench/csv_export.py), with the server's memory.
6. The deterministic eval suite over the whole store (bench/evals.py).

The VM is shared, so the load average is recorded before and after every stage; quote
ratios measured in one run and medians, not single figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.suite_ingest import ingest
from bench.suite_run import FULL, QUICK, ROOT, Report, Sizes, stage
from bench.suite_store import build_store, evals, queries_and_exports


def _commit() -> str:
    found = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    return found.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few minutes")
    parser.add_argument("--spans", type=int, help="spans per door at saturation")
    parser.add_argument("--peer-spans", type=int, help="spans per peer and door")
    parser.add_argument("--store-spans", type=int, help="demo spans in the store")
    parser.add_argument("--store-db", help="reuse this store (built by this code) for 4-6")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest stages")
    parser.add_argument("--no-peers", action="store_true", help="skip Phoenix and MLflow")
    parser.add_argument("--no-store", action="store_true", help="stop after the ingest stages")
    parser.add_argument("--out", type=Path, help="the markdown file (default bench/out/...)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    sizes = Sizes(
        args.spans or sizes.spans,
        args.peer_spans or sizes.peer_spans,
        sizes.latency_seconds,
        args.store_spans or sizes.store_spans,
        sizes.repeat,
        sizes.csv_repeat,
        sizes.eval_repeat,
    )
    now = datetime.now(UTC)
    out = args.out or ROOT / "bench" / "out" / f"suite-{now:%Y%m%d-%H%M}.md"
    report = Report(out)
    started = time.perf_counter()
    report.add(
        f"# Benchmark suite, {now:%Y-%m-%d %H:%M} UTC ({'quick' if args.quick else 'full'})",
        "",
        f"Commit {_commit()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at "
        f"the start. Spans per door {sizes.spans:,}, per peer and door {sizes.peer_spans:,}; "
        f"latency {sizes.latency_seconds:.0f} s of offered load per door; store "
        f"{sizes.store_spans:,} spans; {sizes.repeat} requests per query or page.",
        "",
    )
    workdir = Path(tempfile.mkdtemp(prefix="rl-suite-"))
    try:
        if not args.no_ingest:
            ingest(report, sizes, workdir, peers=not args.no_peers)
        if not args.no_store:
            if args.store_db:
                url = args.store_db
                report.add(f"Store: {url} (reused).", "")
            else:
                with stage(report, f"Store: {sizes.store_spans:,} spans of the demo's traffic"):
                    directory = ROOT / "bench" / "out" / f"suite-store-{sizes.store_spans}"
                    url = build_store(report, sizes, directory)
            queries_and_exports(report, sizes, url)
            with stage(report, "Evals"):
                evals(report, sizes, url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report.add(
        f"Suite finished in {time.perf_counter() - started:.0f} s, load "
        f"{os.getloadavg()[0]:.1f}. Written to {out}."
    )


if __name__ == "__main__":
    main()
