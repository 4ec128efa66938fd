"""Guessing passwords at POST /login: after ten wrong ones for an email, the server
refuses that email (the right password too) with 429 and Retry-After, without checking
the password; other users sign in as before, and a success clears its email's count."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from store import users
from tests.access_site import short_ttl_server
from tests.server import Server
from web.sign_in_guard import PER_EMAIL

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with short_ttl_server(tmp_path_factory) as running:
        with running.engine.begin() as connection:
            for email in ("target@example.com", "other@example.com", "careless@example.com"):
                users.create_user(connection, email, PASSWORD, actor="test")
        yield running


def _sign_in(server: Server, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.url}/login", data={"email": email, "password": password})


def test_an_email_is_refused_after_too_many_wrong_passwords(server: Server) -> None:
    for guess in range(PER_EMAIL.amount):
        assert _sign_in(server, "target@example.com", f"guess {guess}").status_code == 401
    for email in ("target@example.com", " TARGET@example.com "):  # as the store finds it
        refused = _sign_in(server, email, PASSWORD)
        assert refused.status_code == 429, refused.text
        assert 0 < int(refused.headers["retry-after"]) <= PER_EMAIL.get_expiry()
        assert "Too many failed sign-ins" in refused.text
        assert "reasonlens_session" not in refused.cookies
    # Another user, from the same address, is not locked out with it.
    assert _sign_in(server, "other@example.com", PASSWORD).status_code == 303


def test_a_success_clears_the_count(server: Server) -> None:
    for round_ in range(2):
        for guess in range(PER_EMAIL.amount - 1):
            wrong = _sign_in(server, "careless@example.com", f"{round_} {guess}")
            assert wrong.status_code == 401
        assert _sign_in(server, "careless@example.com", PASSWORD).status_code == 303
