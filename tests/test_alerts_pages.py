"""The alert API and the /alerts page: bad rules and ids refused with nothing changed,
cross-site posts refused, acknowledging through the API and through the page in
headless Chromium, rules added and refused by the page's form, and hostile rule names,
titles and webhook errors inert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from store.alerts import NewAlert, raise_alert
from store.models import Alert, AlertRule
from store.projects import project_id
from tests.alerting import add_rule, project_alerts
from tests.browser import Watched
from tests.server import Server

CROSS_SITE = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
HOSTILE = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=1">'


def post_suite(server: Server, project: str, name: str = "gate") -> int:
    text = (
        f"name: {name}\nselect: {{project: {project}}}\n"
        "evaluators:\n  - step_budget: {max_steps: 5}\n"
    )
    response = httpx.post(
        f"{server.url}/api/suites", content=text, headers={"content-type": "application/yaml"}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def rules_of(server: Server, project: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/api/alert-rules", params={"project": project})
    return list(response.json()["rules"])


def counts(server: Server) -> tuple[int, int, int]:
    """Rules, alerts, and acknowledged alerts in the whole database."""
    with server.engine.connect() as connection:
        rules = connection.scalar(sa.select(sa.func.count()).select_from(AlertRule))
        alerts = connection.scalar(sa.select(sa.func.count()).select_from(Alert))
        acked = connection.scalar(
            sa.select(sa.func.count()).select_from(Alert).where(Alert.state == "acknowledged")
        )
    return int(rules or 0), int(alerts or 0), int(acked or 0)


def stored_alert(server: Server, project: str, title: str, **figures: Any) -> int:
    """An alert as a checker raises one (the project exists: a rule made it), whose
    webhook gave up: the server's sender leaves it alone."""
    with server.engine.begin() as connection:
        found = project_id(connection, project)
        assert found is not None
        link = f"/settings/budgets?project={project}"
        new = NewAlert(
            found, None, "budget", title, figures, link, f"test:{title}", webhook_url=None
        )
        alert_id = raise_alert(connection, new, datetime.now(UTC))
        assert alert_id is not None
        connection.execute(
            sa.update(Alert)
            .where(Alert.id == alert_id)
            .values(
                webhook_url="https://hooks.example.com/secret-path",
                delivery_state="failed",
                attempts=3,
                last_error=f"HTTP 500: {HOSTILE}",
            )
        )
    return alert_id


def test_bad_rules_and_ids_are_refused_and_change_nothing(server: Server, project: str) -> None:
    suite_id = post_suite(server, project)
    other_suite = post_suite(server, project + "-other")
    add_rule(server, project=project, name="kept", kind="budget")
    alert_id = stored_alert(server, project, "kept open")
    before = counts(server)
    rule = {"project": project, "name": "r", "kind": "error_rate", "suite_id": suite_id,
            "limit": 0.1}  # fmt: skip
    bad: list[tuple[dict[str, Any], str]] = [
        ({**rule, "kind": "sometimes"}, "kind"),
        ({**rule, "suite_id": None}, "choose the suite"),
        ({**rule, "suite_id": other_suite}, "has no suite"),
        ({**rule, "suite_id": 2**70}, "suite_id"),
        ({**rule, "limit": None}, "need a limit"),
        ({**rule, "limit": 1.5}, "a share from 0 to 1"),
        ({**rule, "limit": -0.1}, "limit"),
        ({**rule, "kind": "budget", "suite_id": None, "limit": 3}, "take no limit"),
        ({**rule, "kind": "runaway"}, "take no suite"),
        ({**rule, "name": ""}, "name"),
        ({**rule, "name": "x" * 201}, "name"),
        ({**rule, "name": "a\x00b"}, "NUL"),
        ({**rule, "webhook_url": "javascript:alert(1)"}, "http"),
        ({**rule, "webhook_url": "http://exa mple.com/"}, "spaces"),
        ({**rule, "webhook_url": "http://example.com:99999/"}, "webhook_url"),
        ({**rule, "project": "bad/name"}, "project"),
        ({**rule, "surprise": 1}, "surprise"),
    ]
    for body, says in bad:
        response = httpx.post(f"{server.url}/api/alert-rules", json=body)
        assert response.status_code == 422, (body, response.text)
        assert says in response.text, (body, response.text)
    url = f"{server.url}/api/alert-rules"
    nan = httpx.post(url, content=b'{"limit": NaN}', headers={"content-type": "application/json"})
    assert nan.status_code == 422
    text = httpx.post(url, content=b"name=r", headers={"content-type": "text/plain"})
    assert text.status_code == 415
    assert httpx.post(url, json={**rule, "name": "x" * 10_000}).status_code == 413
    assert httpx.post(url, json=rule, headers=CROSS_SITE).status_code == 403

    for path, status in [
        (f"/api/alerts/{alert_id + 10_000}/acknowledge", 404),
        ("/api/alerts/0/acknowledge", 422),
        (f"/api/alerts/{2**70}/acknowledge", 422),
        ("/api/alerts/abc/acknowledge", 422),
        (f"/alerts/{alert_id + 10_000}/acknowledge", 404),
        (f"/alerts/rules/{2**70}/delete", 400),  # pages answer a bad parameter with a 400 page
    ]:
        assert httpx.post(f"{server.url}{path}").status_code == status, path
    acknowledge = f"{server.url}/api/alerts/{alert_id}/acknowledge"
    assert httpx.post(acknowledge, headers=CROSS_SITE).status_code == 403
    page_ack = f"{server.url}/alerts/{alert_id}/acknowledge"
    assert httpx.post(page_ack, headers=CROSS_SITE).status_code == 403
    assert httpx.delete(f"{server.url}/api/alert-rules/{2**62}").status_code == 404
    for params in ({"state": "closed"}, {"limit": "0"}, {"limit": "501"}):
        response = httpx.get(f"{server.url}/api/alerts", params={"project": project, **params})
        assert response.status_code == 422, params
    assert counts(server) == before
    assert httpx.get(f"{server.url}/api/alerts", params={"project": "nobody"}).json() == {
        "alerts": []
    }


