"""An LLM judge on any OpenAI-compatible chat endpoint: a score from 0 to 1 per trace.

Each trace's prompt (``evals/judging.py``) is sent as ``POST {endpoint}/chat/completions``
with at most ``concurrency`` requests in flight. A call that times out, cannot connect,
or is answered 429 or 5xx is retried ``retries`` times with exponential backoff and
jitter (``backoff_s``, doubling; a ``Retry-After`` header wins, up to a minute). One
trace whose judge call keeps failing gets no verdict (label ``judge_error``) and the
run goes on; but ``MAX_FAILURES_IN_A_ROW`` failures with no success between them stop
the run: the endpoint is down or refuses us, and every further call would only wait.

Verdict labels: ``pass`` / ``fail`` (score against ``pass_score``), ``unparsed`` (the
reply has no score: no verdict, the reply clipped in the explanation), ``judge_error``
and ``no_output`` (the trace recorded no output: nothing to grade, no call made).
Each verdict's details hold the judge's tokens and cost; ``finish`` sums them.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pandas as pd
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from evals.evaluator_options import LlmJudgeOptions
from evals.evaluators.base import Evaluator, RunContext, scores_frame
from evals.frames import Chunk
from evals.judging import SYSTEM_PROMPT, read_reply, render
from evals.suite import SuiteError

MAX_FAILURES_IN_A_ROW = 20
MAX_WAIT_S = 60.0


class JudgeUnavailable(RuntimeError):
    """The judge endpoint failed for many traces in a row: the run stops."""


class _Failed(Exception):
    """A judge call that will not succeed by being repeated (4xx, not a completion)."""


class _Transient(_Failed):
    """A judge call worth repeating: a timeout, no connection, 429 or 5xx."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Call:
    content: str
    input_tokens: int | None
    output_tokens: int | None
    attempts: int


