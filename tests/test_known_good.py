"""Known-good versions: marked through the API and the overview's button, refused when
they name nothing, shown on the overview against what runs now, and the default of the
compare page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from store import audit
from tests.browser import Watched
from tests.demo_data import load_demo
from tests.server import Server

PROJECT = "known-good"


@pytest.fixture(scope="module")
def demo(server: Server) -> Server:
    load_demo(server, PROJECT, traces=120, seed=11)
    return server


def put(server: Server, body: object, **headers: str) -> httpx.Response:
    return httpx.put(f"{server.url}/api/known-good", json=body, headers=headers)


def test_marks_are_refused_when_they_name_nothing(demo: Server) -> None:
    url = f"{demo.url}/api/known-good"
    assert put(demo, {"project": PROJECT, "agent": "support", "version": "9.9"}).status_code == 422
    assert put(demo, {"project": "nope", "agent": "support", "version": "1.4"}).status_code == 404
    assert put(demo, {"project": PROJECT, "agent": "support"}).status_code == 422
    assert put(demo, {"project": PROJECT, "agent": "a\x00", "version": "1.4"}).status_code == 422
    bad = httpx.put(url, content="agent=support", headers={"content-type": "text/plain"})
    assert bad.status_code == 415
    cross = put(
        demo,
        {"project": PROJECT, "agent": "support", "version": "1.4"},
        origin="http://evil.example",
    )
    assert cross.status_code == 403
    assert httpx.get(url, params={"project": PROJECT}).json() == {"known_good": []}
    missing = httpx.delete(url, params={"project": PROJECT, "agent": "support"})
    assert missing.status_code == 404


def test_a_mark_is_replaced_listed_and_removed(demo: Server) -> None:
    url = f"{demo.url}/api/known-good"
    first = put(demo, {"project": PROJECT, "agent": "support", "version": "1.5"})
    assert first.status_code == 200, first.text
    marked = put(
        demo,
        {"project": PROJECT, "agent": "support", "version": "1.4", "note": "before the rollout"},
    )
    assert marked.status_code == 200
    body = marked.json()
    assert body["version"] == "1.4" and body["note"] == "before the rollout"
    assert body["current_version"] == "1.5"  # the rollout's version runs now
    (listed,) = httpx.get(url, params={"project": PROJECT}).json()["known_good"]
    assert listed["agent"] == "support" and listed["version"] == "1.4"

    # The compare page opens on what runs now against the known-good version.
    opened = httpx.get(f"{demo.url}/compare", params={"project": PROJECT})
    assert opened.status_code == 303
    query = parse_qs(urlsplit(opened.headers["location"]).query)
    assert query["a.agent_version"] == ["1.4"] and query["b.agent_version"] == ["1.5"]
    assert query["a.agent"] == query["b.agent"] == ["support"]
    assert httpx.get(f"{demo.url}{opened.headers['location']}").status_code == 200

    assert httpx.delete(url, params={"project": PROJECT, "agent": "support"}).status_code == 204
    assert httpx.get(f"{demo.url}/compare", params={"project": PROJECT}).status_code == 200

    # Each change is in the audit log, by the local mode's actor.
    with demo.engine.connect() as connection:
        logged = [
            (e.action, e.target, (e.detail or {}).get("version"), e.actor)
            for e in audit.entries(connection, limit=1000)
            if e.project == PROJECT and e.action.startswith("known_good.")
        ]
    assert logged[:3] == [
        ("known_good.unmark", "support", None, "local"),
        ("known_good.mark", "support", "1.4", "local"),
        ("known_good.mark", "support", "1.5", "local"),
    ]


def test_the_overview_marks_a_version_and_holds_what_runs_against_it(
    demo: Server, watched: Watched
) -> None:
    page = watched.page
    page.goto(f"{demo.url}/?project={PROJECT}&window=30d")
    row = page.locator("tr.group[data-agent='support'][data-version='1.4']")
    row.get_by_role("button", name="mark known good").click()
    page.wait_for_url(f"**/?project={PROJECT}")
    page.goto(f"{demo.url}/?project={PROJECT}&window=30d")
    expect(row.locator(".known-good-badge")).to_have_text("known good")
    newer = page.locator("tr.group[data-agent='support'][data-version='1.5']")
    expect(newer.locator(".vs-known-good")).to_be_visible()
    section = page.locator("table.known-good tr[data-agent='support']")
    expect(section.locator(".known-good-badge")).to_have_text("1.4")
    expect(section.locator(".running-now")).to_have_text("1.5")
    expect(section.locator(".error_rate")).to_contain_text("vs")
    section.locator(".vs-known-good").click()
    page.wait_for_url("**/compare?*")
    assert "a.agent_version=1.4" in page.url and "b.agent_version=1.5" in page.url
    watched.assert_clean()
    httpx.delete(f"{demo.url}/api/known-good", params={"project": PROJECT, "agent": "support"})
