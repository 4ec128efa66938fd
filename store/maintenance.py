"""SQLite upkeep on its own thread: WAL checkpoints and planner statistics.

Checkpoints: by default SQLite checkpoints inside the COMMIT that crosses 1,000 WAL
pages; at ~2.5 KB a span that is nearly every group commit, and the writer stalls
while the WAL is copied into the database file. Here a PASSIVE checkpoint (it never
blocks the writer or readers) runs every ``checkpoint_interval`` seconds on another
connection; the writer's engine keeps a high automatic threshold only as a safety net.

Statistics: without ANALYZE, SQLite guesses selectivities, and on a 1,000,000-span
store it read a duration range through the duration index and sorted every match
(138 ms) instead of walking the time index (6 ms). A sampled ANALYZE
(``analysis_limit``) runs at start and every ``analyze_interval`` seconds; it takes
milliseconds. PostgreSQL's autovacuum does both jobs by itself.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# The span writer's automatic checkpoint threshold, in pages (~400 MB of WAL).
WRITER_AUTOCHECKPOINT_PAGES = 100_000
# Rows ANALYZE samples per index: enough for the planner's choices here.
ANALYZE_ROWS = 1000


class SqliteMaintenance:
    def __init__(
        self,
        engine: Engine,
        *,
        checkpoint_interval: float = 0.5,
        analyze_interval: float = 600.0,
    ) -> None:
        self._engine = engine
        self._checkpoint_interval = checkpoint_interval
        self._analyze_interval = analyze_interval
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlite-upkeep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        # Leave a small WAL behind: the next start does not replay hundreds of MB.
        self._pragma("wal_checkpoint(TRUNCATE)")

    def _pragma(self, *statements: str) -> None:
        try:
            with self._engine.connect() as connection:
                for statement in statements:
                    connection.exec_driver_sql(f"PRAGMA {statement}")
                connection.commit()
        except Exception:  # a busy database is not a reason to stop the upkeep
            log.warning("SQLite upkeep (%s) failed", statements, exc_info=True)

    def analyze(self) -> None:
        try:
            with self._engine.begin() as connection:
                # Per connection: the sampling limit must be set where ANALYZE runs.
                connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYZE_ROWS}")
                connection.exec_driver_sql("ANALYZE")
        except Exception:
            log.warning("SQLite ANALYZE failed", exc_info=True)

    def _run(self) -> None:
        self.analyze()
        next_analyze = time.monotonic() + self._analyze_interval
        while not self._done.wait(self._checkpoint_interval):
            self._pragma("wal_checkpoint(PASSIVE)")
            if time.monotonic() >= next_analyze:
                self.analyze()
                next_analyze = time.monotonic() + self._analyze_interval
