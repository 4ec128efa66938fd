"""SQLite WAL checkpoints on their own thread, off the span writer's commit path.

By default SQLite checkpoints inside the COMMIT that crosses 1,000 WAL pages; at
~2.5 KB a span that is nearly every group commit, and the writer stalls while the WAL
is copied into the database file. Here a PASSIVE checkpoint (it never blocks the
writer or readers) runs every ``interval`` seconds on another connection instead; the
writer's engine keeps a high automatic threshold only as a safety net.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# The span writer's automatic checkpoint threshold, in pages (~400 MB of WAL).
WRITER_AUTOCHECKPOINT_PAGES = 100_000


class WalCheckpointer:
    def __init__(self, engine: Engine, interval: float = 0.5) -> None:
        self._engine = engine
        self._interval = interval
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        # Leave a small WAL behind: the next start does not replay hundreds of MB.
        self.checkpoint("TRUNCATE")

    def checkpoint(self, mode: str = "PASSIVE") -> None:
        try:
            with self._engine.connect() as connection:
                connection.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")
        except Exception:  # a busy database is not a reason to stop checkpointing
            log.warning("WAL checkpoint (%s) failed", mode, exc_info=True)

    def _run(self) -> None:
        while not self._done.wait(self._interval):
            self.checkpoint()

    def __enter__(self) -> WalCheckpointer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
