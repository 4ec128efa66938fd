"""The real app, served in-process on a background thread while the demo feeds it.

Same construction as ``reasonlens serve`` (``create_app(settings)`` under uvicorn), on
a thread so the main thread keeps Ctrl-C: a KeyboardInterrupt there asks uvicorn to
shut down gracefully (the lifespan commits what is queued and stops the decode
workers), and the thread is joined, so nothing is left running.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from reasonlens.app import create_app
from reasonlens.settings import Settings


class ServerError(RuntimeError):
    """The server did not start (port taken, database unreachable): see its log above."""


@dataclass(frozen=True, slots=True)
class RunningServer:
    url: str
    thread: threading.Thread

    def wait(self) -> None:
        """Block until the server stops; Ctrl-C raises KeyboardInterrupt here."""
        while self.thread.is_alive():
            self.thread.join(0.5)


@contextmanager
def serving(settings: Settings, timeout: float = 60) -> Iterator[RunningServer]:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="reasonlens-demo-server", daemon=True)
    try:
        thread.start()
        url = _wait_until_healthy(server, thread, settings.host, timeout)
        yield RunningServer(url, thread)
    finally:
        server.should_exit = True
        try:
            thread.join()
        except KeyboardInterrupt:  # a second Ctrl-C: stop without waiting for connections
            server.force_exit = True
            thread.join()


def _wait_until_healthy(
    server: uvicorn.Server, thread: threading.Thread, host: str, timeout: float
) -> str:
    """Our server, not whatever else answers on the port: started, then /healthz is 200."""
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise ServerError("the server stopped during startup")
        if time.monotonic() > deadline:
            raise ServerError(f"the server did not start within {timeout:.0f}s")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]  # the real one when port 0 was asked
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return url
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise ServerError(f"{url}/healthz did not answer within {timeout:.0f}s")
        time.sleep(0.1)
