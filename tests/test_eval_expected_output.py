"""expected_output: every match mode on a passing and a failing output, traces linked to
items by input and (on a running server, traces sent with the SDK) by key attribute."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import migrations
from evals.datasets import upload
from evals.evaluator_options import ExpectedOutputOptions
from evals.evaluators.base import RunContext
from evals.evaluators.expected_output import ExpectedOutput
from evals.matching import first_number, normalize
from evals.suite import SuiteError
from store.engine import create_engine
from store.projects import ensure_projects
from tests.agent_runs import Run, project_chunks, send_runs
from tests.databases import fresh_database
from tests.eval_chunks import make_chunk, span
from tests.server import Server


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    with fresh_database(tmp_path_factory.mktemp("datasets")) as url:
        engine = create_engine(url)
        migrations.upgrade(engine)
        yield engine
        engine.dispose()


def _dataset(engine: sa.Engine, project: str, items: list[dict[str, Any]]) -> int:
    data = "\n".join(json.dumps(item) for item in items).encode()
    with engine.begin() as connection:
        upload(connection, project, "golden", data, "jsonl")
        return ensure_projects(connection, [project])[project]


def _evaluator(
    engine: sa.Engine, project: str, items: list[dict[str, Any]], **options: Any
) -> ExpectedOutput:
    project_id = _dataset(engine, project, items)
    evaluator = ExpectedOutput(ExpectedOutputOptions(dataset="golden", **options))
    evaluator.setup(RunContext(engine, project_id, project))
    return evaluator


def _score(evaluator: ExpectedOutput, *answers: tuple[str, str | None]) -> pd.DataFrame:
    """One trace per (input, output) pair."""
    return evaluator.score(
        make_chunk(*([span("agent", input_text=q, output_text=a)] for q, a in answers))
    )


# Each mode: an expected output, an output that matches it and one that does not.
CASES = [
    ("exact", "Paris", "Paris", "paris"),
    ("normalized", "The total is $42.50.", "the TOTAL is 42,50", "the total is 42.51"),
    ("normalized", "\uff23af\u00e9", "CAF\u00c9!", "cafe"),  # NFKC folds full-width C, not é
    ("contains", "order 1042", "Your Order #1042 has shipped.", "Your order 10423 shipped."),
    ("regex", r"(?i)^refund(ed)? \d+$", "Refunded 1042", "refund pending"),
    (
        "json_schema",
        json.dumps(
            {
                "type": "object",
                "properties": {"total": {"type": "number"}},
                "required": ["total"],
            }
        ),
        '```json\n{"total": 42.5}\n```',
        '{"total": "42.5"}',
    ),
    ("numeric", "42", "The answer is 42.", "The answer is 43."),
]


@pytest.mark.parametrize(("mode", "expected", "good", "bad"), CASES)
def test_each_mode_passes_a_match_and_fails_a_mismatch(
    engine: sa.Engine, project: str, mode: Any, expected: str, good: str, bad: str
) -> None:
    evaluator = _evaluator(
        engine, project, [{"input": "q", "expected_output": expected}], match=mode, link="input"
    )
    scores = _score(evaluator, ("q", good), ("Q ", bad))
    assert scores["passed"].tolist() == [True, False]
    assert scores["label"].iloc[0] == "match"
    assert scores["metric"].unique().tolist() == ["match"]
    assert scores["value"].tolist() == [1.0, 0.0]
    failed = scores.iloc[1]
    assert failed["details"] == {
        "item_key": "1", "match": mode, "expected": expected, "got": bad,
    }  # fmt: skip
    assert failed["explanation"].startswith(f"expected {expected!r}, got {bad!r}")


def test_json_schema_tells_not_json_from_invalid(engine: sa.Engine, project: str) -> None:
    schema = {"type": "object", "required": ["total"]}
    items = [{"input": "q", "expected_output": schema}]
    evaluator = _evaluator(engine, project, items, match="json_schema", link="input")
    scores = _score(evaluator, ("q", "total: 42"), ("q", '{"sum": 1}'))
    assert scores["label"].tolist() == ["not_json", "mismatch"]
    assert scores["passed"].tolist() == [False, False]
    assert "'total' is a required property" in scores["explanation"].iloc[1]


def test_numeric_tolerance_absolute_and_relative(engine: sa.Engine, project: str) -> None:
    items = [{"input": "q", "expected_output": "Total: 1,000.00 USD"}]
    answers = [("q", "about 1,009"), ("q", "1011 dollars"), ("q", "no idea")]
    absolute = _evaluator(engine, project, items, match="numeric", link="input", tolerance=10)
    assert _score(absolute, *answers)["passed"].tolist() == [True, False, False]
    relative = _evaluator(
        engine, project, items, match="numeric", link="input", relative_tolerance=0.02
    )
    scores = _score(relative, *answers)
    assert scores["passed"].tolist() == [True, True, False]
    assert scores["label"].tolist() == ["match", "match", "no_number"]
    exact = _evaluator(engine, project, items, match="numeric", link="input")
    assert _score(exact, ("q", "1000"), ("q", "1000.01"))["passed"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("The answer is 42.", 42.0),
        ("total: $1,234.50 today", 1234.5),
        ("order A12 costs 7", 7.0),  # a name, not a number
        ("v1.2 then -3.5e2", -350.0),
        (".5 cups", 0.5),
        ("\u22124 degrees", -4.0),
        ("none here", None),
    ],
)
def test_first_number(text: str, number: float | None) -> None:
    assert first_number(text) == number


def test_normalize_folds_case_width_punctuation_and_space() -> None:
    assert normalize("  The\tTOTAL:  $42.50!\n") == "the total 42 50"
    assert normalize("ﬁne—Straße") == "fine strasse"


def test_a_catastrophic_pattern_times_out_alone(engine: sa.Engine, project: str) -> None:
    items = [
        {"input": "slow", "expected_output": "(a+)+$"},
        {"input": "fast", "expected_output": "^ok"},
    ]
    evaluator = _evaluator(engine, project, items, match="regex", link="input")
    began = time.perf_counter()
    scores = _score(evaluator, ("slow", "a" * 40 + "!"), ("fast", "ok then"))
    assert time.perf_counter() - began < 10
    assert scores["label"].tolist() == ["regex_timeout", "match"]
    assert scores["passed"].tolist()[1] is True
    assert pd.isna(scores["passed"].iloc[0])


def test_traces_without_an_item_or_expectation_get_no_verdict(
    engine: sa.Engine, project: str
) -> None:
    items = [
        {"input": "known", "expected_output": "yes"},
        {"input": "open question", "expected_output": None},
    ]
    evaluator = _evaluator(engine, project, items, match="exact", link="input")
    scores = _score(evaluator, ("stranger", "yes"), ("open question", "anything"), ("known", None))
    assert scores["label"].tolist() == ["no_item", "no_expected", "no_output"]
    assert pd.isna(scores["passed"].iloc[0]) and pd.isna(scores["passed"].iloc[1])
    assert scores["passed"].iloc[2] is False  # an item, and no answer: wrong
    assert evaluator.finish() == {
        "dataset": "golden", "match": "exact", "items": 2, "items_covered": 2,
        "labels": {"no_expected": 1, "no_item": 1, "no_output": 1},
    }  # fmt: skip


SAME_INPUTS = [
    {"id": "a", "input": "Same?", "expected_output": "x"},
    {"id": "b", "input": "same", "expected_output": "y"},
]


@pytest.mark.parametrize(
    ("items", "options", "message"),
    [
        (
            [{"id": "r1", "expected_output": "(unclosed"}],
            {"match": "regex"},
            "item 'r1' (line 1): not a regular expression",
        ),
        (
            [{"id": "s1", "expected_output": {"type": 12}}],
            {"match": "json_schema"},
            "item 's1' (line 1): not a valid JSON Schema",
        ),
        (
            [{"id": "n1", "expected_output": "many"}],
            {"match": "numeric"},
            "item 'n1' (line 1): no (finite) number",
        ),
        (
            [{"id": "c1", "expected_output": "?!"}],
            {"match": "contains"},
            "item 'c1' (line 1): no letters or digits to look for",
        ),
        (SAME_INPUTS, {"link": "input"}, "items 'a' and 'b' have the same input"),
    ],
)
def test_a_bad_dataset_stops_the_run_before_scoring(
    engine: sa.Engine, project: str, items: list[dict[str, Any]], options: Any, message: str
) -> None:
    with pytest.raises(SuiteError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _evaluator(engine, project, items, **options)


def test_a_missing_dataset_is_a_suite_error(engine: sa.Engine, project: str) -> None:
    evaluator = ExpectedOutput(ExpectedOutputOptions(dataset="nowhere"))
    with pytest.raises(SuiteError, match="no dataset 'nowhere' in project"):
        evaluator.setup(RunContext(engine, 1, project))


def test_the_cli_exits_2_for_a_missing_dataset(fresh_db: str, tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: golden\nevaluators:\n  - expected_output: {dataset: nowhere}\n")
    done = subprocess.run(
        [sys.executable, "-m", "reasonlens", "eval", "run", str(suite), "--db", fresh_db],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no dataset 'nowhere'" in done.stderr


def test_traces_find_their_items_by_key_attribute(server: Server, project: str) -> None:
    """Root span first, then any span; a key not in the dataset is no item."""
    with server.engine.begin() as connection:
        items = [
            {"id": "q1", "input": "Capital of France?", "expected_output": "Paris"},
            {"id": "q2", "input": "2+2?", "expected_output": "4"},
        ]
        data = "\n".join(json.dumps(item) for item in items).encode()
        upload(connection, project, "golden", data, "jsonl")
        project_id = ensure_projects(connection, [project])[project]
    trace_ids = send_runs(
        server,
        project,
        [
            Run("Capital of France?", "Paris.", item_id="q1"),
            Run("2+2?", "five", item_id="q2", item_on="tool"),
            Run("Capital of Spain?", "Madrid", item_id="q9"),
            Run("Unlinked", "Paris"),
        ],
    )
    evaluator = ExpectedOutput(ExpectedOutputOptions(dataset="golden", match="normalized"))
    evaluator.setup(RunContext(server.engine, project_id, project))
    scores = pd.concat([evaluator.score(chunk) for chunk in project_chunks(server, project)])
    by_trace = scores.set_index("trace_id").loc[trace_ids]
    assert by_trace["label"].tolist() == ["match", "mismatch", "no_item", "no_item"]
    assert [details and details["item_key"] for details in by_trace["details"]] == [
        "q1", "q2", None, None,
    ]  # fmt: skip
    assert by_trace["explanation"].iloc[2] == "no item 'q9' in 'golden'"
    assert by_trace["explanation"].iloc[3] == "no span of the trace has a 'dataset.item_id'"
