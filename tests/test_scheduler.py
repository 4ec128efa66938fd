"""The scheduler and the job table on a real database, with the clock in the test's
hands: slots become jobs once (missed ones collapse after downtime, two schedulers
enqueue a slot once), jobs are claimed once, and a job whose worker stopped renewing
its lease is taken back, its dead attempt's run stored as an error."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from evals import cron
from evals.scheduler import run_now, tick
from store import evals as store_evals
from store import jobs
from store.jobs import LOST_LEASE
from store.models import EvalJob, EvalRun, EvalSuite

T0 = datetime(2026, 11, 22, 9, 59, 30, tzinfo=UTC)
LEASE = timedelta(seconds=30)
SUITE = "name: {name}\nevaluators: [loops]\nschedule: '{schedule}'\n"


def scheduled(engine: sa.Engine, name: str, schedule: str) -> int:
    with engine.begin() as connection:
        definition = SUITE.format(name=name, schedule=schedule)
        return store_evals.save_suite(connection, "sched", name, definition, schedule)


def job_slots(engine: sa.Engine, suite_id: int) -> list[datetime]:
    with engine.connect() as connection:
        return list(
            connection.scalars(
                sa.select(EvalJob.due_at).where(EvalJob.suite_id == suite_id).order_by("due_at")
            )
        )


def next_run(engine: sa.Engine, suite_id: int) -> datetime | None:
    with engine.connect() as connection:
        return connection.scalar(sa.select(EvalSuite.next_run_at).where(EvalSuite.id == suite_id))


def test_a_schedule_starts_from_now_then_runs_each_slot_once(engine: sa.Engine) -> None:
    suite = scheduled(engine, "hourly", "0 * * * *")
    assert tick(engine, T0, max_attempts=3) == 0  # first look: places the next slot
    assert next_run(engine, suite) == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert tick(engine, T0 + timedelta(seconds=20), max_attempts=3) == 0  # not yet due
    assert tick(engine, T0 + timedelta(seconds=31), max_attempts=3) == 1
    assert tick(engine, T0 + timedelta(seconds=40), max_attempts=3) == 0  # enqueued once
    assert job_slots(engine, suite) == [datetime(2026, 11, 22, 10, tzinfo=UTC)]
    assert next_run(engine, suite) == datetime(2026, 11, 22, 11, tzinfo=UTC)


def test_slots_missed_while_down_run_once(engine: sa.Engine) -> None:
    suite = scheduled(engine, "every-ten", "*/10 * * * *")
    tick(engine, T0, max_attempts=3)
    # Down from 10:00 to 15:07: thirty-one slots passed; one run, for the latest.
    assert tick(engine, datetime(2026, 11, 22, 15, 7, tzinfo=UTC), max_attempts=3) == 1
    assert job_slots(engine, suite) == [datetime(2026, 11, 22, 15, tzinfo=UTC)]
    assert next_run(engine, suite) == datetime(2026, 11, 22, 15, 10, tzinfo=UTC)


def test_two_schedulers_enqueue_a_slot_once(engine: sa.Engine) -> None:
    suites = [scheduled(engine, f"racing-{n}", "* * * * *") for n in range(6)]
    tick(engine, T0, max_attempts=3)
    later = T0 + timedelta(minutes=3)
    with ThreadPoolExecutor(4) as pool:
        enqueued = sum(pool.map(lambda _: tick(engine, later, max_attempts=3), range(4)))
    assert enqueued == len(suites)
    for suite in suites:
        assert job_slots(engine, suite) == [datetime(2026, 11, 22, 10, 2, tzinfo=UTC)]


def test_a_changed_schedule_is_placed_again_and_a_disabled_one_waits(engine: sa.Engine) -> None:
    suite = scheduled(engine, "changing", "0 * * * *")
    tick(engine, T0, max_attempts=3)
    assert next_run(engine, suite) is not None
    scheduled(engine, "changing", "0 * * * *")  # saved again, same schedule: kept
    assert next_run(engine, suite) == datetime(2026, 11, 22, 10, tzinfo=UTC)
    scheduled(engine, "changing", "30 * * * *")
    assert next_run(engine, suite) is None
    tick(engine, T0, max_attempts=3)
    assert next_run(engine, suite) == datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
    with engine.begin() as connection:
        assert jobs.set_enabled(connection, suite, False)
    assert tick(engine, T0 + timedelta(hours=3), max_attempts=3) == 0
    assert job_slots(engine, suite) == []
    with engine.begin() as connection:
        jobs.set_enabled(connection, suite, True)
    tick(engine, T0 + timedelta(hours=3), max_attempts=3)  # from now: no catching up
    assert job_slots(engine, suite) == []
    assert next_run(engine, suite) == datetime(2026, 11, 22, 13, 30, tzinfo=UTC)


def test_a_job_is_claimed_once_and_a_lost_worker_s_job_is_taken_back(
    engine: sa.Engine,
) -> None:
    suite = scheduled(engine, "claimed", "0 3 * * *")
    with engine.connect() as connection:
        project_id = connection.scalar(sa.select(EvalSuite.project_id))
    first = run_now(engine, project_id, suite)
    with engine.begin() as connection:
        job = jobs.claim(connection, "worker-a", T0, LEASE, max_attempts=2)
        assert job is not None and job.id == first and job.attempts == 1
        assert jobs.claim(connection, "worker-b", T0, LEASE, max_attempts=2) is None
        run_id = store_evals.start_run(connection, suite, "definition")
        assert jobs.set_run(connection, job.id, "worker-a", run_id)
    # worker-a renews once, then dies; worker-b cannot take it before the lease ends.
    with engine.begin() as connection:
        assert jobs.renew(connection, job.id, "worker-a", T0 + timedelta(seconds=40))
        assert jobs.claim(connection, "worker-b", T0 + timedelta(seconds=39), LEASE, 2) is None
        again = jobs.claim(connection, "worker-b", T0 + timedelta(seconds=41), LEASE, 2)
    assert again is not None and again.id == job.id and again.attempts == 2
    with engine.connect() as connection:
        run = connection.execute(sa.select(EvalRun).where(EvalRun.id == run_id)).one()
    assert run.status == "error" and run.error == LOST_LEASE
    with engine.begin() as connection:
        # The dead worker is no longer its holder: it can neither renew nor finish it.
        assert not jobs.renew(connection, job.id, "worker-a", T0 + timedelta(minutes=5))
        assert not jobs.finish(connection, job.id, "worker-a", "done", T0)
    # worker-b dies too: that was the last attempt, so the job fails.
    late = T0 + timedelta(minutes=5)
    with engine.begin() as connection:
        assert jobs.claim(connection, "worker-c", late, LEASE, max_attempts=2) is None
        assert jobs.fail_abandoned(connection, late, max_attempts=2) == 1
        status, error = connection.execute(
            sa.select(EvalJob.status, EvalJob.error).where(EvalJob.id == job.id)
        ).one()
    assert (status, error) == ("failed", LOST_LEASE)


def test_concurrent_claimers_take_each_job_once(
    engine: sa.Engine,
) -> None:
    suites = [scheduled(engine, f"queue-{n}", "0 3 * * *") for n in range(8)]
    with engine.begin() as connection:
        project_id = connection.scalar(sa.select(EvalSuite.project_id))
        for n in range(40):
            due = T0 + timedelta(seconds=n)
            jobs.enqueue(connection, project_id, suites[n % 8], "manual", due, T0)

    def drain(worker: str) -> list[int]:
        taken = []
        while True:
            try:
                with engine.begin() as connection:
                    job = jobs.claim(connection, worker, T0, LEASE, max_attempts=3)
            except jobs.SuiteBusy:
                continue
            if job is None:
                with engine.connect() as connection:
                    left = connection.scalar(
                        sa.select(sa.func.count()).where(EvalJob.status != "done")
                    )
                if not left:
                    return taken
                continue
            taken.append(job.id)
            with engine.begin() as connection:
                assert jobs.finish(connection, job.id, worker, "done", T0)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(drain, [f"w{n}" for n in range(4)]))
    claimed = [job for taken in results for job in taken]
    assert len(claimed) == 40 and len(set(claimed)) == 40


def test_a_suite_s_next_job_waits_for_its_running_one(engine: sa.Engine) -> None:
    suite = scheduled(engine, "serial", "0 3 * * *")
    other = scheduled(engine, "other", "0 3 * * *")
    with engine.begin() as connection:
        project_id = connection.scalar(sa.select(EvalSuite.project_id))
        first = jobs.enqueue(connection, project_id, suite, "manual", T0, T0)
        second = jobs.enqueue(connection, project_id, suite, "manual", T0 + LEASE / 10, T0)
        third = jobs.enqueue(connection, project_id, other, "manual", T0 + LEASE / 5, T0)
        assert jobs.has_queued(connection, suite)
    with engine.begin() as connection:
        a = jobs.claim(connection, "a", T0, LEASE, 3)
        b = jobs.claim(connection, "b", T0, LEASE, 3)  # skips the busy suite's second
        c = jobs.claim(connection, "c", T0, LEASE, 3)
    assert a is not None and a.id == first and b is not None and b.id == third and c is None
    with engine.begin() as connection:
        jobs.finish(connection, first, "a", "done", T0)
        d = jobs.claim(connection, "c", T0, LEASE, 3)
    assert d is not None and d.id == second


def test_cron_expressions_are_checked() -> None:
    assert cron.check("*/5 * * * *") == "*/5 * * * *"
    assert cron.check("@daily") == "@daily"
    for bad in ("61 * * * *", "* * *", "every day", "* * * * * * * *", "0 0 31 2 *"):
        with pytest.raises(cron.CronError):
            cron.check(bad)
    six = cron.next_slot("* * * * * */2", T0)  # six fields: seconds last
    assert six == T0 + timedelta(seconds=2)
