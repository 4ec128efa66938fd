"""The sessions pages: conversations listed newest first, and one read turn by turn.

The oracle is ``/api/traces``: every trace of the project, grouped here in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from markupsafe import escape
from sqlalchemy.orm import Session

import migrations
from store.engine import create_engine
from store.models import Project
from store.sessions import list_sessions, session_traces
from tests.browser import Watched
from tests.demo_data import Loaded, load_demo
from tests.otlp import Ids
from tests.server import Server
from tests.test_page_traces import HOSTILE, SECOND, listed, send_trace
from tests.test_schema import load_realistic_store

PROJECT = "page-sessions"
HOSTILE_PROJECT = "page-sessions-hostile"
T0 = 1_765_000_000_000_000_000
# Ids are any text: a path separator, a query, a fragment and markup must all survive.
HOSTILE_SESSION = "s/1?x=<script>window.__xss=1</script>#top"
LINK_SESSION = "javascript:window.__xss=1"
_SESSION_LINK = re.compile(r'class="session-link mono" href="/sessions/([^"?]*)\?project=')


@dataclass
class Expected:
    session_id: str
    traces: list[dict[str, Any]]  # oldest first

    @property
    def latest(self) -> dict[str, Any]:
        return self.traces[-1]


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, PROJECT, traces=120, seed=11)


@pytest.fixture(scope="module")
def hostile(server: Server) -> dict[str, list[str]]:
    """A five-turn conversation and a one-turn one, with hostile ids and text."""
    ids = Ids("hostile-sessions")
    sessions: dict[str, list[str]] = {HOSTILE_SESSION: [], LINK_SESSION: []}
    for turn in range(5):
        text = HOSTILE[turn % len(HOSTILE)]
        sessions[HOSTILE_SESSION].append(
            send_trace(server, HOSTILE_PROJECT, ids, T0 + turn * 60 * SECOND,
                       name=f"turn {turn}", input_text=f"{text} asks {turn}",
                       output_text=f"{text} answers {turn}", session_id=HOSTILE_SESSION,
                       user_id=text, error=turn == 2)
        )  # fmt: skip
    sessions[LINK_SESSION].append(
        send_trace(server, HOSTILE_PROJECT, ids, T0 + 3600 * SECOND, name="link",
                   input_text=LINK_SESSION, session_id=LINK_SESSION)
    )  # fmt: skip
    return sessions


def all_traces(server: Server, project: str) -> list[dict[str, Any]]:
    traces, cursor = [], None
    while True:
        params = {"project": project, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = httpx.get(f"{server.url}/api/traces", params=params, timeout=30).json()
        traces += body["traces"]
        cursor = body["next_cursor"]
        if cursor is None:
            return traces


def expected_sessions(server: Server, project: str) -> list[Expected]:
    """Sessions, the one with the latest-starting trace first."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for trace in all_traces(server, project):
        if trace["session_id"] is not None:
            grouped.setdefault(trace["session_id"], []).append(trace)
    sessions = [
        Expected(session_id, sorted(traces, key=lambda t: t["start_time_unix_nano"]))
        for session_id, traces in grouped.items()
    ]
    return sorted(sessions, key=lambda s: s.latest["start_time_unix_nano"], reverse=True)


def listed_sessions(body: str) -> list[str]:
    return [unquote(encoded) for encoded in _SESSION_LINK.findall(body)]


def list_pages(server: Server, project: str) -> Iterator[str]:
    response = httpx.get(f"{server.url}/sessions", params={"project": project})
    while True:
        assert response.status_code == 200, response.text
        yield response.text
        found = re.search(r'class="next-page" href="([^"]*)"', response.text)
        if found is None:
            return
        href = found.group(1).replace("&amp;", "&")
        response = httpx.get(f"{server.url}/sessions{href}")


def session_url(server: Server, project: str, session_id: str) -> str:
    return f"{server.url}/sessions/{quote(session_id, safe='')}?project={quote(project)}"


def test_sessions_are_listed_newest_first_across_pages(server: Server, demo: Loaded) -> None:
    wanted = [session.session_id for session in expected_sessions(server, PROJECT)]
    pages = list(list_pages(server, PROJECT))
    assert len(pages) >= 2  # 50 a page
    seen = [session_id for body in pages for session_id in listed_sessions(body)]
    assert seen == wanted
    assert 'class="first-page"' in pages[1] and 'class="first-page"' not in pages[0]


