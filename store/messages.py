"""Display text of a conversation: what a person reads first in a list or a search.

Messages are the canonical shape (``collector/normalize/canonical.py``): the normalizer
renders a span's text with these rules at ingest, and reads render the text of a span
whose messages came in log records the same way (``store/logs.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Message = dict[str, Any]


def render_input(messages: Sequence[Message] | None) -> str | None:
    """The last user turn, else the last message with text."""
    messages = messages or ()
    for message in reversed(messages):
        if message.get("role") == "user" and message.get("content"):
            return str(message["content"])
    for message in reversed(messages):
        if message.get("content"):
            return str(message["content"])
    return None


def render_output(messages: Sequence[Message] | None) -> str | None:
    """The last text, else the tool calls as ``name(args)``."""
    messages = messages or ()
    for message in reversed(messages):
        if message.get("content"):
            return str(message["content"])
    calls = [
        f"{call['name']}({call['arguments']})"
        for message in messages
        for call in message.get("tool_calls", ())
    ]
    return "\n".join(calls) or None
