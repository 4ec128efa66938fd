"""What the schedules page and ``GET /api/schedules`` show of each scheduled suite.

Read per request: the suites with a schedule, their next and last runs, their open
jobs, and for an online suite its backlog (traces arrived and sampled that no finished
run's window has covered yet) with the age of the oldest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evals import online
from evals.suite import SuiteError, load_suite
from store import eval_reads, jobs
from store.eval_reads import SuiteRecord

FAILED_SHOWN = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    record: SuiteRecord
    online: bool
    backlog: online.Backlog | None
    backlog_age_s: float | None
    queued: int
    running: int
    failed_recently: int  # jobs failed in the last day
    problem: str | None  # the stored definition no longer reads

    @property
    def next_run_at(self) -> datetime | None:
        return self.record.suite.next_run_at if self.record.suite.enabled else None


def schedule_lines(
    engine: sa.Engine, session: Session, project_id: int | None
) -> list[ScheduleLine]:
    records = [
        record
        for record in eval_reads.list_suites(session, project_id)
        if record.suite.schedule is not None
    ]
    counts = jobs.job_counts(
        session.connection(),
        [record.suite.id for record in records],
        failed_since=datetime.now(UTC) - FAILED_SHOWN,
    )
    now_ns = time.time_ns()
    lines = []
    for record in records:
        problem, pending, age = None, None, None
        try:
            suite = load_suite(record.suite.definition, f"suite {record.suite.name}")
        except SuiteError as error:
            problem, suite = str(error), None
        if suite is not None and suite.online is not None:
            pending = online.backlog(
                engine,
                suite,
                record.suite.scored_until_ns,
                now_ns,
                first_from_ns=online.ns_of(record.suite.updated_at),
            )
            if pending.oldest_ns is not None:
                age = max(0.0, (now_ns - pending.oldest_ns) / 1e9)
        open_counts = counts.get(record.suite.id, {})
        lines.append(
            ScheduleLine(
                record,
                online=suite is not None and suite.online is not None,
                backlog=pending,
                backlog_age_s=age,
                queued=open_counts.get("queued", 0),
                running=open_counts.get("running", 0),
                failed_recently=open_counts.get("failed", 0),
                problem=problem,
            )
        )
    return lines
