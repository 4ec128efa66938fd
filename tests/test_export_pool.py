"""The export pool: ranges rendered by worker processes come back in order, a dead
worker loses nothing, an abandoned export frees the pool, and idle workers stop."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from store.engine import create_engine
from tests import export_tasks
from web.exports.pool import ExportPool, render_ranges


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'pool.db'}"


def rendered(chunks: list[bytes]) -> list[tuple[int, int]]:
    return [tuple(map(int, chunk.decode().split(","))) for chunk in chunks]  # type: ignore[misc]


def test_ranges_come_back_in_order_from_the_workers(url: str) -> None:
    engine, pool = create_engine(url), ExportPool(url, 2)
    try:
        tasks = [(n,) for n in range(40)]
        out = rendered(list(render_ranges(engine, export_tasks.numbered, tasks, pool)))
        assert [n for n, _ in out] == list(range(40))
        renderers = {pid for _, pid in out}
        assert os.getpid() in renderers and len(renderers - {os.getpid()}) >= 1, renderers
        # The workers have an engine of their own on the same database.
        chunks = render_ranges(engine, export_tasks.reads_the_database, tasks, pool)
        assert b"".join(chunks) == b"".join(f"{2 * n}\r\n".encode() for n in range(40))
    finally:
        pool.close()
        engine.dispose()


def test_a_worker_that_dies_costs_the_export_nothing(url: str) -> None:
    engine, pool = create_engine(url), ExportPool(url, 2)
    try:
        tasks = [(n, 7) for n in range(30)]
        out = rendered(list(pool.render(engine, export_tasks.dies_in_a_worker, tasks)))
        assert [n for n, _ in out] == list(range(30))
        assert dict(out)[7] == os.getpid()  # rendered here once its worker had died
        # The next export gets a fresh pool.
        again = rendered(list(pool.render(engine, export_tasks.numbered, [(n,) for n in range(8)])))
        assert [n for n, _ in again] == list(range(8))
        assert {pid for _, pid in again} - {os.getpid()}
    finally:
        pool.close()
        engine.dispose()


def test_an_abandoned_export_and_an_idle_pool_let_the_workers_go(url: str) -> None:
    engine, pool = create_engine(url), ExportPool(url, 2, idle_s=0.5)
    try:
        chunks = pool.render(engine, export_tasks.numbered, [(n,) for n in range(1000)])
        assert next(chunks).startswith(b"0,")
        chunks.close()  # the client went away: its queued ranges are dropped
        assert pool._active == 0
        deadline = time.monotonic() + 30
        while pool._executor is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pool._executor is None, "idle workers were not stopped"
    finally:
        pool.close()
        engine.dispose()


def test_without_workers_everything_renders_here(url: str) -> None:
    engine = create_engine(url)
    try:
        for pool in (None, ExportPool(url, 0)):
            out = rendered(list(render_ranges(engine, export_tasks.numbered, [(1,), (2,)], pool)))
            assert out == [(1, os.getpid()), (2, os.getpid())]
    finally:
        engine.dispose()
