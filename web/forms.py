"""The dashboard's urlencoded forms: read bounded, validated with the API's models.

A settings form posts the same fields as its JSON API takes, so it is validated by
the same pydantic model; a refusal re-renders the page with one message per field and
the fields marked, rather than the API's JSON 422.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError

from web.request_body import media_type, read_body, text

CSRF_FIELD = "csrf"  # every form's token against cross-site posts (web/access.py)

M = TypeVar("M", bound=BaseModel)


def form_reader(limit: int, fields: int) -> Callable[[Request], Awaitable[dict[str, str]]]:
    """A FastAPI dependency: the form's fields, at most ``limit`` bytes and ``fields``
    fields (415 for anything but a form, 413 or 400 beyond the bounds)."""

    async def posted_form(request: Request) -> dict[str, str]:
        if media_type(request) != "application/x-www-form-urlencoded":
            raise HTTPException(415, "expected a form (application/x-www-form-urlencoded)")
        body = text(await read_body(request, limit))
        try:
            posted = dict(parse_qsl(body, keep_blank_values=True, max_num_fields=fields + 1))
        except ValueError as error:
            raise HTTPException(400, f"bad form: {error}") from None
        posted.pop(CSRF_FIELD, None)  # checked by web/access.py before the route runs
        return posted

    return posted_form


@dataclass(frozen=True, slots=True)
class Refused:
    """A form the model refused: as sent, why (a line per problem), and which fields."""

    form: dict[str, str]
    problems: list[str]
    invalid: frozenset[str]


def validated(model: type[M], form: Mapping[str, str], labels: Mapping[str, str]) -> M | Refused:
    """The model's fields from the form; an empty field is left out, so an optional one
    is null and a required one missing."""
    sent = {name: form.get(name, "").strip() for name in model.model_fields}
    try:
        return model.model_validate({name: value for name, value in sent.items() if value})
    except ValidationError as error:
        problems: list[str] = []
        invalid: set[str] = set()
        for problem in error.errors(include_url=False, include_input=False):
            name = str(problem["loc"][0]) if problem["loc"] else ""
            invalid.add(name)
            message = problem["msg"].removeprefix("Value error, ")
            problems.append(f"{labels.get(name, name)}: {message}" if name else message)
        return Refused(sent, problems, frozenset(invalid))
