"""A baseline spec turned into the trace filter of the baseline cohort.

``version: "1.2"``   that agent version's newest traces, any time: the current
                     selection's filters with its version replaced and its time
                     bounds dropped (a version that was rolled back has no recent
                     traces, and is still the baseline)
``window: {...}``    the current selection's filters over another time window
                     (``since``/``until`` as suites write them: ISO, ns or 7d)
``known_good: true`` the version marked known-good for the agent, through
                     :func:`known_good_version`: the one seam to the store's record of
                     known-good versions
"""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa

from evals.drift.options import BaselineSpec
from store import known_good
from store.projects import project_id
from store.queries import TraceFilter
from store.times import BadParameter, time_ns


class BaselineError(ValueError):
    """A baseline that names no traces: a bad time, no known-good version marked."""


def known_good_version(connection: sa.Connection, project: str, agent: str | None) -> str | None:
    """The agent's version marked known-good in the project; None when none is marked
    (or the cohort names no agent: a mark is per agent)."""
    if agent is None:
        return None
    pid = project_id(connection, project)
    return None if pid is None else known_good.known_good_version(connection, pid, agent)


def resolve_baseline(
    connection: sa.Connection,
    spec: BaselineSpec,
    current: TraceFilter,
    *,
    now_ns: int | None = None,
) -> tuple[TraceFilter, str]:
    """The baseline's filter and what to call it (``version 1.4``); :class:`BaselineError`
    when it cannot be resolved. ``now_ns`` is "now" for ages, fixed per run."""
    if spec.known_good:
        version = known_good_version(connection, current.project or "", current.agent)
        if version is None:
            agent = f" for agent {current.agent!r}" if current.agent else ""
            raise BaselineError(
                f"no known-good version marked{agent} in project {current.project!r}: "
                "mark one, or give the baseline a version or a window"
            )
        return _version(current, version), f"known-good version {version}"
    if spec.version is not None:
        return _version(current, spec.version), f"version {spec.version}"
    assert spec.window is not None  # BaselineSpec allows exactly one kind
    try:
        since = time_ns("baseline.window.since", spec.window.since, now_ns=now_ns)
        until = time_ns("baseline.window.until", spec.window.until, now_ns=now_ns)
    except BadParameter as error:
        raise BaselineError(str(error)) from None
    if since is not None and until is not None and since > until:
        raise BaselineError("baseline.window: since is after until")
    shown = " to ".join(part for part in (spec.window.since, spec.window.until) if part)
    label = f"window {shown}" if spec.window.since else f"window until {shown}"
    return replace(current, start_after_ns=since, start_before_ns=until), label


def _version(current: TraceFilter, version: str) -> TraceFilter:
    return replace(current, agent_version=version, start_after_ns=None, start_before_ns=None)
