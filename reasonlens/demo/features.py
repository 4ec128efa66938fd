"""The scenario features a run shows: its calls' and answer's marks, and what its steps reveal.

The generator counts them so a demo run can state how much of each it produced
(ground truth for the eval suite), and tests check the spans really carry them.
"""

from __future__ import annotations

import json

from reasonlens.demo.script import (
    APPROVAL_TOOL,
    ESCALATION_TOOL,
    FORBIDDEN_TOOLS,
    NEEDS_APPROVAL,
    Feature,
    Run,
    ToolCall,
)


def features(run: Run) -> frozenset[Feature]:
    """A sub-agent's features count for the run that called it, except its failure."""
    found: set[Feature] = set(run.marks) if run.answer is not None else set()
    if run.error is not None:
        found.add(Feature.FAILED)
    if any(step.rate_limited or step.exhausted for step in run.steps):
        found.add(Feature.RATE_LIMIT)
    approved: set[str] = set()
    succeeded: set[str] = set()
    for call in (call for step in run.steps for call in step.calls):
        if call.delegate is not None:
            found |= features(call.delegate) - {Feature.FAILED}
        found |= call.marks
        key = call.name + json.dumps(call.arguments, sort_keys=True)
        if call.error is not None:
            found.add(Feature.TOOL_ERROR)
        elif key in succeeded:
            found.add(Feature.LOOP)
        else:
            succeeded.add(key)
        if call.name == ESCALATION_TOOL:
            found.add(Feature.ESCALATION)
        if call.name in FORBIDDEN_TOOLS:
            found.add(Feature.FORBIDDEN_TOOL)
        if call.name in NEEDS_APPROVAL and call.name not in approved:
            found.add(Feature.UNAPPROVED_TOOL)
        if call.name == APPROVAL_TOOL and _approved(call):
            approved.update(call.arguments.get("actions", ()))
    return frozenset(found)


def _approved(call: ToolCall) -> bool:
    return isinstance(call.result, dict) and call.result.get("decision") == "approved"
