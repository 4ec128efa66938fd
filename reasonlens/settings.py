"""All configuration, in one typed object built at the edge (CLI or tests) and passed down."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from collector.decoded import MAX_VALUE_DEPTH
from collector.redact import PRESETS, parse_patterns
from evals.alerts.destinations import WebhookPolicy


def _default_workers() -> int:
    return min(2, os.cpu_count() or 1)


class Settings(BaseSettings):
    """Every field can be set as an environment variable ``REASONLENS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="REASONLENS_", extra="forbid", frozen=True)

    database_url: str = Field(
        "sqlite:///reasonlens.db",
        description="SQLAlchemy URL of the trace store: sqlite:///path.db (default: "
        "reasonlens.db in the working directory) or "
        "postgresql+psycopg://user:password@host:5432/dbname.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(
        4318, ge=0, le=65535, description="HTTP port for OTLP, the API and the dashboard."
    )
    grpc_port: int = Field(
        4317,
        ge=0,
        le=65535,
        description="OTLP/gRPC port (TraceService and LogsService), bound on the same "
        "address as HTTP; 0 turns the gRPC receiver off.",
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="Largest OTLP request body accepted, in bytes, after decompression; "
        "larger requests get 413.",
    )
    max_spans_per_request: int = Field(
        50_000,
        gt=0,
        description="Most spans one OTLP request may carry (log records, on /v1/logs); a "
        "larger request gets 413 and nothing of it is stored.",
    )
    max_attributes_per_span: int = Field(
        1024,
        gt=0,
        description="Most attributes kept per span (and per event, link, log record, scope "
        "and resource): the first ones are kept, the others counted in its "
        "dropped_attributes_count and reported in the response's partial_success.",
    )
    max_attribute_value_bytes: int = Field(
        1024 * 1024,
        ge=64,
        description="Longest string stored, in UTF-8 bytes (attribute values at any depth, "
        "log bodies, span and event names, status messages): a longer one is cut there "
        'and ends with "…[truncated N bytes]"; the rest of the span is kept.',
    )
    max_value_depth: int = Field(
        MAX_VALUE_DEPTH,
        ge=1,
        le=MAX_VALUE_DEPTH,
        description="How deep arrays and maps may nest in an attribute value or log body; "
        "a deeper one gets 400 and nothing of the request is stored. At most "
        f"{MAX_VALUE_DEPTH}, the most protobuf's parser lets through, so that both "
        "encodings answer alike.",
    )
    redact_patterns: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="What to mask in every text stored, before it is written (off when "
        f"empty): presets ({', '.join(PRESETS)}) and name=regex patterns of your own, as a "
        'JSON list (["email", "employee=EMP-[0-9]{6}"]) or presets separated by commas. '
        "Each match becomes [REDACTED:name].",
    )
    ingest_workers: int = Field(
        default_factory=_default_workers,
        ge=0,
        description="Processes that decode and normalize OTLP requests (default: up to 2, "
        "one per core); 0 decodes in a thread of the server process.",
    )
    write_queue_spans: int = Field(
        100_000,
        gt=0,
        description="Spans that may wait for the writer; beyond this, exports get 503 "
        "with Retry-After.",
    )
    write_batch_spans: int = Field(
        20_000, gt=0, description="Most spans committed in one group-commit transaction."
    )
    retry_after_seconds: int = Field(
        2, ge=1, description="Retry-After value sent with 503 when the write queue is full."
    )
    insecure: bool = Field(
        False,
        description="Serve on an address other than loopback with no users, so without "
        "sign-in: anyone who reaches it may read and change everything. Without it, "
        "`serve` refuses to start that way.",
    )
    credentials_ttl_seconds: float = Field(
        10.0,
        gt=0,
        description="How long a verified API key or session is trusted before the store "
        "is asked again: a revoked key or a disabled user is refused within this.",
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL",
        description="SQLite synchronous mode: FULL survives power loss, NORMAL (WAL) "
        "survives a process crash but may lose the last commits on power loss.",
    )
    migrate_on_start: bool = Field(
        True, description="Apply pending database migrations when the server starts."
    )
    db_pool_size: int = Field(
        10,
        ge=1,
        le=1000,
        description="PostgreSQL connections each server or worker process keeps open, "
        "and as many more it may open under load.",
    )
    runaway_factor: float = Field(
        3.0,
        gt=1,
        allow_inf_nan=False,
        description="A trace is flagged as a runaway while it arrives when its steps or "
        "tokens pass this many times its agent's 95th percentile of the last week.",
    )
    runaway_min_traces: int = Field(
        20, ge=1, description="Recent traces an agent needs before its traces are judged."
    )
    runaway_refresh_seconds: float = Field(
        300.0, gt=0, description="How often agents' runaway baselines are recomputed."
    )
    scheduler_interval_seconds: float = Field(
        15.0, gt=0, description="How often the scheduler looks for suites whose run is due."
    )
    eval_workers: int = Field(
        1,
        ge=0,
        description="Threads of `reasonlens serve` that run due eval jobs (0: leave them to "
        "`reasonlens worker` processes).",
    )
    job_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a worker holds a job without renewing it; a job whose worker "
        "died is run again this long after its last renewal.",
    )
    job_max_attempts: int = Field(
        3, ge=1, description="Attempts at a job whose workers keep dying, before it fails."
    )
    worker_poll_seconds: float = Field(
        2.0, gt=0, description="How often an idle worker looks for a due job."
    )
    retention_days: float | None = Field(
        None,
        gt=0,
        description="Delete traces (with their spans, costs, log records and scores) whose "
        "latest span ended more than this many days ago, in batches while ingest goes on; "
        "every server and worker process applies it, one at a time. Unset: keep everything.",
    )
    retention_interval_seconds: float = Field(
        3600.0, gt=0, description="How often the retention (retention_days) runs."
    )
    partition_check_seconds: float = Field(
        3600.0,
        gt=0,
        description="How often a server or worker makes the partitions of spans due soon, on "
        "a PostgreSQL store partitioned by `reasonlens db partition-spans` (one at a time).",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        max_length=2000,
        description="The dashboard's address as alert webhooks should link to it, e.g. "
        "https://reasonlens.example.com (default: http://HOST:PORT).",
    )
    alert_check_seconds: float = Field(
        60.0,
        gt=0,
        allow_inf_nan=False,
        description="How often the project alert rules (budgets, runaways) are checked.",
    )
    alert_poll_seconds: float = Field(
        2.0,
        gt=0,
        allow_inf_nan=False,
        description="How often the webhook sender looks for new alerts to send.",
    )
    alert_retry_seconds: float = Field(
        30.0,
        gt=0,
        allow_inf_nan=False,
        description="Wait before a failed webhook delivery's first retry; doubled at each "
        "further retry, at most an hour.",
    )
    alert_max_attempts: int = Field(
        6, ge=1, le=100, description="Webhook attempts per alert before it is marked failed."
    )
    alert_webhook_timeout_seconds: float = Field(
        10.0,
        gt=0,
        allow_inf_nan=False,
        le=300,
        description="Timeout of each webhook request (connect, send, answer).",
    )
    alert_webhook_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Internal destinations alert webhooks may reach, besides public internet "
        "addresses: addresses, networks and host names separated by commas, e.g. "
        "127.0.0.1,10.0.0.0/8,hooks.internal (a host name is trusted to resolve anywhere). "
        "Empty (the default): loopback, private, link-local (169.254.169.254), shared "
        "(100.64.0.0/10), multicast, reserved and unspecified addresses are refused, when a "
        "rule is added and again on the addresses resolved before each POST.",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info", description="Server log level."
    )

    @field_validator("redact_patterns", mode="before")
    @classmethod
    def _patterns_from_text(cls, value: Any) -> Any:
        """A JSON list, or (for presets, whose names hold no comma) a comma-separated one."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("redact_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        parse_patterns(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("alert_webhook_allow", mode="before")
    @classmethod
    def _allow_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("alert_webhook_allow")
    @classmethod
    def _allow_parses(cls, value: list[str]) -> list[str]:
        WebhookPolicy.from_entries(value)  # raises ValueError naming the bad entry
        return value

    @property
    def webhook_policy(self) -> WebhookPolicy:
        """Where alert webhooks may go: public addresses plus ``alert_webhook_allow``."""
        return WebhookPolicy.from_entries(self.alert_webhook_allow)

    @property
    def dashboard_url(self) -> str:
        """Where alert links point: ``public_url``, else this server's own address."""
        return self.public_url or f"http://{self.host}:{self.port}"
