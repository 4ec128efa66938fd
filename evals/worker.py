"""Job workers: claim a due eval job, run its suite, finish the job; in any process.

``reasonlens serve`` runs one in a thread, ``reasonlens worker`` runs one as a process
of its own; any number may share a database. A worker holds its job under a lease
that a heartbeat thread renews while the suite scores (a chunk may wait minutes on a
judge); if the worker dies the lease runs out and another worker takes the job again,
storing the dead attempt's run as an error first (``store/jobs.py``). A worker that
finds its lease taken stops scoring at the next chunk.

A job runs the suite as it is stored now (an edit between the slot and the run
counts). An online suite's run selects the traces that started in the window after
the previous run's (``evals/online.py``), and moves the window on only when the run
finished, so a failed run's window is scored again by the next.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from evals import online
from evals.online import ns_of
from evals.runner import RunError, StartedRun, execute_run
from evals.suite import SuiteError, load_suite
from store import evals as store_evals
from store import jobs

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """Another worker took the job: this one's run stops at the next chunk."""


class _Heartbeat:
    """Renews a job's lease every third of its length until stopped or lost."""

    def __init__(self, engine: sa.Engine, job_id: int, worker: str, lease: timedelta) -> None:
        self._engine, self._job_id, self._worker, self._lease = engine, job_id, worker, lease
        self._stopping = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="eval-job-lease", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(10)

    def _beat(self) -> None:
        while not self._stopping.wait(self._lease.total_seconds() / 3):
            try:
                with self._engine.begin() as connection:
                    held = jobs.renew(
                        connection, self._job_id, self._worker, datetime.now(UTC) + self._lease
                    )
            except Exception:  # a database blip: the lease has two more beats of slack
                log.exception("could not renew the lease of eval job %d", self._job_id)
                continue
            if not held:
                self.lost.set()
                return


class JobWorker:
    """Claims and runs jobs one at a time, polling every ``poll_s`` when there are none."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        lease_s: float = 60.0,
        poll_s: float = 2.0,
        max_attempts: int = 3,
        name: str | None = None,
    ) -> None:
        self.engine = engine
        self.lease = timedelta(seconds=lease_s)
        self.poll_s = poll_s
        self.max_attempts = max_attempts
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_one(self) -> bool:
        """Claim and run one job; False when none was due."""
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as connection:
                job = jobs.claim(connection, self.name, now, self.lease, self.max_attempts)
        except jobs.SuiteBusy:
            return True  # lost a race for one suite: look again at once for another job
        if job is None:
            return False
        log.info("worker %s: eval job %d (suite %d, attempt %d)", self.name, job.id,
                 job.suite_id, job.attempts)  # fmt: skip
        try:
            status, error = self._run(job)
        except Exception as failure:  # the database went away mid-job
            log.exception("eval job %d could not be run", job.id)
            status, error = "failed", f"{type(failure).__name__}: {failure}"
        try:
            with self.engine.begin() as connection:
                if status == "released":  # stopping: queued again for the next worker
                    jobs.release(connection, job.id, self.name)
                elif status != "lost":  # taken over: the job is another worker's now
                    jobs.finish(connection, job.id, self.name, status, datetime.now(UTC), error)
        except Exception:
            log.exception("eval job %d could not be finished; its lease will expire", job.id)
        return True

    def _run(self, job: jobs.ClaimedJob) -> tuple[str, str | None]:
        """How the job ended: done, failed, released (stopping) or lost (taken over)."""
        with self.engine.connect() as connection:
            stored = store_evals.stored_suite(connection, job.suite_id)
        if stored is None:
            return "failed", "the suite was deleted"
        try:
            suite = load_suite(stored.definition, f"suite {stored.name}")
        except SuiteError as error:
            return "failed", str(error)
        now_ns = time.time_ns()
        window = online.window(
            suite, stored.scored_until_ns, now_ns, first_from_ns=ns_of(stored.updated_at)
        )
        budget = online.judge_budget(self.engine, suite, job.suite_id)
        with self.engine.begin() as connection:
            run_id = store_evals.start_run(connection, job.suite_id, suite.source)
            if not jobs.set_run(connection, job.id, self.name, run_id):
                raise LeaseLost(f"eval job {job.id} was taken over before its run began")
        started = StartedRun(run_id, job.suite_id, job.project_id, now_ns)
        with _Heartbeat(self.engine, job.id, self.name, self.lease) as heartbeat:

            def check(done: int, total: int) -> None:
                if heartbeat.lost.is_set() or self._stopping.is_set():
                    raise LeaseLost("the worker lost its lease or is stopping")

            try:
                execute_run(
                    self.engine,
                    suite,
                    started,
                    progress=check,
                    selection=None if window is None else window.selection,
                    judge_budget_usd=budget,
                )
            except RunError as error:
                if heartbeat.lost.is_set():
                    return "lost", str(error)
                if self._stopping.is_set():
                    return "released", str(error)
                return "failed", str(error)
            if heartbeat.lost.is_set():  # taken over while its last chunk scored
                return "lost", "the worker lost its lease"
        if window is not None:
            with self.engine.begin() as connection:
                store_evals.set_scored_until(
                    connection, job.suite_id, window.until_ns, seen=stored.scored_until_ns
                )
        return "done", None

    # A thread of its own (serve), or the caller's (reasonlens worker).

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop, name="eval-worker", daemon=True)
        self._thread.start()

    def loop(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self.run_one()
            except Exception:  # the database is away: wait and try again
                log.exception("eval worker %s could not claim a job", self.name)
                busy = False
            if not busy:
                self._stopping.wait(self.poll_s)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; a job in progress stops at its next chunk and goes back to the
        queue, so another worker (or this one, restarted) runs it again."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
