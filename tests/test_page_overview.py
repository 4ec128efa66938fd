"""The overview page (``/``): numbers against the demo generator's ground truth, links that
select the same traces on ``/traces``, windows, the empty state, errors, a real browser,
and hostile names that stay text in tables and in the SVG charts."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from reasonlens.demo.script import Feature
from tests.browser import Watched
from tests.databases import fresh_database
from tests.demo_data import Loaded, load_demo
from tests.otlp import Ids
from tests.server import Server
from tests.test_analytics import T0, send_agent_trace
from web.templating import fmt_usd

PROJECT = "page-overview"
HOSTILE_PROJECT = "page-overview-hostile"
WEEK = {"project": PROJECT, "window": "7d"}  # every demo trace (sessions run past the day)
HOSTILE = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1">',
    "'><svg onload=window.__xss=1>",
]


@dataclass
class Row:
    attributes: dict[str, str]
    cells: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class Tables(HTMLParser):
    """Every ``<tr>`` of the page's tables whose class is given: attributes, cell texts
    (whitespace collapsed) and link targets, in order."""

    def __init__(self, body: str) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self._row: Row | None = None
        self._cell: list[str] | None = None
        self.feed(body)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "tr" and attributes.get("class"):
            self._row = Row(attributes)
            self.rows.append(self._row)
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "a" and self._row is not None:
            self._row.links.append(attributes.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.cells.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def of(self, css_class: str) -> list[Row]:
        return [row for row in self.rows if css_class in row.attributes["class"].split()]


def number(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").replace("$", "").split()[0])


def query(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(html.unescape(link)).query))


def api_count(server: Server, params: dict[str, str]) -> int:
    """How many traces ``/api/traces`` selects with a /traces link's parameters."""
    params = {key: value for key, value in params.items() if key not in ("sort", "order")}
    response = httpx.get(f"{server.url}/api/traces", params={**params, "limit": 1000})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    return len(body["traces"])


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, PROJECT, traces=300, seed=7)


@pytest.fixture(scope="module")
def hostile(server: Server) -> None:
    ids = Ids(HOSTILE_PROJECT)
    for index, text in enumerate(HOSTILE):
        send_agent_trace(
            server, HOSTILE_PROJECT, ids, T0 + index * 10**10, agent=text, version=text,
            tools=[text, "lookup_order"], failed_tools=(text,), cost=0.01 * (index + 1),
        )  # fmt: skip


def page(server: Server, path: str = "/", **params: Any) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", params=params, timeout=30)


def test_the_table_counts_what_the_generator_made(server: Server, demo: Loaded) -> None:
    response = page(server, **WEEK)
    assert response.status_code == 200, response.text
    groups = {
        f"{row.attributes['data-agent']} {row.attributes['data-version']}": row
        for row in Tables(response.text).of("group")
    }
    counts = demo.summary.agents()
    assert {key: int(number(row.cells[2])) for key, row in groups.items()} == dict(counts)
    escalated = sum(Feature.ESCALATION in trace.features for trace in demo.summary.traces)
    assert escalated == demo.summary.count(Feature.ESCALATION)
    rate = {key: number(row.cells[4]) / 100 for key, row in groups.items()}
    for key, _row in groups.items():
        facts = [t for t in demo.summary.traces if f"{t.agent} {t.version}" == key]
        want = sum(Feature.ESCALATION in t.features for t in facts) / len(facts)
        assert rate[key] == pytest.approx(want, abs=0.0006), key  # shown to 0.1%
    tokens = {key: number(row.cells[7]) for key, row in groups.items()}
    assert tokens["support 1.5"] > 1.8 * tokens["support 1.4"]  # the drift


def test_cards_total_the_window(server: Server, demo: Loaded) -> None:
    body = page(server, **WEEK).text
    assert f'<div class="value">{len(demo.summary.traces):,}</div>' in body
    share = demo.summary.count(Feature.ESCALATION) / len(demo.summary.traces)
    assert f"{100 * share:.1f}%" in body
    assert f"{demo.summary.count(Feature.ESCALATION)} handed to a person" in body


