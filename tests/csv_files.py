"""Helpers of the CSV export tests: download, parse back, run a suite to the end."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx

from tests.server import Server

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
YAML = {"content-type": "application/yaml"}


def download(server: Server, path: str, **params: Any) -> httpx.Response:
    response = httpx.get(f"{server.url}{path}", params=params, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="')
    return response


def table(content: bytes) -> list[dict[str, str]]:
    """The CSV parsed back as a spreadsheet would read it (UTF-8, RFC 4180)."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def header(content: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


def run_suite(server: Server, definition: str, timeout: float = 120) -> dict[str, Any]:
    created = httpx.post(f"{server.url}/api/suites", content=definition, headers=YAML)
    assert created.status_code in (200, 201), created.text
    started = httpx.post(f"{server.url}/api/suites/{created.json()['id']}/runs")
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{server.url}/api/eval-runs/{run_id}").json()
        if run["status"] != "running":
            assert run["status"] != "error", run["error"]
            return dict(run)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still running after {timeout}s")


def all_scores(server: Server, run_id: int, **params: Any) -> list[dict[str, Any]]:
    scores: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 37, **({"cursor": cursor} if cursor else {})}
        response = httpx.get(f"{server.url}/api/eval-runs/{run_id}/scores", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        scores += body["scores"]
        cursor = body["next_cursor"]
        if cursor is None:
            return scores
