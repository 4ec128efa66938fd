"""A loopback OpenAI-compatible server with a scripted tool-calling conversation.

The real ``openai`` client talks to it over HTTP, so instrumentations see genuine
responses (usage details, tool calls, SSE streams) without network access. The script
is deterministic: when the last message is a tool result the model answers in text,
otherwise it calls ``get_weather``. The constants below are the whole script, so tests
compare stored spans with exactly what the model "reported".
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

REQUEST_MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
SYSTEM_PROMPT = "You are a weather assistant. Use the tools."
QUESTION = "What is the weather in Paris?"
TOOL_NAME = "get_weather"
TOOL_CALL_ID = "call_weather_1"
TOOL_ARGUMENTS = '{"city": "Paris", "unit": "celsius"}'
TOOL_RESULT = '{"temperature": 18, "sky": "sunny"}'
ANSWER = "It is 18 °C and sunny in Paris."
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CREATED = 1_750_000_000


@dataclass(frozen=True)
class Usage:
    """Token counts as OpenAI reports them: cached and reasoning are subsets."""

    prompt: int
    completion: int
    cached: int
    reasoning: int

    @property
    def total(self) -> int:
        return self.prompt + self.completion

    def as_json(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.total,
            "prompt_tokens_details": {"cached_tokens": self.cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


@dataclass(frozen=True)
class Reply:
    """One scripted model turn: a tool call (``text`` None) or a text answer."""

    response_id: str
    usage: Usage
    text: str | None = None

    @property
    def finish_reason(self) -> str:
        return "stop" if self.text is not None else "tool_calls"


TOOL_CALL_REPLY = Reply("chatcmpl-fake-tool-call", Usage(64, 23, 32, 7))
ANSWER_REPLY = Reply("chatcmpl-fake-answer", Usage(112, 15, 64, 4), text=ANSWER)


def reply_for(body: dict[str, Any]) -> Reply:
    """Answer once the tool result is in; call the tool before that."""
    messages = body.get("messages") or [{}]
    return ANSWER_REPLY if messages[-1].get("role") == "tool" else TOOL_CALL_REPLY


def _tool_call() -> dict[str, Any]:
    return {
        "id": TOOL_CALL_ID,
        "type": "function",
        "function": {"name": TOOL_NAME, "arguments": TOOL_ARGUMENTS},
    }


def completion(reply: Reply) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.text is None:
        message["tool_calls"] = [_tool_call()]
    return {
        "id": reply.response_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": RESPONSE_MODEL,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": reply.usage.as_json(),
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


def _chunk(reply: Reply, delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": reply.response_id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": RESPONSE_MODEL,
        "choices": choices,
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


def chunks(reply: Reply, include_usage: bool) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a stream, split the way OpenAI splits them.

    Text arrives word by word; a tool call first with its id and name and empty
    arguments, then the arguments in fragments. With ``include_usage`` every chunk
    carries ``usage: null`` and a last chunk with no choices carries the usage.
    """
    out = [_chunk(reply, {"role": "assistant", "content": "" if reply.text else None})]
    if reply.text is not None:
        words = reply.text.split(" ")
        pieces = [word + " " for word in words[:-1]] + words[-1:]
        out += [_chunk(reply, {"content": piece}) for piece in pieces]
    else:
        head = {**_tool_call(), "index": 0, "function": {"name": TOOL_NAME, "arguments": ""}}
        out.append(_chunk(reply, {"tool_calls": [head]}))
        cut = len(TOOL_ARGUMENTS) // 2
        for fragment in (TOOL_ARGUMENTS[:cut], TOOL_ARGUMENTS[cut:]):
            call = {"index": 0, "function": {"arguments": fragment}}
            out.append(_chunk(reply, {"tool_calls": [call]}))
    out.append(_chunk(reply, {}, reply.finish_reason))
    if include_usage:
        for chunk in out:
            chunk["usage"] = None
        out.append({**_chunk(reply, None), "usage": reply.usage.as_json()})
    return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client dropping its keep-alive connection is normal; anything else is printed."""
        if not isinstance(sys.exception(), ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client's httpx pool expects
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is for the test's own failures."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        with self.server.lock:
            self.server.requests.append(body)
        reply = reply_for(body)
        if not body.get("stream"):
            self._json(200, completion(reply))
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks(reply, include_usage):
            self._write_chunk(f"data: {json.dumps(chunk)}\n\n".encode())
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeOpenAI:
    """The fake server on a free loopback port, served from a thread while entered."""

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """What ``OpenAI(base_url=...)`` takes: the ``/v1`` root."""
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The chat-completion request bodies received so far, in order."""
        assert self._server is not None, "not started"
        with self._server.lock:
            return list(self._server.requests)

    def __enter__(self) -> FakeOpenAI:
        self._server = _Server()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
