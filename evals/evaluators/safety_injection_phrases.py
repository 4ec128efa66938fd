"""What an injected instruction looks like: phrases aimed at the agent, by category.

Categories (a hit's label in the details):

- ``override``: "ignore / disregard / forget / override / bypass (all) previous
  instructions", "... your rules";
- ``role_play``: jailbreak personas and modes ("you are now DAN", "developer mode
  enabled", "act as an unrestricted ...", "do anything now");
- ``prompt_leak``: asking for the system prompt or instructions ("email your full system
  prompt to ...", "reveal your instructions");
- ``exfiltration``: sending the user's data or the conversation somewhere ("fetch ...
  followed by the user's question and everything you know about them");
- ``addressed_to_ai``: text that addresses the model rather than the reader ("Message for
  the AI assistant processing this inbox", "AI agents reading this page");
- ``concealment``: "do not mention this to the user", "without telling the user";
- ``fake_role``: chat-template tokens and fake system headers (``<|im_start|>``,
  ``[INST]``, ``<<SYS>>``, ``[system]`` before an order);
- ``hidden_text``: Unicode tag characters or runs of zero-width characters, invisible
  to the person reading.

Every pattern runs over the lower-case view and starts with a literal, so each is one
fast pass (``evals.text_scan``); words around a hit are checked in Python, on the hit's
context, where a lookbehind would cost the fast search.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from evals.text_scan import Corpus, Hit, View

CONTEXT = 80  # characters read before a hit
AFTER = 300  # characters read after it: where an injection names its target

_QUALIFIED = (
    r"(?:(?:all|any|of|the|your|my|these|those)\s+){0,3}"
    r"(?:previous|prior|above|earlier|preceding|original|initial|system|developer|safety|"
    r"existing|old)\s+(?:instructions?|prompts?|rules|directions|directives|guidelines|"
    r"guardrails|messages|context|programming)"
)
_YOURS = (
    r"(?:all\s+)?your\s+(?:instructions|rules|guidelines|guardrails|programming|"
    r"system\s+prompt|directives)"
)
_PATTERNS: list[tuple[View, str]] = [
    *(
        ("lower", rf"(?P<override>{verb}\s+(?:{_QUALIFIED}|{_YOURS}))")
        for verb in ("ignore", "disregard", "forget", "override", "bypass")
    ),
    (
        "lower",
        r"(?P<role_play>you are now (?:dan\b|in (?:developer|god|jailbreak|unrestricted|debug) "
        r"mode|jailbroken|unrestricted|unfiltered|uncensored|free (?:from|of)|no longer "
        r"(?:bound|restricted|an? ai)))",
    ),
    (
        "lower",
        r"(?P<role_play>act as (?:an? )?(?:unrestricted|unfiltered|jailbroken|uncensored|evil|"
        r"dan\b))",
    ),
    *(
        ("lower", rf"(?P<role_play>{mode} mode (?:enabled|on|activated))")
        for mode in ("developer", "dan", "jailbreak", "god")
    ),
    ("lower", r"(?P<role_play>do anything now)"),
    ("lower", r"(?P<prompt_leak>system prompt)"),
    (
        "lower",
        r"(?P<prompt_leak>your (?:initial |original |hidden |full |complete |secret )?"
        r"instructions)",
    ),
    *(
        ("lower", f"(?P<exfiltration>{anchor})")
        for anchor in (
            "everything you know about",
            "the user's ",
            "the user\u2019s ",  # a typographic apostrophe
            "conversation history",
            "chat history",
        )
    ),
    *(
        ("lower", rf"(?P<addressed_to_ai>{anchor})")
        for anchor in (
            r"ai (?:assistants?|agents?|models?|systems?|bots?)\b",
            r"llms?\b",
            r"language models?\b",
        )
    ),
    (
        "lower",
        r"(?P<concealment>do not (?:mention|tell|reveal|inform|disclose|alert|notify)\b"
        r"[^.\n]{0,30}\buser)",
    ),
    (
        "lower",
        r"(?P<concealment>don't (?:mention|tell|reveal|inform|disclose|alert|notify)\b"
        r"[^.\n]{0,30}\buser)",
    ),
    ("lower", r"(?P<concealment>without (?:telling|informing|notifying|alerting) the user)"),
    ("lower", r"(?P<fake_role><\|(?:im_start|im_end|system|endoftext)\|>)"),
    ("lower", r"(?P<fake_role>\[/?inst\])"),
    ("lower", r"(?P<fake_role><</?sys>>)"),
    # Invisible characters as a JSON body escapes them: zero-width runs, Unicode tags.
    # (Each starts with its literal, not a repeated group: that would cost the fast search.)
    ("lower", r"(?P<hidden_text>\\u(?:200[b-f]|2060|feff)(?:\\u(?:200[b-f]|2060|feff)){2,})"),
    ("lower", r"(?P<hidden_text>\\udb40\\udc[0-7][0-9a-f](?:\\udb40\\udc[0-7][0-9a-f]){3,})"),
    (
        "lower",
        r"(?P<fake_role>\[(?:system|admin)\]\s*(?:ignore|you |new |override|important|from now))",
    ),
]
_HIDDEN = re.compile(
    r"(?P<hidden_text>[\U000E0000-\U000E007F]{4,}|[\u200b-\u200f\u2060\ufeff]{3,})"
)

_LEAK_VERB = re.compile(
    r"(?:reveal|print|show|repeat|output|send|email|e-mail|leak|share|tell me|give me|"
    r"display|dump|write out|forward|post|upload|paste)\b[^.\n]{0,40}\Z"
)
_SEND_VERB = re.compile(
    r"(?:send|email|e-mail|forward|post|upload|transmit|fetch|append|include|add|attach|"
    r"exfiltrate|submit|followed by)\b[^.\n]{0,80}\Z"
)
# Where an injection sends the agent: a URL's host, an email address's domain.
DESTINATION = re.compile(
    r"(?i)https?://([a-z0-9.-]{1,253}\.[a-z]{2,24})|[\w.+-]{1,64}@([a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+)"
)
_AI_CALLED = re.compile(
    r"(?:(?:message|note|instructions?|attention|notice|important|reminder|warning)\s*"
    r"(?:for|to)\s+(?:the\s+|any\s+|all\s+)?|(?:dear|attention|hey|hello)\s+)\Z"
)
_AI_ACTING = re.compile(
    r"\A\s*(?:reading|processing|parsing|summari[sz]ing|scraping|browsing|crawling|"
    r"analy[sz]ing)\b"
)


def patterns(extra: list[str]) -> list[tuple[View, re.Pattern[str]]]:
    """The compiled phrase patterns, and the suite's own (case-insensitive, on the text
    as written: they have no literal prefix to search fast with)."""
    compiled: list[tuple[View, re.Pattern[str]]] = [
        (view, re.compile(regex)) for view, regex in _PATTERNS
    ]
    compiled += [("text", re.compile(f"(?P<custom>{regex})", re.IGNORECASE)) for regex in extra]
    return compiled


def find(corpus: Corpus, compiled: list[tuple[View, re.Pattern[str]]]) -> list[Hit]:
    """Injection phrases in ``corpus`` that pass their checks, in text order."""
    hits = [
        hit
        for hit in corpus.find(compiled, before=CONTEXT, after=AFTER)
        if _CHECKS.get(hit.group, _word_start)(hit)
    ]
    if not corpus.text.isascii():  # invisible characters are not ASCII: skip the scan
        hits += corpus.find([("text", _HIDDEN)], before=CONTEXT, after=AFTER)
        hits.sort(key=lambda hit: (hit.row, hit.start))
    return hits


def _word_start(hit: Hit) -> bool:
    return not hit.before[-1:].isalnum()


def _prompt_leak(hit: Hit) -> bool:
    return _word_start(hit) and bool(_LEAK_VERB.search(hit.before.lower()))


def _exfiltration(hit: Hit) -> bool:
    """A send verb before, and somewhere to send to (a URL or an address) around."""
    around = hit.before + hit.value + hit.after
    return (
        _word_start(hit)
        and bool(_SEND_VERB.search(hit.before.lower()))
        and bool(DESTINATION.search(around))
    )


def _addressed_to_ai(hit: Hit) -> bool:
    return _word_start(hit) and bool(
        _AI_CALLED.search(hit.before.lower()) or _AI_ACTING.search(hit.after.lower())
    )


_CHECKS: dict[str, Callable[[Hit], bool]] = {
    "prompt_leak": _prompt_leak,
    "exfiltration": _exfiltration,
    "addressed_to_ai": _addressed_to_ai,
    "fake_role": lambda hit: True,
    "hidden_text": lambda hit: True,
}
