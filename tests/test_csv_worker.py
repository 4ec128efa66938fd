"""The long exports through the export worker process (``web/exports/export_worker.py``),
against the real server: what an export holds while spans arrive, a download given up,
and which process loads what."""

from __future__ import annotations

import csv
import io
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server

T0 = 1_770_000_000_000_000_000
SECOND = 1_000_000_000


def sqlite_only(server: Server) -> None:
    if not server.database_url.startswith("sqlite"):
        pytest.skip("the export worker serves SQLite stores only")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def export_worker(server: Server) -> int:
    """The server's export worker: its child that loaded ADBC's SQLite driver."""
    assert server.process is not None
    for child in children(server.process.pid):
        try:
            if "adbc_driver_sqlite" in libraries(child):
                return child
        except OSError:
            continue
    raise AssertionError("no export worker process")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def exported_trace_ids(server: Server, project: str) -> list[str]:
    response = httpx.get(f"{server.url}/api/traces.csv", params={"project": project}, timeout=60)
    assert response.status_code == 200, response.text
    lines = list(csv.reader(io.StringIO(response.text, newline="")))
    return [line[0] for line in lines[1:]]


def exported_span_ids(server: Server, project: str) -> list[str]:
    response = httpx.get(f"{server.url}/api/spans.csv", params={"project": project}, timeout=60)
    assert response.status_code == 200, response.text
    lines = list(csv.reader(io.StringIO(response.text, newline="")))
    return [line[2] for line in lines[1:]]


def test_an_export_during_ingest_holds_every_trace_acknowledged_before_it(
    server: Server, project: str
) -> None:
    """In the server process, ADBC's SQLite dropped the file locks of the server's own
    and exports read stale rows; each export must hold every trace acknowledged (200,
    after COMMIT) before it began, while more arrive."""
    ids = Ids(project)
    acknowledged: list[tuple[str, str]] = []  # (trace id, span id), in order
    lock, stop = threading.Lock(), threading.Event()
    failures: list[str] = []

    def ingest() -> None:
        n = 0
        while not stop.is_set():
            specs = []
            for _ in range(20):
                trace, start = ids.trace(), T0 + n * SECOND
                specs.append(SpanSpec(trace, ids.span(), f"op {n}", start, start + SECOND))
                n += 1
            response = post(server.url, request(specs), project=project)
            if response.status_code != 200:
                failures.append(response.text)
                return
            with lock:
                acknowledged.extend((spec.trace_id, spec.span_id) for spec in specs)

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        for round_ in range(6):
            with lock:
                before = list(acknowledged)
            if round_ % 2 == 0:
                exported = set(exported_trace_ids(server, project))
                missing = {trace for trace, _ in before} - exported
            else:
                exported = set(exported_span_ids(server, project))
                missing = {span for _, span in before} - exported
            assert not missing, f"round {round_}: {len(missing)} of {len(before)} missing"
    finally:
        stop.set()
        writer.join()
    assert not failures
    with lock:
        assert len(set(exported_trace_ids(server, project))) == len(acknowledged)


def test_the_worker_loads_adbc_and_arrow_the_server_neither_adbc_nor_the_worker_pandas(
    server: Server, project: str
) -> None:
    sqlite_only(server)
    exported_trace_ids(server, project)  # the worker starts with the first export
    worker = export_worker(server)
    assert server.process is not None
    assert "adbc_driver_sqlite" not in libraries(server.process.pid)
    assert "pyarrow" in libraries(worker)
    assert "pandas" not in libraries(worker)


def test_a_download_given_up_stops_the_workers_job(server: Server, project: str) -> None:
    """A client that reads the first bytes and hangs up: the worker's job ends (else it
    would wait forever for the client, and every export after it would be written by
    the server's line writer), so the next export is the worker's again."""
    sqlite_only(server)
    ids = Ids(project)
    text = "x" * 20_000  # 2,000 spans: ~40 MB of CSV, more than every buffer between
    for batch in range(20):
        specs = []
        for i in range(100):
            start = T0 + (batch * 100 + i) * SECOND
            spec = SpanSpec(ids.trace(), ids.span(), "op", start, start + SECOND,
                            attributes={"input.value": text})  # fmt: skip
            specs.append(spec)
        assert post(server.url, request(specs), project=project).status_code == 200
    exported_trace_ids(server, "no-such-project")  # the worker started
    worker = export_worker(server)

    with (
        httpx.Client(timeout=60) as client,
        client.stream("GET", f"{server.url}/api/spans.csv", params={"project": project}) as body,
    ):
        assert body.status_code == 200
        received = 0
        for chunk in body.iter_raw():
            received += len(chunk)
            if received > 1_000_000:
                break
    # Hung up after 1 MB. The worker, cancelled, goes idle.
    time.sleep(0.5)
    idle = cpu_seconds(worker)
    time.sleep(1.0)
    assert cpu_seconds(worker) - idle < 0.05

    # It is free: the next download is written by the worker, to the last span.
    before = cpu_seconds(worker)
    spans = exported_span_ids(server, project)
    assert len(spans) == 2000
    assert cpu_seconds(worker) - before > 0.05
    assert export_worker(server) == worker
