"""Signing in, the session cookie, form tokens and API keys, in Chromium.

A server of its own, with a user from the start (sign-in on): the browser is sent to
the login page, signs in, makes an API key on the settings page (shown once), sees a
form posted without its token refused, and signs out, after which its old cookie
opens nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser

from store import audit, users
from store.models import ApiKey
from tests.access_site import short_ttl_server
from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server

EMAIL, PASSWORD = "ada@example.com", "sign in with this one"
PROJECT = "browser-access"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with short_ttl_server(tmp_path_factory) as running:
        with running.engine.begin() as connection:
            users.create_user(connection, EMAIL, PASSWORD, actor="test")
            users.grant(connection, EMAIL, PROJECT, "admin", actor="test")
        yield running


def test_sign_in_make_a_key_and_sign_out(server: Server, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{server.url}/settings/keys?project={PROJECT}")
        assert page.url.startswith(f"{server.url}/login?next=")
        page.fill("input[name=email]", EMAIL)
        page.fill("input[name=password]", "not the password")
        page.click("button[type=submit]")
        assert page.locator(".error").inner_text() == "Wrong email or password."
        assert not context.cookies()

        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/settings/keys?project={PROJECT}")
        (cookie,) = context.cookies()
        assert cookie["name"] == "reasonlens_session"
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
        assert page.locator(".sign-out .who").inner_text() == EMAIL
        assert page.locator(".local-mode").count() == 0

        page.fill("input[name=name]", "exporter")
        page.click(".key-form button[type=submit]")
        secret = page.locator(".new-key-secret").inner_text()
        assert secret.startswith("rl_") and len(secret) == 46
        page.goto(f"{server.url}/settings/keys?project={PROJECT}")  # a key is shown once
        assert page.locator(".new-key-secret").count() == 0
        assert page.locator("table.api-keys").inner_text().count("exporter") == 1

        # The key works for ingest, in the project it was made for.
        ids = Ids("browser-key")
        body = request([SpanSpec(ids.trace(), ids.span(), "work", 1, 2)])
        assert post(server.url, body, headers={"x-api-key": secret}).status_code == 200

        # A form without its token (a page on another site cannot know it) is refused,
        # even with the session cookie.
        revoke = page.locator("form.revoke-key")
        revoke.locator("input[name=csrf]").evaluate("input => input.remove()")
        with page.expect_response(lambda r: "/revoke" in r.url) as answer:
            revoke.locator("button").click()
        assert answer.value.status == 403
        page.goto(f"{server.url}/settings/keys?project={PROJECT}")
        page.locator("form.revoke-key button").click()
        page.wait_for_url(f"{server.url}/settings/keys?project={PROJECT}")
        with server.engine.connect() as connection:
            revoked = connection.scalar(
                sa.select(ApiKey.revoked_at).where(ApiKey.name == "exporter")
            )
            actions = [(e.action, e.actor) for e in audit.entries(connection, limit=5)]
        assert revoked is not None
        assert ("key.revoke", f"user:{EMAIL}") in actions and (
            "key.create",
            f"user:{EMAIL}",
        ) in actions

        page.locator(".sign-out button").click()
        page.wait_for_url(f"{server.url}/login")
        stale = httpx.get(
            f"{server.url}/api/traces", cookies={"reasonlens_session": cookie["value"]}
        )
        assert stale.status_code == 401
    finally:
        context.close()


def test_the_session_cookie_is_secure_behind_tls(server: Server) -> None:
    """A proxy on 127.0.0.1 that terminates TLS says so; uvicorn trusts it."""
    answer = httpx.post(
        f"{server.url}/login",
        data={"email": EMAIL, "password": PASSWORD},
        headers={"x-forwarded-proto": "https"},
    )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_next_only_leads_to_this_server(server: Server) -> None:
    for target, expected in (
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/traces", "/traces"),
    ):
        answer = httpx.post(
            f"{server.url}/login", data={"email": EMAIL, "password": PASSWORD, "next": target}
        )
        assert answer.headers["location"] == expected
