"""Stages 3-6 of the benchmark suite (``bench/suite.py``): a store of the demo's
traffic, then query and page latency, CSV exports and evals on it."""

from __future__ import annotations

import multiprocessing
import shutil
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import csv_export
from bench.api_query import query_timings
from bench.demo_payloads import demo_bodies
from bench.evals import eval_runs
from bench.ingest import RssSampler
from bench.page_traces import PROJECT, TRACE_PAGES, page_timings
from bench.protocols import send
from bench.suite_ingest import BATCH, CLIENTS, check_stored
from bench.suite_run import Report, Sizes, mib, ms, stage, timing_rows
from tests.server import Server


@dataclass(frozen=True)
class Built:
    spans: int
    bytes_per_span: float
    rate: float
    server_peak: int
    tree_peak: int
    generated_s: float


def build_store(report: Report, sizes: Sizes, directory: Path) -> str:
    """The demo's traffic at ``sizes.store_spans`` over HTTP protobuf into a fresh store.

    In a spawned process: a million generated spans and their bodies take ~7 GB, which
    this process would keep (CPython returns little to the system) and hand on to every
    process it starts afterwards, whose ru_maxrss then reports it (bench/evals.py).
    """
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    url = f"sqlite:///{directory / 'reasonlens.db'}"
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        built = pool.submit(_build, url, sizes.store_spans).result()
    report.table(
        ["store", "spans", "bytes/span", "ingest spans/s", "server RSS peak", "with workers"],
        [[str(directory / "reasonlens.db"), f"{built.spans:,}", f"{built.bytes_per_span:,.0f}",
          f"{built.rate:,.0f}", mib(built.server_peak), mib(built.tree_peak)]],
    )  # fmt: skip
    report.add(
        f"(Generating the demo's traffic took {built.generated_s:.0f} s, outside the rate.)", ""
    )
    return url


def _build(url: str, spans: int) -> Built:
    generated = time.perf_counter()
    bodies, spans = demo_bodies(spans, BATCH)
    generated = time.perf_counter() - generated
    server = Server(url).start()
    try:
        assert server.process is not None
        sampler = RssSampler(server.process.pid)
        sampler.start()
        run = send("http-protobuf", f"{server.url}/v1/traces", "", bodies, CLIENTS)
        sampler.stop()
        run.spans = spans
        check_stored(run, server, spans)
    finally:
        server.close()
    size = sum(map(len, bodies)) / spans
    return Built(spans, size, run.rate, sampler.main_peak, sampler.tree_peak, generated)


def queries_and_exports(report: Report, sizes: Sizes, url: str) -> None:
    server = Server(url, env={"REASONLENS_MIGRATE_ON_START": "false"}).start()
    assert server.process is not None
    try:
        decode_workers = set(csv_export.children(server.process.pid))
        with httpx.Client(base_url=server.url, timeout=3600) as client:
            time.sleep(2)  # let the upkeep thread's ANALYZE at start finish
            traces = client.get("/api/traces", params={"project": PROJECT, "limit": 1})
            assert traces.json()["traces"], "the store is empty"
            with stage(report, "Query latency: GET /api/traces (JSON)"):
                queries = {
                    name: {"project": PROJECT, **params} for name, params in TRACE_PAGES.items()
                }
                api = list(query_timings(client, queries, sizes.repeat))
                report.add(f"{sizes.repeat} requests each after one warm-up, keep-alive HTTP.")
                report.table(["filter", "median (ms)", "p95 (ms)", ""], timing_rows(api))
            with stage(report, "Page latency: dashboard HTML"):
                pages = list(page_timings(client, sizes.repeat))
                report.table(["page", "median (ms)", "p95 (ms)", "rows"], timing_rows(pages))
            with stage(report, "CSV export of the whole store (gzip, as a browser asks)"):
                rows = []
                for name, (path, params) in csv_export.EXPORTS.items():
                    runs = [
                        csv_export.export(client, server.process.pid, path, params, decode_workers)
                        for _ in range(sizes.csv_repeat)
                    ]
                    best = statistics.median(r.rows_per_s for r in runs)
                    figures = runs[-1]
                    rows.append([
                        name, f"{figures.rows:,}", f"{figures.mib:,.0f} MiB", f"{best:,.0f}",
                        f"{statistics.median(r.rows_per_cpu_s for r in runs):,.0f}",
                        ms(figures.first_byte_s),
                        f"{figures.rss_before_mib:,.0f} / {figures.rss_peak_mib:,.0f} MiB",
                        f"{figures.export_worker_peak_mib:,.0f} MiB",
                    ])  # fmt: skip
                report.table(
                    ["export", "rows", "size", "rows/s (median)", "per CPU s",
                     "first byte (ms)", "server RSS before / peak", "export worker peak"],
                    rows,
                )  # fmt: skip
    finally:
        server.close()


def evals(report: Report, sizes: Sizes, url: str) -> None:
    rows = []
    for result in eval_runs(url, PROJECT, None, sizes.eval_repeat):
        rows.append([
            f"{result['traces']:,}", f"{result['spans']:,}", f"{result['wall_s']:.1f}",
            f"{result['traces_per_s']:,.0f}", f"{result['peak_rss_mb']:,.0f} MB",
            f"{result['stage_rss_mb']:,.0f} MB", result["status"],
        ])  # fmt: skip
    report.add("Every deterministic evaluator (bench/evals.py's suite) over the whole store.")
    report.table(
        ["traces", "spans", "wall (s)", "traces/s", "peak RSS", "read/write process peak",
         "suite verdict"],
        rows,
    )  # fmt: skip