def test_session_totals_match_their_traces(server: Server, demo: Loaded) -> None:
    wanted = {session.session_id: session for session in expected_sessions(server, PROJECT)}
    with Session(server.engine) as session:
        project_id = session.scalar(sa.select(Project.id).where(Project.name == PROJECT))
        assert project_id is not None
        summaries, cursor = [], None
        while True:
            page = list_sessions(session, project_id, limit=17, cursor=cursor)
            summaries += page.sessions
            if (cursor := page.next_cursor) is None:
                break
    assert [summary.session_id for summary in summaries] == list(wanted)
    for summary in summaries:
        expected = wanted[summary.session_id]
        traces, latest = expected.traces, expected.latest
        assert summary.trace_count == len(traces)
        assert summary.first_start_ns == traces[0]["start_time_unix_nano"]
        assert summary.last_start_ns == latest["start_time_unix_nano"]
        assert summary.last_end_ns == max(t["end_time_unix_nano"] for t in traces)
        assert summary.error_count == sum(t["status"] == "error" for t in traces)
        assert summary.input_tokens == sum(t["input_tokens"] for t in traces)
        assert summary.output_tokens == sum(t["output_tokens"] for t in traces)
        # The demo's models are priced at ingest (genai-prices).
        assert summary.cost_usd == pytest.approx(sum(t["cost_usd"] for t in traces))
        assert (summary.user_id, summary.agent_name, summary.agent_version) == (
            latest["user_id"], latest["agent_name"], latest["agent_version"],
        )  # fmt: skip


def test_a_session_reads_as_the_conversation(server: Server, demo: Loaded) -> None:
    longest = max(expected_sessions(server, PROJECT), key=lambda s: len(s.traces))
    assert len(longest.traces) >= 3
    response = httpx.get(session_url(server, PROJECT, longest.session_id))
    assert response.status_code == 200
    body = response.text
    assert listed(body) == [trace["trace_id"] for trace in longest.traces]
    position = 0
    for number, trace in enumerate(longest.traces, 1):  # turn by turn, in order
        position = body.index(f"Turn {number}<", position)
        for text in (trace["input"], trace["output"]):
            if text is not None:
                position = body.index(str(escape(text)), position)
    # The same traces in the trace table, oldest first.
    found = re.search(r'class="traces-link" href="([^"]*)"', body)
    assert found is not None
    table = httpx.get(f"{server.url}{found.group(1).replace('&amp;', '&')}").text
    assert listed(table) == [trace["trace_id"] for trace in longest.traces]


def test_turns_page_with_their_numbers(server: Server, hostile: dict[str, list[str]]) -> None:
    with Session(server.engine) as session:
        project_id = session.scalar(sa.select(Project.id).where(Project.name == HOSTILE_PROJECT))
        assert project_id is not None
        seen, firsts, cursor = [], [], None
        while True:
            page = session_traces(session, project_id, HOSTILE_SESSION, limit=2, cursor=cursor)
            seen += [trace.trace_id for trace in page.traces]
            firsts.append(page.first_turn)
            if (cursor := page.next_cursor) is None:
                break
    assert seen == hostile[HOSTILE_SESSION]
    assert firsts == [1, 3, 5]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        (f"/sessions/no-such-session?project={PROJECT}", 404, "no session"),
        ("/sessions?project=no-such-project", 404, "no project named"),
        ("/sessions/x?project=no-such-project", 404, "no project named"),
        (f"/sessions?project={PROJECT}&cursor=garbage", 400, "cursor: invalid cursor"),
    ],
)
def test_errors_are_pages(
    server: Server, demo: Loaded, path: str, status: int, message: str
) -> None:
    response = httpx.get(f"{server.url}{path}")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text and "Traceback" not in response.text


def test_hostile_ids_and_text_are_escaped_and_linked(
    server: Server, hostile: dict[str, list[str]]
) -> None:
    body = httpx.get(f"{server.url}/sessions", params={"project": HOSTILE_PROJECT}).text
    assert listed_sessions(body) == [LINK_SESSION, HOSTILE_SESSION]
    assert "<script>window" not in body and 'href="javascript:' not in body
    assert f"/sessions/{quote(HOSTILE_SESSION, safe='')}?project=" in body
    detail = httpx.get(session_url(server, HOSTILE_PROJECT, HOSTILE_SESSION))
    assert detail.status_code == 200
    assert listed(detail.text) == hostile[HOSTILE_SESSION]
    assert str(escape(HOSTILE_SESSION)) in detail.text
    for text in HOSTILE:
        assert str(escape(f"{text} asks")) in detail.text
    assert "<script>window" not in detail.text and "<img src=x" not in detail.text


