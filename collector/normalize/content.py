"""Where each convention keeps chat messages (SEMCONV 6.2, input/output_messages rows).

Each message source turns one convention's shape (a JSON attribute, a flattened
family, span events) into the dicts :mod:`.messages` understands; the two tables list
them in priority order, and the first non-empty list wins. Display text built from
these messages is in :mod:`.text`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector.normalize import signals
from collector.normalize.canonical import Message
from collector.normalize.context import Context
from collector.normalize.conventions import (
    OTEL_GENAI,
    OTEL_GENAI_DEPRECATED,
    PYDANTIC_AI,
    VERCEL_AI,
)
from collector.normalize.messages import add_message, to_messages
from collector.normalize.sources import Derived, Field
from collector.normalize.values import as_int, as_str, parse_json, to_json_text

Adapter = Callable[[Any], dict[str, Any] | None]


def _from_attr(key: str, role: str, output: bool = False) -> Callable[[Context], Any]:
    def get(ctx: Context) -> list[Message] | None:
        raw = ctx.found.get(key)
        if raw is None:
            return None
        return to_messages(raw, role, ctx.finish_reasons if output else None)

    return get


def _from_family(
    name: str, role: str, adapt: Adapter, output: bool = False
) -> Callable[[Context], Any]:
    def get(ctx: Context) -> list[Message] | None:
        out: list[Message] = []
        reasons = ctx.finish_reasons if output else None
        for item in ctx.family(name):
            raw = adapt(item)
            if raw is not None:
                add_message(raw, role, out, reasons)
        return out or None

    return get


_OPENINFERENCE_MESSAGE_KEYS = ("role", "content", "name", "tool_call_id")


def _openinference(item: Any) -> dict[str, Any] | None:
    """``{message: {role, content, contents[], tool_calls[], tool_call_id, name}}``."""
    message = item.get("message") if type(item) is dict else None
    if type(message) is not dict:
        return None
    # Only the keys present: absent ones would send the message down the slow path.
    raw = {key: message[key] for key in _OPENINFERENCE_MESSAGE_KEYS if key in message}
    contents = message.get("contents")
    if type(contents) is list:
        raw["parts"] = [_openinference_part(entry) for entry in contents]
    calls = message.get("tool_calls")
    if type(calls) is list:
        raw["tool_calls"] = [
            entry.get("tool_call") if type(entry) is dict else None for entry in calls
        ]
    return raw


def _openinference_part(entry: Any) -> Any:
    part = entry.get("message_content") if type(entry) is dict else None
    if type(part) is not dict:
        return None
    image = part.get("image")
    if type(image) is dict and type(image.get("image")) is dict:
        return {"type": part.get("type") or "image", "url": image["image"].get("url")}
    return part


def _openllmetry(item: Any) -> dict[str, Any] | None:
    """``gen_ai.prompt.<i>.{role, content, tool_call_id, tool_calls.<j>.*}``: already flat."""
    return item if type(item) is dict else None


def _legacy_text(field: str) -> Adapter:
    """OpenInference completions API: ``llm.prompts.<i>.prompt.text`` and choices."""

    def adapt(item: Any) -> dict[str, Any] | None:
        inner = item.get(field) if type(item) is dict else None
        return {"content": inner.get("text")} if type(inner) is dict else None

    return adapt


def _vercel_prompt(ctx: Context) -> list[Message] | None:
    """Outer-span ``ai.prompt``: ``{system?, prompt?: str | messages, messages?}``."""
    value = ctx.json("ai.prompt")
    if type(value) is not dict:
        return to_messages(value, "user")
    out: list[Message] = []
    system = as_str(value.get("system"))
    if system is not None:
        out.append({"role": "system", "content": system})
    for key in ("prompt", "messages"):
        out.extend(to_messages(value.get(key), "user") or ())
    return out or None


def _vercel_output(ctx: Context) -> list[Message] | None:
    """``ai.response.text``/``.object`` plus ``.toolCalls`` (``ai.result.*`` before v4)."""
    found = ctx.found
    text = _first_present(found, VERCEL_TEXT_KEYS)
    calls = _first_present(found, VERCEL_CALL_KEYS)
    if text is None and calls is None:
        return None
    content = text if text is None or type(text) is str else to_json_text(text)
    return to_messages(
        [{"role": "assistant", "content": content, "tool_calls": calls}], "assistant"
    )


VERCEL_TEXT_KEYS = ("ai.response.text", "ai.response.object", "ai.result.text", "ai.result.object")
VERCEL_CALL_KEYS = ("ai.response.toolCalls", "ai.result.toolCalls")


def _first_present(found: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = found.get(key)
        if value is not None and value != "":
            return value
    return None


def _event_body(attributes: dict[str, Any]) -> dict[str, Any]:
    """Event attributes, merged with a ``body`` map when the SDK nested the log body."""
    body = parse_json(attributes.get("body"))
    return {**attributes, **body} if type(body) is dict else attributes


def _message_events(ctx: Context) -> list[Message] | None:
    out: list[Message] = []
    for role, attributes in ctx.events.messages:
        raw = _event_body(attributes)
        if role == "tool" and "tool_call_id" not in raw and "id" in raw:
            raw = {**raw, "tool_call_id": raw["id"]}
        add_message(raw, role, out)
    return out or None


def _choice_events(ctx: Context) -> list[Message] | None:
    """``gen_ai.choice``: ``{index, finish_reason, message{content, role}, tool_calls}``."""
    choices = []
    for position, attributes in enumerate(ctx.events.choices):
        raw = _event_body(attributes)
        message = parse_json(raw.get("message"))
        merged: dict[str, Any] = (
            dict(message)
            if type(message) is dict
            else {"role": raw.get("message.role"), "content": raw.get("message.content")}
        )
        for key in ("tool_calls", "finish_reason"):
            if merged.get(key) is None:
                merged[key] = raw.get(key)
        index = as_int(raw.get("index"))
        choices.append((position if index is None else index, position, merged))
    out: list[Message] = []
    for _, _, merged in sorted(choices, key=lambda entry: entry[:2]):
        add_message(merged, "assistant", out, ctx.finish_reasons)
    return out or None


def _content_event(which: str, key: str, role: str) -> Callable[[Context], Any]:
    """v1.27 ``gen_ai.content.prompt``/``.completion`` events holding a JSON string."""

    def get(ctx: Context) -> list[Message] | None:
        attributes = getattr(ctx.events, which)
        return to_messages(attributes.get(key), role) if attributes else None

    return get


INPUT_MESSAGES = Field(
    "input_messages",
    (
        Derived(
            "gen_ai.input.messages",
            _from_attr("gen_ai.input.messages", "user"),
            ("gen_ai.input.messages",),
            OTEL_GENAI,
        ),
        Derived(
            "llm.input_messages",
            _from_family("llm.input_messages", "user", _openinference),
            signals=(signals.family("llm.input_messages"),),
        ),
        Derived(
            "gen_ai.prompt.<i>",
            _from_family("gen_ai.prompt", "user", _openllmetry),
            signals=(signals.family("gen_ai.prompt"),),
        ),
        Derived(
            "gen_ai.prompt",
            _from_attr("gen_ai.prompt", "user"),
            ("gen_ai.prompt",),
            OTEL_GENAI_DEPRECATED,
        ),
        Derived(
            "ai.prompt.messages",
            _from_attr("ai.prompt.messages", "user"),
            ("ai.prompt.messages",),
            VERCEL_AI,
        ),
        Derived("ai.prompt", _vercel_prompt, ("ai.prompt",), VERCEL_AI),
        Derived("gen_ai.*.message events", _message_events, signals=(signals.MESSAGE_EVENTS,)),
        Derived(
            "gen_ai.content.prompt event",
            _content_event("prompt", "gen_ai.prompt", "user"),
            signals=(signals.PROMPT_EVENT,),
        ),
        Derived(
            "pydantic_ai.all_messages",
            _from_attr("pydantic_ai.all_messages", "user"),
            ("pydantic_ai.all_messages",),
            PYDANTIC_AI,
        ),
        Derived(
            "llm.prompts",
            _from_family("llm.prompts", "user", _legacy_text("prompt")),
            signals=(signals.family("llm.prompts"),),
        ),
    ),
)

OUTPUT_MESSAGES = Field(
    "output_messages",
    (
        Derived(
            "gen_ai.output.messages",
            _from_attr("gen_ai.output.messages", "assistant", True),
            ("gen_ai.output.messages",),
            OTEL_GENAI,
        ),
        Derived(
            "llm.output_messages",
            _from_family("llm.output_messages", "assistant", _openinference, True),
            signals=(signals.family("llm.output_messages"),),
        ),
        Derived(
            "gen_ai.completion.<i>",
            _from_family("gen_ai.completion", "assistant", _openllmetry, True),
            signals=(signals.family("gen_ai.completion"),),
        ),
        Derived(
            "gen_ai.completion",
            _from_attr("gen_ai.completion", "assistant", True),
            ("gen_ai.completion",),
            OTEL_GENAI_DEPRECATED,
        ),
        Derived("ai.response.*", _vercel_output, VERCEL_TEXT_KEYS + VERCEL_CALL_KEYS, VERCEL_AI),
        Derived("gen_ai.choice events", _choice_events, signals=(signals.CHOICE_EVENTS,)),
        Derived(
            "gen_ai.content.completion event",
            _content_event("completion", "gen_ai.completion", "assistant"),
            signals=(signals.COMPLETION_EVENT,),
        ),
        Derived(
            "llm.choices",
            _from_family("llm.choices", "assistant", _legacy_text("completion"), True),
            signals=(signals.family("llm.choices"),),
        ),
    ),
)
