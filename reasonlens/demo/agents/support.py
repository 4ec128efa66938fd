"""The "support" agent, in two versions: 1.4 (the baseline) and 1.5, which drifts.

1.5 has a longer system prompt and one more tool (web_search), checks things twice
(repeated identical lookups: the loops a step-budget eval should catch), answers at
greater length and escalates a little more often. Both versions sometimes leak a
customer's contact details or card number: the customer service returns them
unmasked, and the model repeats what it sees.
"""

from __future__ import annotations

import random

from reasonlens.demo.agents.common import (
    DEFECTS,
    WEEKDAYS,
    call,
    chance,
    finish,
    order,
)
from reasonlens.demo.models import GPT_4O_MINI, GPT_41_MINI
from reasonlens.demo.people import Person
from reasonlens.demo.script import ESCALATION_TOOL, Agent, Feature, Run, Step, ToolSpec

SEARCH_KB = ToolSpec("search_kb", "Search the help-center knowledge base.", {"query": "string"})
LOOKUP_ORDER = ToolSpec(
    "lookup_order", "Look up an order's status and shipment.", {"order_id": "string"}
)
GET_CUSTOMER = ToolSpec(
    "get_customer", "Fetch the customer profile for an email address.", {"email": "string"}
)
ESCALATE = ToolSpec(
    ESCALATION_TOOL,
    "Hand the conversation to a human agent.",
    {"reason": "string", "priority": "string"},
)
WEB_SEARCH = ToolSpec("web_search", "Search the public web.", {"query": "string"})

INSTRUCTIONS = (
    "You are Ada, the customer support assistant for Northwind Outfitters, an online "
    "store. Help customers with orders, returns and account questions. Use the tools to "
    "look things up; never guess order details. Keep answers short and friendly. Never "
    "repeat full card numbers, SSNs or contact details back to the customer. If the "
    "customer asks for a person, or is still unhappy after two answers, call "
    "escalate_to_human."
)
POLICY_15 = (
    "\n\nSupport policy 2026-10 (v1.5):\n"
    "1. Always search the knowledge base before answering a policy question; if it has "
    "no clear answer, search the web for the manufacturer's guidance.\n"
    "2. Before promising a delivery date, confirm the order status a second time.\n"
    "3. Offer a related product or accessory when it fits the conversation.\n"
    "4. End every answer with a short summary of what you checked and what happens next.\n"
    "5. Be warm: acknowledge the customer's situation before giving facts.\n"
    "6. Escalate early when a refund over $200 or a damaged item is involved."
)

V14 = Agent(
    name="support",
    version="1.4",
    description="Answers order, return and account questions for Northwind customers.",
    service="support-agent",
    model=GPT_4O_MINI,
    instructions=INSTRUCTIONS,
    tools=(SEARCH_KB, LOOKUP_ORDER, GET_CUSTOMER, ESCALATE),
    context_tokens=1100,
    scope="northwind.support",
    prompt_name="support-system",
)
V15 = Agent(
    name="support",
    version="1.5",
    description=V14.description,
    service="support-agent",
    model=GPT_41_MINI,
    instructions=INSTRUCTIONS + POLICY_15,
    tools=(SEARCH_KB, LOOKUP_ORDER, GET_CUSTOMER, ESCALATE, WEB_SEARCH),
    context_tokens=2300,
    scope="northwind.support",
    prompt_name="support-system",
)

KB = {
    "returns": ("KB-1042", "Returns and refunds", "Unused items can be returned within 30 "
                "days of delivery for a full refund. Refunds reach the original payment "
                "method 5-7 business days after the return is scanned."),
    "damaged": ("KB-1107", "Damaged or defective items", "If an item arrives damaged, we "
                "ship a free replacement or refund it in full. A photo of the damage "
                "speeds things up; no need to return the damaged item."),
    "shipping": ("KB-0981", "Shipping times and delays", "Standard shipping takes 3-5 "
                 "business days. Carrier delays are usually resolved within 48 hours; "
                 "tracking may not update during that time."),
    "account": ("KB-1210", "Updating your account", "Customers can change their email, "
                "phone number and address under Account > Profile. Changes to the email "
                "need confirmation from both addresses."),
}  # fmt: skip