def test_in_a_browser_list_session_and_trace(
    server: Server, demo: Loaded, watched: Watched, tmp_path: Path
) -> None:
    browser = watched.page
    first = expected_sessions(server, PROJECT)[0]
    browser.goto(f"{server.url}/sessions?project={PROJECT}")
    browser.screenshot(path=tmp_path / "sessions.png", full_page=True)
    browser.click("a.next-page")
    browser.wait_for_url(lambda url: "cursor=" in url)
    browser.click("a.first-page")
    browser.wait_for_url(lambda url: "cursor=" not in url)
    browser.locator("a.session-link").first.click()
    browser.wait_for_url(lambda url: "/sessions/" in url)
    assert unquote(urlsplit(browser.url).path) == f"/sessions/{first.session_id}"
    assert browser.locator("li.turn").count() == len(first.traces)
    browser.screenshot(path=tmp_path / "session.png", full_page=True)
    watched.assert_clean()
    with browser.expect_navigation() as navigation:
        browser.locator("a.trace-link").first.click()
    assert urlsplit(browser.url).path == f"/traces/{first.traces[0]['trace_id']}"
    assert dict(parse_qsl(urlsplit(browser.url).query)) == {"project": PROJECT}
    response = navigation.value
    # The trace page is another page's work; until it exists the link lands on a 404.
    assert response is not None and response.status in (200, 404)
    watched.assert_clean(error_page=response.status == 404)


def test_in_a_browser_hostile_sessions_stay_inert(
    server: Server, hostile: dict[str, list[str]], watched: Watched, tmp_path: Path
) -> None:
    browser = watched.page
    browser.goto(f"{server.url}/sessions?project={HOSTILE_PROJECT}")
    assert browser.get_by_text(HOSTILE_SESSION, exact=True).count() == 1
    browser.get_by_text(HOSTILE_SESSION, exact=True).click()
    browser.wait_for_url(lambda url: "/sessions/s" in url)
    assert browser.locator("li.turn").count() == 5
    assert browser.locator("li.turn.error").count() == 1
    assert browser.locator("h1 .session-title").inner_text() == HOSTILE_SESSION
    browser.screenshot(path=tmp_path / "hostile-session.png", full_page=True)
    assert browser.evaluate("typeof window.__xss") == "undefined"
    browser.go_back()
    browser.get_by_text(LINK_SESSION, exact=True).click()
    browser.wait_for_url(lambda url: "/sessions/javascript" in url)
    assert browser.locator("li.turn").count() == 1
    assert browser.evaluate("typeof window.__xss") == "undefined"
    watched.assert_clean()


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    from tests.databases import fresh_database

    with fresh_database(tmp_path_factory.mktemp("session-plans")) as url:
        engine = create_engine(url)
        migrations.upgrade(engine)
        load_realistic_store(engine)
        yield engine
        engine.dispose()


def explain(engine: sa.Engine, statement: sa.Executable) -> str:
    """The plan, with PostgreSQL told to avoid sequential scans: on a small table it
    would rightly prefer one, and the question is whether an index *can* serve."""
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            return "\n".join(str(row[-1]) for row in rows)
        connection.exec_driver_sql("SET enable_seqscan = off")
        return "\n".join(str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN {sql}"))


def test_the_session_queries_read_indexes(planned: sa.Engine) -> None:
    """The list walks the start-time index and seeks the session index per trace; one
    session's traces and totals are a range of the session index."""
    captured: list[Any] = []
    with Session(planned) as session:
        project_id = session.scalar(sa.select(Project.id).where(Project.name == "p1"))
        assert project_id is not None
        with pytest.MonkeyPatch.context() as patch:
            for name in ("execute", "scalars", "scalar"):
                original = getattr(Session, name)

                def spy(
                    self: Session, statement: Any, *a: Any, _o: Any = original, **k: Any
                ) -> Any:
                    captured.append(statement)
                    return _o(self, statement, *a, **k)  # fmt: skip

                patch.setattr(Session, name, spy)
            page = list_sessions(session, project_id, limit=20)
            list_sessions(session, project_id, limit=20, cursor=page.next_cursor)
            session_traces(session, project_id, page.sessions[0].session_id, limit=2)
    plans = [explain(planned, statement) for statement in captured]
    for plan in plans:
        assert "SCAN traces" not in plan and "Seq Scan" not in plan, plan
    walk = plans[1]  # after the "has any session" probe
    assert "ix_traces_project_time_filters" in walk, walk
    assert "ix_traces_project_id_session_id_start_time_ns" in walk, walk


def test_an_empty_store_has_pages_not_errors(fresh_db: str) -> None:
    server = Server(fresh_db).start()
    try:
        traces = httpx.get(f"{server.url}/traces")
        assert traces.status_code == 200 and "No traces yet" in traces.text
        sessions = httpx.get(f"{server.url}/sessions")
        assert sessions.status_code == 200 and "No sessions" in sessions.text
        csv = httpx.get(f"{server.url}/api/traces.csv")
        assert csv.status_code == 200 and csv.text.startswith("trace_id,")
    finally:
        server.close()
