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
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.peers.process import (
    PeerError,
    count_rows,
    free_port,
    kill_group,
    process_tree,
    require_free,
    status_kib,
    stop_group,
    wait_for_spans,
    wait_ready,
)

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


PhoenixError = PeerError
"""Phoenix did not start, died, or did not store the spans in time."""


@dataclass
class PhoenixServer:
    """A running Phoenix process and the paths needed to observe it."""

    process: subprocess.Popen[bytes]
    workdir: Path
    http_port: int
    grpc_port: int
    version: str
    name: str = "Phoenix"
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
        """Spans committed to Phoenix's database, hence queryable through its API."""
        self.sample_rss()
        return count_rows(self.db_path, "SELECT count(*) FROM spans")

    def rss_bytes(self) -> int:
        """Current resident memory of Phoenix's process tree (0 once it has exited)."""
        return sum(status_kib(pid, "VmRSS") * 1024 for pid in process_tree(self.process.pid))

    def sample_rss(self) -> int:
        """Fold the current RSS into :attr:`peak_rss_bytes` and return it.

        Called by :meth:`count_spans`, so polling for spans also tracks memory.
        The kernel's high-water mark (VmHWM) of the main process catches peaks
        between samples; the tree-wide sum catches any child processes.
        """
        rss = self.rss_bytes()
        hwm = status_kib(self.process.pid, "VmHWM") * 1024
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
        require_free(port)

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
        wait_ready(
            process, f"{server.base_url}/readyz", startup_timeout, server.log_tail, "Phoenix"
        )
        server.startup_seconds = time.monotonic() - started
        yield server
    except BaseException:
        kill_group(process)
        raise
    else:
        _stop(server)


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


def _stop(server: PhoenixServer, grace: float = 20.0) -> None:
    """SIGTERM and wait (uvicorn shuts down cleanly); SIGKILL the group if it hangs."""
    server.sample_rss()
    stop_group(server.process, grace)
