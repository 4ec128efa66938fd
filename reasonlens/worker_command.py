"""``reasonlens worker``: a process that runs due eval jobs until TERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
from contextlib import ExitStack
from types import FrameType

import typer

import migrations
from evals.worker import JobWorker
from reasonlens.periodic_tasks import start_periodic_tasks
from reasonlens.settings import Settings
from store.engine import create_engine


def run_worker(settings: Settings) -> int:
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(message)s")
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    if settings.migrate_on_start:
        migrations.upgrade(engine)
    worker = JobWorker(
        engine,
        lease_s=settings.job_lease_seconds,
        poll_s=settings.worker_poll_seconds,
        max_attempts=settings.job_max_attempts,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        worker.stop(timeout=0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with ExitStack() as stack:
        stack.callback(engine.dispose)  # last, after the periodic tasks have stopped
        start_periodic_tasks(engine, settings, stack)
        typer.echo(f"reasonlens worker {worker.name}: running due eval jobs", err=True)
        worker.loop()
    typer.echo(f"reasonlens worker {worker.name}: stopped", err=True)
    return 0
