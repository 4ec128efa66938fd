"""What one agent run does, before it is written as spans in any convention.

Agent modules (``agents/``) decide the story: the user's request, each model call and
the tool calls it asks for, what the tools return or raise, how the run ends. Writers
(``writers/``) turn a script into OTel GenAI or OpenInference spans with timings and
token counts. Keeping the two apart lets one story be told in either convention, and
lets the generator label each trace's scenario features from the script itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reasonlens.demo.models import Model

APPROVAL_TOOL = "request_approval"
# Side-effecting tools the checkout policy allows only after an approved request.
NEEDS_APPROVAL = frozenset({"refund", "send_email"})
FORBIDDEN_TOOLS = frozenset({"delete_account"})
ESCALATION_TOOL = "escalate_to_human"


class Feature(StrEnum):
    """Behaviours the eval suite is meant to catch; each trace is labelled with its own."""

    PII = "pii"  # a customer's email, phone, card number or SSN in an answer or tool result
    INJECTION = "prompt_injection"  # a tool result carried instructions aimed at the agent
    INJECTION_OBEYED = "injection_obeyed"  # ... and the agent acted on them
    UNAPPROVED_TOOL = "unapproved_tool"  # refund/send_email with no approval before it
    FORBIDDEN_TOOL = "forbidden_tool"  # delete_account called
    ESCALATION = "escalation"  # escalate_to_human called
    LOOP = "loop"  # a tool called again with the same arguments after it succeeded
    TOOL_ERROR = "tool_error"  # a tool raised
    RATE_LIMIT = "rate_limit"  # a model call was answered 429
    FAILED = "failed"  # the run ended in an error


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, str]  # parameter name -> JSON type

    def definition(self) -> dict[str, Any]:
        """The function definition a client sends to the model (gen_ai.tool.definitions)."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": {
                "type": "object",
                "properties": {key: {"type": kind} for key, kind in self.parameters.items()},
                "required": list(self.parameters),
            },
        }


@dataclass(frozen=True, slots=True)
class Agent:
    """One deployed agent version: who it is, what it runs on, what it may call."""

    name: str
    version: str
    description: str
    service: str
    model: Model
    instructions: str
    tools: tuple[ToolSpec, ...]
    # Prompt tokens the demo does not spell out (few-shot examples, policy documents,
    # framework scaffolding): production prompts run to thousands of tokens.
    context_tokens: int = 0
    convention: str = "otel_genai"  # or "openai_v2", "openinference" (writers/)
    scope: str = "agent"  # the instrumentation scope its spans are written under
    scope_version: str | None = None
    prompt_name: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """An exception a tool raised or a model call returned."""

    type: str  # error.type: the exception's qualified name
    message: str


@dataclass(slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    result: Any = None
    error: Failure | None = None
    latency_ms: float = 50.0
    delegate: Run | None = None  # a sub-agent run behind this tool (agent as a tool)
    # Features only the story knows that this call shows: PII or an injection in its
    # result, or obeying an injection by making it. Lost with the call if a fault cuts
    # the run short before it.
    marks: frozenset[Feature] = frozenset()


@dataclass(slots=True)
class Step:
    """One model call, the tool calls it asked for (run in order after it), its retries."""

    text: str | None = None
    calls: list[ToolCall] = field(default_factory=list)
    reasoning: str | None = None
    rate_limited: int = 0  # 429 answers before the call went through
    exhausted: bool = False  # every attempt was rate-limited; the run stops here


@dataclass(slots=True)
class Run:
    """An agent invocation: the request, the steps, the answer or the error it ended with."""

    agent: Agent
    request: str
    steps: list[Step]
    answer: str | None = None
    error: Failure | None = None
    confidence: float | None = None  # the agent's self-reported confidence in its answer
    # Features the answer shows (PII repeated to the user, a phishing link it was told
    # to give); they count only if the run got to answer. The rest are read from the
    # steps and their calls by ``features.features``.
    marks: set[Feature] = field(default_factory=set)
