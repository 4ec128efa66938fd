"""Render functions for tests/test_export_pool.py, importable by the pool's workers."""

from __future__ import annotations

import multiprocessing
import os

import sqlalchemy as sa


def numbered(engine: sa.Engine, n: int) -> bytes:
    """The task's number and the process that rendered it."""
    return f"{n},{os.getpid()}\r\n".encode()


def dies_in_a_worker(engine: sa.Engine, n: int, fatal: int) -> bytes:
    """Task ``fatal`` kills the worker that runs it (as the OOM killer would)."""
    if n == fatal and multiprocessing.parent_process() is not None:
        os._exit(1)
    return numbered(engine, n)


def reads_the_database(engine: sa.Engine, n: int) -> bytes:
    with engine.connect() as connection:
        value = connection.execute(sa.select(sa.literal(n) * 2)).scalar_one()
    return f"{value}\r\n".encode()
