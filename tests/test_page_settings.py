"""The Settings page for prices on a real server, fed real OTLP: a price added through
the form prices new spans, is deleted, and a bad one is refused inline storing nothing;
"Re-price" recomputes stored costs in the background, its progress counting to the
total, and a second start while one runs is refused; cross-site posts are refused; and
in Chromium the page works and text an attacker wrote stays text."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Dialog, expect

from store.models import Project, Trace
from tests.browser import Watched
from tests.server import Server
from tests.test_custom_prices import call_of, send_call
from web.reprice_job import STOPPED, Busy, RepriceJob

MODEL = "in-house-llm-7"
PRICE = {"model": "In-House-*", "input_usd_per_mtok": "1", "output_usd_per_mtok": "2"}
COST = (1000 * 1.0 + 500 * 2.0) / 1e6  # tests.test_custom_prices.USAGE at PRICE
CROSS_SITE = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_PROVIDER = '"><svg onload=window.__xss=1>'


def page(server: Server, project: str) -> str:
    response = httpx.get(f"{server.url}/settings/prices", params={"project": project})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def add(server: Server, project: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/settings/prices", data={"project": project, **PRICE}, headers=headers
    )


def prices(server: Server, project: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{server.url}/api/prices", params={"project": project})
    return list(listed.json()["prices"])


def reprice_state(server: Server) -> dict[str, Any]:
    return dict(httpx.get(f"{server.url}/api/reprice").json())


def finished(server: Server, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = reprice_state(server)
        if state["status"] != "running":
            return state
        time.sleep(0.05)
    raise AssertionError(f"the re-pricing did not finish: {reprice_state(server)}")


@contextmanager
def holding_traces(server: Server, project: str) -> Iterator[None]:
    """Write-lock the project's trace rows (on SQLite, the database) in a transaction
    rolled back at the end: a re-pricing that changes them waits at its first write
    until then, so it is still running, whatever the machine's speed."""
    with server.engine.connect() as connection:
        transaction = connection.begin()
        of_project = sa.select(Project.id).where(Project.name == project).scalar_subquery()
        locked = connection.execute(
            sa.update(Trace).where(Trace.project_id == of_project).values(cost_usd=Trace.cost_usd)
        )
        assert locked.rowcount > 0
        try:
            yield
        finally:
            transaction.rollback()


def test_a_price_added_through_the_form_prices_new_spans_until_deleted(
    server: Server, project: str
) -> None:
    stored = send_call(server, project, MODEL)
    html = page(server, project)
    assert re.search(r'href="/settings/prices" aria-current="page"', html)
    assert "No custom prices in" in html and "spans already stored keep their cost" in html

    added = add(server, project)
    assert added.status_code == 303, added.text
    assert added.headers["location"] == f"/settings/prices?project={project}"
    (price,) = prices(server, project)
    assert price["model"] == "In-House-*" and price["provider"] is None
    html = page(server, project)
    assert '<td class="mono price-model">In-House-*</td>' in html
    assert "$1</td>" in html and "as input" in html and "every call" in html

    call = call_of(server, send_call(server, project, MODEL))
    assert call["cost_source"] == "computed" and math.isclose(call["cost_usd"], COST)
    assert call["cost_breakdown"]["price"]["version"] == str(price["id"])
    assert call_of(server, stored)["cost_source"] == "unpriced"  # until re-priced

    deleted = httpx.post(f"{server.url}/settings/prices/{price['id']}/delete")
    assert deleted.status_code == 303, deleted.text
    assert deleted.headers["location"] == f"/settings/prices?project={project}"
    assert prices(server, project) == []
    assert "No custom prices in" in page(server, project)
    assert call_of(server, send_call(server, project, MODEL))["cost_source"] == "unpriced"
    again = httpx.post(f"{server.url}/settings/prices/{price['id']}/delete")
    assert again.status_code == 404 and "no custom price" in again.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"input_usd_per_mtok": "-1"}, "Input USD/1M: Input should be greater than or equal to 0"),
        ({"output_usd_per_mtok": "nan"}, "Output USD/1M: Input should be a finite number"),
        ({"output_usd_per_mtok": "1e999"}, "Output USD/1M: Input should be a finite number"),
        ({"input_usd_per_mtok": "cheap"}, "Input USD/1M: Input should be a valid number"),
        ({"output_usd_per_mtok": ""}, "Output USD/1M: Field required"),
        ({"model": " "}, "Model pattern: Field required"),
        ({"model": "m" * 201}, "Model pattern: String should have at most 200 characters"),
        ({"effective_from": "2026-11-01T00:00:00"}, "Effective from: give a time zone"),
        ({"effective_from": "soon"}, "Effective from: Input should be a valid datetime"),
        ({"cache_read_usd_per_mtok": "-0.5"}, "Cache read USD/1M: Input should be greater"),
    ],
)
def test_a_bad_price_is_refused_inline_and_stores_nothing(
    server: Server, project: str, fields: dict[str, str], message: str
) -> None:
    send_call(server, project, MODEL)
    sent = {"project": project, **PRICE, **fields}
    response = httpx.post(f"{server.url}/settings/prices", data=sent)
    assert response.status_code == 422, response.text
    assert "The price was not added" in response.text and message in response.text
    (name,) = fields
    assert re.search(rf'name="{name}" value="[^"]*"[^>]*aria-invalid="true"', response.text)
    if fields[name].strip():  # what was sent is kept in the form, to be corrected
        assert f'name="{name}" value="{fields[name]}"' in response.text
    assert prices(server, project) == []
    as_json = httpx.post(f"{server.url}/settings/prices", json=sent)
    assert as_json.status_code == 415


