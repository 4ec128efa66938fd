"""A peer server the benchmark starts and watches: what Phoenix and MLflow share.

Each runs from a venv of its own, in a process group of its own, with a SQLite
database and a log in ``workdir``; the benchmark reads its spans from that database
and its memory from /proc. Stdlib only, like the rest of ``bench/peers``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

from bench.peers.process import (
    PeerError,
    count_rows,
    kill_group,
    process_tree,
    status_kib,
    stop_group,
    wait_ready,
)


@dataclass
class PeerServer:
    """A running peer: its process, where it keeps its database and log, its memory."""

    name: ClassVar[str]
    db_name: ClassVar[str]
    log_name: ClassVar[str]

    process: subprocess.Popen[bytes]
    workdir: Path
    http_port: int
    version: str
    startup_seconds: float = 0.0
    """From spawning the process until it answered its readiness URL."""
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
        return self.workdir / self.db_name

    @property
    def log_path(self) -> Path:
        return self.workdir / self.log_name

    def count_spans(self) -> int:
        """Spans committed to the peer's ``spans`` table, hence queryable."""
        self.sample_rss()
        return count_rows(self.db_path, "SELECT count(*) FROM spans")

    def rss_bytes(self) -> int:
        """Resident memory of the process tree (0 once it has exited)."""
        return sum(status_kib(pid, "VmRSS") * 1024 for pid in process_tree(self.process.pid))

    def sample_rss(self) -> int:
        """Fold the current RSS into :attr:`peak_rss_bytes` and return it.

        Called by :meth:`count_spans`, so polling for spans also tracks memory. The
        kernel's high-water mark (VmHWM) of the main process catches peaks between
        samples; the tree-wide sum catches the child processes.
        """
        rss = self.rss_bytes()
        hwm = status_kib(self.process.pid, "VmHWM") * 1024
        self._peak_rss = max(self._peak_rss, rss, hwm)
        return rss

    @property
    def peak_rss_bytes(self) -> int:
        """Highest RSS seen so far; still valid after the peer has stopped."""
        if self.process.poll() is None:
            self.sample_rss()
        return self._peak_rss

    def log_tail(self, max_bytes: int = 8000) -> str:
        """The end of the peer's combined stdout/stderr, for error messages."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "<no log>"
        return data[-max_bytes:].decode("utf-8", "replace")


S = TypeVar("S", bound=PeerServer)


def installed_version(venv: Path, distribution: str, install_script: str) -> str:
    """The version of ``distribution`` (its dist-info name) installed in ``venv``."""
    for dist_info in venv.glob(f"lib/python*/site-packages/{distribution}-*.dist-info"):
        return dist_info.name.removeprefix(f"{distribution}-").removesuffix(".dist-info")
    raise PeerError(f"{distribution} is not installed in {venv}; run {install_script}")


def scrubbed_environment(prefixes: tuple[str, ...]) -> dict[str, str]:
    """This process's environment without the variables that would change what a
    peer does if it inherited them (another venv on the path, an exporter elsewhere)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


@contextlib.contextmanager
def launched(
    kind: type[S],
    command: Sequence[str],
    env: Mapping[str, str],
    workdir: Path,
    ready_path: str,
    startup_timeout: float,
    make: Callable[[subprocess.Popen[bytes]], S],
) -> Iterator[S]:
    """Start ``command`` in ``workdir``, in a process group of its own (so cleanup
    reaches any child), its output in ``kind``'s log there; wait until ``ready_path``
    answers 200; on exit, stop the group (SIGTERM, then SIGKILL if it hangs), or kill
    it at once after an error. ``make`` builds the record of the started process."""
    with open(workdir / kind.log_name, "ab") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            list(command),
            cwd=workdir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = make(process)
    try:
        url = server.base_url + ready_path
        wait_ready(process, url, startup_timeout, server.log_tail, kind.name)
        server.startup_seconds = time.monotonic() - started
        yield server
    except BaseException:
        kill_group(process)
        raise
    else:
        server.sample_rss()
        stop_group(process)
