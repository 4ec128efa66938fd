"""Optional time partitioning of ``spans`` on PostgreSQL (``reasonlens db partition-spans``).

A partitioned store keeps ``spans`` as a table partitioned by range of
``start_time_ns``: one partition per day, week or month (named after its first day,
``spans_p20251009``), made ahead of time by the servers and workers
(:class:`store.partition_schedule.PartitionSchedule`), and a default partition
(``spans_default``) that takes any span no other one does (a client clock far off), so
ingest never fails for its timestamp. Retention then drops a whole old partition
instead of deleting its rows one by one (:func:`drop_expired`).

PostgreSQL wants the partition column in every unique index, so the schema differs
from the models (which stay the schema of an unpartitioned store) in three keys:

- the primary key is ``(id, start_time_ns)``; ``id`` still comes from its sequence, so
  it stays unique on its own;
- the idempotency key is ``(project_id, trace_id, span_id, start_time_ns)``: a re-sent
  span carries its start time again, so it still lands on the stored one (the writer's
  ``ON CONFLICT DO NOTHING`` names no index, so it serves both forms). A span sent
  again with the same ids but another start time would be stored twice;
- ``span_costs.span_pk`` loses its foreign key (none can point at a partitioned
  table's ``id`` alone); retention deletes costs with their spans' traces, as it did.

Every statement here is text SQL built only from numbers and names this module
computes from dates; nothing a user typed reaches it.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import AddConstraint, CreateIndex

from store.models import Span

NS_PER_S: Final = 1_000_000_000
DEFAULT_PARTITION: Final = "spans_default"
PARTITION_KEY: Final = "uq_spans_project_id_trace_id_span_id_start_time_ns"
COST_FOREIGN_KEY: Final = "fk_span_costs_span_pk_spans"
# Most partitions made at conversion for the spans stored; older spans go to the default.
MOST_BEHIND: Final = 400
# How long a partition change waits for its lock before giving up for this round: a
# waiting ACCESS EXCLUSIVE request queues every writer and reader behind it.
LOCK_TIMEOUT: Final = "2s"


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def ahead(self) -> int:
        """Partitions kept ready beyond the current one."""
        return {Interval.DAY: 7, Interval.WEEK: 4, Interval.MONTH: 2}[self]

    def floor(self, day: date) -> date:
        if self is Interval.DAY:
            return day
        if self is Interval.WEEK:
            return day - timedelta(days=day.weekday())  # ISO weeks begin on Monday
        return day.replace(day=1)

    def next(self, first: date) -> date:
        if self is Interval.DAY:
            return first + timedelta(days=1)
        if self is Interval.WEEK:
            return first + timedelta(days=7)
        days = calendar.monthrange(first.year, first.month)[1]
        return first + timedelta(days=days)


class NotPostgreSQL(Exception):
    """Partitioning is a PostgreSQL feature; SQLite stores stay as they are."""


class OtherInterval(Exception):
    """The store is partitioned already, by another interval."""


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    lower_ns: int | None  # None: the default partition
    upper_ns: int | None

    @property
    def is_default(self) -> bool:
        return self.lower_ns is None


def ns_of(day: date) -> int:
    return calendar.timegm(day.timetuple()) * NS_PER_S


def day_of(ns: int) -> date:
    return datetime.fromtimestamp(ns // NS_PER_S, UTC).date()


def partition_name(first: date) -> str:
    return f"spans_p{first:%Y%m%d}"


def is_partitioned(connection: Connection) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    return bool(
        connection.scalar(
            sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p "
                "JOIN pg_class c ON c.oid = p.partrelid "
                "WHERE c.relname = 'spans' AND c.relnamespace = current_schema()::regnamespace)"
            )
        )
    )


_BOUNDS = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


def partitions(connection: Connection) -> list[Partition]:
    """The partitions of ``spans``, oldest first, the default one last."""
    found = connection.execute(
        sa.text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'spans'::regclass"
        )
    ).all()
    result = []
    for name, bound in found:
        match = _BOUNDS.search(bound)
        if match is None:
            result.append(Partition(name, None, None))
        else:
            result.append(Partition(name, int(match[1]), int(match[2])))
    return sorted(result, key=lambda p: (p.is_default, p.lower_ns or 0))


def interval_of(connection: Connection) -> Interval | None:
    """The interval the store is partitioned by (from its newest partition's width)."""
    ranged = [p for p in partitions(connection) if not p.is_default]
    if not ranged:
        return None
    newest = ranged[-1]
    assert newest.lower_ns is not None and newest.upper_ns is not None
    days = (newest.upper_ns - newest.lower_ns) // (86_400 * NS_PER_S)
    return Interval.DAY if days == 1 else Interval.WEEK if days == 7 else Interval.MONTH


def _lock_timeout(connection: Connection) -> None:
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def _create_partition(connection: Connection, interval: Interval, first: date) -> str:
    """A partition for the interval beginning ``first``, taking the default partition's
    rows of its range: made apart and attached, which needs a lighter lock on ``spans``
    (SHARE UPDATE EXCLUSIVE: ingest goes on) than CREATE TABLE ... PARTITION OF. A row
    that reaches the default partition meanwhile fails the ATTACH; the next run retries."""
    name = partition_name(first)
    lower, upper = ns_of(first), ns_of(interval.next(first))
    strays = connection.scalar(
        sa.text(
            f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} "
            f"WHERE start_time_ns >= {lower} AND start_time_ns < {upper})"
        )
    )
    if strays:
        # A query planned before the ATTACH commits would see neither the moved rows
        # (gone from the default) nor their new partition: a rollup read could miss
        # spans. Rows to move are rare (a clock far ahead); lock readers out for them.
        connection.exec_driver_sql("LOCK TABLE spans IN ACCESS EXCLUSIVE MODE")
    connection.exec_driver_sql(f"CREATE TABLE {name} (LIKE spans INCLUDING DEFAULTS)")
    connection.exec_driver_sql(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
        f"WHERE start_time_ns >= {lower} AND start_time_ns < {upper} RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved"
    )
    connection.exec_driver_sql(
        f"ALTER TABLE spans ATTACH PARTITION {name} FOR VALUES FROM ({lower}) TO ({upper})"
    )
    return name


