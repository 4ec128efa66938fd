"""Telling each alert's webhook: a JSON POST, retried with exponential backoff.

The outbox is the alert row itself (``store/alert_outbox.py``): a sender claims a due
alert, posts it outside any transaction, then records the outcome. A 2xx answer is
delivered; anything else (another status, a refused connection, a timeout) waits
``retry_seconds * 2 ** (attempt - 1)`` (at most an hour) and is tried again, until
``max_attempts`` have failed: then the alert is ``failed`` with the last error. Since
the next attempt's time is stored, a restarted server resumes the retries where they
were, and any number of processes may run a sender.

Each attempt resolves the webhook's host, checks every address against the
:class:`~evals.alerts.destinations.WebhookPolicy` and connects to a checked address,
sending the name in the Host header and as the TLS server name (the certificate is
verified against the name). A destination the policy refuses is not retried: the
alert is ``failed`` at once with the reason. Redirects are not followed (a 3xx is a
failed attempt), so no hop escapes the check.

Delivery is at least once: a sender that dies between the POST and recording it sends
again after its lease. Each POST carries ``Idempotency-Key: reasonlens-alert-<id>`` so
a receiver can tell. The receiver's answer is never kept whole: at most
``MAX_BODY_BYTES`` of it are read, for the error message.
"""

from __future__ import annotations

import logging
import ssl
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from evals.alerts.destinations import (
    DestinationRefused,
    Resolver,
    WebhookPolicy,
    ascii_host,
    system_resolver,
)
from store import alert_outbox
from store.alerts import AlertRecord, alert

log = logging.getLogger(__name__)

MAX_DELAY_S = 3600.0
MAX_BODY_BYTES = 200  # of a refusing receiver's answer, kept in last_error
MIN_WAIT_S = 0.05
# The run's scores as CSV (``web/api_csv.py``): a scheduled suite's report, one click
# away in the chat message the webhook becomes. A test downloads it from the payload.
SCORES_CSV_PATH = "/api/eval-runs/{run_id}/scores.csv"


def retry_delay(attempt: int, retry_seconds: float) -> timedelta:
    """How long after failed attempt ``attempt`` (1 for the first) the next one comes."""
    return timedelta(seconds=min(retry_seconds * 2 ** (attempt - 1), MAX_DELAY_S))


def payload(record: AlertRecord, public_url: str) -> dict[str, Any]:
    """What the webhook receives: the alert, its rule and run (with its scores CSV), and
    a link to the page; links are absolute, from the public URL setting."""
    found = record.alert
    rule = None
    if found.rule_id is not None and record.rule_name is not None:
        rule = {
            "id": found.rule_id,
            "name": record.rule_name,
            "kind": record.rule_kind,
            "limit": record.rule_limit,
        }
    base = public_url.rstrip("/")
    run = None
    if found.run_id is not None:
        run = {
            "id": found.run_id,
            "suite": record.suite,
            "status": record.run_status,
            "scores_csv": base + SCORES_CSV_PATH.format(run_id=found.run_id),
        }
    return {
        "id": found.id,
        "project": record.project,
        "kind": found.kind,
        "title": found.title,
        "state": found.state,
        "created_at": found.created_at.isoformat().replace("+00:00", "Z"),
        "rule": rule,
        "run": run,
        "trace_id": found.trace_id,
        "figures": found.figures,
        "link": base + found.link,
    }


STOP_WAIT_S = 5.0


