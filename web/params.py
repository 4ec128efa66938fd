"""Request values that need more than a type: times (``store.times``, shared with eval
suites), the error that names the bad parameter, and row ids in paths."""

from typing import Annotated

from fastapi import Path

from store.times import BadParameter, time_ns

# A database row id in a path: bounded, so a huge number is a 422, never a 500 from
# PostgreSQL's BIGINT.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]

__all__ = ["BadParameter", "RowId", "time_ns"]
