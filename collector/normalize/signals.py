"""Names for the things, other than attribute keys, that a ``Derived`` row depends on.

Every row declares what must be present for it to have a chance (an attribute key, an
indexed family, a span event, a span-name prefix, parsed messages); the normalizer
raises these signals as it meets them and tries only the rows they wake. A span then
pays for the rules that concern it, not for every rule in the tables.
"""

from __future__ import annotations

ROOT = "span:root"  # the span has no parent
STATUS_MESSAGE = "span:status_message"
INPUT_MESSAGES = "messages:input"
OUTPUT_MESSAGES = "messages:output"
FINISH_REASONS = "messages:finish_reasons"  # finish reasons met inside output messages
EXCEPTION_EVENT = "event:exception"
MESSAGE_EVENTS = "event:messages"
CHOICE_EVENTS = "event:choices"
PROMPT_EVENT = "event:prompt"
COMPLETION_EVENT = "event:completion"
EVALUATION_EVENT = "event:evaluation"

_FAMILY = "family:"
_NAME = "name:"


def family(name: str) -> str:
    """The indexed family ``name`` (``llm.input_messages``) has at least one key."""
    return _FAMILY + name


def name_prefix(prefix: str) -> str:
    """The span name starts with ``prefix``."""
    return _NAME + prefix


def prefix_of_name_signal(signal: str) -> str | None:
    """The prefix a :func:`name_prefix` signal tests, or ``None`` for other signals."""
    return signal[len(_NAME) :] if signal.startswith(_NAME) else None
