"""Shared fixtures: a real server per test module, on a fresh database of the backend."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

import migrations
from store.engine import create_engine
from tests.databases import BACKEND, fresh_database
from tests.demo_runs import Logged, run_logged
from tests.server import Server

# Real-browser fixtures (headless Chromium): ``browser`` and ``watched``; the alert
# tests' server and webhook receiver.
pytest_plugins = ["tests.browser", "tests.trace_pages", "tests.alerting"]

# Property tests run the same examples on every run (CI reproduces what it found);
# `pytest --hypothesis-profile=fuzz` runs the fuzz tests fifty times longer, with fresh
# random examples (tests/fuzzing.py, DEVELOPERS.md).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("fuzz", max_examples=5000, derandomize=False)
settings.load_profile("ci")


def pytest_report_header() -> str:
    return f"reasonlens test database backend: {BACKEND}"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One running server for the whole run, as in production a long-lived one holding
    everyone's traces; tests keep apart by project and trace ids."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        running = Server(url).start()
        try:
            yield running
        finally:
            running.close()


@pytest.fixture
def project(request: pytest.FixtureRequest) -> str:
    """A project name unique to the test, so tests sharing a server never see each other."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:150]


@pytest.fixture
def fresh_db(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def engine(fresh_db: str) -> Iterator[sa.Engine]:
    """An engine on a fresh database at the newest revision, for tests of the store."""
    engine = create_engine(fresh_db)
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def demo_logged() -> Logged:
    """600 demo traces with their log events, in memory: read by several test modules."""
    return run_logged(600)
