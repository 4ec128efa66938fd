"""Every page of the dashboard in Chromium, over a project whose every text an attacker
wrote (``tests/hostile_site.py``): nothing runs, nothing is injected, the text reads as
text.

The pages are those of the app's route table, so a new page cannot skip the check:
each GET route that serves a page must have its path parameters filled from the stored
data below, or the test fails. The browser context bypasses the Content Security
Policy: the CSP is the second line of defence, and this checks the first (escaping).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from fastapi.routing import iter_route_contexts
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Request

from reasonlens.app import create_app
from reasonlens.settings import Settings
from tests import hostile_site as h
from tests.databases import fresh_database
from tests.server import Server

# Routes that are not pages: OTLP, the JSON and CSV API, static files.
NOT_PAGES = re.compile(r"^/(api|v1|static)(/|$)|^/(openapi\.json|healthz)$|\.csv$")
# What no page writes itself: injected elements, inline script, frames, event handlers,
# script URLs, and a payload's beacon in a URL or a style.
INSPECT = """() => {
  const found = [];
  for (const element of document.querySelectorAll("*")) {
    if (element.hasAttribute("data-xss")) found.push("injected " + element.outerHTML.slice(0, 80));
    const tag = element.localName;  // lower case in HTML and SVG alike
    if (["iframe", "object", "embed", "base"].includes(tag) || (tag === "script" && !element.src)
        || (tag === "meta" && element.httpEquiv))
      found.push("inline " + element.outerHTML.slice(0, 80));
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase(), value = attribute.value.trim().toLowerCase();
      if (name.startsWith("on")) found.push("handler " + name + "=" + value.slice(0, 60));
      // A form's value is data; a URL, a style or an htmx attribute is not.
      const url = /^(href|src|srcset|srcdoc|action|formaction|xlink:href|data|poster)$|^hx-/
        .test(name);
      if (url && /^(javascript|vbscript|data):/.test(value))
        found.push("url " + name + "=" + value.slice(0, 60));
      // Text in a link's query string is data; in its path, it is not.
      const target = /^(href|src|action|formaction)$/.test(name) ? value.split("?")[0] : value;
      if ((url || name === "style") && target.includes("xss-beacon"))
        found.push("beacon in " + name + "=" + value.slice(0, 60));
    }
  }
  return {found, text: document.documentElement.textContent};
}"""


LOADED = "() => document.querySelector('[hx-trigger=load]:not([data-xss])') === null"


@dataclass(frozen=True)
class Visit:
    """A URL of a route, and the hostile texts it must show verbatim."""

    url: str
    shows: tuple[str, ...] = ()
    status: int = 200  # a page that refuses the request reflects it in its message


@dataclass
class Tab:
    """One page reused for every visit, and everything a payload could have done."""

    page: Page
    ran: list[str] = field(default_factory=list)  # __xss() calls and dialogs
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # console and script errors

    def reset(self) -> None:
        self.ran.clear()
        self.requests.clear()
        self.problems.clear()


def page_routes() -> set[str]:
    """Every GET route of the app that is a page or a fragment of one."""
    app = create_app(Settings(database_url="sqlite://"))
    return {
        str(route.path)
        for route in iter_route_contexts(app.routes)
        if "GET" in (route.methods or ()) and not NOT_PAGES.search(str(route.path))
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        running = Server(url, env=h.RUNAWAY_ENV).start()
        try:
            yield running
        finally:
            running.close()


@pytest.fixture(scope="module")
def site(server: Server) -> h.Site:
    return h.build(server)


@pytest.fixture(scope="module")
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(bypass_csp=True, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    tab = Tab(page)
    page.expose_binding(h.HOOK, lambda _source, name: tab.ran.append(f"{h.HOOK}({name})"))

    def on_dialog(dialog: Dialog) -> None:
        tab.ran.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        # A plain-text page (a whole value) names no icon: Chromium asks for /favicon.ico.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            tab.problems.append(f"console: {message.text} {message.location.get('url', '')}")

    def on_failed(request: Request) -> None:
        # Chromium drops the icon's request when the next page comes before it is in.
        if "favicon" not in request.url:
            tab.problems.append(f"failed: {request.url} {request.failure}")

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: tab.problems.append(f"script error: {error}"))
    page.on("request", lambda request: tab.requests.append(request.url))
    page.on("requestfailed", on_failed)
    yield tab
    context.close()


def _url(where: str, **params: object) -> str:
    return f"{where}?{urlencode(params)}"


def visits(site: h.Site) -> dict[str, list[Visit]]:
    """For each page route, the URLs that show the hostile data."""
    p = h.PROJECT
    first, runaway = site.traces[0], site.runaway
    trace_page = f"/traces/{first.trace_id}"
    older, newer = site.run_ids
    agent_text = (h.AGENT, h.KNOWN_GOOD, h.RUNNING)
    span_text = (h.SCRIPT, h.IMG, h.SVG)
    return {
        "/": [Visit(_url("/", project=p), (p, *agent_text, h.TOOL, h.SCRIPT))],
        "/traces": [
            Visit(_url("/traces", project=p), (p, h.SCRIPT, h.AGENT, h.RUNNING)),
            Visit(_url("/traces", project=p, q=h.SCRIPT, agent=h.AGENT), (h.SCRIPT,)),
        ],
        "/traces/{trace_id}": [
            Visit(_url(trace_page, project=p), (p, *span_text, h.SERVICE, h.FEEDBACK, h.BIDI)),
            Visit(trace_page, (p, h.OTHER)),  # in two projects: which one?
            Visit(_url(trace_page, project=h.OTHER), (h.OTHER, h.TEMPLATE)),
            Visit(_url(trace_page, project=h.SCRIPT), (h.SCRIPT,), status=404),
            Visit(_url(trace_page, project=p, view="chain"), (*span_text, h.TOOL, h.CSS)),
            Visit(_url(trace_page, project=p, span=first.root), (h.USER, h.SESSION, h.JS_URL)),
            Visit(
                _url(trace_page, project=p, span=first.chat),
                (h.MODEL, h.PROMPT, h.TEMPLATE, h.EVALUATOR, h.LABEL),
            ),
            Visit(
                _url(trace_page, project=p, span=first.tools[1]), (h.TOOL, h.ERROR_TYPE, h.IFRAME)
            ),
            Visit(_url(f"/traces/{runaway.trace_id}", project=p), (h.SCRIPT,)),
        ],
        "/traces/{trace_id}/spans/{span_id}": [
            Visit(_url(f"{trace_page}/spans/{first.tools[0]}", project=p), (h.TOOL,)),
        ],
        "/traces/{trace_id}/spans/{span_id}/value": [
            Visit(
                _url(
                    f"{trace_page}/spans/{first.tools[0]}/value",
                    project=p,
                    path=json.dumps(["tool_result"]),
                ),
                (h.LONG,),
            ),
        ],
        "/traces/{trace_id}/value": [
            Visit(_url(f"{trace_page}/value", project=p, path='["input"]'), (h.LONG,)),
        ],
        "/sessions": [Visit(_url("/sessions", project=p), (h.SESSION, h.USER, h.AGENT))],
        "/sessions/{session_id:anytext}": [
            Visit(_url(f"/sessions/{quote(h.SESSION, safe='')}", project=p), (h.SESSION,)),
        ],
        "/compare": [
            # Redirected to the running version against the known-good one.
            Visit(_url("/compare", project=p), (p, *agent_text, h.MODEL, h.TOOL)),
            Visit(
                _url("/compare", project=p, **{"a.q": h.SCRIPT, "b.user_id": h.USER}),
                (h.SCRIPT, h.USER),
            ),
            Visit(_url("/compare", project=p, **{"a.since": h.SVG}), (h.SVG,), status=400),
        ],
        "/drift": [
            Visit(_url("/drift", project=p, agent=h.AGENT), (p, *agent_text)),
            Visit(_url("/drift", project=p, baseline_since=h.CSS), (h.CSS,), status=400),
        ],
        "/evals": [Visit(_url("/evals", project=p), (p, h.SUITE))],
        "/evals/schedules": [Visit(_url("/evals/schedules", project=p), (p, h.SUITE))],
        "/evals/suites/{suite_id}": [Visit(f"/evals/suites/{site.suite_id}", (p, h.SUITE))],
        "/evals/runs/{run_id}": [
            Visit(f"/evals/runs/{newer}", (p, h.SUITE, h.SCRIPT, h.TOOL)),
            Visit(_url(f"/evals/runs/{newer}", evaluator="tool_policy", failed="1"), (h.TOOL,)),
            Visit(f"/evals/runs/{site.running}", (p, h.SUITE)),
        ],
        "/evals/runs/{run_id}/charts": [Visit(f"/evals/runs/{newer}/charts", (p, h.SUITE))],
        "/evals/runs/{run_id}/progress": [Visit(f"/evals/runs/{site.running}/progress")],
        "/evals/compare": [Visit(_url("/evals/compare", a=older, b=newer), (p, h.SUITE, h.TOOL))],
        "/settings/prices": [Visit(_url("/settings/prices", project=p), (p, h.MODEL))],
        "/settings/prices/reprice": [Visit("/settings/prices/reprice", (p,))],
        "/settings/budgets": [Visit(_url("/settings/budgets", project=p), (p, h.AGENT))],
        "/alerts": [Visit(_url("/alerts", project=p), (p, h.RULE, h.SUITE, h.AGENT))],
        "/settings/keys": [Visit(_url("/settings/keys", project=p), (p,))],
        "/login": [Visit(_url("/login", next=f"/traces?q={h.SCRIPT}"))],
    }


def test_every_page_route_is_visited(site: h.Site) -> None:
    routes, filled = page_routes(), set(visits(site))
    assert routes - filled == set(), "page routes with no URL filled from the hostile data"
    assert filled - routes == set(), "URLs for routes the app no longer has"


def _check(tab: Tab, url: str, status: int = 200) -> str:
    """Visit ``url``; every problem found, and the page's text."""
    tab.reset()
    response = tab.page.goto(url)
    assert response is not None and response.status == status, (
        f"{url}: {response and response.status}"
    )
    if status != 200:  # Chromium reports the page's own error status on the console
        reported = f"the server responded with a status of {status} ({response.status_text})"
        tab.problems.remove(f"console: Failed to load resource: {reported} {url}")
    # Parts that load after the page (a run's charts) replace their placeholder.
    tab.page.wait_for_function(LOADED)
    seen = tab.page.evaluate(INSPECT)
    beacons = [request for request in tab.requests if h.BEACON in request]
    problems = [*tab.ran, *seen["found"], *beacons, *tab.problems]
    assert problems == [], f"{url}:\n" + "\n".join(problems)
    return str(seen["text"])


