"""The /traces page: the API's selection as a table, its form, sort, pages and errors.

The oracle is ``/api/traces``: the page parses the same parameters with the same code,
so for any query string it must list exactly the traces the API lists, in its order.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from markupsafe import escape

from tests.browser import Watched
from tests.demo_data import Loaded, load_demo
from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server

PROJECT = "page-traces"
HOSTILE_PROJECT = "page-traces-hostile"
PRICED_PROJECT = "page-traces-priced"
T0 = 1_760_000_000_000_000_000
SECOND = 1_000_000_000
# Each would run script if it reached the page unescaped, or as a link's target.
HOSTILE = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1">',
    "javascript:window.__xss=1",
    "'><svg onload=window.__xss=1>",
]
_TRACE_LINK = re.compile(r'class="trace-link" href="/traces/([0-9a-f]{32})\?project=')


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, PROJECT, traces=150, seed=7)


def send_trace(
    server: Server,
    project: str,
    ids: Ids,
    start: int,
    *,
    name: str,
    input_text: str,
    output_text: str = "done",
    agent: str = "support",
    session_id: str | None = None,
    user_id: str | None = None,
    error: bool = False,
    cost: float | None = None,
    model: str = "gpt-4o",
) -> str:
    """One agent trace (root + one model call) through OTLP; returns its id."""
    trace, root = ids.trace(), ids.span()
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent,
        "gen_ai.agent.version": "1.0",
        "input.value": input_text,
        "output.value": output_text,
    }
    if session_id is not None:
        attributes["session.id"] = session_id
    if user_id is not None:
        attributes["user.id"] = user_id
    model_call: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5,
    }
    if cost is not None:
        model_call["llm.cost.total"] = cost
    specs = [
        SpanSpec(trace, root, name, start, start + 2 * SECOND, attributes=attributes,
                 error="failed" if error else None),
        SpanSpec(trace, ids.span(), f"chat {model}", start + 1, start + SECOND, root, model_call),
    ]  # fmt: skip
    response = post(server.url, request(specs), project=project)
    assert response.status_code == 200, response.text
    return trace


@pytest.fixture(scope="module")
def hostile(server: Server) -> list[str]:
    ids = Ids("hostile-page")
    return [
        send_trace(server, HOSTILE_PROJECT, ids, T0 + i * SECOND, name=text, input_text=text,
                   output_text=text, agent=text, error=i % 2 == 1)
        for i, text in enumerate(HOSTILE)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def priced(server: Server) -> list[str]:
    ids = Ids("priced-page")
    costs: list[float | None] = [i / 100 for i in range(10)] + [None, None]
    return [
        send_trace(server, PRICED_PROJECT, ids, T0 + i * SECOND, name=f"priced {i}",
                   input_text=f"question {i}", cost=cost,
                   model="gpt-4o" if cost is not None else "in-house-llm")
        for i, cost in enumerate(costs)
    ]  # fmt: skip


def page(server: Server, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.url}/traces", params=params, timeout=30)


def listed(body: str) -> list[str]:
    """Trace ids in table order (each row links its name to the trace page)."""
    return _TRACE_LINK.findall(body)


def link(body: str, css_class: str) -> str | None:
    found = re.search(rf'class="{css_class}" href="([^"]*)"', body)
    return html.unescape(found.group(1)) if found else None


def sort_links(body: str) -> dict[str, str]:
    """Column label -> its header link."""
    found = re.findall(r'<a class="sort" href="([^"]*)">([^<↓↑]+)', body)
    return {label.strip(): html.unescape(href) for href, label in found}


def api_ids(server: Server, **params: Any) -> list[str]:
    """Every trace the API selects, following its cursors."""
    ids, cursor = [], None
    while True:
        page_params = {**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = httpx.get(f"{server.url}/api/traces", params=page_params, timeout=30).json()
        ids += [trace["trace_id"] for trace in body["traces"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids


def all_pages(server: Server, **params: Any) -> Iterator[tuple[str, list[str]]]:
    """(page body, its trace ids), following the page's own next links."""
    response = page(server, **params)
    while True:
        assert response.status_code == 200, response.text
        yield response.text, listed(response.text)
        href = link(response.text, "next-page")
        if href is None:
            return
        response = httpx.get(f"{server.url}/traces{href}", timeout=30)


FILTERS: list[dict[str, Any]] = [
    {},
    {"agent": "support"},
    {"agent": "support", "agent_version": "1.5"},
    {"status": "error"},
    {"model": "gpt-4o-mini"},
    {"min_duration_ms": "3000"},
    {"q": "order"},
    {"since": "2026-11-20T06:00:00Z", "until": "2026-11-20T09:00:00Z"},
    {"agent": "checkout", "status": "ok", "sort": "cost", "order": "asc"},
]


