"""``GET /``: a project's health over a time window, by agent and version.

The window is *the last 24 hours of data* unless the query says otherwise: it ends at
the newest trace (rounded up to a whole bucket), not at the clock, so a project that
went quiet yesterday, or a demo loaded last week, still shows its traffic.
``?window=1h|6h|24h|7d|30d`` picks the length; ``since`` and ``until`` (the forms
``/api/traces`` takes: ISO 8601, epoch nanoseconds or an age like ``24h``) fix either
end, the other following from the newest trace. Every number links to the traces
behind it on ``/traces``, with the same window.

The project's budgets, when it has any, are shown above the window: they are about the
current UTC day and month, whatever the window (``store/analytics/budgets.py``); so are
the traces flagged as runaways in the last 7 days (``collector/runaway.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from markupsafe import Markup
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, Response, StreamingResponse

from store import known_good
from store.analytics.budgets import BudgetStatus, budget_status
from store.analytics.figures import Stats, Window, window_between, window_ending_at
from store.analytics.overview import Group, Overview, latest_start_ns, overview
from store.known_good import Mark, version_key
from store.models import Runaway, Trace
from store.projects import project_id
from store.runaways import runaways
from web import charts
from web.deps import DbSession
from web.exports.csv_writer import filename
from web.exports.reports import OVERVIEW_COLUMNS, frame_csv, overview_frame
from web.exports.response import CSV_RESPONSES, csv_response
from web.pages.context import PageProject, page_project
from web.params import BadParameter, time_ns
from web.templating import fmt_ms, fmt_usd, query_string, render

router = APIRouter()

HOUR_NS = 3600 * 1_000_000_000
WINDOWS = {"1h": HOUR_NS, "6h": 6 * HOUR_NS, "24h": 24 * HOUR_NS, "7d": 168 * HOUR_NS,
           "30d": 720 * HOUR_NS}  # fmt: skip
DEFAULT_WINDOW = "24h"
# Charts split by agent version show this many; the rest are summed as "other". pygal
# costs ~1 ms per 10 bars, the biggest part of the page after the queries.
MAX_SERIES = 6
RUNAWAYS_SHOWN = timedelta(days=7)  # as budgets, about now, whatever the window
RUNAWAYS_LISTED = 10


@dataclass(frozen=True, slots=True)
class OverviewView:
    """What ``overview.html`` shows. ``data`` is None when the project has no traces at
    all (the empty state); ``window`` is None then too."""

    form: dict[str, str]  # window, since, until as given: refills the form
    window: Window | None
    data: Overview | None
    latest_ns: int | None  # the newest trace's start, said when the window is empty
    traces_query: dict[str, str]  # project + the window, as /traces parameters
    charts: dict[str, Markup]
    budgets: list[BudgetStatus] = field(default_factory=list)  # as of now, not the window
    runaways: list[tuple[Runaway, Trace]] = field(default_factory=list)  # the last 7 days
    runaways_since: datetime | None = None  # the start of those 7 days
    known_good: dict[str, Mark] = field(default_factory=dict)  # by agent
    current: dict[str, str | None] = field(default_factory=dict)  # each marked agent's now

    def group_of(self, agent: str, version: str | None) -> Group | None:
        """The agent version's row in this window, if it ran in it."""
        if self.data is None or version is None:
            return None
        return next(
            (g for g in self.data.groups if g.agent == agent and g.version == version), None
        )

    def is_known_good(self, group: Group) -> bool:
        mark = self.known_good.get(group.agent or "")
        return mark is not None and mark.version == group.version

    def known_good_link(self, group: Group) -> str | None:
        """``/compare`` of the agent's known-good version (all its traces) with this
        version in the window; None without a mark, or for the marked version itself."""
        mark = self.known_good.get(group.agent or "")
        if mark is None or mark.version == group.version or group.version is None:
            return None
        params = {
            "project": self.traces_query.get("project"),
            "a.agent": mark.agent,
            "a.agent_version": mark.version,
            "b.agent": group.agent,
            "b.agent_version": group.version,
            "b.since": self.traces_query.get("since"),
            "b.until": self.traces_query.get("until"),
        }
        return "/compare" + query_string(params)

    @property
    def bucket_label(self) -> str:
        minutes = self.window.bucket_minutes if self.window else 0
        if minutes and minutes % 1440 == 0:
            return f"{minutes // 1440} d"
        if minutes and minutes % 60 == 0:
            return f"{minutes // 60} h"
        return f"{minutes} min"

    def csv_link(self, project: str | None, table: str) -> str:
        """One of the tables below, for this window, as CSV (``/overview.csv``)."""
        return "/overview.csv" + query_string({"project": project, "table": table, **self.form})

    def runaways_link(self, project: str | None, suffix: str = "") -> str:
        """The runaways table as shown (``/api/runaways``, ``suffix`` ``.csv`` for its
        CSV): the same 7 days (to the microsecond), at most as many rows."""
        since = self.runaways_since
        params = {
            "project": project,
            "since": since.isoformat(timespec="microseconds").replace("+00:00", "Z")
            if since
            else None,
            "limit": RUNAWAYS_LISTED,
        }
        return f"/api/runaways{suffix}" + query_string(params)

    def traces_link(self, group: Group | None = None, **extra: Any) -> str:
        """``/traces`` showing the traces behind a number (of one agent version)."""
        params: dict[str, Any] = dict(self.traces_query)
        if group is not None:
            params.update(agent=group.agent, agent_version=group.version)
        return "/traces" + query_string(params, **extra)

    def compare_link(self, group: Group) -> str | None:
        """``/compare`` of this version with the closest earlier version of the same agent
        in the window (else the closest later one), over this window; None when the
        agent has one version here."""
        assert self.data is not None
        if group.agent is None:
            return None
        others = [g for g in self.data.groups if g.agent == group.agent and g is not group]
        earlier = [g for g in others if version_key(g.version) < version_key(group.version)]
        later = [g for g in others if g not in earlier]
        if earlier:
            pair = (max(earlier, key=lambda g: version_key(g.version)), group)
        elif later:
            pair = (group, min(later, key=lambda g: version_key(g.version)))
        else:
            return None
        params: dict[str, Any] = {"project": self.traces_query.get("project")}
        for key, side in zip(("a", "b"), pair, strict=True):
            params.update({
                f"{key}.agent": side.agent,
                f"{key}.agent_version": side.version,
                f"{key}.since": self.traces_query.get("since"),
                f"{key}.until": self.traces_query.get("until"),
            })  # fmt: skip
        return "/compare" + query_string(params)


