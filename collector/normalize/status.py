"""Whether a span failed, and how it says so (SEMCONV 6.2, error rows).

Any one signal makes a span an error: OTel status ERROR, Langfuse level ERROR, an
``error.type`` attribute (OTel's "Recording Errors"), or an ``exception`` event. The
type and message are read only for failed spans: OTel says a status description on a
span that did not fail is to be ignored, and a Langfuse WARNING is not an error.
"""

from __future__ import annotations

from collector.normalize import signals
from collector.normalize.context import Context
from collector.normalize.conventions import LANGFUSE, PYDANTIC_AI
from collector.normalize.sources import Attr, Derived, Field
from collector.normalize.values import as_str, usable
from store.vocabulary import Status

STATUS_CODE_ERROR = 2
LEVEL_KEY = "langfuse.observation.level"
ERROR_TYPE_KEY = "error.type"


def derive_status(ctx: Context) -> Status:
    span = ctx.span
    if span.status_code == STATUS_CODE_ERROR:
        return Status.ERROR
    level = ctx.found.get(LEVEL_KEY)
    if type(level) is str and level.upper() == "ERROR":
        return Status.ERROR
    if usable(ctx.found.get(ERROR_TYPE_KEY)) or ctx.events.exception is not None:
        return Status.ERROR
    return Status.OK


def _exception(key: str) -> Derived:
    def get(ctx: Context) -> str | None:
        event = ctx.events.exception
        return as_str(event.get(key)) if event else None

    return Derived(f"exception:{key}", get, signals=(signals.EXCEPTION_EVENT,))


def _status_message(ctx: Context) -> str | None:
    return as_str(ctx.span.status_message)


ERROR_TYPE = Field(
    "error_type",
    (
        Attr(ERROR_TYPE_KEY, None, as_str),
        _exception("exception.type"),
        Attr("pydantic_ai.tool.failure_stage", PYDANTIC_AI, as_str),
    ),
)

ERROR_MESSAGE = Field(
    "error_message",
    (
        Derived("status.message", _status_message, signals=(signals.STATUS_MESSAGE,)),
        Attr("langfuse.observation.status_message", LANGFUSE, as_str),
        _exception("exception.message"),
    ),
)

# The level is read by derive_status, not by a field; listed so the key counts as known.
STATUS_KEYS: tuple[Attr, ...] = (Attr(LEVEL_KEY, LANGFUSE),)
ERROR_FIELDS: tuple[Field, ...] = (ERROR_TYPE, ERROR_MESSAGE)
