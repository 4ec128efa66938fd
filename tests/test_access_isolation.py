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
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from fastapi.routing import iter_route_contexts

from reasonlens.app import create_app
from reasonlens.settings import Settings
from store import api_keys, users
from store.models import Base, Project
from tests import access_site as site
from tests.access_site import OURS, SECRET, Holdings
from tests.databases import fresh_database
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


@dataclass(frozen=True)
class Try:
    method: str
    url: str
    json: Any = None
    form: dict[str, str] | None = None
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)


def _suite(project: str) -> str:
    evaluators = [{"latency": {"max_ms": 1000}}]
    return json.dumps({"name": "taken", "select": {"project": project}, "evaluators": evaluators})


def tries(h: Holdings) -> dict[tuple[str, str], Try]:
    """For each route, a request at project ``h``'s objects."""
    p, t, r = {"project": h.project}, h.trace_id, h.run_ids
    price = {
        "project": h.project,
        "model": "m",
        "input_usd_per_mtok": "1",
        "output_usd_per_mtok": "1",
    }
    budget = {"project": h.project, "period": "day", "limit_usd": "1"}
    rule = {"project": h.project, "name": "x", "kind": "budget"}
    mark = {"project": h.project, "agent": h.agent, "version": "1.0"}
    table = {
        ("GET", "/api/traces.csv"): Try("GET", "/api/traces.csv", params=p),
        ("GET", "/api/spans.csv"): Try("GET", "/api/spans.csv", params=p),
        ("GET", "/api/eval-runs/{run_id}/scores.csv"): Try(
            "GET", f"/api/eval-runs/{r[1]}/scores.csv"
        ),
        ("GET", "/api/eval-runs/{run_id}/summary.csv"): Try(
            "GET", f"/api/eval-runs/{r[1]}/summary.csv"
        ),
        ("GET", "/api/suites/{suite_id}/runs.csv"): Try(
            "GET", f"/api/suites/{h.suite_id}/runs.csv"
        ),
        ("GET", "/api/suites.csv"): Try("GET", "/api/suites.csv", params=p),
        ("GET", "/api/traces/{trace_id}/scores.csv"): Try(
            "GET", f"/api/traces/{t}/scores.csv", params=p
        ),
        ("GET", "/api/alerts.csv"): Try("GET", "/api/alerts.csv", params=p),
        ("GET", "/api/alert-rules.csv"): Try("GET", "/api/alert-rules.csv", params=p),
        ("GET", "/api/schedules.csv"): Try("GET", "/api/schedules.csv", params=p),
        ("GET", "/api/budgets.csv"): Try("GET", "/api/budgets.csv", params=p),
        ("GET", "/api/prices.csv"): Try("GET", "/api/prices.csv", params=p),
        ("GET", "/api/runaways.csv"): Try("GET", "/api/runaways.csv", params=p),
        ("GET", "/api/known-good.csv"): Try("GET", "/api/known-good.csv", params=p),
        ("GET", "/api/suites/{suite_id}/jobs.csv"): Try(
            "GET", f"/api/suites/{h.suite_id}/jobs.csv"
        ),
        ("GET", "/api/eval-runs.csv"): Try("GET", "/api/eval-runs.csv", params=p),
        ("GET", "/api/eval-runs/{run_id}/thresholds.csv"): Try(
            "GET", f"/api/eval-runs/{r[1]}/thresholds.csv"
        ),
        ("GET", "/api/eval-runs/{run_id}/drift.csv"): Try(
            "GET", f"/api/eval-runs/{r[1]}/drift.csv"
        ),
        ("GET", "/api/suites/{suite_id}/drift.csv"): Try(
            "GET", f"/api/suites/{h.suite_id}/drift.csv"
        ),
        ("POST", "/api/suites"): Try("POST", "/api/suites", json={"definition": _suite(h.project)}),
        ("GET", "/api/suites"): Try("GET", "/api/suites", params=p),
        ("GET", "/api/suites/{suite_id}"): Try("GET", f"/api/suites/{h.suite_id}"),
        ("GET", "/api/suites/{suite_id}/runs"): Try("GET", f"/api/suites/{h.suite_id}/runs"),
        ("POST", "/api/suites/{suite_id}/runs"): Try("POST", f"/api/suites/{h.suite_id}/runs"),
        ("GET", "/api/eval-runs/{run_id}"): Try("GET", f"/api/eval-runs/{r[1]}"),
        ("GET", "/api/eval-runs/{run_id}/scores"): Try("GET", f"/api/eval-runs/{r[1]}/scores"),
        ("POST", "/api/scores"): Try(
            "POST", "/api/scores", json={"trace_id": t, "name": "x", "passed": True}
        ),
        ("POST", "/api/datasets"): Try(
            "POST",
            "/api/datasets",
            content=b'{"input": "x", "expected_output": "y"}\n',
            params={**p, "name": h.dataset, "format": "jsonl"},
        ),
        ("GET", "/api/datasets"): Try("GET", "/api/datasets", params=p),
        ("GET", "/api/datasets/{name}/items"): Try(
            "GET", f"/api/datasets/{h.dataset}/items", params=p
        ),
        ("GET", "/api/eval-runs/{b}/compare"): Try(
            "GET", f"/api/eval-runs/{r[1]}/compare", params={"against": str(r[0])}
        ),
        ("GET", "/api/eval-runs/{b}/compare.csv"): Try(
            "GET", f"/api/eval-runs/{r[1]}/compare.csv", params={"against": str(r[0])}
        ),
        ("POST", "/api/prices"): Try(
            "POST", "/api/prices", json={**price, "input_usd_per_mtok": 1, "output_usd_per_mtok": 1}
        ),
        ("GET", "/api/prices"): Try("GET", "/api/prices", params=p),
        ("DELETE", "/api/prices/{price_id}"): Try("DELETE", f"/api/prices/{h.price_id}"),
        ("POST", "/api/reprice"): Try("POST", "/api/reprice", json=p),
        ("GET", "/api/reprice"): Try("GET", "/api/reprice"),
        ("POST", "/api/budgets"): Try("POST", "/api/budgets", json={**budget, "limit_usd": 1}),
        ("GET", "/api/budgets"): Try("GET", "/api/budgets", params=p),
        ("DELETE", "/api/budgets/{budget_id}"): Try("DELETE", f"/api/budgets/{h.budget_id}"),
        ("GET", "/api/runaways"): Try("GET", "/api/runaways", params=p),
        ("GET", "/api/schedules"): Try("GET", "/api/schedules", params=p),
        ("PATCH", "/api/suites/{suite_id}"): Try(
            "PATCH", f"/api/suites/{h.suite_id}", json={"enabled": False}
        ),
        ("POST", "/api/suites/{suite_id}/jobs"): Try("POST", f"/api/suites/{h.suite_id}/jobs"),
        ("GET", "/api/suites/{suite_id}/jobs"): Try("GET", f"/api/suites/{h.suite_id}/jobs"),
        ("PUT", "/api/known-good"): Try("PUT", "/api/known-good", json=mark),
        ("GET", "/api/known-good"): Try("GET", "/api/known-good", params=p),
        ("DELETE", "/api/known-good"): Try(
            "DELETE", "/api/known-good", params={**p, "agent": h.agent}
        ),
        ("POST", "/api/alert-rules"): Try("POST", "/api/alert-rules", json=rule),
        ("GET", "/api/alert-rules"): Try("GET", "/api/alert-rules", params=p),
        ("DELETE", "/api/alert-rules/{rule_id}"): Try("DELETE", f"/api/alert-rules/{h.rule_id}"),
        ("GET", "/api/alerts"): Try("GET", "/api/alerts", params=p),
        ("POST", "/api/alerts/{alert_id}/acknowledge"): Try(
            "POST", f"/api/alerts/{h.alert_id}/acknowledge"
        ),
        ("GET", "/api/drift"): Try("GET", "/api/drift", params={**p, "agent": h.agent}),
        ("GET", "/api/drift.csv"): Try("GET", "/api/drift.csv", params={**p, "agent": h.agent}),
        ("GET", "/api/suites/{suite_id}/drift"): Try("GET", f"/api/suites/{h.suite_id}/drift"),
        ("GET", "/api/traces"): Try("GET", "/api/traces", params=p),
        ("GET", "/api/traces/{trace_id}"): Try("GET", f"/api/traces/{t}", params=p),
        ("GET", "/"): Try("GET", "/", params=p),
        ("GET", "/overview.csv"): Try("GET", "/overview.csv", params={**p, "table": "groups"}),
        ("GET", "/traces"): Try("GET", "/traces", params=p),
        ("GET", "/traces/{trace_id}"): Try("GET", f"/traces/{t}", params=p),
        ("GET", "/traces/{trace_id}/spans/{span_id}"): Try(
            "GET", f"/traces/{t}/spans/{h.span_id}", params=p
        ),
        ("GET", "/traces/{trace_id}/spans/{span_id}/value"): Try(
            "GET", f"/traces/{t}/spans/{h.span_id}/value", params={**p, "path": '["name"]'}
        ),
        ("GET", "/traces/{trace_id}/value"): Try(
            "GET", f"/traces/{t}/value", params={**p, "path": '["input"]'}
        ),
        ("GET", "/sessions"): Try("GET", "/sessions", params=p),
        ("GET", "/sessions.csv"): Try("GET", "/sessions.csv", params=p),
        ("GET", "/sessions/{session_id:anytext}"): Try(
            "GET", f"/sessions/{quote(h.session, safe='')}", params=p
        ),
        ("GET", "/compare"): Try("GET", "/compare", params={"a.project": h.project}),
        ("GET", "/compare.csv"): Try("GET", "/compare.csv", params={"b.project": h.project}),
        ("GET", "/evals/schedules"): Try("GET", "/evals/schedules", params=p),
        ("POST", "/evals/schedules/{suite_id}/run"): Try(
            "POST", f"/evals/schedules/{h.suite_id}/run", form={}
        ),
        ("POST", "/evals/schedules/{suite_id}/enable"): Try(
            "POST", f"/evals/schedules/{h.suite_id}/enable", form={}
        ),
        ("POST", "/evals/schedules/{suite_id}/disable"): Try(
            "POST", f"/evals/schedules/{h.suite_id}/disable", form={}
        ),
        ("GET", "/drift"): Try("GET", "/drift", params={**p, "agent": h.agent}),
        ("GET", "/evals"): Try("GET", "/evals", params=p),
        ("POST", "/evals/suites"): Try(
            "POST", "/evals/suites", form={**p, "definition": _suite(h.project)}
        ),
        ("POST", "/evals/suites/{suite_id}/run"): Try(
            "POST", f"/evals/suites/{h.suite_id}/run", form={}
        ),
        ("GET", "/evals/suites/{suite_id}"): Try("GET", f"/evals/suites/{h.suite_id}"),
        ("GET", "/evals/runs/{run_id}"): Try("GET", f"/evals/runs/{r[1]}"),
        ("GET", "/evals/runs/{run_id}/charts"): Try("GET", f"/evals/runs/{r[1]}/charts"),
        ("GET", "/evals/runs/{run_id}/progress"): Try("GET", f"/evals/runs/{r[1]}/progress"),
        ("GET", "/evals/compare"): Try(
            "GET", "/evals/compare", params={"a": str(r[0]), "b": str(r[1])}
        ),
        ("GET", "/settings/prices"): Try("GET", "/settings/prices", params=p),
        ("POST", "/settings/prices"): Try("POST", "/settings/prices", form=price),
        ("POST", "/settings/prices/{price_id}/delete"): Try(
            "POST", f"/settings/prices/{h.price_id}/delete", form={}
        ),
        ("POST", "/settings/prices/reprice"): Try(
            "POST", "/settings/prices/reprice", form={**p, "scope": "project"}
        ),
        ("GET", "/settings/prices/reprice"): Try("GET", "/settings/prices/reprice"),
        ("GET", "/settings/budgets"): Try("GET", "/settings/budgets", params=p),
        ("POST", "/settings/budgets"): Try("POST", "/settings/budgets", form=budget),
        ("POST", "/settings/budgets/{budget_id}/delete"): Try(
            "POST", f"/settings/budgets/{h.budget_id}/delete", form={}
        ),
        ("GET", "/settings/keys"): Try("GET", "/settings/keys", params=p),
        ("POST", "/settings/keys"): Try(
            "POST", "/settings/keys", form={**p, "name": "stolen", "scope_ingest": "1"}
        ),
        ("POST", "/settings/keys/{key_id}/revoke"): Try(
            "POST", f"/settings/keys/{h.key_id}/revoke", form={}
        ),
        ("POST", "/known-good"): Try("POST", "/known-good", form=mark),
        ("GET", "/alerts"): Try("GET", "/alerts", params=p),
        ("POST", "/alerts/{alert_id}/acknowledge"): Try(
            "POST", f"/alerts/{h.alert_id}/acknowledge", form={}
        ),
        ("POST", "/alerts/rules"): Try("POST", "/alerts/rules", form=rule),
        ("POST", "/alerts/rules/{rule_id}/delete"): Try(
            "POST", f"/alerts/rules/{h.rule_id}/delete", form={}
        ),
    }
    return table


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


