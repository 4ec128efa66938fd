"""A brake on guessing passwords at ``POST /login``.

Failed sign-ins are counted per email and per client address over a moving window
(the ``limits`` library, in this process's memory): past either limit, a sign-in is
refused with 429 and Retry-After before any password is checked, the right one too, so
a guesser learns nothing more. A success clears its email's count. Each password check
costs argon2id ~64 MiB and tens of milliseconds (``store/users.py``), so at most
``CHECKS_AT_ONCE`` run at a time; the rest wait their turn without holding a thread.

The counts belong to one process: behind a load balancer, each collector counts its
own (docs/scaling.md), and a restart forgets them.
"""

from __future__ import annotations

import asyncio
import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

PER_EMAIL = parse("10/15 minutes")
PER_ADDRESS = parse("100/15 minutes")
CHECKS_AT_ONCE = 2


class SignInGuard:
    """The failures seen by one server process, and its password checks' turnstile."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._checks: asyncio.Semaphore | None = None

    @property
    def checks(self) -> asyncio.Semaphore:
        """Made on first use, in the server's event loop."""
        if self._checks is None:
            self._checks = asyncio.Semaphore(CHECKS_AT_ONCE)
        return self._checks

    def wait_seconds(self, address: str, email: str) -> int | None:
        """Seconds until ``email`` may be tried from ``address`` again; None: now."""
        waits = [
            math.ceil(self._limiter.get_window_stats(limit, *key).reset_time - time.time())
            for limit, key in _counted(address, email)
            if not self._limiter.test(limit, *key)
        ]
        return max(1, *waits) if waits else None

    def failed(self, address: str, email: str) -> None:
        for limit, key in _counted(address, email):
            self._limiter.hit(limit, *key)

    def succeeded(self, email: str) -> None:
        self._limiter.clear(PER_EMAIL, "email", _email_key(email))


def _email_key(email: str) -> str:
    return email.strip().lower()  # as the store finds the user (store/users.py)


def _counted(address: str, email: str) -> list[tuple[RateLimitItem, tuple[str, str]]]:
    return [(PER_EMAIL, ("email", _email_key(email))), (PER_ADDRESS, ("address", address))]
