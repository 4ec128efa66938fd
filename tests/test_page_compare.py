"""The compare page (``/compare``): support 1.4 against 1.5 from the demo generator, the
deltas' directions, links to each cohort's traces, pasted filters, errors, a browser."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from reasonlens.demo.script import Feature
from tests.browser import Watched
from tests.demo_data import Loaded, load_demo
from tests.server import Server
from tests.test_page_overview import Tables, api_count, number, query

PROJECT = "page-compare"
VERSIONS = {
    "project": PROJECT,
    "a.agent": "support",
    "a.agent_version": "1.4",
    "b.agent": "support",
    "b.agent_version": "1.5",
}


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, PROJECT, traces=300, seed=7)


def page(server: Server, params: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    return httpx.get(f"{server.url}/compare", params={**(params or {}), **extra}, timeout=30)


def metrics(body: str) -> dict[str, Any]:
    """Metric label -> its row."""
    return {row.attributes["data-metric"]: row for row in Tables(body).of("metric")}


def facts(demo: Loaded, version: str) -> list[Any]:
    return [t for t in demo.summary.traces if (t.agent, t.version) == ("support", version)]


def test_two_versions_side_by_side(server: Server, demo: Loaded) -> None:
    response = page(server, VERSIONS)
    assert response.status_code == 200, response.text
    rows = metrics(response.text)
    traces = rows["Traces"]
    assert int(number(traces.cells[1])) == len(facts(demo, "1.4"))
    assert int(number(traces.cells[2])) == len(facts(demo, "1.5"))
    for column, version in ((1, "1.4"), (2, "1.5")):
        cohort = facts(demo, version)
        share = sum(Feature.ESCALATION in t.features for t in cohort) / len(cohort)
        assert number(rows["Escalation rate"].cells[column]) == pytest.approx(100 * share, abs=0.06)


def test_the_drifted_version_is_worse_where_the_demo_made_it_worse(
    server: Server, demo: Loaded
) -> None:
    rows = metrics(page(server, VERSIONS).text)
    for label in ("Tokens per trace", "Steps per trace (LLM + tool calls)", "Latency p50"):
        assert rows[label].attributes["class"].split()[-1] == "verdict-worse", label
        assert rows[label].cells[3].startswith("+"), label
    tokens = rows["Tokens per trace"]
    assert number(tokens.cells[2]) > 1.8 * number(tokens.cells[1])
    loops = {v: sum(Feature.LOOP in t.features for t in facts(demo, v)) for v in ("1.4", "1.5")}
    assert loops["1.5"] > loops["1.4"]  # why 1.5 takes more steps


def test_the_tool_mix_shows_the_new_tool(server: Server, demo: Loaded) -> None:
    tools = {
        row.attributes["data-name"]: row for row in Tables(page(server, VERSIONS).text).of("mix")
    }
    web_search = tools["web_search"]
    assert int(number(web_search.cells[1])) == 0 and int(number(web_search.cells[5])) > 0
    assert web_search.cells[9].startswith("+")


def test_every_number_links_to_its_cohorts_traces(server: Server, demo: Loaded) -> None:
    rows = metrics(page(server, VERSIONS).text)
    for label, row in rows.items():
        a, b = (query(link) for link in row.links[:2])
        assert (a["agent"], a["agent_version"], a["project"]) == ("support", "1.4", PROJECT)
        assert (b["agent"], b["agent_version"], b["project"]) == ("support", "1.5", PROJECT)
        if label == "Traces":
            assert api_count(server, a) == int(number(row.cells[1]))
            assert api_count(server, b) == int(number(row.cells[2]))
    assert query(rows["Error rate"].links[1])["status"] == "error"
    errors = query(rows["Error rate"].links[1])
    total = int(number(rows["Traces"].cells[2]))
    assert api_count(server, errors) == round(number(rows["Error rate"].cells[2]) / 100 * total)
    assert query(rows["Latency p95"].links[0])["sort"] == "duration"


def test_two_time_windows(server: Server, demo: Loaded) -> None:
    windows = {
        "project": PROJECT,
        "a.since": "2026-11-19T12:00:00Z",
        "a.until": "2026-11-20T00:00:00Z",
        "b.since": "2026-11-20T00:00:00Z",
        "b.until": "2026-11-20T12:00:00Z",
    }
    rows = metrics(page(server, windows).text)
    a, b = (int(number(cell)) for cell in rows["Traces"].cells[1:3])
    assert a > 0 and b > 0
    assert api_count(server, query(rows["Traces"].links[0])) == a
    assert query(rows["Traces"].links[1])["since"] == "2026-11-20T00:00:00Z"


def test_a_pasted_traces_url_becomes_the_cohorts_filter(server: Server, demo: Loaded) -> None:
    pasted = {
        "project": PROJECT,
        "a.from": f"{server.url}/traces?project={PROJECT}&agent=support&agent_version=1.4"
        "&sort=cost",
        "b.from": "agent=support&agent_version=1.5",
        "b.status": "error",
        "a.model": "",
    }
    response = httpx.get(f"{server.url}/compare", params=pasted, follow_redirects=False)
    assert response.status_code == 303
    target = query(response.headers["location"])
    assert target == {**VERSIONS, "b.status": "error"}
    followed = httpx.get(f"{server.url}{response.headers['location']}")
    assert followed.status_code == 200 and "data-metric" in followed.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"a.status": "maybe"}, "a.status"),
        ({"a.agnet": "support"}, "a.agnet: not a comparison parameter"),
        ({"c.agent": "support"}, "c.agent: not a comparison parameter"),
        ({"b.since": "last tuesday"}, "b.since"),
        ({"a.min_cost": "-1"}, "a.min_cost"),
        ({"a.from": "agent=support&flavour=mint"}, "&#39;flavour&#39; is not a /traces filter"),
    ],
)
def test_bad_parameters_are_a_400_page(
    server: Server, demo: Loaded, params: dict[str, str], message: str
) -> None:
    response = page(server, {"project": PROJECT, **params})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text


def test_without_cohorts_it_suggests_comparisons(server: Server, demo: Loaded) -> None:
    body = page(server, {"project": PROJECT}).text
    assert "data-metric" not in body
    links = [html.unescape(href) for href in body.split('href="')[1:]]
    versions = next(link.split('"')[0] for link in links if "a.agent_version=1.4" in link)
    assert query(versions) == VERSIONS


def test_in_a_browser_compare_from_the_form(
    server: Server, demo: Loaded, watched: Watched, tmp_path: Path
) -> None:
    browser = watched.page
    requested: list[str] = []
    browser.on("request", lambda request: requested.append(request.url))
    browser.goto(f"{server.url}/compare?project={PROJECT}")
    browser.fill('input[name="a.agent"]', "support")
    browser.fill('input[name="a.agent_version"]', "1.4")
    browser.fill('input[name="b.agent"]', "support")
    browser.fill('input[name="b.agent_version"]', "1.5")
    with browser.expect_navigation():
        browser.click('form.compare-form button[type="submit"]')
    assert query(browser.url) == VERSIONS  # the blank fields were dropped: a URL to share
    assert urlsplit(browser.url).path == "/compare"
    assert browser.locator("table.compare-metrics tr.metric").count() >= 10
    assert browser.locator("figure.chart svg").count() >= 3
    assert browser.locator('input[name="b.agent_version"]').input_value() == "1.5"
    browser.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    assert all(url.startswith(server.url) for url in requested), requested
    watched.assert_clean()


def test_an_empty_cohort_compares_as_unknown(server: Server, demo: Loaded) -> None:
    response = page(server, {**VERSIONS, "b.agent_version": "9.9"})
    assert response.status_code == 200, response.text
    rows = metrics(response.text)
    assert rows["Traces"].cells[2] == "0"
    assert rows["Error rate"].cells[2] == "\u2013" and rows["Error rate"].cells[3] == "\u2013"
    assert rows["Latency p50"].attributes["class"].split()[-1] == "verdict-neutral"
