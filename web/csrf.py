"""The form token of a signed-in browser, against cross-site form posts.

It is an HMAC of the session token: only a page of this server, which the session
cookie reached, can carry it; a page on another site cannot read the HttpOnly cookie,
so it cannot make one. Nothing is stored, and every server of a team computes the same.
"""

from __future__ import annotations

import hashlib
import hmac


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"reasonlens csrf", hashlib.sha256).hexdigest()
