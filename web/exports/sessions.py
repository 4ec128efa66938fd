"""The sessions export: the ``/sessions`` table, every page of it, most recently active
first; read a page of 1,000 sessions at a time, as the table pages."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from store.sessions import list_sessions
from web.exports.csv_writer import iso, line_chunks, number, quoted

COLUMNS: tuple[str, ...] = (
    "session_id", "user_id", "agent_name", "agent_version", "first_start_time",
    "last_start_time", "last_end_time", "trace_count", "error_count", "input_tokens",
    "output_tokens", "cost_usd",
)  # fmt: skip
PAGE = 1000


def session_csv(engine: sa.Engine, project_id: int) -> Iterator[bytes]:
    return line_chunks(COLUMNS, _lines(engine, project_id))


def _lines(engine: sa.Engine, project_id: int) -> Iterator[str]:
    q = quoted
    cursor = None
    while True:
        with Session(engine) as session:
            page = list_sessions(session, project_id, limit=PAGE, cursor=cursor)
        for s in page.sessions:
            yield (
                f"{q(s.session_id)},{q(s.user_id)},{q(s.agent_name)},{q(s.agent_version)},"
                f"{iso(s.first_start_ns)},{iso(s.last_start_ns)},{iso(s.last_end_ns)},"
                f"{s.trace_count},{s.error_count},{s.input_tokens},{s.output_tokens},"
                f"{number(s.cost_usd)}"
            )
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
