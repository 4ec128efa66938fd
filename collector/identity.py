"""Which project an export is for, read the same way by every door (HTTP and gRPC).

The ``x-reasonlens-project`` header (or gRPC metadata) names it; without one, each
resource's ``reasonlens.project`` attribute does (``collector/pipeline.py``).
"""

from __future__ import annotations

from collector.errors import InvalidPayload
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
