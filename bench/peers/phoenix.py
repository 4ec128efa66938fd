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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.peers.process import PeerError, free_port, require_free, wait_for_spans
from bench.peers.server import PeerServer, installed_version, launched, scrubbed_environment

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

_SCRUBBED_PREFIXES = ("PHOENIX_", "OTEL_", "PYTHON", "VIRTUAL_ENV")


PhoenixError = PeerError
"""Phoenix did not start, died, or did not store the spans in time."""


@dataclass
class PhoenixServer(PeerServer):
    """A running Phoenix process and the paths needed to observe it."""

    name = "Phoenix"
    db_name = "phoenix.db"
    log_name = "phoenix.log"

    grpc_port: int = 0


def phoenix_version(venv: Path = DEFAULT_VENV) -> str:
    """The arize-phoenix version installed in ``venv``, read from its dist-info."""
    return installed_version(venv, "arize_phoenix", "bench/peers/install_phoenix.sh")


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
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    grpc_port = free_port() if grpc_port is None else grpc_port
    for port in (http_port, grpc_port):
        require_free(port)
    env = _child_env(workdir, http_port, grpc_port)
    env.update(extra_env or {})
    command = [str(venv / "bin" / "phoenix"), "serve"]

    def make(process: subprocess.Popen[bytes]) -> PhoenixServer:
        return PhoenixServer(process, workdir, http_port, version, grpc_port=grpc_port)

    with launched(PhoenixServer, command, env, workdir, "/readyz", startup_timeout, make) as px:
        yield px


def _child_env(workdir: Path, http_port: int, grpc_port: int) -> dict[str, str]:
    """Environment for a Phoenix that stays inside ``workdir`` and off the network."""
    env = scrubbed_environment(_SCRUBBED_PREFIXES)
    tmp = workdir / "tmp"  # Phoenix writes a pid file under $TMPDIR/.arize-phoenix
    tmp.mkdir(exist_ok=True)
    env.update(
        {
            "PHOENIX_WORKING_DIR": str(workdir),  # else it falls back to ~/.phoenix
            "PHOENIX_SQL_DATABASE_URL": f"sqlite:///{workdir / PhoenixServer.db_name}",
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
