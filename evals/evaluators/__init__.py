"""The evaluators a suite can name, each in its own module, imported when a suite uses it.

``evals.evaluator_options.EVALUATOR_OPTIONS`` declares each name's options; this table says which
class scores it.
"""

from __future__ import annotations

from importlib import import_module

from evals.evaluators.base import Evaluator

EVALUATORS: dict[str, str] = {
    "pii": "evals.evaluators.pii:Pii",
    "prompt_injection": "evals.evaluators.injection:PromptInjection",
    "tool_policy": "evals.evaluators.tool_policy:ToolPolicy",
    "loops": "evals.evaluators.loops:Loops",
    "step_budget": "evals.evaluators.budgets:StepBudget",
    "cost_budget": "evals.evaluators.budgets:CostBudget",
    "latency": "evals.evaluators.latency:Latency",
    "tool_recovery": "evals.evaluators.recovery:ToolRecovery",
    "escalation": "evals.evaluators.escalation:Escalation",
    "confident_but_wrong": "evals.evaluators.confidence:ConfidentButWrong",
    "expected_output": "evals.evaluators.expected_output:ExpectedOutput",
    "llm_judge": "evals.evaluators.llm_judge:LlmJudge",
    "drift": "evals.evaluators.drift:Drift",
}


def evaluator_class(name: str) -> type[Evaluator]:
    module, _, attribute = EVALUATORS[name].partition(":")
    cls: type[Evaluator] = getattr(import_module(module), attribute)
    return cls
