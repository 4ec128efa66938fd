"""Request dependencies shared by the API and the pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session


def db_session(request: Request) -> Iterator[Session]:
    with Session(request.state.engine) as session:
        yield session


DbSession = Annotated[Session, Depends(db_session)]
