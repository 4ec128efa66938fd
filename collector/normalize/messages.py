"""Chat messages in any of the shapes clients send, into the canonical ``Message``.

Two families of shape cover every convention once the flattened ones are unflattened:
- OTel GenAI parts: ``{role, parts: [{type: text|reasoning|tool_call|...}], name?}``;
- provider style (OpenAI, Anthropic, Vercel, OpenLLMetry): ``{role, content: str |
  [parts], tool_calls?, tool_call_id?}`` whose parts say ``text``/``tool-call``/
  ``tool_use``/``tool_result``/``thinking``.
Part types are a table (:data:`PART_KINDS`), and so are the keys each kind keeps its
id, name, arguments and body under. Tool results are recognised by part type or by
``tool_call_id``, never by role: Pydantic AI (format <= 5) sends them as ``user``
messages (SEMCONV 6.3). Each tool result becomes its own ``tool`` message, because the
canonical message carries one ``tool_call_id``.
"""

from __future__ import annotations

from typing import Any

from collector.normalize.canonical import Message
from collector.normalize.values import as_str, parse_json, to_json_text

TEXT = "text"
REASONING = "reasoning"
TOOL_CALL = "tool_call"
TOOL_RESULT = "tool_result"

PART_KINDS: dict[str, str] = {
    "text": TEXT,
    "input_text": TEXT,
    "output_text": TEXT,
    "reasoning": REASONING,
    "thinking": REASONING,
    "redacted_thinking": REASONING,
    "tool_call": TOOL_CALL,
    "tool-call": TOOL_CALL,
    "tool_use": TOOL_CALL,
    "function_call": TOOL_CALL,
    "tool_call_response": TOOL_RESULT,
    "tool-result": TOOL_RESULT,
    "tool_result": TOOL_RESULT,
    "function_call_output": TOOL_RESULT,
}
TEXT_KEYS = ("content", "text")
REASONING_KEYS = ("content", "text", "thinking", "reasoning")
CALL_ID_KEYS = ("id", "toolCallId", "call_id", "tool_call_id", "tool_use_id")
CALL_NAME_KEYS = ("name", "toolName")
CALL_ARGUMENT_KEYS = ("arguments", "args", "input")
# ``response`` is the schema's name, ``result`` the registry example's (SEMCONV 2.4).
RESULT_BODY_KEYS = ("response", "result", "output", "content")
# Where a non-text part (image, audio, file) keeps the thing it points at.
REFERENCE_KEYS = ("uri", "url", "file_id", "image_url")


