"""The long CSV exports on a large store: rows/s, time to first byte, server memory.

    .venv/bin/python -m bench.ingest --spans 1000000 --payload demo --keep-db bench/out/demo-1m
    .venv/bin/python -m bench.csv_export --db sqlite:///bench/out/demo-1m/reasonlens.db

Exports, each ``--repeat`` times (default 3) against the real server on loopback:
``/api/traces.csv`` of the whole project (every trace of 1,000,000 spans) and
``/api/spans.csv`` of the whole store (every span). The client writes the body to a
file as it arrives (so its own memory and CPU stay out of the way) and counts the rows
with a CSV reader once the clock has stopped; the server's resident memory is sampled
every 20 ms meanwhile (its process, where the export runs, and with its decode worker
processes), and its CPU time is read before and after: on a VM shared with other work,
rows per server CPU second is the steadier figure. Printed per run, then the medians.

The store is only read: the server starts with migrations off.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.server import Server

EXPORTS = {
    "traces.csv": ("/api/traces.csv", {"project": "default"}),
    "spans.csv": ("/api/spans.csv", {}),
}


@dataclass(frozen=True)
class Figures:
    rows: int
    mib: float
    seconds: float
    first_byte_s: float
    rss_before_mib: float  # the server process alone (the export runs in it)
    rss_peak_mib: float
    tree_peak_mib: float  # with its decode workers (idle meanwhile) and export workers
    cpu_s: float  # CPU time of the server and its worker processes during the export
    export_worker_peak_mib: float  # the largest export worker
    export_worker_before_mib: float  # the export worker at rest (0 before it starts)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def rows_per_cpu_s(self) -> float:
        """Rows per second of the server's CPU: what this VM's neighbours leave out."""
        return self.rows / self.cpu_s


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:
        return 0
    return next(int(line.split()[1]) for line in lines if line.startswith("VmRSS:"))


def tree_rss_kib(pid: int) -> int:
    """Resident memory of the process and its children (decode workers), in KiB."""
    return sum(rss_kib(found) for found in [pid, *children(pid)])


def children(pid: int) -> list[int]:
    """Child processes, whichever thread started them (the export pool's start in a
    request thread, and each thread lists its own)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds of the process and of each of its children, by pid."""
    found = {}
    for member in [pid, *children(pid)]:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError):
            found[member] = cpu_seconds(member)
    return found


def export(
    client: httpx.Client, pid: int, path: str, params: dict[str, str], decode_workers: set[int]
) -> Figures:
    samples, trees, done = [rss_kib(pid)], [tree_rss_kib(pid)], threading.Event()
    worker_peak = 0
    worker_before = max([0, *(rss_kib(child) for child in set(children(pid)) - decode_workers)])
    cpu_before = tree_cpu_seconds(pid)
    cpu_last = dict(cpu_before)  # an export worker that stops mid-run counts as last seen

    def sample() -> None:
        nonlocal worker_peak
        while not done.wait(0.02):
            samples.append(rss_kib(pid))
            trees.append(tree_rss_kib(pid))
            exporters = set(children(pid)) - decode_workers
            worker_peak = max([worker_peak, *(rss_kib(child) for child in exporters)])
            cpu_last.update(tree_cpu_seconds(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with tempfile.NamedTemporaryFile(suffix=".csv") as out:
        started = time.perf_counter()
        first = None
        size = 0
        with client.stream("GET", path, params=params) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                if first is None:
                    first = time.perf_counter() - started
                out.write(chunk)
                size += len(chunk)
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        cpu_last.update(tree_cpu_seconds(pid))
        # A worker this export started counts from 0.
        cpu = sum(cpu_last[k] - cpu_before.get(k, 0.0) for k in cpu_last)
        out.flush()
        with open(out.name, encoding="utf-8", newline="") as text:
            rows = sum(1 for _ in csv.reader(text)) - 1
    return Figures(
        rows,
        size / 2**20,
        elapsed,
        first or elapsed,
        samples[0] / 1024,
        max(samples) / 1024,
        max(trees) / 1024,
        cpu,
        worker_peak / 1024,
        worker_before / 1024,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", required=True, help="database URL of an ingested store")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=sorted(EXPORTS), help="one export only")
    parser.add_argument(
        "--identity", action="store_true", help="ask for no gzip (a browser asks for gzip)"
    )
    args = parser.parse_args()
    env = {"REASONLENS_MIGRATE_ON_START": "false"}
    server = Server(args.db, env=env).start()
    assert server.process is not None
    decode_workers = set(children(server.process.pid))
    try:
        headers = {"accept-encoding": "identity" if args.identity else "gzip"}
        with httpx.Client(base_url=server.url, timeout=3600, headers=headers) as client:
            time.sleep(2)  # let the upkeep thread's ANALYZE at start finish
            for name, (path, params) in EXPORTS.items():
                if args.only and name != args.only:
                    continue
                runs = []
                for _ in range(args.repeat):
                    f = export(client, server.process.pid, path, params, decode_workers)
                    runs.append(f)
                    print(f"{name}: {f.rows:,} rows, {f.mib:,.0f} MiB in {f.seconds:.1f} s = "
                          f"{f.rows_per_s:,.0f} rows/s ({f.rows_per_cpu_s:,.0f} per server CPU s);"
                          f" first byte {f.first_byte_s * 1000:.0f} ms; server RSS "
                          f"{f.rss_before_mib:.0f} MiB before, peak {f.rss_peak_mib:.0f} MiB "
                          f"(export worker {f.export_worker_before_mib:.0f} MiB before, "
                          f"peak {f.export_worker_peak_mib:.0f}; "
                          f"the tree with its idle decode workers {f.tree_peak_mib:.0f})",
                          flush=True)  # fmt: skip
                rate = statistics.median(r.rows_per_s for r in runs)
                per_cpu = statistics.median(r.rows_per_cpu_s for r in runs)
                first = statistics.median(r.first_byte_s for r in runs)
                peak = statistics.median(r.rss_peak_mib for r in runs)
                worker = statistics.median(r.export_worker_peak_mib for r in runs)
                print(f"{name} median of {len(runs)}: {rate:,.0f} rows/s ({per_cpu:,.0f} per "
                      f"server CPU s), first byte "
                      f"{first * 1000:.0f} ms, peak RSS {peak:.0f} MiB (export worker "
                      f"{worker:.0f} MiB)", flush=True)  # fmt: skip
    finally:
        server.close()


if __name__ == "__main__":
    main()
