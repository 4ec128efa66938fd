"""Run Arize Phoenix locally as a peer for the ingest-throughput comparison.

Phoenix answers 200 on ``POST /v1/traces`` before it has stored anything: the
request only schedules decoding, and a background bulk inserter writes spans to
the database later. Its honest ingest rate is therefore the time until spans are
*queryable*, which this module measures by reading Phoenix's SQLite database.

Stdlib only: the benchmark imports this from the project's venv, which must not
contain Phoenix. Phoenix runs as a subprocess from its own venv, created by
``bench/peers/install_phoenix.sh``.

Usage::

    with run_phoenix(workdir, http_port=free_port()) as px:
        t0 = time.perf_counter()
        post_batches(px.otlp_endpoint, batches)   # retry on 503, see below
        elapsed = wait_for_spans(px, expected=n_spans, timeout=600, since=t0)

Phoenix answers 503 once ``PHOENIX_MAX_SPANS_QUEUE_SIZE`` spans (default 20000)
are waiting to be written; a client must back off and resend, not drop them.
It deduplicates spans by ``span_id`` (ON CONFLICT DO NOTHING), so every span
sent must have a unique id or the count will never reach the number sent.
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_VENV",
    "PhoenixError",
    "PhoenixServer",
    "free_port",
    "phoenix_version",
    "run_phoenix",
    "wait_for_spans",
]

DEFAULT_VENV = Path(
    os.environ.get("PHOENIX_VENV") or Path(__file__).resolve().parents[1] / ".venv-phoenix"
)
"""Phoenix's own venv; ``PHOENIX_VENV`` overrides it, as for install_phoenix.sh."""

_DB_NAME = "phoenix.db"
_LOG_NAME = "phoenix.log"

# Environment variables that would change what the child does if inherited from the
# benchmark's environment (another venv on the path, an exporter pointing elsewhere).
_SCRUBBED_PREFIXES = ("PHOENIX_", "OTEL_", "PYTHON", "VIRTUAL_ENV")


class PhoenixError(RuntimeError):
    """Phoenix did not start, died, or did not store the spans in time."""


@dataclass
class PhoenixServer:
    """A running Phoenix process and the paths needed to observe it."""

    process: subprocess.Popen[bytes]
    workdir: Path
    http_port: int
    grpc_port: int
    version: str
    startup_seconds: float = 0.0
    """From spawning the process until ``/readyz`` answered 200 (includes migrations)."""
    _peak_rss: int = field(default=0, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def otlp_endpoint(self) -> str:
        """OTLP/HTTP traces URL; send ``Content-Type: application/x-protobuf``."""
        return f"{self.base_url}/v1/traces"

    @property
    def db_path(self) -> Path:
        return self.workdir / _DB_NAME

    @property
    def log_path(self) -> Path:
        return self.workdir / _LOG_NAME

    def count_spans(self) -> int:
        """Spans committed to Phoenix's database, hence queryable through its API.

        Opens the database read-only for each call so that no connection of ours
        holds a WAL snapshot or a lock that could slow Phoenix's writer. Returns 0
        while the database or the ``spans`` table does not exist yet, and retries
        briefly if SQLite reports the database busy or locked.
        """
        self.sample_rss()
        if not self.db_path.exists():
            return 0
        deadline = time.monotonic() + 5.0
        while True:
            try:
                with contextlib.closing(
                    sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=1.0)
                ) as conn:
                    row = conn.execute("SELECT count(*) FROM spans").fetchone()
                return int(row[0])
            except sqlite3.OperationalError as exc:
                message = str(exc)
                if "no such table" in message:
                    return 0
                transient = "locked" in message or "busy" in message or "unable to open" in message
                if not transient or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def rss_bytes(self) -> int:
        """Current resident memory of Phoenix's process tree (0 once it has exited)."""
        return sum(_status_kib(pid, "VmRSS") * 1024 for pid in _process_tree(self.process.pid))

    def sample_rss(self) -> int:
        """Fold the current RSS into :attr:`peak_rss_bytes` and return it.

        Called by :meth:`count_spans`, so polling for spans also tracks memory.
        The kernel's high-water mark (VmHWM) of the main process catches peaks
        between samples; the tree-wide sum catches any child processes.
        """
        rss = self.rss_bytes()
        hwm = _status_kib(self.process.pid, "VmHWM") * 1024
        self._peak_rss = max(self._peak_rss, rss, hwm)
        return rss

    @property
    def peak_rss_bytes(self) -> int:
        """Highest RSS seen so far; still valid after Phoenix has stopped."""
        if self.process.poll() is None:
            self.sample_rss()
        return self._peak_rss

    def log_tail(self, max_bytes: int = 8000) -> str:
        """The end of Phoenix's combined stdout/stderr, for error messages."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "<no log>"
        return data[-max_bytes:].decode("utf-8", "replace")


def free_port() -> int:
    """A TCP port that is free right now on all interfaces.

    All interfaces, because Phoenix's gRPC server binds ``[::]`` whatever
    ``PHOENIX_HOST`` says.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