def _first(mapping: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value is not None and value != "":
            return value
    return None


def body_text(value: Any) -> str | None:
    """Readable text of a content or result body: strings as is, text parts joined."""
    # Vercel v5 wraps tool output as {type: text|json, value}; a loop, not recursion, so
    # a hostile chain of wrappers cannot exhaust the stack.
    while type(value) is dict and "value" in value and "type" in value:
        value = value["value"]
    if value is None:
        return None
    if type(value) is str:
        return value
    if type(value) is list:
        texts = [text for item in value if (text := _part_text(item)) is not None]
        if texts and len(texts) == len(value):
            return "\n".join(texts)
    return to_json_text(value)


def _part_text(item: Any) -> str | None:
    if type(item) is str:
        return item
    if type(item) is dict:
        part_type = item.get("type")
        if type(part_type) is str and PART_KINDS.get(part_type) == TEXT:
            return as_str(_first(item, TEXT_KEYS))
    return None


def tool_call(raw: Any) -> dict[str, Any] | None:
    """A canonical tool call from an OTel part, an OpenAI ``tool_calls`` entry or Vercel's."""
    if type(raw) is not dict:
        return None
    function = raw.get("function")
    source = function if type(function) is dict else raw
    name = source.get("name")
    if type(name) is not str or not name:
        name = as_str(_first(source, CALL_NAME_KEYS)) or as_str(_first(raw, CALL_NAME_KEYS))
    arguments = source.get("arguments")
    if arguments is None:
        arguments = _first(source, CALL_ARGUMENT_KEYS)
        if arguments is None and source is not raw:
            arguments = _first(raw, CALL_ARGUMENT_KEYS)
    call_id = raw.get("id")
    if type(call_id) is not str or not call_id:
        call_id = as_str(_first(raw, CALL_ID_KEYS))
    if name is None and arguments is None and call_id is None:
        return None
    if type(arguments) is not str:
        arguments = "" if arguments is None else to_json_text(arguments)
    return {"id": call_id, "name": name or "", "arguments": arguments}


def _placeholder(part: dict[str, Any], part_type: Any) -> str:
    """Short stand-in for a non-text part: ``[image: https://…]``, never a base64 blob."""
    label = as_str(part.get("modality")) or as_str(part_type) or "part"
    reference = _first(part, REFERENCE_KEYS)
    if type(reference) is dict:
        reference = reference.get("url")
    reference = as_str(reference) or as_str(part.get("mime_type"))
    return f"[{label}: {reference}]" if reference else f"[{label}]"


def _result_message(call_id: Any, name: Any, body: Any) -> Message:
    """A tool result as its own ``tool`` message (the canonical shape has one call id)."""
    message: Message = {"role": "tool"}
    text = body_text(body)
    if text is not None:
        message["content"] = text
    if (identifier := as_str(call_id)) is not None:
        message["tool_call_id"] = identifier
    if (tool := as_str(name)) is not None:
        message["name"] = tool
    return message


def _content_parts(content: Any) -> list[Any]:
    """Content as a part list, decoding OpenLLMetry's JSON-string parts (SEMCONV 6.3)."""
    if type(content) is list:
        return content
    decoded = parse_json(content)
    if (
        type(decoded) is list
        and decoded
        and all(type(item) is dict and "type" in item for item in decoded)
    ):
        return decoded
    if type(decoded) is dict and type(decoded.get("type")) is str:
        return [decoded]
    return [content if type(content) is str else to_json_text(content)]


# Placeholder for the message being built, replaced once all its parts are read.
_PENDING: Message = {}


def add_message(
    raw: dict[str, Any],
    default_role: str,
    out: list[Message],
    finish_reasons: list[str] | None = None,
) -> None:
    """Append the canonical message(s) for one source message dict to ``out``.

    The message keeps the position of its first non-result part, so a Pydantic AI
    "user" message of [tool results..., retry text] stays in conversation order; a
    message that held only tool results leaves nothing but those. The part loop is
    written out in one function because it runs for every part of every message on
    the ingest hot path.
    """
    role = raw.get("role")
    parts = raw.get("parts")
    content = raw.get("content")
    others = len(raw) - (role is not None) - (parts is not None) - (content is not None)
    if type(role) is not str or not role:
        role = default_role
    if not others:
        # Fast paths for the two commonest messages, one text part or plain string
        # content; they build exactly what the general loop below would.
        if content is None and type(parts) is list and len(parts) == 1:
            part = parts[0]
            if type(part) is dict and part.get("type") == "text":
                text = part.get("content")
                if type(text) is str and text:
                    out.append({"role": role, "content": text})
                    return
        elif parts is None and type(content) is str:
            head = content.lstrip()[:1]
            if head and head != "[" and head != "{":
                out.append({"role": role, "content": content})
                return
    if others and (content is None or content == ""):
        content = raw.get("refusal")
    items: list[Any] = parts if type(parts) is list else []
    if content is not None and content != "":
        extra = _content_parts(content)
        items = [*items, *extra] if items else extra
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    slot = -1
    for part in items:
        if type(part) is dict:
            part_type = part.get("type")
            kind = PART_KINDS.get(part_type) if type(part_type) is str else None
            if kind is TOOL_RESULT:
                out.append(
                    _result_message(
                        _first(part, CALL_ID_KEYS),
                        _first(part, CALL_NAME_KEYS),
                        _first(part, RESULT_BODY_KEYS),
                    )
                )
                continue
            if slot < 0:
                slot = len(out)
                out.append(_PENDING)
            if kind is TEXT:
                text = part.get("content")
                if text is None or text == "":
                    text = part.get("text")
                if text is not None and text != "":
                    texts.append(text if type(text) is str else to_json_text(text))
            elif kind is TOOL_CALL:
                call = tool_call(part)
                if call is not None:
                    calls.append(call)
            elif kind is REASONING:
                thought = as_str(_first(part, REASONING_KEYS))
                if thought is not None:
                    thoughts.append(thought)
            else:
                texts.append(_placeholder(part, part_type))
        elif type(part) is str:
            if slot < 0:
                slot = len(out)
                out.append(_PENDING)
            texts.append(part)
    name = tool_call_id = None
    if others:
        name = as_str(raw.get("name"))
        tool_call_id = as_str(_first(raw, MESSAGE_CALL_REF_KEYS))
        for key in MESSAGE_REASONING_KEYS:
            if (thought := as_str(raw.get(key))) is not None:
                thoughts.append(thought)
        entries = parse_json(_first(raw, MESSAGE_CALL_LIST_KEYS))
        if type(entries) is list:
            calls.extend(call for entry in entries if (call := tool_call(entry)) is not None)
        if finish_reasons is not None:
            reason = as_str(_first(raw, MESSAGE_FINISH_KEYS))
            if reason is not None:
                finish_reasons.append(reason)
    if slot < 0:
        if not (texts or thoughts or calls or tool_call_id) and items:
            return  # only tool results (or nothing readable) were in it
        slot = len(out)
        out.append(_PENDING)
    message: Message = {"role": "tool" if tool_call_id else role}
    if texts:
        message["content"] = texts[0] if len(texts) == 1 else "\n".join(texts)
    if thoughts:
        message["reasoning"] = "\n".join(thoughts)
    if calls:
        message["tool_calls"] = calls
    if tool_call_id:
        message["tool_call_id"] = tool_call_id
    if name:
        message["name"] = name
    out[slot] = message


# Message keys besides role/parts/content; only read when the message has other keys.
MESSAGE_CALL_LIST_KEYS = ("tool_calls", "toolCalls")
MESSAGE_CALL_REF_KEYS = ("tool_call_id", "toolCallId")
MESSAGE_REASONING_KEYS = ("reasoning_content", "reasoning")
MESSAGE_FINISH_KEYS = ("finish_reason", "finishReason")


def to_messages(
    value: Any, default_role: str, finish_reasons: list[str] | None = None
) -> list[Message] | None:
    """Canonical messages from a message list (structured or a JSON string).

    A string that is not JSON is one message of ``default_role``; a single object is a
    one-message list; an object with only ``text`` (the deprecated ``gen_ai.completion``
    shape in the OpenInference fixtures) is that text. Items of other types are skipped.
    """
    value = parse_json(value)
    if type(value) is str:
        return [{"role": default_role, "content": value}] if value else None
    if type(value) is dict:
        if "role" not in value and "parts" not in value and "content" not in value:
            text = value.get("text")
            if text is None:
                return None
            value = {
                "role": default_role,
                "content": text,
                "finish_reason": value.get("finish_reason"),
            }
        value = [value]
    if type(value) is not list:
        return None
    out: list[Message] = []
    for item in value:
        if type(item) is dict:
            add_message(item, default_role, out, finish_reasons)
        elif type(item) is str and item:
            out.append({"role": default_role, "content": item})
    return out or None
