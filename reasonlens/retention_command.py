"""``reasonlens retention``: delete the traces older than an age, now, from the shell."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime

from reasonlens.store_access import ACTOR, OK, migrated, refused, said
from store import audit
from store.projects import project_id
from store.retention import delete_before, plan
from store.times import BadParameter, duration_ns


class UnknownProject(LookupError):
    pass


def retention_command(
    older_than: str, project: str | None, database_url: str, *, dry_run: bool, batch: int
) -> int:
    try:
        age_ns = duration_ns("--older-than", older_than)
        if age_ns <= 0:
            raise BadParameter("--older-than", f"{older_than!r} would delete every trace")
    except BadParameter as error:
        return refused(error)
    with migrated(database_url) as engine:
        found = None
        if project is not None:
            with engine.connect() as connection:
                found = project_id(connection, project)
            if found is None:
                return refused(UnknownProject(f"no project {project!r} in this database"))
        cutoff_ns = time.time_ns() - age_ns
        before = datetime.fromtimestamp(cutoff_ns / 1e9, UTC).isoformat(timespec="seconds")
        where = f" in project {project}" if project else ""
        if dry_run:
            with engine.connect() as connection:
                planned = plan(connection, cutoff_ns, found)
            said(
                f"dry run: would delete {planned.traces:,} traces ({planned.spans:,} spans)"
                f"{where} that ended before {before}"
            )
            return OK
        done = delete_before(engine, cutoff_ns, project_id=found, batch_traces=batch)
        with engine.begin() as connection:
            audit.record(
                connection,
                ACTOR,
                "retention.delete",
                project_id=found,
                target=project,
                detail={"older_than": older_than, "cutoff_ns": cutoff_ns, **asdict(done)},
            )
    said(
        f"deleted {done.traces:,} traces ({done.spans:,} spans, {done.log_records:,} log "
        f"records, {done.scores:,} scores){where} that ended before {before}, "
        f"in {done.seconds:.1f} s ({done.batches:,} batches)"
    )
    if done.partitions:
        said(
            f"{done.partitions:,} partitions dropped whole (spans locked at most "
            f"{done.partition_lock_s * 1000:.0f} ms)"
        )
    return OK
