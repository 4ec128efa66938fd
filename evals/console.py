"""What ``reasonlens eval run`` prints: a progress bar while scoring, then a summary
table of every evaluator and threshold, so a CI log says why a gate failed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evals.runner import Progress as ProgressCallback


@contextmanager
def progress_bar(console: Console, suite: str) -> Iterator[ProgressCallback]:
    with Progress(
        TextColumn(f"[bold]{suite}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("traces"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("scoring", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def summary_table(summary: dict[str, Any]) -> Table:
    checks: dict[str, list[dict[str, Any]]] = {}
    for check in summary["thresholds"]:
        checks.setdefault(check["evaluator"], []).append(check)
    table = Table(title="Evaluators", title_justify="left")
    for column in ("evaluator", "metric", "passed", "failed", "n/a", "pass rate", "mean", "p95"):
        table.add_column(column, justify="left" if column in ("evaluator", "metric") else "right")
    table.add_column("thresholds")
    for name, figures in summary["evaluators"].items():
        table.add_row(
            name,
            figures["metric"],
            str(figures["passed"]),
            str(figures["failed"]),
            str(figures["not_applicable"]),
            _pct(figures["pass_rate"]),
            _num(figures["mean"]),
            _num(figures["p95"]),
            "  ".join(_check(check) for check in checks.get(name, [])),
        )
    return table


def selection_line(summary: dict[str, Any]) -> str:
    selection = summary["selection"]
    cost = selection["cost_usd"]
    per_success = selection["cost_per_success_usd"]
    spend = (
        f"cost ${cost:.4f}, ${per_success:.4f} per successful trace"
        if cost is not None and per_success is not None
        else f"cost unknown ({selection['unpriced_traces']} unpriced traces)"
    )
    return (
        f"{selection['traces']} traces ({selection['successful']} successful), {spend}; "
        f"scored in {summary['duration_s']:.1f} s"
    )


def _check(check: dict[str, Any]) -> str:
    mark = "[green]ok[/green]" if check["held"] else "[red]FAILED[/red]"
    actual = check["actual"]
    shown = "none" if actual is None else _num(actual)
    return f"{check['check']} {shown} vs {check['limit']:g} {mark}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"
