"""Refusing state-changing requests that another web site made a browser send (CSRF).

reasonlens has no login: anything that can reach the port may use it, by design. What
it must refuse is a page on another site making a visitor's browser POST to it (start
an eval run that calls a paid LLM judge, say). Browsers say where a request comes from
(``Sec-Fetch-Site``, ``Origin``); programs such as curl send neither and are served.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import HTTPException, Request


def same_origin(request: Request) -> None:
    """A FastAPI dependency for POST routes: 403 for a cross-site browser request."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPException(403, f"refused a {site} request: post from this server's pages")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "refused a request from another origin")
