"""The partitions of ``spans`` made ahead of time, by whichever server or worker claims it.

On a partitioned PostgreSQL store (``store/partitions.py``) every process looks every
``poll_s`` whether the task is due; the one that claims it (``store/periodic.py``, the
lease retention's schedule uses) makes the partitions of the current interval and the
next few, so a span is never left to the default partition for want of one. On any
other store the task finds nothing to do and costs one catalog read per interval.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from store import periodic
from store.partitions import ensure_ahead

log = logging.getLogger(__name__)

TASK = "spans_partitions"


class PartitionSchedule:
    """A daemon thread that keeps the partitions of ``spans`` ahead of time."""

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
        self._thread = threading.Thread(target=self._loop, name="partitions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(30)

    def run_due(self) -> list[str] | None:
        """Make the partitions due soon if the task is due here; the names made."""
        now = datetime.now(UTC)
        with self._engine.begin() as connection:
            if not periodic.claim(connection, TASK, self.name, now, now + self._lease):
                return None
        made: list[str] | None = None
        try:
            with self._engine.begin() as connection:
                made = ensure_ahead(connection, time.time_ns())
        finally:
            # A failed run (its lock was busy) is due again in a minute.
            again = self._interval if made is not None else timedelta(seconds=60)
            with self._engine.begin() as connection:
                finished = datetime.now(UTC)
                result = {"made": made} if made is not None else {"error": "failed"}
                periodic.finish(connection, TASK, self.name, finished, finished + again, result)
        return made

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                made = self.run_due()
                if made:
                    log.info("partitions: made %s", ", ".join(made))
            except Exception:  # busy or away: try again at the next look
                log.exception("making span partitions failed")
            self._stopping.wait(self._poll_s)
