"""The export worker process: the long CSV exports of a SQLite store, rendered by the
Arrow path (``arrow_ranges``) and sent back to the server in chunks.

The server starts this process (``export_worker.ExportWorker``) so that ADBC's SQLite
library never shares a process with Python's ``sqlite3``: each drops the file locks
the other holds (``store/arrow_read.py``). Nothing here reads the store through
SQLAlchemy's engine; SQLAlchemy only compiles statements.

The conversation, on one duplex ``multiprocessing`` connection, a job at a time:

- server -> worker: ``(Job, database, window)`` starts a job; ``MORE`` lets one more
  chunk go (the server has handed one to the client); ``CANCEL`` stops the job;
  ``None`` ends the process. A ``MORE`` or ``CANCEL`` that arrives between jobs is
  left over from the one before, and ignored.
- worker -> server: each chunk of CSV records as a message of bytes (never empty,
  at most ``CHUNK_BYTES``), at most ``window`` of them ahead of the ``MORE``
  messages; then an empty message, and an :class:`End` (pickled) saying how the job
  ended.

So a slow client holds the worker at ``window`` chunks ahead (the pipe's backpressure
without its blocking: the worker waits on ``recv`` and so hears a ``CANCEL``), and a
client gone away stops the job at its next chunk.
"""

from __future__ import annotations

import signal
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.abc import MetaPathFinder
from multiprocessing.connection import Connection
from typing import Literal

from store.exports import SpanFilter
from store.queries import SortKey, TraceFilter

MORE = "more"
CANCEL = "cancel"
# The most a chunk holds. A record batch's bytes (2,048 rows) are 1-1.5 MB of demo
# spans, but 40 MB of spans that carry 20 KB texts: sent in pieces, the server holds
# at most ``window`` of them.
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class TracesJob:
    """``/api/traces.csv``'s records: the selection's traces in its order."""

    filter: TraceFilter
    sort: SortKey
    descending: bool


@dataclass(frozen=True, slots=True)
class SpansJob:
    """``/api/spans.csv``'s records: the selected spans in the order stored."""

    filter: SpanFilter


Job = TracesJob | SpansJob


@dataclass(frozen=True, slots=True)
class End:
    """How a job ended: ``done``; ``cancelled`` by the server; ``failed``, with the
    worker's traceback in ``detail``, after ``chunks`` chunks were sent."""

    status: Literal["done", "cancelled", "failed"]
    chunks: int
    detail: str = ""


class _NoPandas(MetaPathFinder):
    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("the export worker runs without pandas")


class _Cancelled(Exception):
    def __init__(self, stop: bool) -> None:
        self.stop = stop  # the server asked the process to end, not only the job


def main(connection: Connection) -> None:
    """The worker's loop: a job at a time until told to stop or the server is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    # pyarrow imports pandas when it can (~40 MB, and ~0.3 s at the start); nothing
    # here needs it. (A None in sys.modules is not enough: pyarrow's compiled import
    # takes it for the module.)
    sys.meta_path.insert(0, _NoPandas())
    from web.exports import arrow_ranges

    def records(job: Job, database: str) -> Iterator[bytes]:
        match job:
            case TracesJob(f, sort, descending):
                return arrow_ranges.trace_chunks(database, f, sort, descending)
            case SpansJob(f):
                return arrow_ranges.span_chunks(database, f)

    while True:
        try:
            message = connection.recv()
        except EOFError:  # the server is gone
            return
        if message is None:
            return
        if not isinstance(message, tuple):  # MORE or CANCEL left over from a job
            continue
        job, database, window = message
        end, stop = _run(connection, records(job, database), window)
        try:
            connection.send_bytes(b"")
            connection.send(end)
        except OSError:  # the server is gone
            return
        if stop:
            return


def _run(connection: Connection, chunks: Iterator[bytes], window: int) -> tuple[End, bool]:
    """The job's chunks sent as the server lets them go; its End, and whether the
    server asked the process to stop meanwhile."""
    sent, credit = 0, window
    try:
        for records in chunks:
            for start in range(0, len(records), CHUNK_BYTES):
                while credit == 0 or connection.poll():
                    message = connection.recv()
                    if message != MORE:
                        raise _Cancelled(stop=message is None)
                    credit += 1
                size = min(CHUNK_BYTES, len(records) - start)
                connection.send_bytes(records, start, size)
                sent, credit = sent + 1, credit - 1
    except _Cancelled as cancelled:
        return End("cancelled", sent), cancelled.stop
    except EOFError:  # the server is gone
        return End("cancelled", sent), True
    except Exception:
        return End("failed", sent, traceback.format_exc()), False
    finally:
        # Stops the range threads and closes the ADBC connections now, not at the
        # next collection.
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return End("done", sent), False