def test_cross_site_posts_are_refused(server: Server, project: str) -> None:
    send_call(server, project, MODEL)
    assert add(server, project, **CROSS_SITE).status_code == 403
    assert add(server, project, **{"sec-fetch-site": "cross-site"}).status_code == 403
    assert prices(server, project) == []
    own = add(server, project, **{"sec-fetch-site": "same-origin", "origin": server.url})
    assert own.status_code == 303, own.text
    (price,) = prices(server, project)
    delete = f"{server.url}/settings/prices/{price['id']}/delete"
    assert httpx.post(delete, headers=CROSS_SITE).status_code == 403
    assert prices(server, project) == [price]

    before = reprice_state(server)
    form = {"project": project, "scope": "all"}
    url = f"{server.url}/settings/prices/reprice"
    assert httpx.post(url, data=form, headers=CROSS_SITE).status_code == 403
    api = f"{server.url}/api/reprice"
    assert httpx.post(api, json={}, headers=CROSS_SITE).status_code == 403
    assert reprice_state(server) == before  # nothing started


def test_the_button_reprices_stored_costs_after_a_price_is_added(
    server: Server, project: str
) -> None:
    stored = [send_call(server, project, MODEL) for _ in range(3)]
    other = send_call(server, f"{project}-other", MODEL)
    assert add(server, project).status_code == 303

    form = {"project": project, "since": "1d", "scope": "project"}
    started = httpx.post(f"{server.url}/settings/prices/reprice", data=form)
    assert started.status_code == 303, started.text
    assert started.headers["location"] == f"/settings/prices?project={project}#reprice"
    state = finished(server)
    assert state["status"] == "done", state
    assert (state["project"], state["since"], state["error"]) == (project, "1d", None)
    assert state["traces_done"] == state["traces_total"] == 3
    assert (state["calls"], state["changed"], state["traces"]) == (3, 3, 3)
    for trace_id in stored:
        call = call_of(server, trace_id)
        assert call["cost_source"] == "computed" and math.isclose(call["cost_usd"], COST)
        detail = httpx.get(f"{server.url}/api/traces/{trace_id}").json()
        assert math.isclose(detail["cost_usd"], COST) and detail["unpriced_count"] == 0
    assert call_of(server, other)["cost_source"] == "unpriced"  # another project's

    html = page(server, project)
    assert f"Re-priced project {project}, traces since 1d in" in html
    assert "3 model calls read, 3 spans changed," in html and "3 trace costs recomputed" in html
    fragment = httpx.get(f"{server.url}/settings/prices/reprice").text
    assert "reprice-done" in fragment and "hx-trigger" not in fragment  # polling stops


