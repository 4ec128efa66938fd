"""Where webhooks may go: internal destinations (loopback, private, link-local, the
cloud metadata address, a name resolving to them) refused by the API and the page with
nothing stored; accepted and delivered for real once allowed; and at delivery, the
host resolved again, every address checked and the POST sent to the checked one, so a
name rebound to loopback after the rule was added is never posted to.

Delivery tests run the real sender in process against the loopback receiver, with the
one thing a test cannot arrange for real, DNS, answered by :class:`Dns`: made-up names
(``*.test``, which no resolver knows) that resolve to what each test says.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from evals.alerts.delivery import AlertDelivery
from evals.alerts.destinations import Address, WebhookPolicy, not_public
from reasonlens.settings import Settings
from store.alert_rules import NewRule
from store.alert_rules import add_rule as store_rule
from store.alerts import NewAlert, raise_alert
from store.models import Alert
from store.projects import project_id
from tests.alerting import (
    Receiver,
    add_rule,
    failing_suite,
    handler_for,
    project_alerts,
    run_suite,
    wait_until,
)
from tests.server import Server

PUBLIC = ipaddress.ip_address("93.184.216.34")
LOOPBACK = ipaddress.ip_address("127.0.0.1")


class Dns:
    """Answers for made-up names, changed by the test as a DNS server's owner would;
    counts the look-ups."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Address]] = {}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[Address]:
        self.lookups.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.answers[host])


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"),
        ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
        ("fc00::1", "private"), ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
        ("100.64.0.1", "not a public"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
        ("224.0.0.251", "multicast"), ("ff02::1", "multicast"), ("240.0.0.1", "private"),
        ("255.255.255.255", "private"), ("192.0.2.1", "private"), ("2001:db8::1", "private"),
        ("::ffff:127.0.0.1", "loopback address (127.0.0.1) in IPv6 form"),
        ("::ffff:169.254.169.254", "link-local address (169.254.169.254) in IPv6 form"),
        ("::7f00:1", "loopback address (127.0.0.1) in IPv6 form"),
        ("2002:a00:1::1", "private address (10.0.0.1) in IPv6 form"),
        ("64:ff9b::a9fe:a9fe", "link-local address (169.254.169.254) in IPv6 form"),
    ],
)  # fmt: skip
def test_internal_addresses_are_not_public(address: str, kind: str) -> None:
    found = not_public(ipaddress.ip_address(address))
    assert found is not None and kind in found
    assert not WebhookPolicy().allows(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are(address: str) -> None:
    assert not_public(ipaddress.ip_address(address)) is None


def test_the_setting_allows_exactly_what_it_lists() -> None:
    settings = Settings(alert_webhook_allow="127.0.0.1/32, 10.0.0.0/8,Hooks.Internal.")  # type: ignore[arg-type]
    policy = settings.webhook_policy
    assert policy.allows(LOOPBACK) and policy.allows(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert policy.allows(ipaddress.ip_address("10.200.0.1"))
    assert not policy.allows(ipaddress.ip_address("127.0.0.2"))
    assert not policy.allows(ipaddress.ip_address("169.254.169.254"))
    assert policy.hosts == {"hooks.internal"}
    assert Settings().webhook_policy == WebhookPolicy()
    for bad in ("10.0.0.0/33", "hooks/path", "*.internal", "bücher.example"):
        with pytest.raises(ValueError, match="neither an address"):
            Settings(alert_webhook_allow=bad)  # type: ignore[arg-type]


def test_only_plain_http_urls_are_sent() -> None:
    policy = WebhookPolicy.from_entries(["127.0.0.1"])
    assert "http:// or https://" in str(policy.refusal("ftp://127.0.0.1/hook"))
    assert "credentials" in str(policy.refusal("https://hooks.example.com@127.0.0.1/"))
    assert "not a URL" in str(policy.refusal("http://xn--a.com/hook"))
    assert policy.refusal("http://no-such-name.invalid/hook") is None  # checked when sent


# --- refused by a server with the default policy: the API and the page ---

INTERNAL = [
    ("http://127.0.0.1:{port}/hook", "127.0.0.1, a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a link-local address"),
    ("http://[::1]:{port}/hook", "::1, a loopback address"),
    ("http://10.0.0.7:8080/hook", "10.0.0.7, a private address"),
    ("http://localhost:{port}/hook", "localhost resolves to"),
    ("http://[::ffff:169.254.169.254]/", "in IPv6 form"),
    ("http://2130706433:{port}/hook", "2130706433 resolves to 127.0.0.1"),
]


def rules_of(server: Server, project: str) -> list[str]:
    response = httpx.get(f"{server.url}/api/alert-rules", params={"project": project})
    return [rule["name"] for rule in response.json()["rules"]]


@pytest.mark.parametrize(("url", "says"), INTERNAL)
def test_the_api_refuses_internal_webhooks(
    server: Server, project: str, url: str, says: str
) -> None:
    rule = {"project": project, "name": "internal", "kind": "runaway",
            "webhook_url": url.format(port=server.port)}  # fmt: skip
    response = httpx.post(f"{server.url}/api/alert-rules", json=rule)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("webhook_url: ") and says in detail
    assert "REASONLENS_ALERT_WEBHOOK_ALLOW" in detail
    assert rules_of(server, project) == []


def test_the_api_refuses_credentials_in_the_url(server: Server, project: str) -> None:
    rule = {"project": project, "name": "creds", "kind": "runaway",
            "webhook_url": "https://user:secret@hooks.example.com/hook"}  # fmt: skip
    response = httpx.post(f"{server.url}/api/alert-rules", json=rule)
    assert response.status_code == 422 and "credentials" in response.json()["detail"]
    assert rules_of(server, project) == []


@pytest.mark.parametrize(("url", "says"), INTERNAL[:5])
def test_the_page_refuses_internal_webhooks(
    server: Server, project: str, url: str, says: str
) -> None:
    form = {"project": project, "name": "internal", "kind": "runaway",
            "webhook_url": url.format(port=server.port)}  # fmt: skip
    response = httpx.post(f"{server.url}/alerts/rules", data=form)
    assert response.status_code == 422
    assert "Webhook URL: " in response.text and says in response.text
    assert "REASONLENS_ALERT_WEBHOOK_ALLOW" in response.text
    assert rules_of(server, project) == []


# --- accepted and delivered once allowed (alert_server allows 127.0.0.1 and ::1) ---


def test_allowed_loopback_webhooks_are_accepted_and_delivered(
    alert_server: Server, receiver: Receiver, project: str
) -> None:
    suite_id = failing_suite(alert_server, project)
    assert receiver.server is not None
    port = receiver.server.server_address[1]
    by_name = f"http://localhost:{port}/hook/{project}"
    add_rule(alert_server, project=project, name="by name", kind="threshold_failed",
             suite_id=suite_id, webhook_url=by_name)  # fmt: skip
    # The allow-list is exact: other loopback and internal addresses stay refused.
    for url in ("http://127.0.0.2/hook", "http://169.254.169.254/", "http://10.0.0.7/"):
        rule = {"project": project, "name": "no", "kind": "runaway", "webhook_url": url}
        response = httpx.post(f"{alert_server.url}/api/alert-rules", json=rule)
        assert response.status_code == 422, url
    assert rules_of(alert_server, project) == ["by name"]

    run_suite(alert_server, suite_id)
    (post,) = receiver.wait_for(project, 1)
    assert post.headers["host"] == f"localhost:{port}"
    assert post.body["rule"]["name"] == "by name"
    delivered = wait_until(
        lambda: [
            a for a in project_alerts(alert_server, project) if a["delivery"]["state"] == "sent"
        ]
    )
    assert delivered[0]["delivery"]["attempts"] == 1


# --- at delivery: resolved again, checked, pinned ---


@pytest.fixture
def dns() -> Dns:
    return Dns()


def pending_alert(engine: sa.Engine, webhook_url: str) -> int:
    """An open alert of a project rule, due to be sent to the webhook now (stored as
    the checker stores one; the rule as a rule stored before any look-up)."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        rule_id = store_rule(connection, "hooks", NewRule("r", "runaway"), now)
        found = project_id(connection, "hooks")
        assert found is not None
        new = NewAlert(found, rule_id, "runaway", "a runaway", {}, "/traces/x",
                       f"test:{webhook_url}", webhook_url=webhook_url)  # fmt: skip
        alert_id = raise_alert(connection, new, now)
    assert alert_id is not None
    return alert_id


def delivery_of(engine: sa.Engine, alert_id: int) -> tuple[str, int, str | None, object]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(
                Alert.delivery_state, Alert.attempts, Alert.last_error, Alert.next_attempt_at
            ).where(Alert.id == alert_id)
        ).one()
    return row.delivery_state, row.attempts, row.last_error, row.next_attempt_at


def sender(engine: sa.Engine, policy: WebhookPolicy, dns: Dns, **options: object) -> AlertDelivery:
    return AlertDelivery(engine, public_url="http://dashboard.test", policy=policy,
                         resolver=dns, timeout_seconds=5, **options)  # type: ignore[arg-type]  # fmt: skip


def receiver_port(receiver: Receiver) -> int:
    assert receiver.server is not None
    return int(receiver.server.server_address[1])


def test_a_name_rebound_to_loopback_is_not_posted_to(
    engine: sa.Engine, receiver: Receiver, dns: Dns, request: pytest.FixtureRequest
) -> None:
    name = f"rebind-{request.node.name}"
    url = f"http://hooks.rebind.test:{receiver_port(receiver)}/hook/{name}"
    policy = WebhookPolicy()
    dns.answers["hooks.rebind.test"] = [PUBLIC]
    assert policy.refusal(url, dns) is None  # public when the rule is added
    alert_id = pending_alert(engine, url)
    dns.answers["hooks.rebind.test"] = [LOOPBACK]  # and loopback when the alert is sent

    sending = sender(engine, policy, dns)
    try:
        assert sending.deliver_due() == 1
        assert sending.deliver_due() == 0  # refused for good: not retried
    finally:
        sending.stop()
    state, attempts, error, next_at = delivery_of(engine, alert_id)
    assert (state, attempts, next_at) == ("failed", 1, None)
    assert error is not None and error.startswith(
        "refused: hooks.rebind.test resolves to 127.0.0.1, a loopback address"
    )
    assert receiver.of(name) == []


def test_one_internal_address_among_public_ones_is_refused(
    engine: sa.Engine, receiver: Receiver, dns: Dns, request: pytest.FixtureRequest
) -> None:
    name = f"mixed-{request.node.name}"
    dns.answers["hooks.mixed.test"] = [PUBLIC, ipaddress.ip_address("::ffff:127.0.0.1")]
    url = f"http://hooks.mixed.test:{receiver_port(receiver)}/hook/{name}"
    alert_id = pending_alert(engine, url)
    sending = sender(engine, WebhookPolicy(), dns)
    try:
        sending.deliver_due()
    finally:
        sending.stop()
    state, _, error, _ = delivery_of(engine, alert_id)
    assert state == "failed" and error is not None and "in IPv6 form" in error
    assert receiver.of(name) == []


@pytest.mark.parametrize("allow", ["127.0.0.1/32", "hooks.pinned.test"])
def test_the_post_goes_to_the_address_checked(
    engine: sa.Engine, receiver: Receiver, dns: Dns, request: pytest.FixtureRequest, allow: str
) -> None:
    """The name is made up: only the checked address, connected to directly, reaches
    the receiver; a client resolving the name again would find nothing."""
    name = f"pinned-{request.node.name}"
    port = receiver_port(receiver)
    receiver.script(name, 200)
    dns.answers["hooks.pinned.test"] = [LOOPBACK]
    alert_id = pending_alert(engine, f"http://hooks.pinned.test:{port}/hook/{name}")
    sending = sender(engine, WebhookPolicy.from_entries([allow]), dns)
    try:
        assert sending.deliver_due() == 1
    finally:
        sending.stop()
    assert delivery_of(engine, alert_id)[:3] == ("sent", 1, None)
    (post,) = receiver.of(name)
    assert post.headers["host"] == f"hooks.pinned.test:{port}"
    assert post.body["id"] == alert_id
    assert dns.lookups == ["hooks.pinned.test"]


def test_an_address_that_refuses_connections_gives_way_to_the_next(
    engine: sa.Engine, receiver: Receiver, dns: Dns, request: pytest.FixtureRequest
) -> None:
    name = f"next-{request.node.name}"
    receiver.script(name, 200)
    dns.answers["hooks.two.test"] = [ipaddress.ip_address("127.0.0.2"), LOOPBACK]
    url = f"http://hooks.two.test:{receiver_port(receiver)}/hook/{name}"
    alert_id = pending_alert(engine, url)
    sending = sender(engine, WebhookPolicy.from_entries(["127.0.0.0/8"]), dns)
    try:
        sending.deliver_due()
    finally:
        sending.stop()
    assert delivery_of(engine, alert_id)[0] == "sent"
    assert len(receiver.of(name)) == 1


# --- https: connected to the address, the certificate checked against the name ---


@pytest.fixture(scope="module")
def tls_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Receiver, Path]]:
    """A loopback receiver over TLS whose certificate names hooks.tls.test only; the
    certificate file (its own CA) to trust."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=hooks.tls.test", "-addext", "subjectAltName=DNS:hooks.tls.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    found = Receiver()
    found.server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(found))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    found.server.socket = context.wrap_socket(found.server.socket, server_side=True)
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found, cert
    found.server.shutdown()
    found.server.server_close()


@pytest.mark.parametrize(("host", "sent"), [("hooks.tls.test", True), ("other.tls.test", False)])
def test_https_is_verified_against_the_name(
    engine: sa.Engine, tls_receiver: tuple[Receiver, Path], dns: Dns, host: str, sent: bool
) -> None:
    receiver, cert = tls_receiver
    dns.answers[host] = [LOOPBACK]
    alert_id = pending_alert(engine, f"https://{host}:{receiver_port(receiver)}/hook/{host}")
    trusted = ssl.create_default_context(cafile=str(cert))
    sending = sender(engine, WebhookPolicy.from_entries(["127.0.0.1"]), dns, verify=trusted)
    try:
        sending.deliver_due()
    finally:
        sending.stop()
    state, _, error, _ = delivery_of(engine, alert_id)
    if sent:
        assert state == "sent", error
        assert [post.headers["host"] for post in receiver.of(host)] == [
            f"{host}:{receiver_port(receiver)}"
        ]
    else:  # the certificate does not name it: not sent, though the address is allowed
        assert state == "pending" and error is not None and "CERTIFICATE_VERIFY_FAILED" in error
        assert receiver.of(host) == []