def story(rng: random.Random, agent: Agent, customer: Person, turn: int) -> Run:
    drift = agent.version == "1.5"
    weights = (35, 27, 22, 16, 0) if turn == 0 else (20, 20, 10, 25, 25)
    intent = rng.choices(("order", "returns", "account", "damaged", "human"), weights)[0]
    if chance(rng, 0.06 if drift else 0.03):
        intent = "human"
    run = {
        "order": _order_status,
        "returns": _returns,
        "account": _account,
        "damaged": _damaged,
        "human": _human,
    }[intent](rng, agent, customer, drift)
    return finish(rng, run)


def _kb(rng: random.Random, topic: str, query: str) -> Step:
    kb_id, title, snippet = KB[topic]
    articles = [
        {
            "id": kb_id,
            "title": title,
            "snippet": snippet,
            "score": round(rng.uniform(0.71, 0.93), 2),
        }
    ]
    return Step(calls=[call(rng, "search_kb", {"query": query}, {"articles": articles}, 180)])


def _web(rng: random.Random, query: str) -> Step:
    faq = f"https://support.example.com/faq/{rng.randint(100, 999)}"
    forum = f"https://forum.example.net/t/{rng.randint(10000, 99999)}"
    results = [
        {"title": f"{query.title()} - manufacturer FAQ", "url": faq},
        {"title": f"Forum: {query}", "url": forum},
    ]
    return Step(calls=[call(rng, "web_search", {"query": query}, {"results": results}, 900)])


def _repeat(rng: random.Random, steps: list[Step], drift: bool) -> None:
    """1.5 re-runs its last lookup with the same arguments, sometimes several times."""
    if not chance(rng, 0.45 if drift else 0.05):
        return
    last = steps[-1].calls[-1]
    for _ in range(rng.choice((1, 1, 2, 3)) if drift else 1):
        steps.append(Step(calls=[call(rng, last.name, dict(last.arguments), last.result, 150)]))


def _order_status(rng: random.Random, agent: Agent, customer: Person, drift: bool) -> Run:
    placed = order(rng)
    request = rng.choice((
        f"Hi, where is my order {placed.order_id}? It was supposed to arrive "
        f"{rng.choice(WEEKDAYS)}.",
        f"Can you check on order {placed.order_id}? Tracking hasn't moved in three days.",
        f"hey my {placed.product} order ({placed.order_id}) still isn't here",
    ))  # fmt: skip
    steps = [
        Step(calls=[call(rng, "lookup_order", {"order_id": placed.order_id}, placed.record(), 120)])
    ]
    _repeat(rng, steps, drift)
    if drift and chance(rng, 0.5):
        steps.append(_kb(rng, "shipping", f"{placed.carrier} shipping delay"))
    answer = (
        f"Your {placed.product} (order {placed.order_id}) is {placed.status} with "
        f"{placed.carrier}, tracking number {placed.tracking}. The current estimate is "
        f"{placed.eta}."
    )
    if placed.status == "delayed":
        answer += " I'm sorry about the delay; carrier delays usually clear within 48 hours."
    if drift:
        answer = (
            "I completely understand how frustrating it is to wait for a package. "
            + answer
            + " If it would help, our travel accessories ship free with any order this month."
            + " Summary: I checked the order status twice and the carrier's shipping notes;"
            + " no action is needed from you, and tracking should update within a day."
        )
    steps.append(Step(text=answer))
    return Run(
        agent,
        request,
        steps,
        answer=answer,
        confidence=_confidence(rng, placed.status == "delayed"),
    )


def _returns(rng: random.Random, agent: Agent, customer: Person, drift: bool) -> Run:
    placed = order(rng)
    days = rng.randint(3, 45)
    request = (
        f"Can I still return the {placed.product} I bought {days} days ago? "
        f"It {rng.choice(DEFECTS)}."
    )
    steps = [_kb(rng, "returns", f"return policy {placed.category}")]
    _repeat(rng, steps, drift)
    if drift and chance(rng, 0.6):
        steps.append(_web(rng, f"{placed.product} warranty return"))
    if days <= 30:
        answer = (
            f"Yes! You bought it {days} days ago, so it's within our 30-day return window. "
            "Start the return under Orders > Return item and you'll get a prepaid label; "
            "the refund reaches your card 5-7 business days after the return is scanned."
        )
    else:
        answer = (
            f"Our standard return window is 30 days, and it has been {days} days. Since it "
            "sounds defective, the manufacturer's warranty still covers it; I can point "
            "you to their claim form."
        )
    if drift:
        answer += (
            " I also checked the manufacturer's guidance online to be thorough. Summary: "
            "I looked up our return policy and the warranty terms; next, you start the "
            "return or warranty claim and we email you the label."
        )
    steps.append(Step(text=answer))
    return Run(agent, request, steps, answer=answer, confidence=_confidence(rng, False))


