"""Request dependencies shared by the API and the pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session


def db_session(request: Request) -> Iterator[Session]:
    """The session carries the request's principal: the project picker lists only the
    projects it may see (``web/pages/context.py``)."""
    with Session(request.state.engine, info={"principal": request.state.principal}) as session:
        yield session


DbSession = Annotated[Session, Depends(db_session)]
