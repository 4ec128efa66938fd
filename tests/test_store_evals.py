"""Eval suites, runs and scores persist on both databases."""

from __future__ import annotations

import migrations
from store.engine import create_engine
from store.evals import NewScore, add_scores, finish_run, run_scores, save_suite, start_run
from store.models import EvalRun, EvalSuite
from tests.test_eval_suite import EXAMPLE


def test_a_run_and_its_scores_round_trip(fresh_db: str) -> None:
    engine = create_engine(fresh_db)
    migrations.upgrade(engine)
    with engine.begin() as connection:
        suite_id = save_suite(connection, "shop", "checkout-nightly", EXAMPLE, None)
        # Saving again replaces the definition, keeps the id.
        assert save_suite(connection, "shop", "checkout-nightly", EXAMPLE + "\n", "0 3 * * *") == (
            suite_id
        )
        run_id = start_run(connection, suite_id, EXAMPLE)
        project_id = (
            connection.execute(EvalSuite.__table__.select().where(EvalSuite.id == suite_id))
            .one()
            ._mapping["project_id"]
        )
        written = add_scores(
            connection,
            project_id,
            [
                NewScore("a" * 32, "pii", "pii_found", 0.0, "clean", True),
                NewScore(
                    "b" * 32,
                    "pii",
                    "pii_found",
                    2.0,
                    "email, card",
                    False,
                    "2 found",
                    span_id="c" * 16,
                ),
                NewScore("a" * 32, "loops", "max_repeats", 1.0, None, True),
            ],
            run_id=run_id,
        )
        assert written == 3
        summary = {"pii": {"pass_rate": 0.5}, "loops": {"pass_rate": 1.0}, "note": "ünï"}
        finish_run(connection, run_id, "failed", 2, summary)
    with engine.connect() as connection:
        run = connection.execute(EvalRun.__table__.select()).one()._mapping
        assert (run["status"], run["selection_size"]) == ("failed", 2)
        assert run["summary"] == summary  # JSON on both databases
        assert run["finished_at"] is not None and run["definition"] == EXAMPLE
        scores = run_scores(connection, run_id)
        assert [(s.evaluator, s.trace_id[0], s.passed) for s in scores] == [
            ("loops", "a", True),
            ("pii", "a", True),
            ("pii", "b", False),
        ]
        assert scores[2].span_id == "c" * 16 and scores[2].explanation == "2 found"
        suite = connection.execute(EvalSuite.__table__.select()).one()._mapping
        assert suite["schedule"] == "0 3 * * *"
    engine.dispose()