def test_a_second_start_while_one_runs_is_refused_and_starts_nothing(
    server: Server, project: str
) -> None:
    stored = [send_call(server, project, MODEL) for _ in range(2)]
    assert add(server, project).status_code == 303
    api = f"{server.url}/api/reprice"
    with holding_traces(server, project):
        first = httpx.post(api, json={"project": project})
        assert first.status_code == 202, first.text
        running = first.json()
        assert running["status"] == "running" and running["project"] == project

        second = httpx.post(api, json={})
        assert second.status_code == 409 and "running already" in second.json()["detail"]
        form = {"project": project, "scope": "all", "since": "7d"}
        page_start = httpx.post(f"{server.url}/settings/prices/reprice", data=form)
        assert page_start.status_code == 409
        assert "Re-pricing was not started: a re-pricing is running already" in page_start.text
        assert 'value="7d"' in page_start.text and 'value="all" checked' in page_start.text

        deadline = time.monotonic() + 30
        while reprice_state(server)["traces_total"] is None and time.monotonic() < deadline:
            time.sleep(0.02)
        state = reprice_state(server)
        assert state["status"] == "running" and state["started_at"] == running["started_at"]
        assert (state["project"], state["traces_done"], state["traces_total"]) == (project, 0, 2)
        fragment = httpx.get(f"{server.url}/settings/prices/reprice").text
        assert 'hx-trigger="every 1s"' in fragment and '<progress max="2" value="0">' in fragment
        assert "0 of 2 traces" in fragment
    done = finished(server)
    assert done["status"] == "done" and done["started_at"] == running["started_at"]
    assert done["traces_done"] == done["traces_total"] == 2 and done["changed"] == 2
    assert all(math.isclose(call_of(server, trace)["cost_usd"], COST) for trace in stored)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ('{"since": "yesterday"}', 422, "since"),
        ('{"since": "99999999999999999999999"}', 422, "since"),
        ('{"since": "' + "1" * 101 + '"}', 422, "since"),
        ('{"project": "no-such-project"}', 422, "project"),
        ('{"project": "a\\u0000b"}', 422, "project"),
        ('{"project": ""}', 422, "project"),
        ('{"everything": true}', 422, "everything"),
        ("not json", 422, None),
    ],
)
def test_bad_reprice_options_are_refused_and_start_nothing(
    server: Server, body: str, status: int, field: str | None
) -> None:
    before = reprice_state(server)
    headers = {"content-type": "application/json"}
    response = httpx.post(f"{server.url}/api/reprice", content=body, headers=headers)
    assert response.status_code == status, response.text
    if field is not None:
        assert [problem["loc"] for problem in response.json()["detail"]] == [["body", field]]
    assert httpx.post(f"{server.url}/api/reprice", content=body).status_code == 415
    assert reprice_state(server) == before


def test_a_bad_since_is_refused_on_the_page(server: Server, project: str) -> None:
    send_call(server, project, MODEL)
    before = reprice_state(server)
    form = {"project": project, "since": "last tuesday", "scope": "project"}
    response = httpx.post(f"{server.url}/settings/prices/reprice", data=form)
    assert response.status_code == 422
    assert "Re-pricing was not started: since: &#39;last tuesday&#39; is not a time" in (
        response.text
    )
    assert re.search(r'name="since" value="last tuesday"[^>]*aria-invalid="true"', response.text)
    assert reprice_state(server) == before


def test_a_stopping_server_does_not_wait_for_the_job(server: Server, project: str) -> None:
    """In-process, on the server's database: a job held up by a lock is not waited for
    past the grace period, and ends at its next batch as stopped."""
    send_call(server, project, MODEL)
    assert add(server, project).status_code == 303
    job = RepriceJob(grace_s=0.2)
    with holding_traces(server, project):
        job.start(server.engine, project=project, since=None)
        with pytest.raises(Busy):
            job.start(server.engine, project=None, since=None)
        began = time.monotonic()
        job.stop()
        assert time.monotonic() - began < 2 and job.state().status == "running"
    assert job.join(30)
    state = job.state()
    assert (state.status, state.error) == ("error", STOPPED)


def test_the_page_in_chromium(server: Server, project: str, watched: Watched) -> None:
    """Add a price through the form and re-price; hostile text sent through the API
    is shown as text and runs nothing."""
    send_call(server, project, MODEL)
    hostile = {"project": project, "model": HOSTILE, "provider": HOSTILE_PROVIDER,
               "input_usd_per_mtok": 0.5, "output_usd_per_mtok": 0.5}  # fmt: skip
    assert httpx.post(f"{server.url}/api/prices", json=hostile).status_code == 201
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    browser = watched.page
    browser.on("dialog", on_dialog)
    browser.goto(f"{server.url}/settings/prices?project={project}")
    expect(browser.locator('header nav a[aria-current="page"]')).to_have_text("Settings")
    expect(browser.locator('nav.settings-tabs a[aria-current="page"]')).to_have_text("Prices")
    browser.locator("form.price-form input[name=model]").fill("browser-model-*")
    browser.locator("form.price-form input[name=input_usd_per_mtok]").fill("0.075")
    browser.locator("form.price-form input[name=output_usd_per_mtok]").fill("1.5")
    browser.get_by_role("button", name="Add price", exact=True).click()
    browser.wait_for_url(f"**/settings/prices?project={project}")
    rows = browser.locator("table.custom-prices tbody tr")
    expect(rows).to_have_count(2)
    added = rows.filter(has_text="browser-model-*")
    expect(added).to_contain_text("$0.075")
    expect(added).to_contain_text("$1.5")

    shown = rows.filter(has_text=HOSTILE)
    expect(shown.locator("td.price-model")).to_have_text(HOSTILE)
    expect(shown).to_contain_text(HOSTILE_PROVIDER)
    assert browser.locator("main img, main svg").count() == 0
    assert browser.evaluate("typeof window.__xss") == "undefined"

    browser.get_by_role("button", name="Re-price", exact=True).click()
    browser.wait_for_url("**#reprice")
    expect(browser.locator("#reprice-job.reprice-done")).to_contain_text("Re-priced project")
    assert dialogs == []
    watched.assert_clean()
