"""The trace page in Chromium, driven as a person would, failing on any console error
(a CSP violation included); and a trace written by an attacker stays inert text."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Locator, expect

from tests.browser import Watched
from tests.server import Server
from tests.trace_pages import (
    HOSTILE,
    IMG,
    JS_URL,
    LARGE,
    PANEL,
    SCRIPT,
    WORKFLOW,
    Hostile,
    Large,
    read,
)
from tests.workflows import multi_agent
from tests.workflows.multi_agent import Workflow

# --- In a real browser ---------------------------------------------------------------


def test_collapse_select_and_read_the_chain_in_chromium(
    server: Server, workflow: Workflow, watched: Watched, tmp_path: Path
) -> None:
    browser = watched.page
    browser.goto(f"{server.url}/traces/{workflow.trace_id}?project={WORKFLOW}")
    rows = browser.locator(".wf-row")
    assert rows.count() == 12
    researcher = browser.locator(f'.wf-row[data-s="{workflow.span_ids["researcher"]}"]')
    children = [workflow.span_ids[role] for role in multi_agent.TREE["researcher"]]

    def visible(span_id: str) -> bool:
        return browser.locator(f'.wf-row[data-s="{span_id}"]').is_visible()

    researcher.locator("button.tg").click()
    assert not any(visible(span_id) for span_id in children)
    assert visible(workflow.span_ids["writer"])
    researcher.locator("button.tg").click()
    assert all(visible(span_id) for span_id in children)

    browser.locator("button[data-wf=collapse]").click()
    assert browser.locator(".wf-row:visible").count() == 1
    browser.locator("button[data-wf=expand]").click()
    assert browser.locator(".wf-row:visible").count() == 12

    draft = workflow.span_ids["draft"]
    browser.locator(f'.wf-row[data-s="{draft}"] a').click()
    browser.wait_for_selector("#panel .panel-badges")
    assert "Draft ready; asking for approval to send." in browser.locator("#panel").inner_text()
    assert browser.locator(f'.wf-row.sel[data-s="{draft}"]').count() == 1
    assert f"span={draft}" in browser.url
    browser.screenshot(path=str(tmp_path / "trace-timeline.png"), full_page=True)

    browser.get_by_role("link", name="Reasoning chain").click()
    browser.wait_for_selector(".steps .step-decision")
    assert browser.locator(".step").count() == 19
    approval = workflow.span_ids["approval"]
    browser.locator(f'.step-tool_call[data-s="{approval}"] .step-title a').click()
    expect(browser.locator("#panel")).to_contain_text("APR-730115")
    browser.screenshot(path=str(tmp_path / "trace-chain.png"), full_page=True)
    assert (tmp_path / "trace-chain.png").stat().st_size > 0
    watched.assert_clean()


def test_a_large_trace_stays_usable_in_chromium(
    server: Server, large: Large, watched: Watched
) -> None:
    browser = watched.page
    browser.goto(f"{server.url}/traces/{large.trace_id}?project={LARGE}")
    assert browser.locator(".wf-row").count() == 5_000
    first_worker = browser.locator(".wf-row").nth(1)
    first_worker.locator("button.tg").click()
    assert browser.locator(".wf-row:visible").count() == 5_000 - 96
    first_worker.locator("button.tg").click()
    assert browser.locator(".wf-row:visible").count() == 5_000

    browser.locator(f'.wf-row[data-s="{large.huge_span}"] a').click()
    browser.wait_for_selector("#panel .panel-badges")
    show_all = browser.locator("#panel a.show-all")
    assert show_all.count() == 3
    show_all.first.click()  # the tool result
    expect(show_all).to_have_count(2)  # its link goes once the whole value is in place
    lengths = "[...document.querySelectorAll('#panel pre')].map(p => p.textContent.length)"
    assert max(browser.evaluate(lengths)) == 1_000_000
    watched.assert_clean()


def test_hostile_content_stays_text(server: Server, hostile: Hostile) -> None:
    base = f"/traces/{hostile.trace_id}"
    pages = [
        httpx.get(f"{server.url}{base}", params={"project": HOSTILE}),
        httpx.get(f"{server.url}{base}", params={"project": HOSTILE, "view": "chain"}),
    ] + [
        httpx.get(f"{server.url}{base}/spans/{span}", params={"project": HOSTILE}, headers=PANEL)
        for span in (hostile.root, hostile.llm, hostile.tool)
    ]
    for response in pages:
        assert response.status_code == 200
        assert "<script>window" not in response.text and "<img src=x" not in response.text
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in response.text
        html = read(response.text)
        assert not [href for href in html.hrefs if href.strip().lower().startswith("javascript")]
    tool_panel = read(pages[-1].text).text
    assert JS_URL in tool_panel and SCRIPT in tool_panel and IMG in tool_panel


def click_each(matching: Locator) -> None:
    """Click every element ``matching`` finds, each click making one stop matching."""
    for remaining in range(matching.count(), 0, -1):
        matching.first.click()
        expect(matching).to_have_count(remaining - 1)


def test_hostile_content_runs_nothing_in_chromium(
    server: Server, hostile: Hostile, watched: Watched
) -> None:
    browser = watched.page
    browser.goto(f"{server.url}/traces/{hostile.trace_id}?project={HOSTILE}")
    assert browser.evaluate("typeof window.__xss") == "undefined"
    assert SCRIPT in browser.locator(".wf-rows").inner_text()
    for span in (hostile.root, hostile.llm, hostile.tool):
        browser.locator(f'.wf-row[data-s="{span}"] a').click()
        browser.wait_for_selector(f'#panel a.panel-link[href$="{span}"]')
        click_each(browser.locator("#panel details:not([open]) > summary"))
        click_each(browser.locator("#panel a.show-all"))
        assert browser.evaluate("typeof window.__xss") == "undefined"
    panel_text = browser.locator("#panel").inner_text()
    assert JS_URL in panel_text and IMG in panel_text
    browser.get_by_role("link", name="Reasoning chain").click()
    browser.wait_for_selector(".steps .step")
    click_each(browser.locator(".steps a.show-all"))
    browser.locator(".step-title a").first.click()
    browser.wait_for_selector("#panel .panel-badges")
    assert browser.evaluate("typeof window.__xss") == "undefined"
    watched.assert_clean()
