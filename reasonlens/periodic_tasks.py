"""The periodic tasks every server and worker process runs beside its own work.

Each task is applied by whichever process claims it (``store/periodic.py``), so every
process starts the ones its settings ask for: the retention when
``REASONLENS_RETENTION_DAYS`` is set, the partitions of ``spans`` on PostgreSQL.
"""

from __future__ import annotations

from contextlib import AsyncExitStack, ExitStack

import sqlalchemy as sa

from reasonlens.settings import Settings
from store.partition_schedule import PartitionSchedule
from store.retention_schedule import RetentionSchedule


def start_periodic_tasks(
    engine: sa.Engine, settings: Settings, stack: ExitStack | AsyncExitStack
) -> None:
    """Start the periodic tasks ``settings`` ask for; ``stack`` stops them on exit."""
    if settings.retention_days is not None:
        retention = RetentionSchedule(
            engine,
            days=settings.retention_days,
            interval_s=settings.retention_interval_seconds,
            lease_s=settings.job_lease_seconds,
        )
        retention.start()
        stack.callback(retention.stop)
    # Only PostgreSQL stores are ever partitioned (create_engine refuses other backends).
    if engine.dialect.name == "postgresql":
        partitions = PartitionSchedule(
            engine,
            interval_s=settings.partition_check_seconds,
            lease_s=settings.job_lease_seconds,
        )
        partitions.start()
        stack.callback(partitions.stop)