@pytest.mark.parametrize(
    "params", FILTERS, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items())
)
def test_the_page_lists_what_the_api_selects(
    server: Server, demo: Loaded, params: dict[str, Any]
) -> None:
    wanted = api_ids(server, project=PROJECT, **params)
    assert wanted  # a filter that matches nothing would prove little
    seen = [ids for _, ids in all_pages(server, project=PROJECT, limit=20, **params)]
    assert [trace for ids in seen for trace in ids] == wanted
    assert all(len(ids) == 20 for ids in seen[:-1])  # full pages until the last


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("bounds", [{"min_cost": "0.02", "max_cost": "0.07"}, {"min_cost": "0"}])
def test_cost_ranges_and_order(
    server: Server, priced: list[str], bounds: dict[str, str], order: str
) -> None:
    """Traces of their own with reported costs of 0.00, 0.01, ..., 0.09 USD, and two
    whose model no price covers (unknown, not $0: outside every range)."""
    params = {"project": PRICED_PROJECT, "sort": "cost", "order": order, **bounds}
    wanted = api_ids(server, **params)
    assert len(wanted) == (6 if "max_cost" in bounds else 10)
    assert [trace for _, ids in all_pages(server, limit=4, **params) for trace in ids] == wanted


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("sort", ["start_time", "duration", "cost", "tokens", "spans"])
def test_sort_and_pages_have_no_duplicates_or_gaps(
    server: Server, demo: Loaded, sort: str, order: str
) -> None:
    pages = list(all_pages(server, project=PROJECT, sort=sort, order=order, limit=40))
    ids = [trace for _, page_ids in pages for trace in page_ids]
    assert len(ids) == len(set(ids)) == len(demo.summary.traces)
    assert ids == api_ids(server, project=PROJECT, sort=sort, order=order)
    # Past the first page, a link back to it; the sorted column says so.
    assert link(pages[0][0], "first-page") is None
    assert link(pages[1][0], "first-page") == (
        f"?project={PROJECT}&sort={sort}&order={order}&limit=40"
    )
    assert pages[0][0].count("aria-sort=") == 1


def test_column_headers_sort_and_flip(server: Server, demo: Loaded) -> None:
    hrefs = sort_links(page(server, project=PROJECT, agent="support").text)
    assert dict(parse_qsl(urlsplit(hrefs["Duration"]).query)) == {
        "project": PROJECT, "agent": "support", "sort": "duration", "order": "desc",
    }  # fmt: skip
    # The sorted column (start time, newest first by default) flips to ascending.
    assert "order=asc" in hrefs["Started"] and "sort=start_time" in hrefs["Started"]
    flipped = page(server, project=PROJECT, agent="support", sort="duration", order="desc")
    assert 'aria-sort="descending"' in flipped.text
    assert "order=asc" in sort_links(flipped.text)["Duration"]
    assert "order=desc" in sort_links(flipped.text)["Cost"]


def test_the_form_keeps_the_filters(server: Server, demo: Loaded) -> None:
    given = {"since": "24h", "agent": "support", "agent_version": "1.4", "model": "o4-mini",
             "min_cost": "0.5", "max_duration_ms": "900", "q": 'say "hi" & <bye>',
             "session_id": "conv_x", "sort": "cost", "order": "asc", "limit": "7"}  # fmt: skip
    body = page(server, project=PROJECT, status="error", **given).text
    for name, value in given.items():
        assert f'name="{name}" value="{escape(value)}"' in body, name
    assert '<option value="error" selected>' in body
    assert '<details class="more-filters" open>' in body  # session_id is set: shown
    # The CSV link exports the same selection: every filter, no page.
    csv = urlsplit(link(body, "csv-link") or "")
    assert csv.path == "/api/traces.csv"
    assert dict(parse_qsl(csv.query)) == {
        "project": PROJECT, "status": "error", **{k: v for k, v in given.items() if k != "limit"}
    }  # fmt: skip


def test_blank_fields_of_a_submitted_form_mean_any(server: Server, demo: Loaded) -> None:
    blank = dict.fromkeys(["since", "until", "agent", "agent_version", "model", "status",
                           "min_cost", "max_cost", "min_duration_ms", "max_duration_ms", "q",
                           "service", "session_id", "user_id"], "")  # fmt: skip
    response = page(server, project=PROJECT, **blank)
    assert response.status_code == 200
    assert listed(response.text) == api_ids(server, project=PROJECT)[:50]
    assert (
        link(response.text, "next-page")
        == f"?project={PROJECT}&cursor="
        + (httpx.get(f"{server.url}/api/traces", params={"project": PROJECT}).json()["next_cursor"])
    )


def test_the_csv_link_exports_the_page_selection(server: Server, demo: Loaded) -> None:
    body = page(server, project=PROJECT, agent="support", status="ok", sort="duration").text
    csv_href = link(body, "csv-link")
    assert csv_href is not None
    exported = httpx.get(f"{server.url}{csv_href}", timeout=30)
    rows = list(csv.reader(io.StringIO(exported.text, newline="")))[1:]
    wanted = api_ids(server, project=PROJECT, agent="support", status="ok", sort="duration")
    assert [row[0] for row in rows] == wanted


