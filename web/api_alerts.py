"""Alert rules, and the alerts they raised.

POST   /api/alert-rules                 a rule (JSON body): 201; 422 says what is wrong
GET    /api/alert-rules?project=        the project's rules
DELETE /api/alert-rules/{id}            204 (its alerts stay); 404 when there is none
GET    /api/alerts?project=&state=      the project's alerts, newest first
POST   /api/alerts/{id}/acknowledge     200 with the alert; 404 when there is none

A webhook must lead to a destination the server may reach (``evals/alerts/destinations.py``:
public addresses, plus ``REASONLENS_ALERT_WEBHOOK_ALLOW``); another is refused with a 422
that says why and how to allow it, and nothing is stored.

A webhook URL is shown as its origin only (``https://hooks.example.com``): its path is
often the secret that lets anyone post to the channel, and reasonlens has no login.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evals.alerts.delivery import payload
from evals.alerts.destinations import WebhookPolicy
from store.alert_rules import NewRule, RuleError, StoredRule, add_rule, delete_rule, rule_problem
from store.alert_rules import rule as stored_rule
from store.alert_rules import rules as stored_rules
from store.alerts import AlertRecord, acknowledge, alert, alerts
from store.projects import project_id, project_name_problem
from web.access import allow
from web.deps import DbSession
from web.origin import same_origin
from web.params import RowId
from web.request_body import json_body_doc, json_model

router = APIRouter()

MAX_RULE_BYTES = 8 * 1024
MAX_LIMIT = 1e9
Kind = Literal[
    "threshold_failed",
    "drift",
    "cost_per_trace",
    "error_rate",
    "escalation_rate",
    "budget",
    "runaway",
]  # fmt: skip  (store.models.alert.RULE_KINDS)
State = Literal["open", "acknowledged"]
Delivery = Literal["none", "pending", "sent", "failed"]


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    project: str = Field("default", max_length=200)
    name: str = Field(min_length=1, max_length=200)
    kind: Kind = Field(
        description="Run kinds (threshold_failed, drift, cost_per_trace, error_rate, "
        "escalation_rate) watch one suite's runs; budget and runaway the whole project."
    )
    suite_id: int | None = Field(None, ge=1, le=2**63 - 1, description="Run kinds' suite.")
    limit: float | None = Field(
        None,
        ge=0,
        le=MAX_LIMIT,
        allow_inf_nan=False,
        description="cost_per_trace: USD per trace; error_rate, escalation_rate: a share "
        "from 0 to 1; the other kinds take none.",
    )
    webhook_url: str | None = Field(
        None, max_length=2000, description="Where each alert is POSTed as JSON (http or https)."
    )
    enabled: bool = True

    @field_validator("project", "name")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain the NUL character")
        return value

    @field_validator("project")
    @classmethod
    def _project_name(cls, value: str) -> str:
        problem = project_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if any(ord(char) <= 32 or ord(char) == 127 for char in value):
            raise ValueError("must not contain spaces or control characters")
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a port out of range)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @model_validator(mode="after")
    def _kind_fits(self) -> RuleIn:
        problem = rule_problem(self.new_rule())
        if problem:
            raise ValueError(problem)
        return self

    def new_rule(self) -> NewRule:
        return NewRule(
            self.name, self.kind, self.suite_id, self.limit, self.webhook_url, self.enabled
        )


class RuleOut(BaseModel):
    id: int
    project: str
    name: str
    kind: Kind
    suite_id: int | None
    suite: str | None
    limit: float | None
    webhook: str | None = Field(description="The webhook's origin (its path is not shown).")
    enabled: bool
    created_at: datetime


class RuleList(BaseModel):
    rules: list[RuleOut]


class AlertRuleRef(BaseModel):
    id: int
    name: str
    kind: Kind
    limit: float | None


class AlertRunRef(BaseModel):
    id: int
    suite: str | None
    status: str | None


class DeliveryOut(BaseModel):
    state: Delivery = Field(description="none: no webhook; pending; sent; failed (gave up).")
    webhook: str | None = Field(description="The webhook's origin.")
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None


class AlertOut(BaseModel):
    id: int
    project: str
    kind: Kind
    title: str
    state: State
    created_at: datetime
    acknowledged_at: datetime | None
    rule: AlertRuleRef | None = Field(description="Null once the rule is deleted.")
    run: AlertRunRef | None
    trace_id: str | None
    figures: dict[str, Any]
    link: str = Field(description="The dashboard page the alert is about (a path).")
    delivery: DeliveryOut


class AlertList(BaseModel):
    alerts: list[AlertOut]


async def rule_body(request: Request) -> RuleIn:
    return await json_model(request, RuleIn, MAX_RULE_BYTES, "the rule")


@router.post(
    "/api/alert-rules",
    response_model=RuleOut,
    status_code=201,
    dependencies=[Depends(same_origin)],
    openapi_extra=json_body_doc(RuleIn),
)
def create_rule(
    request: Request, session: DbSession, body: Annotated[RuleIn, Depends(rule_body)]
) -> RuleOut:
    """A rule on a suite's runs or on the project's traffic, with an optional webhook."""
    allow(request, body.project, "write")
    problem = webhook_refusal(request, body.webhook_url)
    if problem:
        raise HTTPException(422, f"webhook_url: {problem}")
    with request.state.engine.begin() as connection:
        try:
            rule_id = add_rule(connection, body.project, body.new_rule(), datetime.now(UTC))
        except RuleError as error:
            raise HTTPException(422, str(error)) from None
    stored = stored_rule(session.connection(), rule_id)
    assert stored is not None
    return rule_out(stored, body.project)


@router.get("/api/alert-rules", response_model=RuleList)
def list_rules(
    session: DbSession, project: Annotated[str, Query(max_length=200)] = "default"
) -> RuleList:
    found = project_id(session.connection(), project)
    found_rules = stored_rules(session.connection(), found) if found is not None else []
    return RuleList(rules=[rule_out(stored, project) for stored in found_rules])


@router.delete("/api/alert-rules/{rule_id}", status_code=204, dependencies=[Depends(same_origin)])
def remove_rule(request: Request, rule_id: RowId) -> Response:
    with request.state.engine.begin() as connection:
        if not delete_rule(connection, rule_id):
            raise HTTPException(404, f"no alert rule {rule_id}")
    return Response(status_code=204)


@router.get("/api/alerts", response_model=AlertList)
def list_alerts(
    session: DbSession,
    project: Annotated[str, Query(max_length=200)] = "default",
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertList:
    """Newest first; ``state`` keeps the open or the acknowledged ones."""
    found = project_id(session.connection(), project)
    records = alerts(session.connection(), found, state, limit) if found is not None else []
    return AlertList(alerts=[alert_out(record) for record in records])


@router.post(
    "/api/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    dependencies=[Depends(same_origin)],
)
def acknowledge_alert(request: Request, session: DbSession, alert_id: RowId) -> AlertOut:
    """Seen: the alert leaves the open list (acknowledging twice keeps the first time)."""
    with request.state.engine.begin() as connection:
        if not acknowledge(connection, alert_id, datetime.now(UTC)):
            raise HTTPException(404, f"no alert {alert_id}")
    record = alert(session.connection(), alert_id)
    assert record is not None
    return alert_out(record)


def webhook_refusal(request: Request, url: str | None) -> str | None:
    """Why the server will not send to this webhook, or None. Its host is resolved here
    (a blocking look-up: the routes that call this run in the thread pool)."""
    if url is None:
        return None
    policy: WebhookPolicy = request.state.settings.webhook_policy
    return policy.refusal(url)


def webhook_origin(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def rule_out(stored: StoredRule, project: str) -> RuleOut:
    return RuleOut(
        id=stored.id,
        project=project,
        name=stored.name,
        kind=stored.kind,  # type: ignore[arg-type]
        suite_id=stored.suite_id,
        suite=stored.suite,
        limit=stored.limit,
        webhook=webhook_origin(stored.webhook_url),
        enabled=stored.enabled,
        created_at=stored.created_at,
    )


def alert_out(record: AlertRecord) -> AlertOut:
    """The webhook's payload (with the link as a path), plus its delivery."""
    found = record.alert
    delivery = DeliveryOut(
        state=found.delivery_state,  # type: ignore[arg-type]
        webhook=webhook_origin(found.webhook_url),
        attempts=found.attempts,
        next_attempt_at=found.next_attempt_at,
        delivered_at=found.delivered_at,
        last_error=found.last_error,
    )
    return AlertOut.model_validate(
        {**payload(record, ""), "acknowledged_at": found.acknowledged_at, "delivery": delivery}
    )