@router.get("/", response_class=HTMLResponse)
def overview_page(
    request: Request,
    session: DbSession,
    project: str | None = Query(None, description="Project name."),
    window: str | None = Query(None, description="1h, 6h, 24h (default), 7d or 30d."),
    since: str | None = Query(None, description="Window start: ISO 8601, epoch ns or age."),
    until: str | None = Query(None, description="Window end (same forms)."),
) -> HTMLResponse:
    chosen = page_project(session, project)
    form = {"window": window or "", "since": since or "", "until": until or ""}
    view = OverviewView(form, None, None, None, {}, {})
    if chosen.name is not None:
        pid = project_id(session.connection(), chosen.name)
        latest = latest_start_ns(session, pid) if pid is not None else None
        if pid is not None and latest is not None:
            span = _resolve_window(window, since, until, latest)
            data = overview(session, pid, span)
            view = OverviewView(
                form=form,
                window=span,
                data=data,
                latest_ns=latest,
                traces_query=_traces_query(chosen, span),
                charts=_charts(data),
            )
        if pid is not None:
            now = datetime.now(UTC)
            marks = known_good.marks(session.connection(), pid)
            view = replace(
                view,
                budgets=budget_status(session, pid, now),
                runaways=runaways(session, pid, since=now - RUNAWAYS_SHOWN, limit=RUNAWAYS_LISTED),
                runaways_since=now - RUNAWAYS_SHOWN,
                known_good=marks,
                current=known_good.current_versions(session, pid, marks),
            )
    return render(
        request,
        "overview.html",
        {"project": chosen, "view": view, "windows": list(WINDOWS), "default": DEFAULT_WINDOW},
    )


class OverviewCsvParams(BaseModel):
    project: str = Field(description="Project name.")
    table: Literal["groups", "expensive", "slowest", "tools"] = Field(
        description="By agent and version, most expensive, slowest traces, failing tools."
    )
    window: str | None = Field(None, description="As on the page.")
    since: str | None = Field(None)
    until: str | None = Field(None)