def ensure_ahead(
    connection: Connection, now_ns: int, interval: Interval | None = None
) -> list[str]:
    """Make the partitions of the current interval and the next ``interval.ahead`` ones
    that are missing; the names made. Does nothing on a store that is not partitioned."""
    if not is_partitioned(connection):
        return []
    interval = interval or interval_of(connection)
    if interval is None:
        return []
    _lock_timeout(connection)
    have = {p.lower_ns for p in partitions(connection)}
    first = interval.floor(day_of(now_ns))
    made = []
    for _ in range(interval.ahead + 1):
        if ns_of(first) not in have:
            made.append(_create_partition(connection, interval, first))
        first = interval.next(first)
    return made


@dataclass(frozen=True, slots=True)
class Converted:
    spans: int
    partitions: int
    seconds: float  # how long ``spans`` was locked (the whole transaction)


def convert(connection: Connection, interval: Interval, now_ns: int) -> Converted | None:
    """Turn ``spans`` into a partitioned table, in the caller's transaction; None when it
    is partitioned already (by ``interval``: another one raises :class:`OtherInterval`).

    It copies every span into the new table under an ACCESS EXCLUSIVE lock on ``spans``
    (and ``span_costs``, whose foreign key goes): ingest waits until it commits.
    """
    if connection.dialect.name != "postgresql":
        raise NotPostgreSQL("spans can be partitioned on PostgreSQL only")
    if is_partitioned(connection):
        current = interval_of(connection)
        if current is not None and current is not interval:
            raise OtherInterval(f"spans are partitioned by {current.value} already")
        return None
    began = time.perf_counter()
    _lock_timeout(connection)
    run = connection.exec_driver_sql
    run("LOCK TABLE spans, span_costs IN ACCESS EXCLUSIVE MODE")
    run("SET LOCAL lock_timeout = 0")  # locked: the rest waits on nobody
    run(f"ALTER TABLE span_costs DROP CONSTRAINT IF EXISTS {COST_FOREIGN_KEY}")
    run("ALTER TABLE spans RENAME TO spans_unpartitioned")
    table = Span.__table__
    # Out of the new table's way: its keys and indexes take the same names.
    for index in table.indexes:
        run(f"ALTER INDEX {index.name} RENAME TO {index.name}_old")
    for name in ["pk_spans", *(str(fk.name) for fk in table.foreign_key_constraints)]:
        run(f"ALTER TABLE spans_unpartitioned RENAME CONSTRAINT {name} TO {name}_old")
    run(
        "CREATE TABLE spans (LIKE spans_unpartitioned INCLUDING DEFAULTS INCLUDING STORAGE) "
        "PARTITION BY RANGE (start_time_ns)"
    )
    run("ALTER SEQUENCE spans_id_seq OWNED BY spans.id")
    run("ALTER TABLE spans ADD CONSTRAINT pk_spans PRIMARY KEY (id, start_time_ns)")
    dialect = connection.dialect
    for fk in table.foreign_key_constraints:
        run(str(AddConstraint(fk).compile(dialect=dialect)))
    for index in table.indexes:
        if index.unique:  # the idempotency key, with the partition column
            columns = ", ".join(column.name for column in index.columns)
            run(f"CREATE UNIQUE INDEX {PARTITION_KEY} ON spans ({columns}, start_time_ns)")
        else:
            run(str(CreateIndex(index).compile(dialect=dialect)))
    run(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF spans DEFAULT")
    # A partition for each interval that holds spans (the newest MOST_BEHIND of them),
    # not for every interval between a far-off clock's span and now.
    held = connection.scalars(
        sa.text(
            f"SELECT DISTINCT date_trunc('{interval.value}', "
            "to_timestamp(start_time_ns / 1000000000) AT TIME ZONE 'UTC')::date "
            "FROM spans_unpartitioned"
        )
    ).all()
    made = sorted(set(held))[-MOST_BEHIND:]
    for first in made:
        name = partition_name(first)
        lower, upper = ns_of(first), ns_of(interval.next(first))
        run(f"CREATE TABLE {name} PARTITION OF spans FOR VALUES FROM ({lower}) TO ({upper})")
    copied = run("INSERT INTO spans SELECT * FROM spans_unpartitioned").rowcount
    run("DROP TABLE spans_unpartitioned")
    ahead = ensure_ahead(connection, now_ns, interval)
    return Converted(copied, len(made) + len(ahead) + 1, time.perf_counter() - began)


def analyze(engine: sa.Engine) -> None:
    """Statistics for the new partitions, after the conversion committed: until
    autovacuum gets to them the planner knows nothing of their rows, and measured, it
    then scanned a whole partition for each of retention's batches. ANALYZE takes a
    lock ingest does not wait on (SHARE UPDATE EXCLUSIVE)."""
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE spans")
        connection.commit()


@dataclass(frozen=True, slots=True)
class Dropped:
    partitions: list[str]
    spans: int
    kept: list[Partition]  # candidates left: a trace lives in them, or the lock was busy
    locked_s: float  # the longest time ``spans`` was held locked for one drop


def droppable(connection: Connection, cutoff_ns: int) -> list[Partition]:
    """The partitions that end by the cutoff: their spans started before it. Whether
    one may go is decided under the lock (:func:`drop_expired`)."""
    if not is_partitioned(connection):
        return []
    return [p for p in partitions(connection) if p.upper_ns is not None and p.upper_ns <= cutoff_ns]


def ranges_of(candidates: list[Partition]) -> list[tuple[int, int]]:
    """The start times the candidate partitions cover, adjacent ones merged: retention's
    batches leave these spans to the partition drop. Not one hull: a gap between two
    partitions is the default partition's, whose spans always go by batches."""
    merged: list[tuple[int, int]] = []
    for partition in candidates:
        assert partition.lower_ns is not None and partition.upper_ns is not None
        if merged and merged[-1][1] == partition.lower_ns:
            merged[-1] = (merged[-1][0], partition.upper_ns)
        else:
            merged.append((partition.lower_ns, partition.upper_ns))
    return merged


def drop_expired(engine: sa.Engine, candidates: list[Partition]) -> Dropped:
    """Drop each candidate partition none of whose spans belongs to a stored trace.

    Run after retention's batches deleted the expired traces (leaving their spans in
    these partitions), so a trace still stored that has a span in a partition is one
    that lives: it keeps the partition. The check is made holding an ACCESS EXCLUSIVE
    lock on ``spans``, so no writer is between storing a span and its trace's rollup
    (both are one transaction) and a trace a late span just brought back is seen. A
    trace's start is the earliest of its spans', so only traces starting before the
    partition's end can have a span in it: the check reads those by the start index.
    """
    names, spans, longest = [], 0, 0.0
    kept: list[Partition] = []
    for partition in candidates:
        assert partition.upper_ns is not None
        with engine.connect() as connection:
            count = connection.scalar(sa.text(f"SELECT count(*) FROM {partition.name}"))
        try:
            with engine.begin() as connection:
                _lock_timeout(connection)
                began = time.perf_counter()
                # The parent first, as writers lock it: no deadlock with them.
                connection.exec_driver_sql("LOCK TABLE spans IN ACCESS EXCLUSIVE MODE")
                alive = connection.scalar(
                    sa.text(
                        f"SELECT EXISTS (SELECT 1 FROM traces t WHERE t.start_time_ns < "
                        f"{partition.upper_ns} AND EXISTS (SELECT 1 FROM {partition.name} s "
                        "WHERE s.project_id = t.project_id AND s.trace_id = t.trace_id))"
                    )
                )
                if alive:
                    kept.append(partition)
                    continue
                connection.exec_driver_sql(f"DROP TABLE {partition.name}")
            longest = max(longest, time.perf_counter() - began)
        except sa.exc.OperationalError as error:
            if "lock timeout" not in str(error):
                raise
            kept.append(partition)  # busy: its spans go by batches (delete_orphans)
            continue
        names.append(partition.name)
        spans += int(count or 0)
    return Dropped(names, spans, kept, longest)


def delete_orphans(engine: sa.Engine, partition: Partition, batch: int = 10_000) -> int:
    """The batches' fallback for a partition that could not go: delete its spans whose
    trace is gone (retention deleted it and left them to the drop), a batch per
    transaction. A span and its trace's rollup commit together, so a span whose trace
    row is missing here is one retention left, never one being written."""
    deleted = 0
    while True:
        with engine.begin() as connection:
            gone = connection.exec_driver_sql(
                f"DELETE FROM {partition.name} WHERE ctid IN (SELECT s.ctid FROM "
                f"{partition.name} s WHERE NOT EXISTS (SELECT 1 FROM traces t WHERE "
                "t.project_id = s.project_id AND t.trace_id = s.trace_id) "
                f"LIMIT {int(batch)})"
            ).rowcount
        deleted += gone
        if gone < batch:
            return deleted