def _snapshot(server: Server, project: str) -> str:
    """A digest of every row of the project, in every table that has a project id."""
    digest = hashlib.sha256()
    with server.engine.connect() as connection:
        pid = connection.scalar(sa.select(Project.id).where(Project.name == project))
        for table in Base.metadata.sorted_tables:
            if "project_id" in table.c:
                rows = connection.execute(
                    sa.select(table).where(table.c.project_id == pid).order_by(*table.primary_key)
                )
                digest.update(repr(rows.all()).encode())
        digest.update(
            repr(connection.execute(sa.select(Project.name).order_by(Project.id)).all()).encode()
        )
    return digest.hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    env = {"REASONLENS_CREDENTIALS_TTL_SECONDS": "0.05"}
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        server = Server(url, env=env).start()
        try:
            ours, theirs = site.holdings(server, OURS), site.holdings(server, SECRET)
            with server.engine.begin() as connection:
                users.create_user(connection, "alice@example.com", PASSWORD, actor="test")
                users.grant(connection, "alice@example.com", OURS, "admin", actor="test")
                key = api_keys.create_key(connection, OURS, "ours", ["read", "admin"], actor="test")
            browser = httpx.Client(base_url=server.url, timeout=60)
            signed = browser.post(
                "/login", data={"email": "alice@example.com", "password": PASSWORD, "next": "/"}
            )
            assert signed.status_code == 303, signed.text
            token = browser.cookies["reasonlens_session"]
            keyed = httpx.Client(
                base_url=server.url, timeout=60, headers={"authorization": f"Bearer {key.secret}"}
            )

            def as_user(attempt: Try) -> httpx.Response:
                headers = {"x-csrf-token": csrf_token(token)} if attempt.json is not None else {}
                form = None if attempt.form is None else {**attempt.form, "csrf": csrf_token(token)}
                if attempt.form is None and attempt.json is None and attempt.method != "GET":
                    headers = {"x-csrf-token": csrf_token(token)}
                return browser.request(
                    attempt.method,
                    attempt.url,
                    params=attempt.params,
                    json=attempt.json,
                    data=form,
                    content=attempt.content,
                    headers=headers,
                )

            def as_key(attempt: Try) -> httpx.Response:
                return keyed.request(
                    attempt.method,
                    attempt.url,
                    params=attempt.params,
                    json=attempt.json,
                    data=attempt.form,
                    content=attempt.content,
                )

            yield World(server, ours, theirs, {"user": as_user, "key": as_key})
            browser.close()
            keyed.close()
        finally:
            server.close()


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
    assert _snapshot(world.server, SECRET) == before, "the other project's rows changed"


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
