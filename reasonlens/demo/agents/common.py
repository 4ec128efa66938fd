"""Pieces every story uses: orders, tool failures, call latencies, small text choices."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from reasonlens.demo.errors import rate_limit
from reasonlens.demo.script import Failure, Feature, Run, Step, ToolCall

PRODUCTS = (
    ("wireless earbuds", "electronics", 79.00),
    ("standing desk", "furniture", 449.00),
    ("espresso machine", "kitchen", 229.00),
    ("trail running shoes", "apparel", 120.00),
    ("27-inch 4K monitor", "electronics", 329.00),
    ("yoga mat", "fitness", 35.00),
    ("travel backpack", "accessories", 89.00),
    ("air purifier", "home", 199.00),
    ("mechanical keyboard", "electronics", 139.00),
    ("cast iron skillet", "kitchen", 45.00),
)
CARRIERS = ("UPS", "FedEx", "DHL", "USPS")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
DEFECTS = (
    "arrived with a cracked case",
    "stopped charging after a week",
    "is missing the power adapter",
    "is the wrong size",
    "arrived scratched",
    "makes a rattling noise",
)


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    product: str
    category: str
    amount: float
    status: str
    carrier: str
    tracking: str
    eta: str

    def record(self) -> dict[str, Any]:
        """What the order service returns."""
        return {
            "order_id": self.order_id,
            "status": self.status,
            "items": [{"name": self.product, "qty": 1, "price": self.amount}],
            "total": self.amount,
            "currency": "USD",
            "carrier": self.carrier,
            "tracking_number": self.tracking,
            "estimated_delivery": self.eta,
        }


def order(rng: random.Random) -> Order:
    product, category, amount = rng.choice(PRODUCTS)
    carrier = rng.choice(CARRIERS)
    return Order(
        order_id=f"NW-{rng.randint(100000, 999999)}",
        product=product,
        category=category,
        amount=amount,
        status=rng.choices(("shipped", "delivered", "processing", "delayed"), (5, 3, 2, 1))[0],
        carrier=carrier,
        tracking=f"1Z{rng.getrandbits(48):012X}" if carrier == "UPS" else f"{rng.getrandbits(40)}",
        eta=f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    )


def chance(rng: random.Random, probability: float) -> bool:
    return rng.random() < probability


def latency(rng: random.Random, median_ms: float) -> float:
    """Service latencies are long-tailed: lognormal around the median."""
    return median_ms * rng.lognormvariate(0, 0.45)


def call(
    rng: random.Random,
    name: str,
    arguments: dict[str, Any],
    result: Any,
    ms: float,
    marks: frozenset[Feature] = frozenset(),
) -> ToolCall:
    """A successful tool call taking about ``ms`` milliseconds."""
    return ToolCall(name, arguments, result=result, latency_ms=latency(rng, ms), marks=marks)


# Where each tool's call goes, for error messages that read like real ones.
SERVICES = {
    "lookup_order": "orders.internal:8443",
    "search_kb": "kb-search.internal",
    "get_customer": "customers-api.internal",
    "web_search": "api.search.example.com",
    "fetch_url": "the remote host",
    "refund": "payments-gateway.internal",
    "send_email": "smtp-relay.internal:587",
    "read_inbox": "imap.mail.example.com:993",
    "draft_reply": "mail-api.internal",
}
TOOL_FAILURES = (
    Failure("TimeoutError", "{service} did not respond within 10s"),
    Failure("ConnectionResetError", "[Errno 104] Connection reset by peer ({service})"),
    Failure("httpx.HTTPStatusError", "Server error '503 Service Unavailable' from {service}"),
)


@dataclass(frozen=True, slots=True)
class Faults:
    """How often a run's tool calls fail and its model calls are rate-limited.

    A failed tool call is retried by the model; with ``tool_fatal`` the run gives up
    there instead. A rate-limited model call is retried up to three times; with
    ``rate_fatal`` every retry fails and the run ends.
    """

    tool: float = 0.03
    tool_fatal: float = 0.25
    rate: float = 0.02
    rate_fatal: float = 0.2


def finish(rng: random.Random, run: Run, faults: Faults = Faults()) -> Run:
    """Add the faults of production to a story: failing tools and 429s, some fatal."""
    provider, model = run.agent.model.provider, run.agent.model.request
    steps: list[Step] = []
    for step in run.steps:
        first = step.calls[0] if step.calls else None
        if first is not None and first.delegate is None and chance(rng, faults.tool):
            failed = _failing(rng, first)
            steps.append(Step(calls=[failed]))
            if chance(rng, faults.tool_fatal):
                return _ended(run, steps, failed.error)
        if chance(rng, faults.rate):
            if chance(rng, faults.rate_fatal):
                steps.append(Step(rate_limited=3, exhausted=True))
                return _ended(run, steps, rate_limit(provider, model))
            step.rate_limited = rng.choice((1, 1, 1, 2))
        steps.append(step)
    run.steps = steps
    return run


def _failing(rng: random.Random, tool: ToolCall) -> ToolCall:
    template = rng.choice(TOOL_FAILURES)
    service = SERVICES.get(tool.name, f"{tool.name} backend")
    error = Failure(template.type, template.message.format(service=service))
    return ToolCall(tool.name, dict(tool.arguments), error=error, latency_ms=latency(rng, 3000))


def _ended(run: Run, steps: list[Step], error: Failure | None) -> Run:
    """The run stops at its last step, with no answer."""
    run.steps, run.error, run.answer, run.confidence = steps, error, None, None
    return run