def test_an_alert_is_acknowledged_once_through_the_api(server: Server, project: str) -> None:
    add_rule(server, project=project, name="spend", kind="budget")
    alert_id = stored_alert(server, project, "over budget", spent_usd=3.0)
    (listed,) = project_alerts(server, project, state="open")
    assert listed["id"] == alert_id and listed["delivery"]["state"] == "failed"
    # The webhook's origin only: its path is often the secret.
    assert listed["delivery"]["webhook"] == "https://hooks.example.com"

    first = httpx.post(f"{server.url}/api/alerts/{alert_id}/acknowledge")
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "acknowledged" and first.json()["acknowledged_at"]
    again = httpx.post(f"{server.url}/api/alerts/{alert_id}/acknowledge").json()
    assert again["acknowledged_at"] == first.json()["acknowledged_at"]
    assert project_alerts(server, project, state="open") == []
    assert [a["id"] for a in project_alerts(server, project, state="acknowledged")] == [alert_id]


@pytest.fixture
def hostile_page(server: Server, project: str) -> tuple[str, int]:
    add_rule(server, project=project, name=HOSTILE, kind="budget",
             webhook_url="https://hooks.example.com/secret-path")  # fmt: skip
    alert_id = stored_alert(server, project, f"Budget of agent {HOSTILE}", agent=HOSTILE)
    return f"{server.url}/alerts?project={project}", alert_id


def test_the_page_acknowledges_and_keeps_hostile_text_inert(
    server: Server, project: str, watched: Watched, hostile_page: tuple[str, int]
) -> None:
    url, alert_id = hostile_page
    page = watched.page
    page.goto(url)
    row = page.locator(f"table.alerts.open tr[data-alert-id='{alert_id}']")
    assert HOSTILE in row.locator("td.title").inner_text()
    assert HOSTILE in row.locator("dl.figures").inner_text()
    assert f"HTTP 500: {HOSTILE}" in row.locator(".delivery-error").inner_text()
    assert HOSTILE in page.locator("table.alert-rules td.name").inner_text()
    assert "secret-path" not in page.content()
    assert page.evaluate("window.__xss") is None

    row.get_by_role("button", name=f"Acknowledge alert {alert_id}").click()
    page.wait_for_url(url)
    assert page.locator("table.alerts.open").count() == 0
    assert page.locator(f"table.alerts.acknowledged tr[data-alert-id='{alert_id}']").count() == 1
    assert page.evaluate("window.__xss") is None
    (acknowledged,) = project_alerts(server, project, state="acknowledged")
    assert acknowledged["id"] == alert_id
    watched.assert_clean()


def test_the_page_adds_a_rule_and_refuses_a_bad_one(
    server: Server, project: str, watched: Watched
) -> None:
    suite_id = post_suite(server, project, name="nightly")
    add_rule(server, project=project, name="first", kind="runaway")
    url = f"{server.url}/alerts?project={project}"
    page = watched.page
    page.goto(url)
    form = page.locator("form.rule-form")
    form.locator("input[name=name]").fill("too many errors")
    form.locator("select[name=kind]").select_option("error_rate")
    form.locator("input[name=limit]").fill("0.2")
    form.get_by_role("button", name="Add rule").click()  # no suite chosen
    assert "choose the suite" in page.locator(".form-error").inner_text()
    assert page.locator("form.rule-form input[name=name]").input_value() == "too many errors"
    assert [r["name"] for r in rules_of(server, project)] == ["first"]
    watched.assert_clean(error_page=True)  # the refusal is a 422 page
    watched.problems.clear()

    form.locator("select[name=suite_id]").select_option(str(suite_id))
    form.get_by_role("button", name="Add rule").click()
    page.wait_for_url(url)
    added = rules_of(server, project)[-1]
    assert (added["name"], added["kind"], added["suite"], added["limit"]) == (
        "too many errors", "error_rate", "nightly", 0.2,
    )  # fmt: skip
    assert "20.0%" in page.locator(f"tr[data-rule-id='{added['id']}']").inner_text()

    page.get_by_role("button", name=f"Delete rule {added['id']}").click()
    page.wait_for_url(url)
    assert page.locator(f"tr[data-rule-id='{added['id']}']").count() == 0
    form_data = {"project": project, "name": "x", "kind": "budget"}
    cross = httpx.post(f"{server.url}/alerts/rules", data=form_data, headers=CROSS_SITE)
    assert cross.status_code == 403
    watched.assert_clean()