class AlertDelivery:
    """Sends due alerts to their webhooks from a daemon thread (``start``/``stop``), or
    once from the caller (:meth:`deliver_due`), as a server or a worker process does."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        public_url: str,
        max_attempts: int = 6,
        retry_seconds: float = 30.0,
        timeout_seconds: float = 10.0,
        poll_seconds: float = 2.0,
        policy: WebhookPolicy | None = None,
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._engine = engine
        self._public_url = public_url
        self._max_attempts = max_attempts
        self._retry_seconds = retry_seconds
        self._timeout = timeout_seconds
        self._poll = poll_seconds
        # Past the POST's own bounds (connect, write and a short read), so a live
        # sender keeps its claim; a dead one's alert is taken again after this.
        self._lease = timedelta(seconds=4 * timeout_seconds + 30)
        self._policy = policy or WebhookPolicy()
        self._resolver = resolver
        # A transport of our own: httpx then ignores HTTP(S)_PROXY, which would resolve
        # the name again, elsewhere. No kept-alive connections: one made for a name on a
        # shared address must not carry the next webhook's request for another name.
        transport = httpx.HTTPTransport(
            verify=verify, limits=httpx.Limits(max_keepalive_connections=0)
        )
        self._client = httpx.Client(
            transport=transport, timeout=timeout_seconds, follow_redirects=False
        )
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            # A webhook that hangs is not waited for: its attempt was claimed under a
            # lease, so it is sent again after a restart (delivery is at least once).
            self._thread.join(timeout=STOP_WAIT_S)
            if self._thread.is_alive():
                return  # the daemon thread still holds the client; it ends with the process
            self._thread = None
        self._client.close()

    def deliver_due(self) -> int:
        """Send every alert due now, one after another; how many were attempted."""
        attempted = 0
        while not self._stopping.is_set():
            with self._engine.begin() as connection:
                claimed = alert_outbox.claim_due(connection, _now(), self._lease)
                record = alert(connection, claimed.alert_id) if claimed else None
            if claimed is None or record is None:
                return attempted
            attempted += 1
            error, final = self._post(claimed, payload(record, self._public_url))
            with self._engine.begin() as connection:
                if error is None:
                    alert_outbox.record_sent(connection, claimed, _now())
                    continue
                retry_at = None
                if claimed.attempt < self._max_attempts and not final:
                    retry_at = _now() + retry_delay(claimed.attempt, self._retry_seconds)
                alert_outbox.record_failure(connection, claimed, error, retry_at)
            log.warning(
                "alert %s: webhook attempt %s failed: %s%s", claimed.alert_id, claimed.attempt,
                error, "" if retry_at else " (giving up)",
            )  # fmt: skip
        return attempted

    def _post(self, claimed: alert_outbox.Claimed, body: dict[str, Any]) -> tuple[str | None, bool]:
        """(None, _) when the webhook took it; else (why not, short; whether trying
        again is pointless: the destination is refused)."""
        try:
            url, addresses = self._policy.destinations(claimed.webhook_url, self._resolver)
        except DestinationRefused as refused:
            return f"refused: {refused}", True
        except Exception as error:  # the name does not resolve (now)
            return f"{type(error).__name__}: {error}"[:MAX_BODY_BYTES], False
        headers = {
            "host": url.netloc.decode("ascii"),  # the name, not the address connected to
            "content-type": "application/json",
            "user-agent": "reasonlens-alerts",
            "idempotency-key": f"reasonlens-alert-{claimed.alert_id}",
        }
        # The certificate is checked against the name; an address literal is its own.
        extensions = {"sni_hostname": ascii_host(url)} if url.scheme == "https" else {}
        content = orjson.dumps(body)
        error: str | None = None
        for address in addresses:  # each one checked; the next when one refuses to connect
            try:
                with self._client.stream(
                    "POST", url.copy_with(host=str(address)), content=content,
                    headers=headers, extensions=extensions,
                ) as response:  # fmt: skip
                    if response.is_success:
                        return None, False
                    status = f"HTTP {response.status_code}: {_start_of(response)}"
                    return status.rstrip(": "), False
            except httpx.ConnectError as failed:
                error = f"ConnectError: {failed} ({address})"[:MAX_BODY_BYTES]
            except Exception as failed:  # httpx's: a timeout, a broken answer
                return f"{type(failed).__name__}: {failed}"[:MAX_BODY_BYTES], False
        return error, False

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.deliver_due()
                with self._engine.connect() as connection:
                    due = alert_outbox.next_due(connection)
            except Exception:
                log.exception("delivering alerts failed")
                due = None
            wait = self._poll
            if due is not None:
                wait = min(wait, max((due - _now()).total_seconds(), MIN_WAIT_S))
            self._stopping.wait(wait)


def _start_of(response: httpx.Response) -> str:
    """The first bytes of the answer, as text: enough to say why, never the whole."""
    taken = b""
    for chunk in response.iter_bytes():
        taken += chunk
        if len(taken) >= MAX_BODY_BYTES:
            break
    return taken[:MAX_BODY_BYTES].decode("utf-8", "replace").strip()


def _now() -> datetime:
    return datetime.now(UTC)