def test_every_group_link_selects_its_traces_on_the_traces_page(
    server: Server, demo: Loaded
) -> None:
    rows = Tables(page(server, **WEEK).text).of("group")
    assert rows
    for row in rows:
        agent, version = row.attributes["data-agent"], row.attributes["data-version"]
        traces, errors = (query(link) for link in row.links[1:3])
        assert traces["agent"] == agent and traces["agent_version"] == version
        assert traces["project"] == PROJECT and traces["since"] and traces["until"]
        assert api_count(server, traces) == int(number(row.cells[2]))
        assert errors["status"] == "error"
        failed = api_count(server, errors)
        assert failed == round(number(row.cells[3]) / 100 * int(number(row.cells[2])))


def test_compare_links_pair_versions_of_one_agent(server: Server, demo: Loaded) -> None:
    rows = Tables(page(server, **WEEK).text).of("group")
    support = {
        row.attributes["data-version"]: row
        for row in rows
        if row.attributes["data-agent"] == "support"
    }
    link = query(next(href for href in support["1.5"].links if href.startswith("/compare")))
    assert (link["a.agent"], link["a.agent_version"]) == ("support", "1.4")
    assert (link["b.agent"], link["b.agent_version"]) == ("support", "1.5")
    single = [row for row in rows if row.attributes["data-agent"] == "inbox"]
    assert not any(href.startswith("/compare") for href in single[0].links)


def test_top_traces_link_to_their_trace_pages(server: Server, demo: Loaded) -> None:
    tables = Tables(page(server, **WEEK).text)
    slowest = [row for row in tables.of("trace")][-10:]
    assert len(slowest) == 10
    durations = [number(row.cells[3].replace("min", "").replace("s", "")) for row in slowest]
    assert all(link.startswith("/traces/") for row in slowest for link in row.links)
    ids = [urlsplit(html.unescape(row.links[0])).path.rsplit("/", 1)[1] for row in slowest]
    listed = httpx.get(
        f"{server.url}/api/traces", params={"project": PROJECT, "sort": "duration", "limit": 10}
    ).json()
    assert ids == [trace["trace_id"] for trace in listed["traces"]], durations


def test_failing_tools_are_ranked_by_errors(server: Server, demo: Loaded) -> None:
    tools = Tables(page(server, **WEEK).text).of("tool")
    errors = [int(number(row.cells[2])) for row in tools]
    assert tools and errors == sorted(errors, reverse=True) and all(errors)
    for row in tools:
        assert number(row.cells[3]) == pytest.approx(
            100 * number(row.cells[2]) / number(row.cells[1]), abs=0.06
        )


def test_the_default_window_is_the_last_day_of_data(server: Server, demo: Loaded) -> None:
    body = page(server, project=PROJECT).text
    assert "24 buckets of 1 h" in body
    narrow = page(
        server, project=PROJECT, since="2026-11-20T06:00:00Z", until="2026-11-20T07:00:00Z"
    )
    assert narrow.status_code == 200 and "12 buckets of 5 min" in narrow.text


