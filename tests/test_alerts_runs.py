"""Run alerts end to end: traces sent with the OpenTelemetry SDK, a suite run through
the API, the alerts its rules raise, and their JSON at a loopback webhook receiver;
retried with backoff after 500s, given up after the last attempt with the error kept
short, and never raised twice for one run and rule."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import httpx
import sqlalchemy as sa

from evals.alerts.runs import alert_on_run
from store.alert_rules import NewRule
from store.alert_rules import add_rule as store_rule
from store.models import Alert
from tests.alerting import (
    MAX_ATTEMPTS,
    PUBLIC_URL,
    RETRY_SECONDS,
    Receiver,
    add_rule,
    failing_suite,
    project_alerts,
    run_suite,
    wait_until,
)
from tests.server import Server, free_port


def alert_count(server: Server) -> int:
    with server.engine.connect() as connection:
        return int(connection.scalar(sa.select(sa.func.count()).select_from(Alert)) or 0)


def test_a_failing_run_posts_its_alerts_to_the_webhook(
    alert_server: Server, receiver: Receiver, project: str
) -> None:
    suite_id = failing_suite(alert_server, project)
    hook = receiver.script(project, 200)
    failed = add_rule(alert_server, project=project, name="gate failed", kind="threshold_failed",
                      suite_id=suite_id, webhook_url=hook)  # fmt: skip
    costly = add_rule(alert_server, project=project, name="costly", kind="cost_per_trace",
                      suite_id=suite_id, limit=0.02, webhook_url=hook)  # fmt: skip
    add_rule(alert_server, project=project, name="errors", kind="error_rate", suite_id=suite_id,
             limit=0.1)  # fmt: skip
    add_rule(
        alert_server,
        project=project,
        name="escalations",
        kind="escalation_rate",
        suite_id=suite_id,
        limit=0.5,
    )  # fmt: skip  (1 of 4 escalated: under the limit)
    add_rule(alert_server, project=project, name="drift", kind="drift", suite_id=suite_id)

    run = run_suite(alert_server, suite_id)
    assert run["status"] == "failed"
    assert (run["selection"]["errors"], run["selection"]["escalated"]) == (1, 1)

    posts = {post.body["kind"]: post for post in receiver.wait_for(project, 2)}
    assert set(posts) == {"threshold_failed", "cost_per_trace"}
    body = posts["threshold_failed"].body
    assert body["rule"] == {"id": failed["id"], "name": "gate failed", "kind": "threshold_failed",
                            "limit": None}  # fmt: skip
    scores_csv = f"{PUBLIC_URL}/api/eval-runs/{run['id']}/scores.csv"
    assert body["run"] == {"id": run["id"], "suite": "gate", "status": "failed",
                           "scores_csv": scores_csv}  # fmt: skip
    # The run's report, one click from the message: every score of the run.
    report = httpx.get(scores_csv.replace(PUBLIC_URL, alert_server.url))
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    lines = report.text.splitlines()
    assert lines[0].startswith("run_id,project,trace_id,span_id,evaluator,metric,value,label,")
    assert len(lines) == 1 + 4 and all(line.startswith(f"{run['id']},") for line in lines[1:])
    assert body["state"] == "open" and body["project"] == project and body["trace_id"] is None
    assert body["link"] == f"{PUBLIC_URL}/evals/runs/{run['id']}"
    (check,) = body["figures"]["failed"]
    assert (check["evaluator"], check["check"], check["actual"]) == ("step_budget", "pass_rate", 0)
    assert "failed 1 of 1 thresholds" in body["title"]
    assert posts["threshold_failed"].headers["content-type"] == "application/json"
    assert posts["threshold_failed"].headers["idempotency-key"] == f"reasonlens-alert-{body['id']}"
    cost = posts["cost_per_trace"].body
    assert cost["rule"]["id"] == costly["id"] and cost["rule"]["limit"] == 0.02
    assert abs(cost["figures"]["cost_per_trace_usd"] - 0.03) < 1e-9
    assert cost["figures"]["floor"] is False

    listed = {alert["kind"]: alert for alert in project_alerts(alert_server, project)}
    assert set(listed) == {"threshold_failed", "cost_per_trace", "error_rate"}
    assert listed["error_rate"]["figures"] == {"rate": 0.25, "limit": 0.1, "errors": 1, "traces": 4}
    assert listed["error_rate"]["delivery"]["state"] == "none"  # the rule has no webhook
    sent = wait_until(
        lambda: all(a["delivery"]["state"] == "sent" for a in project_alerts(alert_server, project)
                    if a["kind"] != "error_rate") and project_alerts(alert_server, project)
    )  # fmt: skip
    assert {a["delivery"]["attempts"] for a in sent if a["kind"] != "error_rate"} == {1}

    # The same run checked again, from another process: nothing new, nothing resent.
    before = alert_count(alert_server)
    assert alert_on_run(alert_server.engine, run["id"]) == []
    assert alert_count(alert_server) == before
    time.sleep(0.5)
    assert len(receiver.of(project)) == 2


def test_a_refused_delivery_is_retried_with_backoff(
    alert_server: Server, receiver: Receiver, project: str
) -> None:
    suite_id = failing_suite(alert_server, project)
    hook = receiver.script(project, 500, 500, 200)
    add_rule(alert_server, project=project, name="gate", kind="threshold_failed",
             suite_id=suite_id, webhook_url=hook)  # fmt: skip
    run_suite(alert_server, suite_id)

    posts = receiver.wait_for(project, 3)
    assert {post.body["id"] for post in posts} == {posts[0].body["id"]}  # one alert, resent
    gaps = [later.at - earlier.at for earlier, later in pairwise(posts)]
    assert gaps[0] >= RETRY_SECONDS * 0.9 and gaps[1] >= 2 * RETRY_SECONDS * 0.9, gaps

    def delivered() -> dict[str, Any] | None:
        (alert,) = project_alerts(alert_server, project)
        return alert if alert["delivery"]["state"] == "sent" else None

    alert = wait_until(delivered)
    assert alert["delivery"]["attempts"] == 3 and alert["delivery"]["last_error"] is None
    assert alert["delivery"]["delivered_at"] is not None
    time.sleep(2 * RETRY_SECONDS)
    assert len(receiver.of(project)) == 3


def test_delivery_gives_up_after_the_last_attempt(
    alert_server: Server, receiver: Receiver, project: str
) -> None:
    suite_id = failing_suite(alert_server, project)
    huge = b"no thanks " * 10_000  # the receiver's answer is never kept whole
    refusing = receiver.script(project, (500, huge))
    closed = f"http://127.0.0.1:{free_port()}/nobody-listens"
    add_rule(alert_server, project=project, name="refused", kind="threshold_failed",
             suite_id=suite_id, webhook_url=refusing)  # fmt: skip
    add_rule(alert_server, project=project, name="unreachable", kind="threshold_failed",
             suite_id=suite_id, webhook_url=closed)  # fmt: skip
    # A host name httpx cannot even encode (IDNA): the API refuses it now, but a rule
    # stored before it did is given up at once, since no attempt could ever send it.
    unencodable = NewRule("unencodable", "threshold_failed", suite_id,
                          webhook_url="http://xn--a.com/hook")  # fmt: skip
    with alert_server.engine.begin() as connection:
        store_rule(connection, project, unencodable, datetime.now(UTC))
    run_suite(alert_server, suite_id)

    def given_up() -> list[dict[str, Any]] | None:
        found = project_alerts(alert_server, project)
        done = len(found) == 3 and all(a["delivery"]["state"] == "failed" for a in found)
        return found if done else None

    by_rule = {alert["rule"]["name"]: alert["delivery"] for alert in wait_until(given_up)}
    assert by_rule["refused"]["attempts"] == by_rule["unreachable"]["attempts"] == MAX_ATTEMPTS
    assert by_rule["refused"]["last_error"].startswith("HTTP 500: no thanks")
    assert len(by_rule["refused"]["last_error"]) <= 500
    assert by_rule["unreachable"]["last_error"].startswith("ConnectError")
    assert by_rule["unencodable"]["attempts"] == 1
    assert by_rule["unencodable"]["last_error"].startswith("refused: not a URL")
    assert by_rule["refused"]["next_attempt_at"] is None
    time.sleep(3 * RETRY_SECONDS)
    assert len(receiver.of(project)) == MAX_ATTEMPTS
