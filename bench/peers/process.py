"""What every peer server needs: ports, its process tree's memory, readiness, a clean
stop, and counting the spans its SQLite database holds.

Stdlib only, like the peers' modules: the benchmark imports this from the project's
venv, and each peer runs as a subprocess from a venv of its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

__all__ = [
    "Peer",
    "PeerError",
    "count_rows",
    "free_port",
    "kill_group",
    "process_tree",
    "require_free",
    "status_kib",
    "stop_group",
    "wait_for_spans",
    "wait_ready",
]


class PeerError(RuntimeError):
    """A peer did not start, died, or did not store the spans in time."""


class Peer(Protocol):
    """A running peer as :func:`wait_for_spans` sees it."""

    name: str
    process: subprocess.Popen[bytes]

    def count_spans(self) -> int: ...

    def log_tail(self, max_bytes: int = 8000) -> str: ...


def free_port() -> int:
    """A TCP port that is free right now on all interfaces.

    All interfaces, because Phoenix's gRPC server binds ``[::]`` whatever
    ``PHOENIX_HOST`` says.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


def require_free(port: int) -> None:
    """Fail early: with the port taken, readiness polling could hit another server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("", port))
        except OSError as exc:
            raise PeerError(f"port {port} is already in use") from exc


def count_rows(db_path: Path, sql: str) -> int:
    """``sql``'s single number from a SQLite file the peer writes (0 while the file or
    its table does not exist yet).

    Opens the database read-only for each call so that no connection of ours holds a
    WAL snapshot or a lock that could slow the peer's writer; retries briefly if
    SQLite reports it busy or locked.
    """
    if not db_path.exists():
        return 0
    deadline = time.monotonic() + 5.0
    while True:
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1.0)
            ) as conn:
                row = conn.execute(sql).fetchone()
            return int(row[0] or 0)
        except sqlite3.OperationalError as exc:
            message = str(exc)
            if "no such table" in message:
                return 0
            transient = "locked" in message or "busy" in message or "unable to open" in message
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def wait_ready(
    process: subprocess.Popen[bytes],
    url: str,
    timeout: float,
    log_tail: Callable[[], str],
    name: str,
) -> None:
    """Poll ``url`` until it answers 200; fail with the log if the process exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise PeerError(
                f"{name} exited with code {process.returncode} during start-up; "
                f"log tail:\n{log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise PeerError(
                f"{name} not ready at {url} after {timeout:.0f}s; log tail:\n{log_tail()}"
            )
        time.sleep(0.1)


def wait_for_spans(
    server: Peer,
    expected: int,
    timeout: float,
    *,
    since: float | None = None,
    poll_interval: float = 0.1,
) -> float:
    """Block until the peer has stored ``expected`` spans; return the elapsed seconds.

    Elapsed time runs from ``since`` (a ``time.perf_counter()`` value, e.g. taken
    just before the first POST) or else from this call. The poll is a cheap
    ``count(*)``; keep ``poll_interval`` coarse enough not to steal CPU from the
    peer on a small machine. Raises :class:`PeerError` on timeout or if it exits.
    """
    start = time.perf_counter() if since is None else since
    deadline = time.perf_counter() + timeout
    count = 0
    while True:
        count = server.count_spans()
        now = time.perf_counter()
        if count >= expected:
            return now - start
        if server.process.poll() is not None:
            raise PeerError(
                f"{server.name} exited ({server.process.returncode}) with {count}/{expected} "
                f"spans stored; log tail:\n{server.log_tail()}"
            )
        if now > deadline:
            raise PeerError(
                f"{server.name}: only {count}/{expected} spans stored after {timeout:.0f}s; "
                f"log tail:\n{server.log_tail()}"
            )
        time.sleep(poll_interval)


def stop_group(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM the process group and wait; SIGKILL it if it hangs."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            kill_group(process)
            return
    # The group may still hold stragglers even after the leader has exited.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the whole process group; used on errors, where grace is pointless."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def process_tree(root: int) -> list[int]:
    """``root`` and its live descendants, via /proc/<pid>/task/*/children (Linux)."""
    tree: list[int] = []
    stack = [root]
    while stack:
        pid = stack.pop()
        tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
        if not tasks:
            continue  # exited, or not Linux
        tree.append(pid)
        for children in tasks:
            with contextlib.suppress(OSError):
                stack.extend(int(child) for child in children.read_text().split())
    return tree


def status_kib(pid: int, key: str) -> int:
    """A numeric field of /proc/<pid>/status (kB for memory fields); 0 if unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0
