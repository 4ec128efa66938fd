"""Why an OTLP export was refused, and what each surface answers.

    IngestError                    base; ``status`` is the HTTP answer
    ├── UnsupportedMediaType       415: not application/x-protobuf nor application/json
    ├── InvalidPayload             400: undecodable body or encoding; nothing stored
    ├── PayloadTooLarge            413: over the size limit after decompression
    ├── Unauthenticated            401: sign-in is on and no valid key was sent
    ├── Forbidden                  403: the key may not send spans (to that project)
    └── Overloaded                 503 + Retry-After: write queue full, or the writer is
                                   down; every OTLP exporter retries these

Each receiver (HTTP, gRPC) maps these to its own status codes in one place.
The classes take a single message argument so they cross the process boundary of the
decode workers intact (pickle re-creates exceptions from their args).
"""

from __future__ import annotations


class IngestError(Exception):
    status: int = 500

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class UnsupportedMediaType(IngestError):
    status = 415


class InvalidPayload(IngestError):
    status = 400


class PayloadTooLarge(IngestError):
    status = 413


class Unauthenticated(IngestError):
    status = 401


class Forbidden(IngestError):
    status = 403


class Overloaded(IngestError):
    status = 503
