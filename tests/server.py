"""Run the real ``reasonlens serve`` on a free loopback port, as a user would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from store.engine import create_engine
from store.models import Project, Span, Trace


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: tempfile._TemporaryFileWrapper[bytes] | None = None
    _engine: sa.Engine | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = create_engine(self.database_url)
        return self._engine

    def output(self) -> str:
        if self._log is None:
            return ""
        return Path(self._log.name).read_text(errors="replace")

    def start(self, timeout: float = 120) -> Server:
        # Kept open for the server's lifetime; close() closes it.
        self._log = tempfile.NamedTemporaryFile(prefix="reasonlens-server-", suffix=".log")  # noqa: SIM115
        env = {**os.environ, **self.env}
        command = [
            sys.executable, "-m", "reasonlens", "serve",
            "--port", str(self.port), "--grpc-port", str(self.grpc_port),
            "--db", self.database_url,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.output()
                self.close()
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{output}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        output = self.output()
        self.close()  # the fixture fails: nothing else will
        raise RuntimeError(f"server not healthy after {timeout}s:\n{output}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def close(self) -> None:
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    def health(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.url}/healthz", timeout=10).json())

    def count(self, model: type[Span] | type[Trace], project: str | None = None) -> int:
        """Stored spans or traces, in one project or all."""
        query = sa.select(sa.func.count()).select_from(model)
        if project is not None:
            query = query.join(Project, Project.id == model.project_id).where(
                Project.name == project
            )
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())
