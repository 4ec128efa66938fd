"""A loopback OpenAI-compatible judge: chat completions with scripted scores and faults.

The LLM judge talks to it over real HTTP, so its client, timeouts, retries and
concurrency limit are exercised as they would be against a provider, without network
access. Each answer waits ``latency_s`` (in its own thread, like a provider serving
requests in parallel); the server counts calls and the most it ever had in flight.
Faults are scripted by a marker: a request whose prompt contains the marker gets the
next fault queued for it (an HTTP status with an optional Retry-After, a delay longer
than the client's timeout, a body that is not a chat completion), then normal answers.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

PROMPT_TOKENS = 120
COMPLETION_TOKENS = 30


def default_reply(prompt: str) -> str:
    return '{"score": 1, "explanation": "meets the rubric"}'


@dataclass(frozen=True)
class Fault:
    """One scripted failure: ``status`` with ``body`` (JSON error by default), after
    ``delay_s``; a delay over the client's timeout is a timeout."""

    status: int = 500
    retry_after: str | None = None
    delay_s: float = 0.0
    body: bytes | None = None


MALFORMED = Fault(status=200, body=b"<html>not json</html>")
NO_CHOICES = Fault(status=200, body=b'{"id": "x", "object": "chat.completion", "choices": []}')


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a judge's whole pool connects at once

    def __init__(self, judge: FakeJudge) -> None:
        super().__init__(("127.0.0.1", judge.port), _Handler)
        self.judge = judge

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) or closed its keep-alive connection is normal."""
        if not isinstance(sys.exception(), ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx's pool expects
    # The headers and the body go out in two writes: without this the body waits for
    # the client's delayed ACK of the headers (up to 40 ms on Linux), as no provider's does.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is for the test's own failures."""

    def do_POST(self) -> None:
        judge = self.server.judge
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode())
            return
        prompt = "\n".join(str(message.get("content")) for message in body.get("messages", []))
        fault = judge._enter(body, prompt, self.headers.get("Authorization"))
        try:
            time.sleep(fault.delay_s if fault else judge.latency_s)
            if fault is not None:
                error = {"error": {"message": f"injected {fault.status}", "type": "fault"}}
                payload = fault.body if fault.body is not None else json.dumps(error).encode()
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                self._send(fault.status, payload, headers)
                return
            self._send(200, json.dumps(completion(judge.reply(prompt), body)).encode())
        finally:
            judge._leave()

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def completion(content: str, request: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-judge",
        "object": "chat.completion",
        "created": 1_750_000_000,
        "model": request.get("model", "judge"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        },
    }


class FakeJudge:
    """The fake judge on a free loopback port, served from a thread while entered."""

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        reply: Callable[[str], str] = default_reply,
        port: int = 0,
    ) -> None:
        self.port = port  # 0: a free one
        self.latency_s = latency_s
        self.reply = reply
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """What a suite's ``endpoint`` takes: the ``/v1`` root."""
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def fail(self, marker: str, *faults: Fault) -> None:
        """Queue ``faults`` for requests whose prompt contains ``marker`` ("" = any)."""
        with self._lock:
            self._faults.setdefault(marker, []).extend(faults)

    def calls_with(self, marker: str) -> int:
        with self._lock:
            return sum(
                marker in "\n".join(str(m.get("content")) for m in request["messages"])
                for request in self.requests
            )

    def _enter(self, body: dict[str, Any], prompt: str, authorization: str | None) -> Fault | None:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.requests.append(body)
            self.authorizations.append(authorization)
            for marker, queued in self._faults.items():
                if queued and marker in prompt:
                    return queued.pop(0)
        return None

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def __enter__(self) -> FakeJudge:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-judge", daemon=True
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
