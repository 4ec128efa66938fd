"""The export worker, seen from the server: a long-lived process (``export_process``)
that renders ``/api/traces.csv`` and ``/api/spans.csv`` of a SQLite store through the
Arrow path, and streams the bytes back as they are written.

Why a process: the Arrow path reads through ADBC's own SQLite library, which must not
share a process with the server's ``sqlite3`` (``store/arrow_read.py``); and pyarrow,
pandas-free, stays out of the server (pandas, which the server imports, would load it).

The app's lifespan owns one worker (``reasonlens/app.py``); its process starts with
the first export that needs it (a test app or a PostgreSQL server never pays for it)
and stops with the app. **One export at a time**: an export that arrives while the
worker is busy is written by the line writer in the server, as PostgreSQL's are; so
is one whose selection the worker cannot read (a Unicode text search), or any export
while the worker cannot be started. If the worker fails before its first chunk, the
line writer writes the export instead; after that, the download is cut short, as a
failing line writer's would be.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import anyio
from starlette.concurrency import iterate_in_threadpool

from web.exports import export_process
from web.exports.export_process import CANCEL, MORE, End, Job

log = logging.getLogger(__name__)

# Chunks the worker may write ahead of the client (each at most 1 MB): enough
# to keep both sides busy, little to hold.
WINDOW = 4
STOP_SECONDS = 5.0


class ExportFailed(Exception):
    """The worker failed after part of an export had been sent."""


class ExportWorker:
    """One worker process for the SQLite file ``database``, started on first use."""

    def __init__(self, database: str, *, window: int = WINDOW) -> None:
        self.database = database
        self.window = window
        self._busy = threading.Lock()  # held for a job, from its start to its End
        self._starting = threading.Lock()
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None
        self._stopped = False

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Nothing to do until the first export (``stream``)."""

    def stop(self) -> None:
        with self._starting:
            self._stopped = True
            process, pipe = self._process, self._pipe
            self._process = self._pipe = None
        if process is None or pipe is None:
            return
        with contextlib.suppress(OSError):
            pipe.send(None)
        process.join(STOP_SECONDS)
        if process.is_alive():  # in a job whose client is still reading
            process.kill()
            process.join()
        pipe.close()

    async def stream(
        self, header: bytes, job: Job, fallback: Callable[[], Iterator[bytes]]
    ) -> AsyncIterator[bytes]:
        """The export: ``header``, then the records, by the worker when it is free, else
        by ``fallback`` (the line writer) in a thread. The header leaves first either
        way, so the first byte never waits for the worker."""
        yield header
        pipe = await anyio.to_thread.run_sync(self._take)  # may start the process
        if pipe is None:
            async for chunk in iterate_in_threadpool(fallback()):
                yield chunk
            return
        # A job has ended for this side once the worker's empty message is read: the
        # End after it is read in the same thread hop, which a cancellation waits for.
        ended = False
        sent = 0
        try:
            pipe.send((job, self.database, self.window))
            while True:
                chunk = await anyio.to_thread.run_sync(pipe.recv_bytes)
                if not chunk:
                    ended = True
                    end: End = await anyio.to_thread.run_sync(pipe.recv)
                    break
                yield chunk
                sent += 1
                pipe.send(MORE)
        except (EOFError, OSError):  # the worker died: ended, as far as this job goes
            log.exception("the export worker died during an export")
            self._forget(pipe)
            ended = True
            end = End("failed", sent, "the worker process died")
        finally:
            if ended:
                self._busy.release()
            else:  # the client went away (or this task was cancelled)
                threading.Thread(target=self._cancel, args=(pipe,), daemon=True).start()
        if end.status == "done":
            return
        if end.status == "failed" and not sent:
            log.error("the export worker failed; the line writer writes it:\n%s", end.detail)
            async for chunk in iterate_in_threadpool(fallback()):
                yield chunk
            return
        # Cut short (failed midway, or stopped with the server): the download must not
        # end as if it were whole.
        raise ExportFailed(f"export {end.status} after {sent} chunks: {end.detail}")

    def _take(self) -> Connection | None:
        """The worker's connection, reserved for one job; None when it is busy, or
        cannot be started."""
        if not self._busy.acquire(blocking=False):
            return None
        try:
            pipe = self._running()
        except Exception:
            log.exception("the export worker could not be started")
            pipe = None
        if pipe is None:
            self._busy.release()
        return pipe

    def _running(self) -> Connection | None:
        with self._starting:
            if self._stopped:
                return None
            if self._process is not None and self._process.is_alive():
                return self._pipe
            if self._pipe is not None:
                self._pipe.close()
            context = multiprocessing.get_context("spawn")  # the server has threads
            ours, theirs = context.Pipe(duplex=True)
            process = context.Process(
                target=export_process.main, args=(theirs,), name="reasonlens-export", daemon=True
            )
            # Started with SIGINT blocked, so that a Ctrl-C during its imports does not
            # print a traceback from it (collector/service.py has the same).
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                process.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            theirs.close()
            self._process, self._pipe = process, ours
            return ours

    def _cancel(self, pipe: Connection) -> None:
        """Stop the job whose client went away, read what it still sends until its
        End, and free the worker for the next export."""
        try:
            pipe.send(CANCEL)
            while True:
                if not pipe.recv_bytes():
                    pipe.recv()
                    break
        except (EOFError, OSError):
            self._forget(pipe)
        finally:
            self._busy.release()

    def _forget(self, pipe: Connection) -> None:
        """The process behind ``pipe`` is gone: the next export starts another."""
        with self._starting:
            if self._pipe is pipe:
                process, self._process, self._pipe = self._process, None, None
                if process is not None:
                    process.kill()
                    process.join()
                pipe.close()
