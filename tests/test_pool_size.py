"""``REASONLENS_DB_POOL_SIZE``: how many PostgreSQL connections a process may hold, so
that an operator can size ``max_connections`` for a fleet (docs/scaling.md)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from reasonlens.settings import Settings
from store.engine import create_engine
from tests.databases import BACKEND, fresh_database
from tests.server import Server


@pytest.mark.parametrize("size", [0, -1, 1001])
def test_a_pool_size_out_of_range_is_refused(size: int) -> None:
    with pytest.raises(ValidationError, match="db_pool_size"):
        Settings(db_pool_size=size)


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite's pool is a connection a thread")
def test_a_server_holds_no_more_connections_than_its_pool(tmp_path: Path) -> None:
    """Pool 1 (and 1 more under load): eight requests at once still get answers, and the
    server never holds more than two connections to its database."""
    with fresh_database(tmp_path) as url:
        watcher = create_engine(url)
        database = sa.make_url(url).database
        server = Server(url, env={"REASONLENS_DB_POOL_SIZE": "1"}).start()
        held: list[int] = []
        done = threading.Event()

        def watch() -> None:
            count = sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"
            )
            with watcher.connect() as connection:
                while not done.is_set():
                    held.append(connection.execute(count, {"db": database}).scalar_one())
                    connection.commit()
                    time.sleep(0.01)

        thread = threading.Thread(target=watch)
        thread.start()
        try:
            with ThreadPoolExecutor(8) as pool:
                pages = ["/api/traces", "/traces", "/sessions", "/"] * 6
                answers = list(pool.map(lambda p: httpx.get(server.url + p, timeout=60), pages))
            assert [a.status_code for a in answers] == [200] * len(pages)
        finally:
            done.set()
            thread.join()
            server.close()
            watcher.dispose()
        assert held and max(held) <= 2, held


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite's pool is a connection a thread")
def test_the_engine_takes_the_pool_size(fresh_db: str) -> None:
    engine = create_engine(fresh_db, pool_size=3)
    try:
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == 3  # type: ignore[attr-defined]
    finally:
        engine.dispose()
