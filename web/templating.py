"""Jinja2 for the dashboard: autoescaped templates and the formats every page shares.

Every span field is untrusted text (model output, tool results, attacker-written web
pages), so templates are always autoescaped and nothing is marked safe except SVG that
reasonlens itself rendered (charts). Formatting lives here, once, so a number reads the
same on every page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from store.principals import LOCAL, Principal
from web.csrf import csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"
EMPTY = "\u2013"  # an en dash: "not known", distinct from a zero
STATIC_DIR = Path(__file__).parent / "static"


def fmt_ms(value: float | None) -> str:
    """Durations as people read them: 850 ms, 12.4 s, 3 min 05 s."""
    if value is None:
        return EMPTY
    if value < 1:
        return f"{value:.2f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    seconds = value / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_usd(value: float | None) -> str:
    """Costs keep their significant digits: $0.0004 is not $0.00. None is unknown."""
    if value is None:
        return EMPTY
    if value == 0:
        return "$0"
    if abs(value) < 0.01:
        return f"${value:.4f}"
    if abs(value) < 100:
        return f"${value:.2f}"
    return f"${value:,.0f}"


def fmt_int(value: float | None) -> str:
    return EMPTY if value is None else f"{value:,.0f}"


def fmt_pct(value: float | None) -> str:
    return EMPTY if value is None else f"{100 * value:.1f}%"


def fmt_time(ns: int | None) -> str:
    """UTC, to the second: the pages say UTC once, in the footer."""
    if ns is None:
        return EMPTY
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def query_string(params: dict[str, Any], **changes: Any) -> str:
    """``params`` with ``changes`` applied (None removes a key), as ``?a=1&b=2``."""
    merged = {**params, **changes}
    kept = {key: value for key, value in merged.items() if value not in (None, "")}
    return "?" + urlencode(kept, doseq=True) if kept else "?"


def principal_of(request: Request) -> Principal:
    return getattr(request.state, "principal", LOCAL)


def csrf_value(request: Request) -> str:
    """The form token of a signed-in browser (``_csrf.html`` puts it in every form)."""
    token = principal_of(request).session_token
    return "" if token is None else csrf_token(token)


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a typo in a template is an error, not a blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(ms=fmt_ms, usd=fmt_usd, int=fmt_int, pct=fmt_pct, time=fmt_time)
    environment.globals.update(
        query_string=query_string, principal_of=principal_of, csrf_value=csrf_value
    )
    return environment


templates = Jinja2Templates(env=_environment())


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(request, template, context, status_code=status_code)
