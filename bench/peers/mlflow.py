"""Run MLflow's tracking server locally as a peer for the ingest comparison.

MLflow (3.6 and later) takes OTLP/HTTP on ``POST /v1/traces``, protobuf or JSON
(hex ids, converted to base64 before protobuf's JSON parser), with the experiment
named by an ``x-mlflow-experiment-id`` header; it has no OTLP/gRPC endpoint. Its
handler awaits ``log_spans`` (a SQL session per request) before answering, so an
answer should mean stored; the benchmark does not take that on trust and measures,
as for Phoenix, the time until its database holds every span.

Stdlib only: MLflow runs as a subprocess from its own venv
(``bench/peers/install_mlflow.sh``), with a SQLite backend store in ``workdir``, and
with the defaults of ``mlflow server`` otherwise (4 uvicorn worker processes).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.peers.process import (
    PeerError,
    count_rows,
    kill_group,
    process_tree,
    require_free,
    status_kib,
    stop_group,
    wait_ready,
)

__all__ = ["DEFAULT_VENV", "EXPERIMENT_ID", "MlflowServer", "mlflow_version", "run_mlflow"]

DEFAULT_VENV = Path(
    os.environ.get("MLFLOW_VENV") or Path(__file__).resolve().parents[1] / ".venv-mlflow"
)
"""MLflow's own venv; ``MLFLOW_VENV`` overrides it, as for install_mlflow.sh."""

EXPERIMENT_ID = "0"
"""The "Default" experiment every new MLflow store has."""

_DB_NAME = "mlflow.db"
_LOG_NAME = "mlflow.log"
_SCRUBBED_PREFIXES = ("MLFLOW_", "OTEL_", "PYTHON", "VIRTUAL_ENV")


@dataclass
class MlflowServer:
    """A running ``mlflow server`` and what the benchmark observes of it."""

    process: subprocess.Popen[bytes]
    workdir: Path
    http_port: int
    version: str
    name: str = "MLflow"
    startup_seconds: float = 0.0
    _peak_rss: int = field(default=0, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def otlp_endpoint(self) -> str:
        return f"{self.base_url}/v1/traces"

    @property
    def headers(self) -> dict[str, str]:
        """What every OTLP request must carry: the experiment its traces go to."""
        return {"x-mlflow-experiment-id": EXPERIMENT_ID}

    @property
    def db_path(self) -> Path:
        return self.workdir / _DB_NAME

    @property
    def log_path(self) -> Path:
        return self.workdir / _LOG_NAME

    def count_spans(self) -> int:
        """Spans committed to MLflow's ``spans`` table, hence queryable (search_traces)."""
        self.sample_rss()
        return count_rows(self.db_path, "SELECT count(*) FROM spans")

    def rss_bytes(self) -> int:
        """Resident memory of the server and its worker processes."""
        return sum(status_kib(pid, "VmRSS") * 1024 for pid in process_tree(self.process.pid))

    def sample_rss(self) -> int:
        rss = self.rss_bytes()
        self._peak_rss = max(self._peak_rss, rss)
        return rss

    @property
    def peak_rss_bytes(self) -> int:
        if self.process.poll() is None:
            self.sample_rss()
        return self._peak_rss

    def log_tail(self, max_bytes: int = 8000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "<no log>"
        return data[-max_bytes:].decode("utf-8", "replace")


def mlflow_version(venv: Path = DEFAULT_VENV) -> str:
    """The mlflow version installed in ``venv``, read from its dist-info."""
    for dist_info in venv.glob("lib/python*/site-packages/mlflow-*.dist-info"):
        return dist_info.name.removeprefix("mlflow-").removesuffix(".dist-info")
    raise PeerError(f"mlflow is not installed in {venv}; run bench/peers/install_mlflow.sh")


@contextlib.contextmanager
def run_mlflow(
    workdir: Path, http_port: int, venv: Path = DEFAULT_VENV, *, startup_timeout: float = 180.0
) -> Iterator[MlflowServer]:
    """Start ``mlflow server`` on a SQLite store in ``workdir``, wait until it answers
    ``/health``, stop it (its whole process group) on exit.

    Use a fresh ``workdir`` per measurement: a reused store already holds spans.
    """
    version = mlflow_version(venv)
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    require_free(http_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env.update(
        {
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "TMPDIR": str(workdir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    command = [
        str(venv / "bin" / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{workdir / _DB_NAME}",
        "--default-artifact-root", str(workdir / "artifacts"),
        "--host", "127.0.0.1", "--port", str(http_port),
    ]  # fmt: skip
    with open(workdir / _LOG_NAME, "ab") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = MlflowServer(process, workdir, http_port, version)
    try:
        wait_ready(process, f"{server.base_url}/health", startup_timeout, server.log_tail, "MLflow")
        server.startup_seconds = time.monotonic() - started
        yield server
    except BaseException:
        kill_group(process)
        raise
    else:
        server.sample_rss()
        stop_group(process)
