"""Which project an export is for, and whether its sender may write there, decided the
same way by every door (HTTP and gRPC).

A key (``Authorization: Bearer KEY`` or ``x-api-key: KEY``, what
``OTEL_EXPORTER_OTLP_HEADERS`` sends) decides the project: its spans go to the key's
project whatever their resources say. Without a key, which local mode allows, the
``x-reasonlens-project`` header (or gRPC metadata) names it, else each resource's
``reasonlens.project`` attribute does (``collector/pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from collector.errors import Forbidden, InvalidPayload, Unauthenticated
from store.principals import Credentials, presented_key
from store.projects import project_name_problem

PROJECT_HEADER = "x-reasonlens-project"


def requested_project(header: str | None) -> str | None:
    """The validated project header, or None when the client sent none."""
    if header is None:
        return None
    problem = project_name_problem(header)
    if problem:
        raise InvalidPayload(f"header {PROJECT_HEADER}: {problem}")
    return header


def ingest_project(credentials: Credentials, header: Callable[[str], str | None]) -> str | None:
    """The project a request's spans go to (None: each resource names its own).

    Raises Unauthenticated (401) when sign-in is on and no valid key came, and
    Forbidden (403) for a key without the ingest scope or a project header naming
    another project than the key's.
    """
    project = requested_project(header(PROJECT_HEADER))
    secret = presented_key(header)
    if secret is None:
        if credentials.sign_in_required():
            raise Unauthenticated(
                "an API key is required: send Authorization: Bearer KEY or x-api-key: KEY "
                "(reasonlens keys create --project PROJECT --name NAME --scope ingest)"
            )
        return project
    principal = credentials.key(secret)
    if principal is None:
        raise Unauthenticated("invalid or revoked API key")
    if not principal.ingest:
        raise Forbidden("this API key has no ingest scope")
    (own,) = principal.ingest
    if project is not None and project != own:
        raise Forbidden(f"this API key sends to project {own!r}, not {project!r}")
    return own
