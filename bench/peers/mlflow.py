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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.peers.process import require_free
from bench.peers.server import PeerServer, installed_version, launched, scrubbed_environment

__all__ = ["DEFAULT_VENV", "EXPERIMENT_ID", "MlflowServer", "mlflow_version", "run_mlflow"]

DEFAULT_VENV = Path(
    os.environ.get("MLFLOW_VENV") or Path(__file__).resolve().parents[1] / ".venv-mlflow"
)
"""MLflow's own venv; ``MLFLOW_VENV`` overrides it, as for install_mlflow.sh."""

EXPERIMENT_ID = "0"
"""The "Default" experiment every new MLflow store has."""

_SCRUBBED_PREFIXES = ("MLFLOW_", "OTEL_", "PYTHON", "VIRTUAL_ENV")


@dataclass
class MlflowServer(PeerServer):
    """A running ``mlflow server`` and what the benchmark observes of it."""

    name = "MLflow"
    db_name = "mlflow.db"
    log_name = "mlflow.log"

    @property
    def headers(self) -> dict[str, str]:
        """What every OTLP request must carry: the experiment its traces go to."""
        return {"x-mlflow-experiment-id": EXPERIMENT_ID}


def mlflow_version(venv: Path = DEFAULT_VENV) -> str:
    """The mlflow version installed in ``venv``, read from its dist-info."""
    return installed_version(venv, "mlflow", "bench/peers/install_mlflow.sh")


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
    env = scrubbed_environment(_SCRUBBED_PREFIXES)
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
        "--backend-store-uri", f"sqlite:///{workdir / MlflowServer.db_name}",
        "--default-artifact-root", str(workdir / "artifacts"),
        "--host", "127.0.0.1", "--port", str(http_port),
    ]  # fmt: skip

    def make(process: subprocess.Popen[bytes]) -> MlflowServer:
        return MlflowServer(process, workdir, http_port, version)

    with launched(MlflowServer, command, env, workdir, "/health", startup_timeout, make) as server:
        yield server
