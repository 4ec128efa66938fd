"""Headless Chromium (Debian's package) driven by Playwright, for real-browser page tests.

Playwright's own browser download is not used (no network here): the system
``chromium`` is launched with the flags this machine needs. Every page a test opens
records its console errors, failed requests and uncaught exceptions; ``assert_clean``
fails the test on any of them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",  # tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Watched:
    """A page and everything that went wrong on it."""

    page: Page
    # (what went wrong, the URL it concerns)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def assert_clean(self, error_page: bool = False) -> None:
        """No console error, script error or failed request. ``error_page``: the page is
        expected to be served with an error status, which Chromium reports on the console
        as a failed load of the document itself."""
        problems = [
            text
            for text, url in self.problems
            if not (error_page and url == self.page.url and "Failed to load resource" in text)
        ]
        assert problems == [], "\n".join(problems)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    launched = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    yield launched
    launched.close()


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    result = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            url = str(message.location.get("url", ""))
            result.problems.append((f"console error: {message.text} ({url})", url))

    page.on("console", on_console)
    page.on("pageerror", lambda error: result.problems.append((f"page error: {error}", "")))
    page.on(
        "requestfailed",
        lambda request: result.problems.append((f"request failed: {request.url}", request.url)),
    )
    yield result
    context.close()
