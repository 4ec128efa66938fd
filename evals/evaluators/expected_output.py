"""Correctness against a dataset: each trace's final output versus its item's expected
output, compared in the suite's match mode (``evals/matching.py``).

A trace finds its item by key (``link: key``): the value of ``key_attribute`` on its
root span, else on its earliest span that has it; or by input (``link: input``): its
input equal to an item's input once both are normalized. A trace with no item gets no
verdict (label ``no_item``), so production traffic mixed into a selection does not
count as failures. The key is read by the database from the spans' raw attributes
(``store/span_attributes.py``): the runner never loads that heavy column for this.

Metric ``match`` (1 or 0). Labels: ``match``, ``mismatch``, ``not_json`` (json_schema),
``no_number`` (numeric), ``no_output`` (an item but no answer: failed); with no
verdict: ``no_item``, ``no_expected`` (the item has no expected output),
``regex_timeout`` (the pattern ran over its time limit on this output) and
``schema_error`` (a schema that cannot be applied, such as an unresolvable ``$ref``).
Details name the item's key, the mode, and the expected and actual text (clipped).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pandas as pd

from evals.evaluator_options import ExpectedOutputOptions
from evals.evaluators.base import Evaluator, RunContext, scores_frame
from evals.frames import Chunk
from evals.matching import BadExpectation, Verdict, check_all, normalize, prepare
from evals.suite import SuiteError
from store.datasets import Item, get_dataset, read_items
from store.span_attributes import attribute_values

_CLIP = 500


class ExpectedOutput(Evaluator):
    name = "expected_output"
    metric = "match"
    options: ExpectedOutputOptions

    def __init__(self, options: ExpectedOutputOptions) -> None:
        super().__init__(options)
        self._context: RunContext | None = None
        self._items: list[Item] = []
        self._prepared: list[Any] = []
        self._by_link: dict[str, int] = {}  # key, or normalized input -> item index
        self._labels: Counter[str] = Counter()
        self._covered: set[int] = set()

    def setup(self, context: RunContext) -> None:
        """Load the dataset and prepare every expectation: a bad item stops the run
        before anything is scored, naming the item."""
        dataset = self.options.dataset
        with context.engine.connect() as connection:
            info = get_dataset(connection, context.project_id, dataset)
            if info is None:
                raise SuiteError(
                    f"expected_output: no dataset {dataset!r} in project {context.project!r} "
                    f"(upload one: reasonlens dataset upload {dataset} FILE "
                    f"--project {context.project})"
                )
            self._items = read_items(connection, info.id)
        self._context = context
        self._prepared = [self._prepare(item) for item in self._items]
        if self.options.link == "key":
            self._by_link = {item.key: index for index, item in enumerate(self._items)}
        else:
            self._by_link = self._inputs()

    def score(self, chunk: Chunk) -> pd.DataFrame:
        traces = chunk.traces
        if traces.empty:
            return scores_frame()
        links = self._keys(chunk) if self.options.link == "key" else self._input_links(chunk)
        found = [self._by_link.get(link) if link is not None else None for link in links]
        outputs = [_text(value) for value in traces["output"].tolist()]
        judged: list[tuple[int, int]] = [
            (n, index)
            for n, index in enumerate(found)
            if index is not None and self._prepared[index] is not None
        ]
        verdicts = check_all(
            self.options.match,
            [self._prepared[index] for _, index in judged],
            [outputs[n] for n, _ in judged],
            tolerance=self.options.tolerance or 0.0,
            relative_tolerance=self.options.relative_tolerance or 0.0,
        )
        by_trace = {n: verdict for (n, _), verdict in zip(judged, verdicts, strict=True)}
        rows = []
        for n, trace_id in enumerate(traces["trace_id"].tolist()):
            index = found[n]
            item = self._items[index] if index is not None else None
            verdict = by_trace.get(n) or self._unjudged(item, links[n])
            self._labels[verdict.label] += 1
            if index is not None:
                self._covered.add(index)
            rows.append(self._row(trace_id, item, outputs[n], verdict))
        return scores_frame(rows)

    def finish(self) -> dict[str, Any]:
        return {
            "dataset": self.options.dataset,
            "match": self.options.match,
            "items": len(self._items),
            "items_covered": len(self._covered),
            "labels": dict(sorted(self._labels.items())),
        }

    def _prepare(self, item: Item) -> Any:
        if item.expected_output is None:
            return None
        try:
            return prepare(self.options.match, item.expected_output)
        except BadExpectation as error:
            raise SuiteError(
                f"expected_output: dataset {self.options.dataset!r}, item {item.key!r} "
                f"(line {item.position}): {error}"
            ) from None

    def _inputs(self) -> dict[str, int]:
        by_input: dict[str, int] = {}
        for index, item in enumerate(self._items):
            if item.input is None:
                continue
            first = by_input.setdefault(normalize(item.input), index)
            if first != index:
                raise SuiteError(
                    f"expected_output: dataset {self.options.dataset!r}: items "
                    f"{self._items[first].key!r} and {item.key!r} have the same input "
                    "(normalized), so a trace could not tell them apart: link by key, "
                    "or make the inputs distinct"
                )
        return by_input

    def _keys(self, chunk: Chunk) -> list[str | None]:
        """Each trace's key attribute: its root span's value, else its earliest span's.
        Most traces carry it on the root, so the other spans are read only for the
        traces whose root has none."""
        assert self._context is not None, "setup() first"
        trace_ids = chunk.traces["trace_id"].tolist()
        key = self.options.key_attribute
        found: dict[str, str] = {}
        with self._context.engine.connect() as connection:
            for trace_id, _, value in attribute_values(
                connection, chunk.project_id, trace_ids, key, roots=True
            ):
                found.setdefault(trace_id, value)
            rest = [trace_id for trace_id in trace_ids if trace_id not in found]
            for trace_id, _, value in attribute_values(
                connection, chunk.project_id, rest, key, roots=False
            ):
                found.setdefault(trace_id, value)
        return [found.get(trace_id) for trace_id in trace_ids]

    def _input_links(self, chunk: Chunk) -> list[str | None]:
        return [
            normalize(text) if text is not None else None
            for text in map(_text, chunk.traces["input"].tolist())
        ]

    def _unjudged(self, item: Item | None, link: str | None) -> Verdict:
        if item is not None:
            return Verdict(None, "no_expected", f"item {item.key!r} has no expected output")
        dataset = self.options.dataset
        if self.options.link == "input":
            return Verdict(None, "no_item", f"no item of {dataset!r} has this trace's input")
        if link is None:
            return Verdict(
                None, "no_item", f"no span of the trace has a {self.options.key_attribute!r}"
            )
        return Verdict(None, "no_item", f"no item {_clip(link, 80)!r} in {dataset!r}")

    def _row(
        self, trace_id: str, item: Item | None, output: str | None, verdict: Verdict
    ) -> dict[str, Any]:
        explanation = verdict.reason
        if verdict.passed is False and verdict.label != "no_output" and item is not None:
            expected = _clip(item.expected_output or "", 200)
            got = _clip(output or "", 200)
            explanation = f"expected {expected!r}, got {got!r}" + (
                f": {verdict.reason}" if verdict.reason else ""
            )
        details = None
        if item is not None:
            details = {
                "item_key": item.key,
                "match": self.options.match,
                "expected": _clip(item.expected_output or "", _CLIP),
                "got": None if output is None else _clip(output, _CLIP),
            }
        return {
            "trace_id": trace_id,
            "metric": self.metric,
            "value": None if verdict.passed is None else float(verdict.passed),
            "passed": verdict.passed,
            "label": verdict.label,
            "explanation": explanation,
            "details": details,
        }


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
