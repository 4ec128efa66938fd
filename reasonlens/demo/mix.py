"""Who uses which agent, when, and for how many turns: the demo's traffic mix.

The proportions here are the demo's stated shape (``reasonlens demo`` prints what a run
produced); the rarer behaviours (leaks, injections, policy breaks, errors) are set in
each agent's story module.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from reasonlens.demo.agents import checkout, inbox, research, support
from reasonlens.demo.people import Person, person
from reasonlens.demo.script import Agent, Run

Story = Callable[[random.Random, Agent, Person, int], Run]

HOUR_NS = 3600 * 1_000_000_000
DAY_NS = 24 * HOUR_NS
# Sessions start at least this long before the anchor, so every trace has ended by then.
LATEST_START_NS = 3 * HOUR_NS // 4
# support 1.5 went live 12 hours before the anchor; since then it serves most support
# sessions, so the drift starts mid-window. Half of all support sessions are 1.5, so
# both versions have enough traces to compare whatever the anchor's time of day.
ROLLOUT_NS = 12 * HOUR_NS
NEW_VERSION_SHARE = 0.5
STAGING_SHARE = 0.06
NEW_USER_SHARE = 0.6
CACHE_TTL_NS = 300 * 1_000_000_000  # providers keep a prompt prefix warm about 5 minutes


@dataclass(frozen=True, slots=True)
class Channel:
    """One agent's slice of the traffic."""

    share: float
    story: Story
    turns: tuple[int, ...]  # relative weights of 1, 2, 3, ... turns per session
    session_prefix: str


CHANNELS = {
    "support": Channel(0.45, support.story, (50, 30, 12, 8), "conv_"),
    "checkout": Channel(0.25, checkout.story, (60, 30, 10), "conv_"),
    "research": Channel(0.12, research.story, (85, 15), "conv_"),
    "inbox": Channel(0.18, inbox.story, (60, 25, 15), "thread-"),
}
AGENTS = {"checkout": checkout.AGENT, "research": research.AGENT, "inbox": inbox.AGENT}


@dataclass(frozen=True, slots=True)
class Session:
    channel: Channel
    agent: Agent
    session_id: str
    user_id: str
    customer: Person
    environment: str
    turns: int
    start_ns: int


class Mix:
    """Draws sessions; users come back (a few users own many sessions, as in production)."""

    def __init__(self, rng: random.Random, times: random.Random, anchor_ns: int) -> None:
        self.rng = rng
        # Start times have their own stream: how many draws placing a session takes
        # depends on the anchor's time of day, and the content must not.
        self.times = times
        self.anchor_ns = anchor_ns
        self._users: list[tuple[str, Person]] = []

    def session(self) -> Session:
        rng = self.rng
        name = rng.choices(list(CHANNELS), [c.share for c in CHANNELS.values()])[0]
        channel = CHANNELS[name]
        agent = AGENTS.get(name) or self._support()
        start = self._start(since_ns=ROLLOUT_NS if agent is support.V15 else DAY_NS)
        staging = rng.random() < STAGING_SHARE
        user_id, customer = self._user(staging)
        return Session(
            channel=channel,
            agent=agent,
            session_id=channel.session_prefix + f"{rng.getrandbits(64):016x}",
            user_id=user_id,
            customer=customer,
            environment="staging" if staging else "production",
            turns=rng.choices(range(1, len(channel.turns) + 1), channel.turns)[0],
            start_ns=start,
        )

    def think_time_ns(self) -> int:
        """Seconds to minutes between a user's turns."""
        return int(60 * self.rng.lognormvariate(0, 0.7) * 1_000_000_000)

    def _support(self) -> Agent:
        return support.V15 if self.rng.random() < NEW_VERSION_SHARE else support.V14

    def _start(self, since_ns: int) -> int:
        """A start in the ``since_ns`` before the anchor, busiest mid-afternoon UTC."""
        rng = self.times
        while True:
            start = self.anchor_ns - since_ns + rng.randrange(since_ns - LATEST_START_NS)
            hour = start % DAY_NS / HOUR_NS
            if rng.random() < 0.2 + 0.8 * math.exp(-(((hour - 15) / 5) ** 2)):
                return start

    def _user(self, staging: bool) -> tuple[str, Person]:
        """A new user 60% of the time, else a returning one (early users return most).

        Nothing here depends on how many traces were asked for, so a smaller run is a
        prefix of a larger one with the same seed.
        """
        rng = self.rng
        if staging:
            return f"qa-{rng.randint(1, 5)}", person(rng)
        if not self._users or rng.random() < NEW_USER_SHARE:
            self._users.append((f"usr_{rng.getrandbits(32):08x}", person(rng)))
            return self._users[-1]
        return self._users[int(len(self._users) * rng.random() ** 2)]