def phoenix_version(venv: Path = DEFAULT_VENV) -> str:
    """The arize-phoenix version installed in ``venv``, read from its dist-info."""
    for dist_info in venv.glob("lib/python*/site-packages/arize_phoenix-*.dist-info"):
        return dist_info.name.removeprefix("arize_phoenix-").removesuffix(".dist-info")
    raise PhoenixError(
        f"arize-phoenix is not installed in {venv}; run bench/peers/install_phoenix.sh"
    )


@contextlib.contextmanager
def run_phoenix(
    workdir: Path,
    http_port: int,
    venv: Path = DEFAULT_VENV,
    *,
    grpc_port: int | None = None,
    startup_timeout: float = 180.0,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[PhoenixServer]:
    """Start Phoenix on SQLite in ``workdir``, wait until ready, stop it on exit.

    ``workdir`` holds the database, the log and Phoenix's temp files; use a fresh
    directory per measurement, since a reused database already holds spans (and
    Phoenix would then deduplicate resent ones). ``extra_env`` overrides any
    variable set here, e.g. ``{"PHOENIX_MAX_SPANS_QUEUE_SIZE": "100000"}``.
    """
    version = phoenix_version(venv)
    executable = venv / "bin" / "phoenix"
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    grpc_port = free_port() if grpc_port is None else grpc_port
    for port in (http_port, grpc_port):
        _require_free(port)

    env = _child_env(workdir, http_port, grpc_port)
    env.update(extra_env or {})
    with open(workdir / _LOG_NAME, "ab") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            [str(executable), "serve"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group, so cleanup reaches any child
        )
    server = PhoenixServer(process, workdir, http_port, grpc_port, version)
    try:
        _wait_ready(server, startup_timeout)
        server.startup_seconds = time.monotonic() - started
        yield server
    except BaseException:
        _kill_group(process)
        raise
    else:
        _stop(server)


def wait_for_spans(
    server: PhoenixServer,
    expected: int,
    timeout: float,
    *,
    since: float | None = None,
    poll_interval: float = 0.1,
) -> float:
    """Block until Phoenix has stored ``expected`` spans; return the elapsed seconds.

    Elapsed time runs from ``since`` (a ``time.perf_counter()`` value, e.g. taken
    just before the first POST) or else from this call. The poll is a cheap
    ``count(*)``; keep ``poll_interval`` coarse enough not to steal CPU from
    Phoenix on a small machine. Raises :class:`PhoenixError` on timeout or if
    Phoenix exits.
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
            raise PhoenixError(
                f"Phoenix exited ({server.process.returncode}) with {count}/{expected} spans "
                f"stored; log tail:\n{server.log_tail()}"
            )
        if now > deadline:
            raise PhoenixError(
                f"only {count}/{expected} spans stored after {timeout:.0f}s; log tail:\n"
                f"{server.log_tail()}"
            )
        time.sleep(poll_interval)


def _child_env(workdir: Path, http_port: int, grpc_port: int) -> dict[str, str]:
    """Environment for a Phoenix that stays inside ``workdir`` and off the network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    tmp = workdir / "tmp"  # Phoenix writes a pid file under $TMPDIR/.arize-phoenix
    tmp.mkdir(exist_ok=True)
    env.update(
        {
            "PHOENIX_WORKING_DIR": str(workdir),  # else it falls back to ~/.phoenix
            "PHOENIX_SQL_DATABASE_URL": f"sqlite:///{workdir / _DB_NAME}",
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_PORT": str(http_port),
            "PHOENIX_GRPC_PORT": str(grpc_port),  # its default, 4317, may be taken
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",  # no fonts, pixels, WASM download
            "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",  # it would reach for hosted docs/LLMs
            "PHOENIX_ENABLE_MCP_SERVER": "false",
            "PHOENIX_ENABLE_PROMETHEUS": "false",
            "PHOENIX_LOG_MIGRATIONS": "false",  # else ~4,500 lines of DDL on a fresh database
            "TMPDIR": str(tmp),
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",  # so the log is complete when we show it on failure
        }
    )
    return env


def _require_free(port: int) -> None:
    """Fail early: with the port taken, readiness polling could hit another server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("", port))
        except OSError as exc:
            raise PhoenixError(f"port {port} is already in use") from exc


def _wait_ready(server: PhoenixServer, timeout: float) -> None:
    """Poll ``/readyz`` (200 once the app is up and its database answers)."""
    deadline = time.monotonic() + timeout
    url = f"{server.base_url}/readyz"
    while True:
        if server.process.poll() is not None:
            raise PhoenixError(
                f"Phoenix exited with code {server.process.returncode} during start-up; "
                f"log tail:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise PhoenixError(
                f"Phoenix not ready at {url} after {timeout:.0f}s; log tail:\n{server.log_tail()}"
            )
        time.sleep(0.1)


def _stop(server: PhoenixServer, grace: float = 20.0) -> None:
    """SIGTERM and wait (uvicorn shuts down cleanly); SIGKILL the group if it hangs."""
    process = server.process
    server.sample_rss()
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return
    # The group may still hold stragglers even after the leader has exited.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill Phoenix's whole process group; used on errors, where grace is pointless."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _process_tree(root: int) -> list[int]:
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


def _status_kib(pid: int, key: str) -> int:
    """A numeric field of /proc/<pid>/status (kB for memory fields); 0 if unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0
