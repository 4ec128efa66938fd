"""One ingest pipeline for every door (OTLP/HTTP and OTLP/gRPC) and signal (traces, logs).

``export`` takes a request body as received and returns once its rows are committed:
decode and normalize in a worker process, then the group-commit writer. The doors only
translate their protocol's request and errors; limits, projects, decoding and
durability are decided here, once.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

from sqlalchemy.engine import Engine

from collector.body import Encoding, Signal
from collector.errors import Overloaded
from collector.limits import Limits
from collector.pipeline import Prepared, prepare
from collector.redact import Pattern
from collector.writer import OnCommit, Writer
from store.pricing.book import REGISTRY_ONLY, PriceBook
from store.pricing.custom import load_rules

log = logging.getLogger(__name__)

# Custom prices changed by another process (a second collector) apply within this.
PRICES_MAX_AGE_S = 10.0


def _ignore_interrupts() -> None:
    """Worker initializer: a terminal's Ctrl-C reaches the whole process group, but only
    the server process should act on it (it shuts the pool down cleanly); a worker
    would otherwise die mid-task and print a KeyboardInterrupt traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _warm_up() -> None:
    """Runs in each worker at start so the first export does not pay for imports.

    Also tunes the cyclic garbage collector: a batch allocates tens of thousands of
    acyclic dicts, lists and strings that reference counting frees; with the default
    threshold the collector rescans them every 700 allocations for nothing. The price
    registry is loaded before the freeze: loaded at the first model call, its tables
    (some 16,000 objects) were rescanned by every full collection (bench/RESULTS.md).
    """
    import gc

    import collector.pipeline  # noqa: F401
    from store.pricing import registry

    registry.load()
    gc.freeze()  # modules and tables loaded so far are never garbage
    gc.set_threshold(50_000, 20, 20)


class IngestService:
    def __init__(
        self,
        engine: Engine,
        *,
        workers: int,
        limits: Limits,
        max_queue_spans: int,
        max_batch_spans: int,
        on_commit: OnCommit | None = None,
        redaction: tuple[Pattern, ...] = (),
    ) -> None:
        self.limits = limits
        self._redaction = redaction
        self._sqlite = engine.dialect.name == "sqlite"
        self.writer = Writer(
            engine,
            max_queue_spans=max_queue_spans,
            max_batch_spans=max_batch_spans,
            on_commit=on_commit,
        )
        self._workers = workers
        self._pool: Executor | None = None
        self._engine = engine
        self.prices = REGISTRY_ONLY
        self._prices_loaded = -PRICES_MAX_AGE_S
        self._prices_reloading = False

    def reload_prices(self) -> None:
        """Read the projects' custom prices again (the API calls this after a change)."""
        with self._engine.connect() as connection:
            self.prices = PriceBook(load_rules(connection))
        self._prices_loaded = time.monotonic()

    def _refresh_prices_soon(self) -> None:
        """Every ``PRICES_MAX_AGE_S``, for changes made by another process: in a thread
        of its own, so that a locked table delays the prices, never an export."""
        if self._prices_reloading or time.monotonic() - self._prices_loaded < PRICES_MAX_AGE_S:
            return
        self._prices_reloading = True
        threading.Thread(target=self._reload_quietly, name="price-book", daemon=True).start()

    def _reload_quietly(self) -> None:
        try:
            self.reload_prices()
        except Exception:
            log.exception("reading custom prices failed; pricing with the last ones read")
            self._prices_loaded = time.monotonic()
        finally:
            self._prices_reloading = False

    async def export(
        self,
        signal: Signal,
        body: bytes,
        encoding: Encoding,
        content_encoding: str | None,
        project: str | None,
    ) -> Prepared:
        """``content_encoding``: the body's compression (HTTP's Content-Encoding; gRPC
        decompresses before the handler). ``project``: the validated project header."""
        self._refresh_prices_soon()
        job = partial(
            prepare,
            signal,
            body,
            encoding,
            content_encoding,
            project,
            self.limits,
            self._sqlite,
            self.prices,
            self._redaction,
        )
        prepared = await self._prepare(job)
        await self.writer.write(prepared.batch)
        return prepared

    async def _prepare(self, job: partial[Prepared]) -> Prepared:
        if self._pool is None:
            return await asyncio.to_thread(job)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, job)
        except BrokenProcessPool:
            # A worker died (killed, out of memory). Nothing of this request was stored;
            # replace the pool and let the client retry.
            log.error("a decode worker died; restarting the worker pool")
            self._restart_pool()
            raise Overloaded("decode worker restarted; retry") from None

    def start(self) -> None:
        self._reload_quietly()
        if self._workers > 0:
            self._pool = self._new_pool()
            for future in self._spawn_workers(self._pool):
                future.result()
        self.writer.start()

    def stop(self) -> None:
        self.writer.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server process has threads (writer, DB pool) by now.
        return ProcessPoolExecutor(
            self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_ignore_interrupts,
        )

    def _spawn_workers(self, pool: ProcessPoolExecutor) -> list[Future[None]]:
        """Start every worker now, with Ctrl-C blocked while they start.

        The pool starts a worker process inside ``submit``, and a spawned worker runs
        imports before its initializer can ignore SIGINT: a Ctrl-C to the process group
        in that second (a loaded machine makes it longer) printed a KeyboardInterrupt
        traceback from the worker. A child inherits its parent thread's signal mask, so
        workers started with SIGINT blocked never see it.
        """
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            return [pool.submit(_warm_up) for _ in range(self._workers)]
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _restart_pool(self) -> None:
        old, self._pool = self._pool, self._new_pool()
        self._spawn_workers(self._pool)
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
