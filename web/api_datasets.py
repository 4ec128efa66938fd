"""The dataset API: upload a CSV or JSONL file as a dataset, list datasets, read items.

POST /api/datasets?project=&name=          the file as the body: 201 created, 200 replaced
GET  /api/datasets?project=                the project's datasets
GET  /api/datasets/{name}/items?project=   its items in file order (keyset: after=)

The body is the file itself, typed ``text/csv`` or ``application/x-ndjson`` (also
``application/jsonl``); ``format=csv|jsonl`` overrides the type for clients that cannot
set it (``curl --data-binary`` sends a form type). A file that is not a dataset is a
400 naming the line and column, and replaces nothing (``evals/datasets.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from evals.datasets import (
    FORMATS_BY_MEDIA_TYPE,
    MAX_UPLOAD_BYTES,
    DatasetError,
    Format,
    Upload,
    upload,
)
from store.datasets import DatasetInfo, get_dataset, list_datasets, read_items
from store.projects import project_id, project_name_problem
from web.deps import DbSession
from web.origin import same_origin
from web.request_body import media_type, read_body

router = APIRouter()

ProjectParam = Annotated[str, Query(max_length=200, description="The project's name.")]
MAX_PAGE = 1000


class UploadOut(BaseModel):
    project: str
    name: str
    items: int = Field(description="Items the dataset has now.")
    previous_items: int = Field(description="Items it had before (all replaced).")
    created: bool


class DatasetOut(BaseModel):
    name: str
    description: str | None
    item_count: int
    created_at: datetime
    updated_at: datetime


class DatasetList(BaseModel):
    project: str
    datasets: list[DatasetOut]


class ItemOut(BaseModel):
    position: int = Field(description="The line (JSONL) or data row (CSV) it came from.")
    key: str = Field(description="Its id: the value traces carry to be linked to it.")
    input: str | None
    expected_output: str | None
    metadata: dict[str, Any] | None = Field(description="The file's other columns.")


class ItemPage(BaseModel):
    project: str
    dataset: str
    item_count: int
    items: list[ItemOut]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null at the end."
    )


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}}
            for kind in FORMATS_BY_MEDIA_TYPE
        },
    }
}


@router.post(
    "/api/datasets",
    response_model=UploadOut,
    status_code=201,
    dependencies=[Depends(same_origin)],
    openapi_extra=UPLOAD_BODY,
    responses={200: {"description": "A dataset of that name existed: its items replaced."}},
)
async def upload_dataset(
    request: Request,
    response: Response,
    name: Annotated[str, Query(max_length=200, description="The dataset's name.")],
    project: ProjectParam = "default",
    format: Annotated[
        Literal["csv", "jsonl"] | None, Query(description="Overrides the content type.")
    ] = None,
) -> UploadOut:
    """Create a dataset from the file in the body, or replace every item of one."""
    problem = project_name_problem(project)
    if problem:
        raise HTTPException(400, problem)
    fmt = format or _format(media_type(request))
    body = await read_body(request, MAX_UPLOAD_BYTES)
    try:
        done = await run_in_threadpool(_store, request.state.engine, project, name, body, fmt)
    except DatasetError as error:
        raise HTTPException(400, str(error)) from None
    if not done.replaced.created:
        response.status_code = 200
    return UploadOut(
        project=project,
        name=name,
        items=done.items,
        previous_items=done.replaced.previous_items,
        created=done.replaced.created,
    )


@router.get("/api/datasets", response_model=DatasetList)
def api_datasets(session: DbSession, project: ProjectParam = "default") -> DatasetList:
    found = _project(session.connection(), project)
    return DatasetList(
        project=project,
        datasets=[_dataset_out(info) for info in list_datasets(session.connection(), found)],
    )


@router.get("/api/datasets/{name}/items", response_model=ItemPage)
def api_dataset_items(
    session: DbSession,
    name: str,
    project: ProjectParam = "default",
    after: Annotated[int, Query(ge=0, description="Items after this position.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> ItemPage:
    connection = session.connection()
    info = get_dataset(connection, _project(connection, project), name)
    if info is None:
        raise HTTPException(404, f"no dataset {name!r} in project {project!r}")
    items = read_items(connection, info.id, after=after, limit=limit + 1)
    page = items[:limit]
    return ItemPage(
        project=project,
        dataset=name,
        item_count=info.item_count,
        items=[
            ItemOut(
                position=item.position,
                key=item.key,
                input=item.input,
                expected_output=item.expected_output,
                metadata=item.metadata,
            )
            for item in page
        ],
        next_after=page[-1].position if len(items) > limit else None,
    )


def _format(kind: str) -> Format:
    found = FORMATS_BY_MEDIA_TYPE.get(kind)
    if found is None:
        accepted = ", ".join(FORMATS_BY_MEDIA_TYPE)
        raise HTTPException(
            415, f"send the file as one of {accepted} (or pass format=csv|jsonl), not {kind!r}"
        )
    return found


def _store(engine: sa.Engine, project: str, name: str, body: bytes, fmt: Format) -> Upload:
    with engine.begin() as connection:
        return upload(connection, project, name, body, fmt)


def _project(connection: sa.Connection, name: str) -> int:
    found = project_id(connection, name)
    if found is None:
        raise HTTPException(404, f"no project named {name!r}")
    return found


def _dataset_out(info: DatasetInfo) -> DatasetOut:
    return DatasetOut(
        name=info.name,
        description=info.description,
        item_count=info.item_count,
        created_at=info.created_at,
        updated_at=info.updated_at,
    )