def test_an_empty_window_says_where_the_data_is(server: Server, demo: Loaded) -> None:
    response = page(
        server, project=PROJECT, since="2020-01-01T00:00:00Z", until="2020-01-02T00:00:00Z"
    )
    assert response.status_code == 200
    assert "No traces started in this window" in response.text
    assert "The newest trace started at 2026-11-" in response.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window": "2h"}, "window: &#39;2h&#39; is not one of"),
        ({"since": "yesterday"}, "since: &#39;yesterday&#39; is not a time"),
        ({"since": "2026-11-20T10:00Z", "until": "2026-11-19T10:00Z"}, "starts after it ends"),
    ],
)
def test_bad_parameters_are_a_400_page(
    server: Server, demo: Loaded, params: dict[str, str], message: str
) -> None:
    response = page(server, project=PROJECT, **params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text


def test_an_unknown_project_is_a_404_page(server: Server) -> None:
    assert page(server, project="no-such-project").status_code == 404


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with fresh_database(tmp_path_factory.mktemp("empty")) as url:
        running = Server(url).start()
        try:
            yield running
        finally:
            running.close()


def test_a_store_without_traces_shows_how_to_send_some(empty_server: Server) -> None:
    for path in ("/", "/compare"):
        response = page(empty_server, path)
        assert response.status_code == 200
        assert "No traces yet" in response.text and "reasonlens demo" in response.text


def test_hostile_names_are_escaped_in_tables_and_charts(server: Server, hostile: None) -> None:
    body = page(server, project=HOSTILE_PROJECT).text
    for text in HOSTILE:
        assert text not in body
        assert str(html.escape(text, quote=False)) in body or html.escape(text) in body
    assert "<script>window" not in body and "<img src=x" not in body and "<svg onload" not in body
    assert body.count("<svg") >= 4 and "<script" not in body.split("</head>", 1)[1]


def test_in_a_browser_charts_render_with_nothing_from_elsewhere(
    server: Server, demo: Loaded, watched: Watched, tmp_path: Path
) -> None:
    browser = watched.page
    requested: list[str] = []
    browser.on("request", lambda request: requested.append(request.url))
    browser.goto(f"{server.url}/?project={PROJECT}&window=7d")
    charts = browser.locator("figure.chart svg")
    assert charts.count() >= 4
    assert charts.first.bounding_box() is not None and charts.first.bounding_box()["height"] > 100  # type: ignore[index]
    assert (
        browser.locator("figure.chart svg .series rect, figure.chart svg .series path").count() > 20
    )
    browser.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    assert requested and all(url.startswith(server.url) for url in requested), requested
    watched.assert_clean()


def test_in_a_browser_hostile_names_stay_text(
    server: Server, hostile: None, watched: Watched, tmp_path: Path
) -> None:
    browser = watched.page
    browser.goto(f"{server.url}/?project={HOSTILE_PROJECT}")
    assert browser.evaluate("window.__xss") is None
    groups = browser.locator("table.overview-groups td").all_inner_texts()
    for text in HOSTILE:
        assert text in groups
    svg_text = " ".join(browser.locator("figure.chart svg").all_text_contents())
    assert HOSTILE[0][:10] in svg_text  # series names, as text (pygal truncates them)
    tools = browser.locator("table.overview-tools td.mono").all_inner_texts()
    assert set(HOSTILE) <= set(tools)
    browser.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
    assert browser.evaluate("window.__xss") is None
    watched.assert_clean()


def test_cost_per_success_charges_failures_to_the_successes(server: Server, demo: Loaded) -> None:
    """Cost per outcome: every trace's spend over the traces that succeeded."""
    rows = Tables(page(server, **WEEK).text).of("group")
    assert rows
    for row in rows:
        params: dict[str, Any] = {**query(row.links[1]), "limit": 1000}
        traces, cursor = [], None
        while True:
            body = httpx.get(
                f"{server.url}/api/traces",
                params={**params, **({"cursor": cursor} if cursor else {})},
            ).json()
            traces += body["traces"]
            if (cursor := body["next_cursor"]) is None:
                break
        # The demo's models are priced; a trace without a cost used no tokens (its
        # model calls, if any, failed before the provider counted any).
        assert all(trace["unpriced_count"] == 0 for trace in traces)
        free = [t for t in traces if t["cost_usd"] is None]
        assert all(t["input_tokens"] + t["output_tokens"] == 0 for t in free)
        successes = sum(trace["status"] != "error" for trace in traces)
        want = sum(trace["cost_usd"] or 0.0 for trace in traces) / successes
        assert row.cells[11] == fmt_usd(want), row.attributes
