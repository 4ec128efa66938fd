"""An export as an HTTP download: streamed, typed ``text/csv; charset=utf-8``, named."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.responses import StreamingResponse

from web.exports.csv_writer import MEDIA_TYPE

# For a route's ``responses=``: the OpenAPI document says what a CSV route returns.
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "CSV, header first."}
}


def csv_response(chunks: Iterator[bytes] | AsyncIterator[bytes], name: str) -> StreamingResponse:
    return StreamingResponse(
        chunks,
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
