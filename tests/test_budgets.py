"""Cost budgets on a real server fed real OTLP (the OpenTelemetry SDK, reported costs,
explicit start times): each budget's spend, burn rate and forecast against figures
worked out by hand at a pinned time; unpriced traces counted and never taken for $0;
projects kept apart; the API and the settings page refusing bad input and storing
nothing; replacing and deleting; the overview's rows, and hostile agent names inert in
Chromium."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.orm import Session

from store.analytics.budgets import FORECAST_OVER, OK, OVER, BudgetStatus, budget_status, ns
from store.models import Budget, Trace
from store.projects import project_id
from tests.browser import Watched
from tests.server import Server
from tests.test_page_overview import Tables
from web.templating import EMPTY

# Wednesday 18 November 2026, 18:00 UTC: 6 hours left in the day, 12.25 days in the month;
# the trailing week starts on the 11th at 18:00, the trailing 24 hours on the 17th at 18:00.
NOW = datetime(2026, 11, 18, 18, tzinfo=UTC)
HOURS_LEFT_TODAY = 6
DAYS_LEFT_IN_MONTH = 12.25
CROSS_SITE = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
HOSTILE = ["<script>window.__xss=1</script>", '"><img src=x onerror="window.__xss=1">']


@dataclass(frozen=True)
class Sent:
    """One trace: an agent span and a model call, at ``at``, reporting ``cost`` (None: a
    model no price covers, so the trace is unpriced)."""

    agent: str
    at: datetime
    cost: float | None
    cost_attribute: str = "gen_ai.usage.cost"  # OpenLIT's; OpenInference says llm.cost.total


def send(server: Server, project: str, traces: Sequence[Sent]) -> list[str]:
    """Export the traces with the OpenTelemetry SDK; their trace ids, in order."""
    provider = TracerProvider(resource=Resource({"service.name": "budgets"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": project}
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("budgets")
    ids = []
    for sent in traces:
        start = ns(sent.at)
        agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": sent.agent}
        root = tracer.start_span(f"invoke_agent {sent.agent}", attributes=agent, start_time=start)
        call: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "in-house-unpriced-model" if sent.cost is None else "m",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 20,
        }
        if sent.cost is not None:
            call[sent.cost_attribute] = sent.cost
        child = tracer.start_span(
            "chat", context=trace.set_span_in_context(root), attributes=call, start_time=start + 1
        )
        child.end(end_time=start + 10**9)
        root.end(end_time=start + 2 * 10**9)
        ids.append(format(root.get_span_context().trace_id, "032x"))
    provider.shutdown()  # flushes: the exporter returns once the server has committed
    assert server.count(Trace, project) == len(traces), server.output()[-2000:]
    return ids


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# support ran before this month; billing started on the 16th, fresh two hours ago.
TRACES = [
    Sent("support", at(25, 12, month=10), 5.00),  # last month, before the week
    Sent("support", at(2, 10), 3.00),  # this month, before the week
    Sent("support", at(12, 9), 2.00),  # in the week
    Sent("billing", at(16, 18), 1.00, "llm.cost.total"),  # billing's first trace
    Sent("support", at(17, 20), 1.50),  # in the last 24 hours, yesterday
    Sent("support", at(18, 8), 4.00),  # today: support's most expensive this month
    Sent("support", at(18, 12), None),  # today, unpriced
    Sent("fresh", at(18, 16), 0.50),  # fresh's first trace: two hours before NOW
    Sent("billing", at(18, 17), 0.75, "llm.cost.total"),
    Sent("fresh", at(18, 17, 30), 0.30),
    Sent("support", at(18, 20), 100.00),  # after NOW: not spent yet at NOW
]
TOP_SUPPORT = 5  # the index of support's most expensive trace this month

# (agent, period, limit)
BUDGETS = [  # as listed: the project's own first, then by agent; trace, day, month
    (None, "day", 5.0),
    (None, "month", 20.0),
    ("billing", "day", 1.0),
    ("fresh", "day", 2.0),
    ("support", "trace", 3.5),
    ("support", "month", 10.0),
]


def add(server: Server, **fields: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/api/budgets", json=fields, timeout=30)


def listed(server: Server, project: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/api/budgets", params={"project": project}, timeout=30)
    assert response.status_code == 200, response.text
    return list(response.json()["budgets"])


def stored_budgets(server: Server) -> int:
    with server.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(Budget)).scalar())


def statuses(server: Server, project: str, now: datetime = NOW) -> dict[Any, BudgetStatus]:
    """budget_status at ``now``, by (agent, period)."""
    with Session(server.engine) as session:
        found = project_id(session.connection(), project)
        assert found is not None
        return {(s.agent, s.period): s for s in budget_status(session, found, now)}


@pytest.fixture(scope="module")
def spending(server: Server) -> Iterator[tuple[str, list[str]]]:
    """A project with TRACES and BUDGETS, and another with the same agents spending more."""
    project = "budgets-spending"
    ids = send(server, project, TRACES)
    send(server, f"{project}-other", [Sent("support", at(18, 9), 40.0), Sent("x", at(18, 9), 9.0)])
    for agent, period, limit in BUDGETS:
        assert add(server, project=project, agent=agent, period=period, limit_usd=limit).is_success
    add(server, project=f"{project}-other", period="day", limit_usd=1.0)
    yield project, ids


def close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_the_project_budgets_against_figures_worked_by_hand(
    server: Server, spending: tuple[str, list[str]]
) -> None:
    project, _ = spending
    found = statuses(server, project)
    assert list(found) == [(agent, period) for agent, period, _ in BUDGETS]
    week = 2.00 + 1.00 + 1.50 + 4.00 + 0.75 + 0.50 + 0.30  # 11th 18:00 to NOW, priced
    last24 = 1.50 + 4.00 + 0.50 + 0.75 + 0.30

    day = found[(None, "day")]
    assert close(day.spent_usd, 4.00 + 0.50 + 0.75 + 0.30)  # 5.55 > 5
    assert (day.traces, day.unpriced) == (5, 1)
    # The project had traces before the week: whole windows.
    assert close(day.burn_rate_usd_per_day, week / 7)
    assert close(day.forecast_usd, 5.55 + last24 / 24 * HOURS_LEFT_TODAY)
    assert day.state == OVER and day.scope == "project"
    assert (day.period_start, day.period_end) == (at(18, 0), at(19, 0))

    month = found[(None, "month")]
    spent = 3.00 + 2.00 + 1.00 + 1.50 + 4.00 + 0.50 + 0.75 + 0.30  # 13.05: not October's 5
    assert close(month.spent_usd, spent)
    assert (month.traces, month.unpriced) == (9, 1)
    assert close(month.forecast_usd, spent + week / 7 * DAYS_LEFT_IN_MONTH)  # 30.64 > 20
    assert month.state == FORECAST_OVER
    assert (month.period_start, month.period_end) == (at(1, 0), at(1, 0, month=12))


def test_agent_budgets_and_the_rate_of_a_new_agent(
    server: Server, spending: tuple[str, list[str]]
) -> None:
    project, ids = spending
    found = statuses(server, project)

    per_trace = found[("support", "trace")]
    assert close(per_trace.spent_usd, 4.00)  # the month's most expensive support trace
    assert per_trace.top_trace_id == ids[TOP_SUPPORT]
    assert per_trace.over_limit_traces == 1  # 4.00 > 3.50; the unpriced one is not counted
    assert (per_trace.traces, per_trace.unpriced) == (5, 1)
    assert per_trace.forecast_usd is None and per_trace.state == OVER
    assert per_trace.scope == "agent"

    support = found[("support", "month")]
    assert close(support.spent_usd, 3.00 + 2.00 + 1.50 + 4.00)  # at least: one unpriced
    assert support.unpriced == 1 and support.state == OVER
    assert close(support.burn_rate_usd_per_day, (2.00 + 1.50 + 4.00) / 7)

    # billing's first trace was two days before NOW: its week is two days long.
    billing = found[("billing", "day")]
    assert close(billing.spent_usd, 0.75) and billing.unpriced == 0
    assert close(billing.burn_rate_usd_per_day, (1.00 + 0.75) / 2)
    assert close(billing.forecast_usd, 0.75 + 0.75 / 24 * HOURS_LEFT_TODAY)  # 0.94 < 1
    assert billing.state == OK

    # fresh started two hours ago: both its windows are two hours long.
    fresh = found[("fresh", "day")]
    assert close(fresh.spent_usd, 0.80)
    assert close(fresh.burn_rate_usd_per_day, 0.80 / 2 * 24)
    assert close(fresh.forecast_usd, 0.80 + 0.80 / 2 * HOURS_LEFT_TODAY)  # 3.20 > 2
    assert fresh.state == FORECAST_OVER


def test_unpriced_traces_are_never_taken_for_zero(server: Server, project: str) -> None:
    moment = datetime.fromtimestamp(time.time() - 1, UTC)  # the page reads the clock
    send(server, project, [Sent("a", moment, None), Sent("a", moment, None)])
    assert add(server, project=project, agent="a", period="trace", limit_usd=1.0).is_success
    assert add(server, project=project, agent="a", period="month", limit_usd=1.0).is_success
    found = statuses(server, project, datetime.now(UTC))
    per_trace, month = found[("a", "trace")], found[("a", "month")]
    assert per_trace.spent_usd is None and per_trace.top_trace_id is None  # not "$0"
    assert (per_trace.traces, per_trace.unpriced, per_trace.over_limit_traces) == (2, 2, 0)
    assert month.spent_usd == 0.0 and month.unpriced == 2  # a floor: "at least $0"
    assert month.burn_rate_usd_per_day == 0.0 and per_trace.state == month.state == OK
    body = httpx.get(f"{server.url}/", params={"project": project}).text
    rows = Tables(body).of("budget")
    assert [row.cells[3] for row in rows] == [
        f"{EMPTY} most expensive this month · 0 over the limit 2 traces unpriced",
        "at least $0 2 traces unpriced",
    ]


def test_a_project_sees_only_its_own_traces_and_budgets(
    server: Server, spending: tuple[str, list[str]]
) -> None:
    project, _ = spending
    other = statuses(server, f"{project}-other")
    assert list(other) == [(None, "day")]
    assert close(other[(None, "day")].spent_usd, 49.0)
    assert len(listed(server, project)) == len(BUDGETS)
    assert [b["limit_usd"] for b in listed(server, f"{project}-other")] == [1.0]
    assert listed(server, "budgets-no-such-project") == []


def test_the_api_lists_budgets_with_their_status(server: Server, project: str) -> None:
    now = datetime.now(UTC)
    send(server, project, [Sent("support", datetime.fromtimestamp(time.time() - 1, UTC), 2.5)])
    created = add(server, project=project, agent="support", period="month", limit_usd=2.0)
    assert created.status_code == 201, created.text
    budget = created.json()
    assert budget | {"id": 0, "status": None} == {
        "id": 0, "project": project, "agent": "support", "scope": "agent", "period": "month",
        "limit_usd": 2.0, "status": None,
    }  # fmt: skip
    status = budget["status"]
    assert status["spent_usd"] == 2.5 and status["traces"] == 1 and status["unpriced"] == 0
    assert status["state"] == "over" and status["forecast_usd"] >= 2.5
    # Since its first trace a second ago, but never over less than an hour.
    assert status["burn_rate_usd_per_day"] == pytest.approx(2.5 * 24)
    assert status["period_start"] == now.strftime("%Y-%m-01T00:00:00Z")
    (again,) = listed(server, project)
    del again["status"]["forecast_usd"], status["forecast_usd"]  # days left go on shrinking
    assert again == budget


def test_adding_a_budget_again_replaces_it(server: Server, project: str) -> None:
    first = add(server, project=project, period="day", limit_usd=10).json()
    agent = add(server, project=project, agent="a", period="day", limit_usd=3).json()
    monthly = add(server, project=project, period="month", limit_usd=100).json()
    again = add(server, project=project, agent=None, period="day", limit_usd=20)
    assert again.status_code == 201
    budgets = {(b["agent"], b["period"]): b for b in listed(server, project)}
    assert set(budgets) == {(None, "day"), (None, "month"), ("a", "day")}
    assert budgets[(None, "day")]["limit_usd"] == 20 and budgets[(None, "day")]["id"] != first["id"]
    assert budgets[("a", "day")] == agent and budgets[(None, "month")] == monthly


def test_deleting_a_budget(server: Server, project: str) -> None:
    budget = add(server, project=project, period="day", limit_usd=10).json()
    assert httpx.delete(f"{server.url}/api/budgets/{budget['id']}").status_code == 204
    assert listed(server, project) == []
    assert httpx.delete(f"{server.url}/api/budgets/{budget['id']}").status_code == 404
    assert httpx.delete(f"{server.url}/api/budgets/0").status_code == 422
    assert httpx.delete(f"{server.url}/api/budgets/{2**64}").status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        '{"period": "day", "limit_usd": -1}',
        '{"period": "day", "limit_usd": 0}',
        '{"period": "day", "limit_usd": NaN}',
        '{"period": "day", "limit_usd": Infinity}',
        '{"period": "day", "limit_usd": 1e999}',
        '{"period": "day", "limit_usd": 1e12}',
        '{"period": "day", "limit_usd": "ten"}',
        '{"period": "week", "limit_usd": 1}',
        '{"limit_usd": 1}',
        '{"period": "day"}',
        '{"period": "day", "limit_usd": 1, "agent": ""}',
        '{"period": "day", "limit_usd": 1, "agent": "a\\u0000b"}',
        '{"period": "day", "limit_usd": 1, "extra": 1}',
        "not json",
    ],
)
def test_a_bad_budget_is_refused_and_stores_nothing(
    server: Server, project: str, body: str
) -> None:
    sent = body.replace("{", f'{{"project": "{project}", ', 1) if body.startswith("{") else body
    before = stored_budgets(server)
    response = httpx.post(
        f"{server.url}/api/budgets", content=sent, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert httpx.post(f"{server.url}/api/budgets", content=sent).status_code == 415
    assert stored_budgets(server) == before
    assert listed(server, project) == []


@pytest.mark.parametrize("name", ["", "   ", "p" * 201, 7])
def test_a_bad_project_name_is_refused(server: Server, name: object) -> None:
    before = stored_budgets(server)
    response = add(server, project=name, period="day", limit_usd=1)
    assert response.status_code == 422, response.text
    assert stored_budgets(server) == before


def test_the_overview_shows_a_row_per_budget(
    server: Server, spending: tuple[str, list[str]], project: str
) -> None:
    body = httpx.get(f"{server.url}/", params={"project": spending[0]}).text
    rows = Tables(body).of("budget")
    assert [row.cells[:3] for row in rows] == [
        ["project (every agent)", "per day", "$5.00"],
        ["project (every agent)", "per month", "$20.00"],
        ["agent billing", "per day", "$1.00"],
        ["agent fresh", "per day", "$2.00"],
        ["agent support", "per trace", "$3.50"],
        ["agent support", "per month", "$10.00"],
    ]
    states = [row.attributes["class"].split()[1] for row in rows]
    assert all(state in ("budget-ok", "budget-over", "budget-forecast_over") for state in states)
    assert "manage →" in body and "overview-budgets" in body
    # A project without budgets has no such section.
    send(server, project, [Sent("support", at(18, 9), 1.0)])
    assert "overview-budgets" not in httpx.get(f"{server.url}/?project={project}").text


def test_the_settings_page_adds_and_deletes_budgets(server: Server, project: str) -> None:
    form = {"project": project, "agent": "", "period": "month", "limit_usd": "25"}
    added = httpx.post(f"{server.url}/settings/budgets", data=form)
    assert added.status_code == 303
    assert added.headers["location"] == f"/settings/budgets?project={project}"
    (budget,) = listed(server, project)
    assert (budget["agent"], budget["period"], budget["limit_usd"]) == (None, "month", 25.0)
    page = httpx.get(f"{server.url}/settings/budgets", params={"project": project})
    assert page.status_code == 200 and "$25.00" in page.text
    tabs = f'href="/settings/budgets?project={project}" aria-current="page">Budgets</a>'
    assert tabs in page.text and f'href="/settings/prices?project={project}" >Prices' in page.text

    before = stored_budgets(server)
    for bad in ({"limit_usd": "-3"}, {"limit_usd": "nan"}, {"period": "week"}):
        refused = httpx.post(f"{server.url}/settings/budgets", data={**form, **bad})
        assert refused.status_code == 422
        assert "The budget was not added" in refused.text and 'aria-invalid="true"' in refused.text
    crossed = httpx.post(f"{server.url}/settings/budgets", data=form, headers=CROSS_SITE)
    assert crossed.status_code == 403
    as_json = httpx.post(f"{server.url}/settings/budgets", json=form)
    assert as_json.status_code == 415
    assert stored_budgets(server) == before

    url = f"{server.url}/settings/budgets/{budget['id']}/delete"
    assert httpx.post(url, headers=CROSS_SITE).status_code == 403
    deleted = httpx.post(url)
    assert deleted.status_code == 303 and listed(server, project) == []
    assert httpx.post(url).status_code == 404


def test_in_a_browser_hostile_agent_names_stay_text(
    server: Server, project: str, watched: Watched
) -> None:
    moment = datetime.fromtimestamp(time.time() - 1, UTC)
    send(server, project, [Sent(name, moment, 1.0) for name in HOSTILE])
    for name in HOSTILE:
        assert add(server, project=project, agent=name, period="month", limit_usd=0.5).is_success
    browser = watched.page
    for path in ("/", "/settings/budgets"):
        browser.goto(f"{server.url}{path}?project={project}")
        scopes = browser.locator("table.budgets td.scope").all_inner_texts()
        assert sorted(scopes) == sorted(f"agent {name}" for name in HOSTILE)
        assert browser.locator("table.budgets .state-over").count() == len(HOSTILE)
        assert browser.evaluate("window.__xss") is None
    watched.assert_clean()