class LlmJudge(Evaluator):
    name = "llm_judge"
    metric = "judge_score"
    span_columns = frozenset({"tool_result"})
    options: LlmJudgeOptions

    def __init__(self, options: LlmJudgeOptions) -> None:
        super().__init__(options)
        self._headers: dict[str, str] = {}
        self._failures_in_a_row = 0
        self._totals = {
            "calls": 0,
            "judged": 0,
            "unparsed": 0,
            "errors": 0,
            "no_output": 0,
            "over_budget": 0,
        }
        self._input_tokens = 0
        self._output_tokens = 0
        self._cost_usd = 0.0
        self._budget_usd: float | None = None

    def setup(self, context: RunContext) -> None:
        self._budget_usd = context.judge_budget_usd
        variable = self.options.api_key_env
        if variable is not None:
            key = os.environ.get(variable)
            if not key:
                raise SuiteError(f"llm_judge: api_key_env {variable} is not set")
            self._headers["Authorization"] = f"Bearer {key}"

    def score(self, chunk: Chunk) -> pd.DataFrame:
        return asyncio.run(self.score_async(chunk))

    async def score_async(self, chunk: Chunk) -> pd.DataFrame:
        traces = chunk.traces
        if traces.empty:
            return scores_frame()
        spans = chunk.spans
        tools = spans[(spans["kind"] == "tool") & spans["tool_result"].notna()]
        labelled = (
            tools["tool_name"].fillna("tool").astype(str) + ": " + tools["tool_result"].astype(str)
        )
        results = labelled.groupby(tools["trace_id"], sort=False).agg(list).to_dict()
        slots = asyncio.Semaphore(self.options.concurrency)
        limits = httpx.Limits(
            max_connections=self.options.concurrency,
            max_keepalive_connections=self.options.concurrency,
        )
        try:
            async with (
                httpx.AsyncClient(
                    headers=self._headers, timeout=self.options.timeout_s, limits=limits
                ) as client,
                asyncio.TaskGroup() as group,
            ):
                tasks = [
                    group.create_task(
                        self._judge(
                            client,
                            slots,
                            trace_id,
                            _text(question),
                            _text(answer),
                            results.get(trace_id, []),
                        )
                    )
                    for trace_id, question, answer in zip(
                        traces["trace_id"].tolist(),
                        traces["input"].tolist(),
                        traces["output"].tolist(),
                        strict=True,
                    )
                ]
        except ExceptionGroup as group:  # JudgeUnavailable, as itself for the run's error
            raise group.exceptions[0] from None
        return scores_frame([task.result() for task in tasks])

    def finish(self) -> dict[str, Any]:
        return {
            "judge_model": self.options.model,
            **self._totals,
            "input_tokens": self._input_tokens,
            "output_tokens": self._output_tokens,
            "cost_usd": self._cost_usd if self._priced else None,
        }

    @property
    def _priced(self) -> bool:
        return (
            self.options.usd_per_1k_input_tokens is not None
            and self.options.usd_per_1k_output_tokens is not None
        )

    async def _judge(
        self,
        client: httpx.AsyncClient,
        slots: asyncio.Semaphore,
        trace_id: str,
        question: str | None,
        answer: str | None,
        tool_results: list[str],
    ) -> dict[str, Any]:
        row: dict[str, Any] = {"trace_id": trace_id, "metric": self.metric}
        if answer is None:
            self._totals["no_output"] += 1
            return {**row, "label": "no_output", "explanation": "the trace has no output"}
        prompt = render(self.options.rubric, question, answer, tool_results)
        async with slots:
            # Checked once a call may start: calls already in flight may pass the cap by
            # at most ``concurrency`` calls' cost.
            if self._budget_usd is not None and self._cost_usd >= self._budget_usd:
                self._totals["over_budget"] += 1
                return {
                    **row,
                    "label": "over_budget",
                    "explanation": "not judged: the suite's judge budget for the day is spent",
                }
            began = time.perf_counter()
            try:
                call = await self._call(client, prompt)
            except _Failed as error:
                self._failed(str(error))
                return {
                    **row,
                    "label": "judge_error",
                    "explanation": f"the judge call failed: {error}",
                    "details": {"judge_model": self.options.model},
                }
        self._failures_in_a_row = 0
        details = self._usage(call)
        details["latency_ms"] = round((time.perf_counter() - began) * 1000, 1)
        reading = read_reply(call.content)
        if reading is None:
            self._totals["unparsed"] += 1
            return {
                **row,
                "label": "unparsed",
                "explanation": f"no score in the judge's reply: {_clip(call.content, 500)}",
                "details": details,
            }
        self._totals["judged"] += 1
        passed = reading.score >= self.options.pass_score
        return {
            **row,
            "value": reading.score,
            "passed": passed,
            "label": "pass" if passed else "fail",
            "explanation": reading.explanation,
            "details": details,
        }

    def _failed(self, message: str) -> None:
        self._totals["errors"] += 1
        self._failures_in_a_row += 1
        if self._failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            raise JudgeUnavailable(
                f"{self._failures_in_a_row} judge calls in a row failed, the last with: "
                f"{message} ({self.options.endpoint})"
            )

    def _usage(self, call: _Call) -> dict[str, Any]:
        cost = None
        if self._priced and call.input_tokens is not None and call.output_tokens is not None:
            cost = (
                call.input_tokens * (self.options.usd_per_1k_input_tokens or 0.0)
                + call.output_tokens * (self.options.usd_per_1k_output_tokens or 0.0)
            ) / 1000
            self._cost_usd += cost
        self._input_tokens += call.input_tokens or 0
        self._output_tokens += call.output_tokens or 0
        return {
            "judge_model": self.options.model,
            "input_tokens": call.input_tokens,
            "output_tokens": call.output_tokens,
            "cost_usd": cost,
            "attempts": call.attempts,
        }

    async def _call(self, client: httpx.AsyncClient, prompt: str) -> _Call:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.options.retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._post(client, prompt, attempt.retry_state.attempt_number)
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return min(error.retry_after, MAX_WAIT_S)
        backoff = self.options.backoff_s * 2 ** (state.attempt_number - 1)
        return min(backoff * random.uniform(0.5, 1.0), MAX_WAIT_S)

    async def _post(self, client: httpx.AsyncClient, prompt: str, attempt: int) -> _Call:
        self._totals["calls"] += 1
        body = {
            "model": self.options.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": prompt},
            ],
        }
        url = self.options.endpoint.rstrip("/") + "/chat/completions"
        try:
            response = await client.post(url, json=body)
        except httpx.TimeoutException:
            raise _Transient(f"no answer within {self.options.timeout_s:g} s") from None
        except httpx.TransportError as error:
            raise _Transient(f"could not reach the endpoint: {error!r}") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status}", _retry_after(response.headers.get("Retry-After")))
        if status >= 300:
            raise _Failed(f"HTTP {status}: {_clip(response.text, 300)}")
        try:
            payload = response.json()
            content = payload["choices"][0]["message"]["content"]
            usage = payload.get("usage") or {}
        except (ValueError, LookupError, TypeError, AttributeError):
            raise _Failed(f"not a chat completion: {_clip(response.text, 300)!r}") from None
        if not isinstance(content, str):
            raise _Failed("the completion has no text content")
        return _Call(
            content,
            _tokens(usage.get("prompt_tokens") if isinstance(usage, dict) else None),
            _tokens(usage.get("completion_tokens") if isinstance(usage, dict) else None),
            attempt,
        )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _tokens(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