def test_no_page_runs_or_injects_anything_and_each_shows_the_text(
    server: Server, site: h.Site, tab: Tab
) -> None:
    shown: set[str] = set()
    for route, urls in visits(site).items():
        for visit in urls:
            text = _check(tab, server.url + visit.url, visit.status)
            missing = [value for value in visit.shows if value not in text]
            assert missing == [], f"{route} {visit.url}: not shown as text: {missing}"
            shown |= {value for value in h.PAYLOADS if value in text}
    assert shown == set(h.PAYLOADS), "payloads no page showed"


def test_what_the_trace_page_inserts_by_script_stays_text(
    server: Server, site: h.Site, tab: Tab
) -> None:
    """trace.js swaps a span's panel in (server-rendered HTML) and fills a clipped value
    with its whole text: each span of a hostile trace, opened by a click."""
    first = site.traces[0]
    _check(tab, server.url + _url(f"/traces/{first.trace_id}", project=h.PROJECT))
    page = tab.page
    for span_id in (first.root, first.chat, *first.tools):
        tab.reset()
        panel = f"/spans/{span_id}?"
        with page.expect_response(lambda response, panel=panel: panel in response.url):
            page.locator(f'.wf-row[data-s="{span_id}"] .wf-name a').click()
        page.wait_for_selector(f'#panel .panel-link[href*="{span_id}"]')
        more = page.locator("#panel a.show-all").first
        with page.expect_response(lambda response: "/value?" in response.url):
            more.click()
        page.wait_for_selector("#panel pre.expanded")
        seen = page.evaluate(INSPECT)
        problems = [*tab.ran, *seen["found"], *tab.problems]
        problems += [request for request in tab.requests if h.BEACON in request]
        assert problems == [], f"span {span_id}:\n" + "\n".join(problems)
        assert h.LONG in page.locator("#panel pre.expanded").first.text_content()


