"""``reasonlens db partition-spans``: partition a PostgreSQL store's spans by time."""

from __future__ import annotations

import time

from reasonlens.store_access import ACTOR, OK, migrated, refused, said
from store import audit, partitions
from store.partitions import Interval, NotPostgreSQL, OtherInterval


def partition_spans_command(interval: str, database_url: str) -> int:
    try:
        chosen = Interval(interval)
    except ValueError:
        choices = ", ".join(member.value for member in Interval)
        return refused(ValueError(f"--interval: {interval!r} is not one of {choices}"))
    if not database_url.startswith("postgresql"):
        # Before anything opens the database: a SQLite store is left exactly as it was.
        return refused(
            NotPostgreSQL("spans can be partitioned on PostgreSQL only; this store is SQLite")
        )
    with migrated(database_url) as engine:
        try:
            with engine.begin() as connection:
                converted = partitions.convert(connection, chosen, time.time_ns())
                if converted is not None:
                    audit.record(
                        connection,
                        ACTOR,
                        "spans.partition",
                        target="spans",
                        detail={"interval": chosen.value, "spans": converted.spans},
                    )
        except (NotPostgreSQL, OtherInterval) as error:
            return refused(error)
        if converted is not None:
            partitions.analyze(engine)
        with engine.connect() as connection:
            found = partitions.partitions(connection)
    if converted is None:
        said(f"spans are partitioned by {chosen.value} already ({len(found)} partitions)")
        return OK
    said(
        f"partitioned spans by {chosen.value}: {converted.spans:,} spans copied into "
        f"{len(found)} partitions (with the default one), spans locked "
        f"{converted.seconds:.1f} s"
    )
    return OK