@router.get("/overview.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def overview_csv(session: DbSession, params: Annotated[OverviewCsvParams, Query()]) -> Response:
    """One of the overview's tables as the page shows it for the same window."""
    name = filename(f"overview-{params.table}", params.project)
    return csv_response(overview_table_csv(session, params), name)


def overview_table_csv(session: Session, params: OverviewCsvParams) -> Iterator[bytes]:
    """The export of ``/overview.csv`` (and ``reasonlens export overview``)."""
    chosen = page_project(session, params.project)
    pid = project_id(session.connection(), params.project)
    latest = latest_start_ns(session, pid) if pid is not None else None
    if pid is None or latest is None:
        raise HTTPException(404, f"no traces in project {chosen.name!r}")
    window = _resolve_window(params.window, params.since, params.until, latest)
    frame = overview_frame(overview(session, pid, window), params.table)
    return frame_csv(frame, OVERVIEW_COLUMNS[params.table])


def _resolve_window(
    window: str | None, since: str | None, until: str | None, latest_ns: int
) -> Window:
    """The window the query asks for; a bad value is a 400 page naming it."""
    if window not in (None, "") and window not in WINDOWS:
        raise HTTPException(400, f"window: {window!r} is not one of {', '.join(WINDOWS)}")
    length = WINDOWS[window or DEFAULT_WINDOW]
    try:
        start, end = time_ns("since", since), time_ns("until", until)
    except BadParameter as error:
        raise HTTPException(400, str(error)) from None
    if start is None and end is None:
        return window_ending_at(latest_ns, length)
    if start is None:
        assert end is not None
        start = end - length + 1
    if end is None:
        end = max(latest_ns, start)
    if start > end:
        raise HTTPException(400, "since: the window starts after it ends (until)")
    return window_between(start, end)


def _traces_query(project: PageProject, window: Window) -> dict[str, str]:
    return {
        "project": project.name or "",
        "since": iso_time(window.since_ns),
        "until": iso_time(window.until_ns),
    }


def iso_time(ns: int) -> str:
    """ISO 8601 when that is exact (it goes to the microsecond), else epoch nanoseconds:
    both are what ``/traces`` reads."""
    if ns % 1000:
        return str(ns)
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    micros = ns // 1000 % 1_000_000
    return text + (f".{micros:06d}" if micros else "") + "Z"


# Charts -------------------------------------------------------------------------------


def _charts(data: Overview) -> dict[str, Markup]:
    labels = _bucket_labels(data.window)
    groups = data.groups[:MAX_SERIES]
    rest = data.groups[MAX_SERIES:]

    def split(value: Any) -> list[tuple[str, list[float | None]]]:
        series = [(_group_label(g), [value(b) for b in g.buckets]) for g in groups]
        if rest:
            other = [sum(value(g.buckets[i]) or 0 for g in rest) for i in range(len(labels))]
            series.append(("other", other))
        return series

    def overall(*pairs: tuple[str, Any]) -> list[tuple[str, list[float | None]]]:
        return [(name, [value(b) for b in data.buckets]) for name, value in pairs]

    def percent(value: float | None) -> float | None:
        return None if value is None else 100 * value

    rendered = {
        "traces": charts.bars("Traces", labels, split(lambda s: s.traces), stacked=True),
        "rates": charts.line(
            "Error and escalation rate (%)",
            labels,
            overall(
                ("error rate", lambda s: percent(s.error_rate)),
                ("escalation rate", lambda s: percent(s.escalation_rate)),
            ),
            formatter=lambda v: f"{v:.1f}%",
        ),
        "latency": charts.line(
            "Latency",
            labels,
            overall(("p50", lambda s: s.p50_ms), ("p95", lambda s: s.p95_ms)),
            formatter=fmt_ms,
        ),
        "tokens": charts.bars(
            "Tokens", labels, split(lambda s: s.tokens), stacked=True, formatter=_compact
        ),
    }
    if data.totals.priced:  # the demo's spans, like many SDKs', report no cost at all
        rendered["cost"] = charts.bars(
            "Cost (USD)", labels, split(_known_cost), stacked=True, formatter=fmt_usd
        )
    return rendered


def _known_cost(stats: Stats) -> float | None:
    return stats.cost


def _group_label(group: Group) -> str:
    name = group.agent if group.agent is not None else "(no agent)"
    return f"{name} {group.version}" if group.version is not None else name


def _compact(value: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value:.0f}"


def _bucket_labels(window: Window) -> list[str]:
    """Times in UTC: the hour for hourly buckets, the date from daily ones up."""
    daily = window.bucket_ns >= 24 * HOUR_NS
    short = "%m-%d" if daily else "%H:%M"
    labels = []
    previous_day = None
    for start in window.bucket_starts():
        moment = datetime.fromtimestamp(start / 1e9, tz=UTC)
        day = moment.date()
        label = moment.strftime(short if daily or day == previous_day else "%m-%d %H:%M")
        labels.append(label)
        previous_day = day
    return labels
