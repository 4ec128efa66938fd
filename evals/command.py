"""``reasonlens eval run``: a suite file run against a database, as a CI gate."""

from __future__ import annotations

import sys

from rich.console import Console

import migrations
from evals.console import progress_bar, selection_line, summary_table
from evals.runner import RunError, execute_run, start_run
from evals.selection import trace_filter
from evals.suite import SuiteError, load_suite
from store.engine import create_engine

PASSED, FAILED, BAD_SUITE = 0, 1, 2


def run_suite_file(text: str, source: str, database_url: str) -> int:
    # A CI log is no terminal: wide enough that no evaluator's name is cut.
    width = None if sys.stdout.isatty() else 160
    console = Console(highlight=False, width=width)
    errors = Console(stderr=True, highlight=False, width=width)
    try:
        suite = load_suite(text, source)
        trace_filter(suite.select)
    except SuiteError as error:
        errors.print(f"[red]bad suite[/red] {error}", markup=True, soft_wrap=True)
        return BAD_SUITE
    engine = create_engine(database_url)
    try:
        migrations.upgrade(engine)
        started = start_run(engine, suite)
        with progress_bar(console, suite.name) as progress:
            result = execute_run(engine, suite, started, progress=progress)
    except RunError as error:
        bad_suite = isinstance(error.__cause__, SuiteError)
        errors.print(
            f"[red]{'bad suite' if bad_suite else 'run failed'}[/red] (run {error.run_id}): "
            f"{error}",
            soft_wrap=True,
        )
        return BAD_SUITE if bad_suite else FAILED
    finally:
        engine.dispose()
    console.print(summary_table(result.summary))
    console.print(selection_line(result.summary))
    verdict = "[green]passed[/green]" if result.passed else "[red]FAILED[/red]"
    console.print(f"run {result.run_id}: {verdict}")
    return PASSED if result.passed else FAILED