def test_the_form_suggests_the_project_s_agents_versions_and_models(
    server: Server, demo: Loaded
) -> None:
    body = page(server, project=PROJECT).text
    agents = {trace.agent for trace in demo.summary.traces}
    for agent in agents:
        assert f'<option value="{agent}">' in body
    assert '<option value="1.5">support 1.5</option>' in body
    assert '<datalist id="model-choices">' in body and '<option value="gpt-4o-mini' in body


@pytest.mark.parametrize(
    ("params", "name", "typed"),
    [
        ({"min_cost": "abc"}, "min_cost", "abc"),
        ({"max_duration_ms": "-5"}, "max_duration_ms", "-5"),
        ({"since": "yesterday-ish"}, "since", "yesterday-ish"),
        ({"until": "2026-13-45"}, "until", "2026-13-45"),
        ({"status": "maybe"}, "status", "maybe"),
        ({"sort": "name"}, "sort", None),
        ({"order": "sideways"}, "order", None),
        ({"limit": "0"}, "limit", None),
        ({"cursor": "not-a-cursor"}, "cursor", None),
        ({"q": "x" * 1001}, "q", None),
    ],
)
def test_a_bad_filter_is_a_400_page_that_keeps_the_form(
    server: Server, demo: Loaded, params: dict[str, str], name: str, typed: str | None
) -> None:
    response = page(server, project=PROJECT, agent="support", **params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    body = response.text
    assert f"Bad filter: {name}: " in body and "Traceback" not in body
    assert 'name="agent" value="support"' in body  # the rest of the form is kept
    if typed is not None:
        assert f'value="{typed}"' in body
    assert listed(body) == []


def test_an_unknown_project_is_a_404_page(server: Server) -> None:
    response = page(server, project="no-such-project")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "no project named" in response.text


def test_hostile_text_is_escaped(server: Server, hostile: list[str]) -> None:
    body = page(server, project=HOSTILE_PROJECT).text
    assert sorted(listed(body)) == sorted(hostile)
    for text in HOSTILE:
        assert str(escape(text)) in body
    assert "<script>window" not in body and "<img src=x" not in body and "<svg" not in body
    assert 'href="javascript:' not in body


def test_in_a_browser_filter_sort_page_and_open_a_trace(
    server: Server, demo: Loaded, watched: Watched, tmp_path: Path
) -> None:
    wanted = api_ids(server, project=PROJECT, agent="support", status="ok")
    by_duration = api_ids(server, project=PROJECT, agent="support", status="ok", sort="duration")
    assert len(wanted) > 10
    browser = watched.page
    browser.goto(f"{server.url}/traces?project={PROJECT}&limit=5")
    browser.fill("input[name=agent]", "support")
    browser.select_option("select[name=status]", "ok")
    browser.click("form.traces-filters button[type=submit]")
    browser.wait_for_url(lambda url: "status=ok" in url and "agent=support" in url)
    assert listed(browser.content()) == wanted[:5]
    browser.screenshot(path=tmp_path / "filtered.png", full_page=True)

    browser.click("th a.sort:has-text('Duration')")
    browser.wait_for_url(lambda url: "sort=duration" in url)
    assert listed(browser.content()) == by_duration[:5]
    browser.click("a.next-page")
    browser.wait_for_url(lambda url: "cursor=" in url)
    assert listed(browser.content()) == by_duration[5:10]
    assert browser.locator("a.first-page").count() == 1
    browser.screenshot(path=tmp_path / "sorted-page-2.png", full_page=True)
    watched.assert_clean()

    first = browser.locator("a.trace-link").first
    with browser.expect_navigation() as navigation:
        first.click()
    assert urlsplit(browser.url).path == f"/traces/{by_duration[5]}"
    assert dict(parse_qsl(urlsplit(browser.url).query)) == {"project": PROJECT}
    response = navigation.value
    # The trace page is another page's work; until it exists the link lands on a 404.
    assert response is not None and response.status in (200, 404)
    watched.assert_clean(error_page=response.status == 404)


def test_in_a_browser_hostile_text_stays_inert(
    server: Server, hostile: list[str], watched: Watched, tmp_path: Path
) -> None:
    browser = watched.page
    browser.goto(f"{server.url}/traces?project={HOSTILE_PROJECT}")
    assert browser.locator("table.traces tbody tr").count() == len(HOSTILE)
    assert browser.locator("table.traces tbody tr.error").count() == len(HOSTILE) // 2
    for text in HOSTILE:  # shown as text, exactly
        assert browser.get_by_text(text, exact=True).count() >= 1
    browser.screenshot(path=tmp_path / "hostile.png", full_page=True)
    assert browser.evaluate("typeof window.__xss") == "undefined"
    assert browser.locator("img[src=x], svg[onload]").count() == 0
    watched.assert_clean()