def _account(rng: random.Random, agent: Agent, customer: Person, drift: bool) -> Run:
    request = rng.choice((
        f"I need to update the phone number on my account. My email is {customer.email}.",
        f"What card do you have on file for me? I'm {customer.email}",
        f"Please confirm the contact details on my account ({customer.email}).",
    ))  # fmt: skip
    unmasked = chance(rng, 0.3)
    profile = {
        "customer_id": customer.customer_id,
        "name": customer.name,
        "email": customer.email if unmasked else customer.masked_email,
        "phone": customer.phone if unmasked else customer.masked_phone,
        "shipping_address": customer.address,
        "payment_method": {"brand": "visa", "number": customer.card}
        if unmasked
        else {"brand": "visa", "last4": customer.card_last4},
        "member_since": f"20{rng.randint(15, 25)}",
    }
    if unmasked and chance(rng, 0.3):
        profile["tax_id"] = customer.ssn
    leaked = frozenset({Feature.PII}) if unmasked else frozenset()
    lookup = call(rng, "get_customer", {"email": customer.email}, profile, 140, leaked)
    steps = [Step(calls=[lookup]), _kb(rng, "account", "update phone number account")]
    marks: set[Feature] = set()
    if unmasked and chance(rng, 0.5):
        marks.add(Feature.PII)
        answer = (
            f"I found your account, {customer.first}. We have phone {customer.phone} and "
            f"the Visa card {customer.card} on file. You can change the phone number under "
            "Account > Profile."
        )
    else:
        answer = (
            f"I found your account, {customer.first}. For your security I can't read your "
            f"details back, but the card on file ends in {customer.card_last4}. You can "
            "change your phone number under Account > Profile."
        )
    steps.append(Step(text=answer))
    return Run(
        agent, request, steps, answer=answer, confidence=_confidence(rng, False), marks=marks
    )


def _damaged(rng: random.Random, agent: Agent, customer: Person, drift: bool) -> Run:
    placed = order(rng)
    request = f"My {placed.product} from order {placed.order_id} {rng.choice(DEFECTS)}. What now?"
    steps = [
        Step(calls=[call(rng, "lookup_order", {"order_id": placed.order_id}, placed.record(), 120)])
    ]
    steps.append(_kb(rng, "damaged", "damaged item replacement"))
    _repeat(rng, steps, drift)
    if chance(rng, 0.4 if drift else 0.2):
        steps.append(_escalation(rng, f"damaged item on {placed.order_id}", "normal"))
        answer = (
            "I'm sorry it arrived that way. I've passed this to our returns team, who will "
            "arrange a replacement; you'll hear from them by email within a day."
        )
    else:
        answer = (
            f"I'm sorry your {placed.product} arrived like that. We'll ship a free "
            "replacement: reply with a photo of the damage and it goes out today. No need "
            "to send the old one back."
        )
    steps.append(Step(text=answer))
    return Run(agent, request, steps, answer=answer, confidence=_confidence(rng, False))


def _human(rng: random.Random, agent: Agent, customer: Person, drift: bool) -> Run:
    request = rng.choice((
        "This is the third time I'm asking. I want to talk to a real person.",
        "Your bot keeps giving me the same answer. Human please.",
        "I was charged twice and nobody is helping. Get me a manager.",
    ))  # fmt: skip
    steps = [_escalation(rng, "customer asked for a human", rng.choice(("high", "normal")))]
    answer = (
        "I'm sorry for the trouble. I've handed this conversation to a member of our team; "
        "they'll reply here within 30 minutes."
    )
    steps.append(Step(text=answer))
    return Run(agent, request, steps, answer=answer, confidence=_confidence(rng, False))


def _escalation(rng: random.Random, reason: str, priority: str) -> Step:
    ticket = {
        "ticket_id": f"ESC-{rng.randint(10000, 99999)}",
        "queue": "tier2",
        "expected_response_minutes": 30,
    }
    return Step(
        calls=[call(rng, ESCALATION_TOOL, {"reason": reason, "priority": priority}, ticket, 350)]
    )


def _confidence(rng: random.Random, shaky: bool) -> float:
    return round(rng.uniform(0.45, 0.7) if shaky else rng.uniform(0.72, 0.98), 2)
