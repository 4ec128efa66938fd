"""OTLP/gRPC receiver: TraceService/Export and LogsService/Export on their own port.

The second door to the one ingest pipeline (``collector/service.py``): a request's
bytes go to :meth:`IngestService.export` exactly as an HTTP body would, so limits,
projects, decoding and durable acks are the same. gRPC itself undoes the message
compression (gzip) and enforces the size limit, which it checks after decompression.

The server runs its handlers on a small thread pool and hands each export to the
application's event loop, where the writer and decode workers live; handlers block
only their own thread. Errors map onto the codes the OTLP spec gives for them:

    InvalidPayload (bad protobuf, bad project)    INVALID_ARGUMENT   not retryable
    Unauthenticated (no or a bad key)             UNAUTHENTICATED
    Forbidden (no ingest scope, another project)  PERMISSION_DENIED
    PayloadTooLarge                               RESOURCE_EXHAUSTED without RetryInfo:
                                                  not retryable by the spec (the Python
                                                  SDK's exporter retries it regardless)
    Overloaded, database unavailable              RESOURCE_EXHAUSTED / UNAVAILABLE with
                                                  RetryInfo: the exporter retries after it
    anything else (a bug)                         INTERNAL, with no detail sent
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2
from sqlalchemy.exc import OperationalError

from collector.body import Encoding, Signal
from collector.errors import (
    Forbidden,
    IngestError,
    Overloaded,
    PayloadTooLarge,
    Unauthenticated,
)
from collector.identity import ingest_project
from collector.otlp_response import export_response
from collector.service import IngestService
from store.principals import Credentials

log = logging.getLogger(__name__)

TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"
# Where the OTel SDK exporters look for the retry delay (besides the standard
# grpc-status-details-bin, which carries it too).
_RETRY_INFO_KEY = "google.rpc.retryinfo-bin"
_STATUS_DETAILS_KEY = "grpc-status-details-bin"
# Handler threads only wait for the event loop; the writer's queue bounds the work,
# so more threads would only hold more requests in memory.
_HANDLER_THREADS = 16
# How long a stop waits for running exports, about one group commit under load.
_STOP_GRACE_SECONDS = 10.0


class GrpcBindError(RuntimeError):
    """The receiver could not listen (port taken, address not local)."""


class GrpcReceiver:
    """The OTLP/gRPC server: started and stopped by the app's lifespan, beside HTTP."""

    def __init__(
        self,
        service: IngestService,
        credentials: Credentials,
        *,
        host: str,
        port: int,
        max_message_bytes: int,
        retry_after_seconds: int,
    ) -> None:
        self._service = service
        self._credentials = credentials
        # IPv6 literals take brackets in a gRPC address.
        self._address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._max_message_bytes = max_message_bytes
        self._retry_after_seconds = retry_after_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: grpc.Server | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind and serve; exports run on ``loop`` (the application's)."""
        self._loop = loop
        server = grpc.server(
            ThreadPoolExecutor(_HANDLER_THREADS, thread_name_prefix="otlp-grpc"),
            options=[
                ("grpc.max_receive_message_length", self._max_message_bytes),
                # gRPC sets SO_REUSEPORT by default: a second server would then share
                # the port silently instead of failing to start.
                ("grpc.so_reuseport", 0),
            ],
        )
        server.add_generic_rpc_handlers(
            (
                _service_handler(TRACE_SERVICE, self._handler(Signal.TRACES)),
                _service_handler(LOGS_SERVICE, self._handler(Signal.LOGS)),
            )
        )
        try:
            server.add_insecure_port(self._address)
        except RuntimeError as error:
            raise GrpcBindError(
                f"cannot listen for OTLP/gRPC on {self._address} ({error}); is the port in "
                "use? Choose another with --grpc-port, or turn gRPC off with --grpc-port 0"
            ) from None
        server.start()
        self._server = server

    async def stop(self) -> None:
        """Refuse new calls and let running ones finish (they need the event loop)."""
        if self._server is not None:
            stopped = self._server.stop(_STOP_GRACE_SECONDS)
            self._server = None
            await asyncio.to_thread(stopped.wait)

    def _handler(self, signal: Signal) -> Callable[[bytes, grpc.ServicerContext], bytes]:
        def export(request: bytes, context: grpc.ServicerContext) -> bytes:
            return self._export(signal, request, context)

        return export

    def _export(self, signal: Signal, request: bytes, context: grpc.ServicerContext) -> bytes:
        assert self._loop is not None
        try:
            project = ingest_project(self._credentials, lambda key: _metadata(context, key))
            future = asyncio.run_coroutine_threadsafe(
                self._service.export(signal, request, Encoding.PROTOBUF, None, project),
                self._loop,
            )
            # A cancelled or expired call stops waiting; what was queued is still stored
            # (a retry is idempotent), but the thread is free again.
            context.add_callback(future.cancel)
            prepared = future.result(timeout=context.time_remaining())
        except (concurrent.futures.CancelledError, concurrent.futures.TimeoutError):
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the call ended before the write")
        except Overloaded as error:
            self._abort_retryable(context, code_pb2.RESOURCE_EXHAUSTED, error.message)
        except OperationalError:
            log.exception("database unavailable while writing %s", signal.value)
            self._abort_retryable(context, code_pb2.UNAVAILABLE, "database unavailable; retry")
        except PayloadTooLarge as error:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, error.message)
        except Unauthenticated as error:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, error.message)
        except Forbidden as error:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, error.message)
        except IngestError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)
        except Exception:
            # Never send internals (SQL, parameters, span content) to the client.
            log.exception("OTLP/gRPC %s export failed", signal.value)
            context.abort(grpc.StatusCode.INTERNAL, "internal error; see the server log")
        return export_response(
            signal, prepared.rejected, prepared.error_message
        ).SerializeToString()

    def _abort_retryable(self, context: grpc.ServicerContext, code: int, message: str) -> None:
        retry = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=self._retry_after_seconds))
        status = status_pb2.Status(code=code, message=message)
        status.details.add().Pack(retry)
        context.set_trailing_metadata(
            (
                (_STATUS_DETAILS_KEY, status.SerializeToString()),
                (_RETRY_INFO_KEY, retry.SerializeToString()),
            )
        )
        context.abort(_STATUS_CODES[code], message)


_STATUS_CODES = {
    code_pb2.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    code_pb2.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}


def _metadata(context: grpc.ServicerContext, key: str) -> str | None:
    for name, value in context.invocation_metadata():
        if name == key:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return None


def _service_handler(
    service: str, export: Callable[[bytes, grpc.ServicerContext], bytes]
) -> grpc.GenericRpcHandler:
    # No (de)serializers: the handler takes and returns the wire bytes, so the request
    # is parsed once, in a decode worker, like an HTTP body.
    return grpc.method_handlers_generic_handler(
        service, {"Export": grpc.unary_unary_rpc_method_handler(export)}
    )
