"""The thread every periodic task runs on in each server and worker process
(retention, partitions): it looks every ``poll_s`` whether its task is due and runs
it when this process claims it (``store/periodic.py``), so two processes never run it
at once and a failed look is only tried again at the next."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

import sqlalchemy as sa

log = logging.getLogger(__name__)


class PeriodicThread:
    """A daemon thread calling :meth:`run_due` every ``poll_s`` until stopped."""

    task = ""  # the periodic_tasks row this thread claims

    def __init__(
        self, engine: sa.Engine, *, interval_s: float, lease_s: float, poll_s: float | None = None
    ) -> None:
        self._engine = engine
        self._interval = timedelta(seconds=interval_s)
        self._lease = timedelta(seconds=lease_s)
        self._poll_s = poll_s if poll_s is not None else min(interval_s, 60.0)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.task, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(30)

    def run_due(self) -> object:
        """Run the task if it is due and this process claims it."""
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_due()
            except Exception:  # the database is busy or away: try again at the next look
                log.exception("periodic task %s failed", self.task)
            self._stopping.wait(self._poll_s)
