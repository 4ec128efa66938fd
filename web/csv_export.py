"""``GET /api/traces.csv``: the whole selection of ``/api/traces`` as CSV, streamed.

Same parameters as the JSON list (``web/filters.py``) minus the page: every trace of
the selection, read in keyset chunks (``store.queries.iter_traces``) and sent as they
are read, so memory stays flat whatever the store's size. The columns are the trace
object's fields in their documented order (``web.schemas.TraceOut``).

Cells hold text that models, tools and whoever wrote a fetched web page chose, and the
file is meant to be opened in a spreadsheet: a text cell that starts like a formula
gets a leading apostrophe (OWASP's CSV injection advice), so it shows as text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import StreamingResponse

from store.queries import TraceRecord, iter_traces
from web.filters import TraceFilterParams, trace_selection
from web.params import BadParameter
from web.schemas import TraceOut
from web.serialize import trace_json

router = APIRouter()

COLUMNS: tuple[str, ...] = tuple(TraceOut.model_fields)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FLUSH_CHARS = 64 * 1024  # one write to the socket per ~64 KB, not per row
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def cell(value: Any) -> Any:
    """A value as a CSV cell: None is empty (CSV has no null), formula-like text is
    neutralised. Numbers pass as they are: they are ours, never a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON API
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_chunks(records: Iterable[TraceRecord]) -> Iterator[bytes]:
    """RFC 4180 CSV (CRLF line ends, minimal double-quote quoting), UTF-8, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for record in records:
        body = trace_json(record.trace, record.project)
        writer.writerow([cell(body[column]) for column in COLUMNS])
        if buffer.tell() >= _FLUSH_CHARS:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def filename(project: str | None, now: datetime) -> str:
    name = _UNSAFE_IN_FILENAME.sub("-", project).strip("-") if project else ""
    return f"traces-{name or 'all'}-{now:%Y%m%dT%H%M%SZ}.csv"


@router.get(
    "/api/traces.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "Every selected trace."}},
)
def api_traces_csv(
    request: Request, params: Annotated[TraceFilterParams, Query()]
) -> StreamingResponse:
    """Every trace that ``/api/traces`` selects with these filters, in its order, as CSV."""
    try:
        # Parsed before the first byte is sent: once streaming, a status cannot change.
        selection = trace_selection(params)
    except BadParameter as error:
        raise HTTPException(400, str(error)) from None
    records = iter_traces(
        request.state.engine,
        selection.filter,
        sort=selection.sort,
        descending=selection.descending,
    )
    disposition = f'attachment; filename="{filename(params.project, datetime.now(UTC))}"'
    return StreamingResponse(
        csv_chunks(records),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )
