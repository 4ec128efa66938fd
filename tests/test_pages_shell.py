"""The dashboard shell: error pages, security headers, static assets, in a real browser."""

from __future__ import annotations

import httpx

from tests.browser import Watched
from tests.server import Server


def test_an_unknown_page_is_a_404_page_not_json(server: Server) -> None:
    response = httpx.get(f"{server.url}/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "404" in response.text and "Traceback" not in response.text


def test_the_api_keeps_json_errors(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/traces/{'0' * 31}z")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_every_response_carries_the_security_headers(server: Server) -> None:
    for path in ("/no/such/page", "/api/traces", "/static/style.css"):
        headers = httpx.get(f"{server.url}{path}").headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"


def test_the_error_page_loads_cleanly_in_chromium(server: Server, watched: Watched) -> None:
    response = watched.page.goto(f"{server.url}/no/such/page")
    assert response is not None and response.status == 404
    assert watched.page.locator("h1").inner_text().startswith("404")
    # The stylesheet and htmx loaded: a 404 page is still a whole page.
    assert watched.page.evaluate("typeof window.htmx") == "object"
    watched.assert_clean(error_page=True)
