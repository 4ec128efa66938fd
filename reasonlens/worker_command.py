"""``reasonlens worker``: a process that runs due eval jobs until TERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import typer

import migrations
from evals.worker import JobWorker
from reasonlens.settings import Settings
from store.engine import create_engine
from store.partition_schedule import PartitionSchedule
from store.retention_schedule import RetentionSchedule


def run_worker(settings: Settings) -> int:
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(message)s")
    engine = create_engine(settings.database_url)
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
    retention = None
    if settings.retention_days is not None:  # applied by whichever process claims it
        retention = RetentionSchedule(
            engine,
            days=settings.retention_days,
            interval_s=settings.retention_interval_seconds,
            lease_s=settings.job_lease_seconds,
        )
        retention.start()
    partitions = None
    if engine.dialect.name == "postgresql":  # only PostgreSQL stores are ever partitioned
        partitions = PartitionSchedule(
            engine, interval_s=settings.partition_check_seconds, lease_s=settings.job_lease_seconds
        )
        partitions.start()
    typer.echo(f"reasonlens worker {worker.name}: running due eval jobs", err=True)
    try:
        worker.loop()
    finally:
        if retention is not None:
            retention.stop()
        if partitions is not None:
            partitions.stop()
        engine.dispose()
    typer.echo(f"reasonlens worker {worker.name}: stopped", err=True)
    return 0
