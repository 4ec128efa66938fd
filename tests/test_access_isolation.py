"""Project isolation, route by route: a key or user of one project can neither read
nor change another, through any page, API route, CSV export or OTLP.

The route table comes from the app, so a route added without a request here fails
``test_every_route_is_tried``. Each route is tried by two principals of ``alpha``
(a signed-in admin of alpha, and an alpha key with read and admin scopes) at the
other project's objects: the answer must be a refusal, and the other project's rows
must be exactly as before. Each route is also tried without naming a project: no
response may show the other project's text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from fastapi.routing import iter_route_contexts

from reasonlens.app import create_app
from reasonlens.settings import Settings
from store import api_keys, users
from store.models import Base, Project
from tests import access_site as site
from tests.access_routes import Try, tries
from tests.access_site import OURS, SECRET, Holdings, short_ttl_server
from tests.server import Server
from web.csrf import csrf_token

PASSWORD = "correct horse battery"
# What our own objects get where it is not 200: a run without a drift report, a
# finished run's progress (nothing more to poll), a span page outside htmx (the trace).
SERVED = {
    ("GET", "/api/eval-runs/{run_id}/drift.csv"): (404,),
    ("GET", "/evals/runs/{run_id}/progress"): (204,),
    ("GET", "/traces/{trace_id}/spans/{span_id}"): (303,),
}
# Routes that name no project: tried, they must answer without the other's text.
UNTARGETED = {("GET", "/api/reprice"), ("GET", "/settings/prices/reprice")}
PUBLIC = {"/login", "/logout", "/healthz", "/openapi.json", "/v1/traces", "/v1/logs"}


def app_routes() -> set[tuple[str, str]]:
    app = create_app(Settings(database_url="sqlite://"))
    return {
        (method, str(route.path))
        for route in iter_route_contexts(app.routes)
        if route.methods
        and str(route.path) not in PUBLIC
        and not str(route.path).startswith("/static")
        for method in route.methods
        if method != "HEAD"
    }


@dataclass
class World:
    server: Server
    ours: Holdings
    theirs: Holdings
    principals: dict[str, Callable[[Try], httpx.Response]]


def _snapshot(server: Server, project: str) -> dict[str, str]:
    """A digest of the project's rows in each table that has a project id (so a change
    names its table)."""
    digests = {}
    with server.engine.connect() as connection:
        pid = connection.scalar(sa.select(Project.id).where(Project.name == project))
        for table in Base.metadata.sorted_tables:
            if "project_id" in table.c:
                rows = connection.execute(
                    sa.select(table).where(table.c.project_id == pid).order_by(*table.primary_key)
                )
                digests[table.name] = hashlib.sha256(repr(rows.all()).encode()).hexdigest()
        names = connection.execute(sa.select(Project.name).order_by(Project.id)).all()
        digests["projects"] = hashlib.sha256(repr(names).encode()).hexdigest()
    return digests


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with short_ttl_server(tmp_path_factory) as server:
        ours, theirs = site.holdings(server, OURS), site.holdings(server, SECRET)
        with server.engine.begin() as connection:
            users.create_user(connection, "alice@example.com", PASSWORD, actor="test")
            users.grant(connection, "alice@example.com", OURS, "admin", actor="test")
            key = api_keys.create_key(connection, OURS, "ours", ["read", "admin"], actor="test")
        with (
            httpx.Client(base_url=server.url, timeout=60) as browser,
            httpx.Client(
                base_url=server.url, timeout=60, headers={"authorization": f"Bearer {key.secret}"}
            ) as keyed,
        ):
            signed = browser.post(
                "/login", data={"email": "alice@example.com", "password": PASSWORD, "next": "/"}
            )
            assert signed.status_code == 303, signed.text
            token = csrf_token(browser.cookies["reasonlens_session"])

            def as_user(attempt: Try) -> httpx.Response:
                """A form carries its token as a field, any other change as a header."""
                form = None if attempt.form is None else {**attempt.form, "csrf": token}
                unsafe = attempt.method != "GET" and attempt.form is None
                headers = {"x-csrf-token": token} if unsafe else {}
                return browser.request(
                    attempt.method, attempt.url, params=attempt.params, json=attempt.json,
                    data=form, content=attempt.content, headers=headers,
                )  # fmt: skip

            def as_key(attempt: Try) -> httpx.Response:
                return keyed.request(
                    attempt.method, attempt.url, params=attempt.params, json=attempt.json,
                    data=attempt.form, content=attempt.content,
                )  # fmt: skip

            yield World(server, ours, theirs, {"user": as_user, "key": as_key})


def test_every_route_is_tried(world: World) -> None:
    routes, tried = app_routes(), set(tries(world.theirs))
    assert routes - tried == set(), "routes with no isolation request: add one"
    assert tried - routes == set(), "requests for routes the app no longer has"


@pytest.mark.parametrize("who", ["user", "key"])
def test_no_route_reaches_the_other_project(world: World, who: str) -> None:
    before = _snapshot(world.server, SECRET)
    send = world.principals[who]
    leaks = []
    for route, attempt in sorted(tries(world.theirs).items()):
        response = send(attempt)
        if route in UNTARGETED:
            if response.status_code != 200 or SECRET in response.text:
                leaks.append(f"{route}: {response.status_code} {response.text[:200]}")
        elif response.status_code not in (400, 403, 404):
            leaks.append(f"{route}: {response.status_code} {response.text[:200]}")
    assert leaks == [], "\n".join(leaks)
    after = _snapshot(world.server, SECRET)
    changed = [table for table in before if after[table] != before[table]]
    assert changed == [], "the other project's rows changed"


@pytest.mark.parametrize("who", ["user", "key"])
def test_lists_that_name_no_project_show_only_ours(world: World, who: str) -> None:
    send = world.principals[who]
    shown = []
    for route, attempt in sorted(tries(world.theirs).items()):
        if attempt.method != "GET" or SECRET in attempt.url:
            continue  # a path naming their session or dataset is echoed in its 404
        unnamed = {k: v for k, v in attempt.params.items() if SECRET not in v}
        response = send(Try("GET", attempt.url, params=unnamed))
        if SECRET in response.text:
            shown.append(f"{route}: {response.status_code}")
    assert shown == [], "\n".join(shown)


def test_our_own_objects_are_served(world: World) -> None:
    """The refusals above are not refusals of everything: the same routes at our own
    project's objects answer (reads only, so the other tests' state holds)."""
    send = world.principals["user"]
    failed = []
    for route, attempt in sorted(tries(world.ours).items()):
        if attempt.method != "GET":
            continue
        response = send(attempt)
        if response.status_code not in SERVED.get(route, (200,)) or SECRET in response.text:
            failed.append(f"{route}: {response.status_code} {response.text[:120]}")
    assert failed == [], "\n".join(failed)


@pytest.mark.parametrize("who", ["user", "key"])
def test_a_change_that_names_no_project_is_refused(world: World, who: str) -> None:
    """A state-changing route whose project is a query parameter defaults it to
    ``default`` for local mode; a principal limited to some projects must name one."""
    send = world.principals[who]
    for attempt in (
        Try("DELETE", "/api/known-good", params={"agent": world.ours.agent}),
        Try("POST", "/api/datasets", content=b"{}", params={"name": "x", "format": "jsonl"}),
    ):
        answer = send(attempt)
        assert answer.status_code == 400 and "name a project" in answer.text, answer.text
