"""A full write queue answers 503 + Retry-After, stores nothing of that request, loses nothing."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import sqlalchemy as sa
from google.rpc.status_pb2 import Status
from sqlalchemy.engine import make_url

from store.models import Span
from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server


@contextmanager
def writes_blocked(database_url: str) -> Iterator[None]:
    """Hold the database's write lock from another connection, as a long writer would."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(str(url.database), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        connection.execute(sa.text("LOCK TABLE projects IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            connection.rollback()
    engine.dispose()


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def batch(seed: str, spans: int = 10) -> bytes:
    ids = Ids(seed)
    trace = ids.trace()
    return request(
        [SpanSpec(trace, ids.span(), f"s{i}", 1, 2) for i in range(spans)]
    ).SerializeToString()


def test_full_queue_answers_503_and_loses_nothing(fresh_db: str) -> None:
    env = {"REASONLENS_WRITE_QUEUE_SPANS": "10", "REASONLENS_WRITE_BATCH_SPANS": "10"}
    server = Server(fresh_db, env=env).start()

    def health() -> dict[str, int]:
        return dict(httpx.get(f"{server.url}/healthz").json())

    results: dict[str, int] = {}

    def send(name: str) -> None:
        results[name] = post(server.url, batch(name), project="bp").status_code

    try:
        with writes_blocked(fresh_db):
            first = threading.Thread(target=send, args=("first",))
            first.start()
            wait_for(lambda: health()["writing_spans"] == 10)  # the writer holds it, blocked
            second = threading.Thread(target=send, args=("second",))
            second.start()
            wait_for(lambda: health()["write_queue_spans"] == 10)  # the queue is now full

            refused = post(server.url, batch("third"), project="bp")
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "2"
            status = Status()
            status.ParseFromString(refused.content)
            assert "write queue full" in status.message and status.code == 14  # UNAVAILABLE
        first.join(30)
        second.join(30)
        assert results == {"first": 200, "second": 200}
        assert server.count(Span, "bp") == 20  # both accepted requests, not the refused one
        assert health() == {"status": "ok", "write_queue_spans": 0, "writing_spans": 0}
    finally:
        server.close()