WEB = Path(__file__).parent.parent / "web"
# Where script writes markup: only the span panel, HTML the server rendered (escaped).
MARKUP_SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function"
)
ALLOWED_SINKS = {("trace.js", "panel.innerHTML = html;")}


def test_no_script_or_template_writes_data_as_markup() -> None:
    """Our JavaScript writes data as text; templates mark nothing safe and hold no inline
    script; Python marks only the SVG charts (web/charts.py) as markup."""
    sinks = {
        (path.name, line.strip())
        for path in (WEB / "static" / "js").glob("*.js")
        for line in path.read_text().splitlines()
        if MARKUP_SINKS.search(line)
    }
    assert sinks == ALLOWED_SINKS
    templates = {path.name: path.read_text() for path in (WEB / "templates").glob("*.html")}
    assert [name for name, text in templates.items() if re.search(r"\|\s*safe\b", text)] == []
    # No inline script, so no data (JSON or else) inside one: the CSP would block it.
    inline = re.compile(r"<script\b(?![^>]*\bsrc=)", re.IGNORECASE)
    assert [name for name, text in templates.items() if inline.search(text)] == []
    marked = [
        path.relative_to(WEB).as_posix()
        for path in WEB.rglob("*.py")
        if re.search(r"\bMarkup\(|markupsafe\.Markup\(|\bMarkup\.escape\b", path.read_text())
    ]
    assert marked == ["charts.py"]
