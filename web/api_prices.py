"""Custom prices per project: what a model call costs where the registry is wrong or silent.

POST   /api/prices                 a price (JSON body): 201, priced from the next span on
GET    /api/prices?project=        the project's custom prices
DELETE /api/prices/{id}            204; stored costs keep the price that computed them

New spans are priced with it at once; spans already stored keep their cost until
``reasonlens reprice`` recomputes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from store.custom_prices import NewCustomPrice, add_custom_price, custom_prices
from store.custom_prices import delete_custom_price as delete_price
from store.models import CustomPrice
from store.projects import project_id, project_name_problem
from web.access import allow
from web.deps import DbSession
from web.origin import same_origin
from web.params import RowId
from web.request_body import json_body_doc, json_model

router = APIRouter()

MAX_PRICE_BYTES = 16 * 1024
PRICE = Field(ge=0, allow_inf_nan=False, description="USD per million tokens.")
PART = Field(None, ge=0, allow_inf_nan=False, description="USD per million; null: as the total.")


class PriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    project: str = Field("default", min_length=1, max_length=200)
    model: str = Field(
        min_length=1,
        max_length=200,
        description="The whole model name, case-insensitive; * matches any characters.",
    )
    provider: str | None = Field(None, min_length=1, max_length=100, description="null: any.")
    input_usd_per_mtok: float = PRICE
    output_usd_per_mtok: float = PRICE
    cache_read_usd_per_mtok: float | None = PART
    cache_write_usd_per_mtok: float | None = PART
    reasoning_usd_per_mtok: float | None = PART
    effective_from: datetime | None = Field(None, description="ISO 8601; null: for every call.")

    @field_validator("project", "model", "provider")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain the NUL character")
        return value

    @field_validator("project")
    @classmethod
    def _project_name(cls, value: str) -> str:
        problem = project_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("effective_from")
    @classmethod
    def _with_zone(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (2026-11-01T00:00:00Z)")
        return value


class PriceOut(BaseModel):
    id: int
    project: str
    model: str
    provider: str | None
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    cache_read_usd_per_mtok: float | None
    cache_write_usd_per_mtok: float | None
    reasoning_usd_per_mtok: float | None
    effective_from: datetime | None
    created_at: datetime


class PriceList(BaseModel):
    prices: list[PriceOut]


async def price_body(request: Request) -> PriceIn:
    return await json_model(request, PriceIn, MAX_PRICE_BYTES, "the price")


@router.post(
    "/api/prices",
    response_model=PriceOut,
    status_code=201,
    dependencies=[Depends(same_origin)],
    openapi_extra=json_body_doc(PriceIn),
)
def create_price(
    request: Request, session: DbSession, price: Annotated[PriceIn, Depends(price_body)]
) -> PriceOut:
    """A project's price for the models its pattern names, ahead of the registry."""
    allow(request, price.project, "admin")
    fields = price.model_dump(exclude={"project"})
    with request.state.engine.begin() as connection:
        price_id = add_custom_price(connection, price.project, NewCustomPrice(**fields))
    request.state.ingest.reload_prices()
    stored = session.get_one(CustomPrice, price_id)
    return _out(stored, price.project)


@router.get("/api/prices", response_model=PriceList)
def list_prices(
    session: DbSession, project: Annotated[str, Query(max_length=200)] = "default"
) -> PriceList:
    found = project_id(session.connection(), project)
    prices = custom_prices(session, found) if found is not None else []
    return PriceList(prices=[_out(price, project) for price in prices])


@router.delete("/api/prices/{price_id}", status_code=204, dependencies=[Depends(same_origin)])
def remove_price(request: Request, price_id: RowId) -> Response:
    with request.state.engine.begin() as connection:
        if not delete_price(connection, price_id):
            raise HTTPException(404, f"no custom price {price_id}")
    request.state.ingest.reload_prices()
    return Response(status_code=204)


def _out(price: CustomPrice, project: str) -> PriceOut:
    fields = {name: getattr(price, name) for name in PriceOut.model_fields if name != "project"}
    return PriceOut(project=project, **fields)
