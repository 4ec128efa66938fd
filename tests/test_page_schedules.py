"""The schedules page in Chromium: a scheduled suite listed with its next run, switched
off and on, run now through the job queue (the server's own worker runs it) and its
job shown on the suite page. A suite name an attacker wrote runs nothing."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser import Watched
from tests.server import Server

PROJECT = "page-schedules"
HOSTILE = "<img src=x onerror=alert(1)>nightly"


def test_a_schedule_is_switched_and_run_from_the_page(server: Server, watched: Watched) -> None:
    suite = (
        f"name: {HOSTILE!r}\nselect: {{project: {PROJECT}}}\nevaluators: [loops]\n"
        "schedule: '0 3 * * *'\n"
    )
    created = httpx.post(
        f"{server.url}/api/suites", content=suite, headers={"content-type": "application/yaml"}
    )
    assert created.status_code == 201, created.text
    suite_id = created.json()["id"]
    page = watched.page
    page.goto(f"{server.url}/evals?project={PROJECT}")
    page.get_by_role("link", name="Schedules »").click()
    page.wait_for_url("**/evals/schedules?project=*")
    row = page.locator(f"tr.schedule[data-suite='{suite_id}']")
    expect(row.locator(".suite-link")).to_have_text(HOSTILE)  # as text, not markup
    expect(row.locator(".state")).to_have_text("on")
    expect(row.locator(".backlog")).to_contain_text("not online")

    row.get_by_role("button", name="Switch off").click()
    expect(row.locator(".state")).to_have_text("off")
    expect(row.locator(".next-run")).to_have_text("\u2013")
    assert httpx.get(f"{server.url}/api/suites/{suite_id}").json()["enabled"] is False
    row.get_by_role("button", name="Switch on").click()
    expect(row.locator(".state")).to_have_text("on")

    row.get_by_role("button", name="Run now").click()
    expect(row.locator(".jobs-open")).to_contain_text("queued")
    row.locator(".suite-link").click()
    page.wait_for_url(f"**/evals/suites/{suite_id}")
    for _ in range(100):  # the server's worker polls every 2 s
        if page.locator("table.suite-jobs .job-done").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator("table.suite-jobs")).to_contain_text("manual")
    expect(page.locator("table.suite-jobs .job-done")).to_have_count(1)
    assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    watched.assert_clean()
