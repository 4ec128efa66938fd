"""What every dashboard page needs: the project it shows and the projects to pick from."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException
from sqlalchemy.orm import Session

from store.models import DEFAULT_PROJECT
from store.principals import LOCAL, Principal
from store.projects import project_names


@dataclass(frozen=True, slots=True)
class PageProject:
    name: str | None  # None when nothing has been stored yet
    choices: list[str]


def visible_projects(session: Session) -> list[str]:
    """The projects the request's principal may see, by name."""
    principal: Principal = session.info.get("principal", LOCAL)
    names = project_names(session.connection())
    return names if principal.everything else [n for n in names if principal.may(n, "read")]


def page_project(session: Session, requested: str | None) -> PageProject:
    """The ``?project=`` asked for; else ``default``; else the first project there is.

    An unknown project is a 404 page, so a mistyped link says so instead of showing an
    empty dashboard.
    """
    names = visible_projects(session)
    if requested is not None:
        if requested not in names:
            raise HTTPException(404, f"no project named {requested!r}")
        return PageProject(requested, names)
    if DEFAULT_PROJECT in names:
        return PageProject(DEFAULT_PROJECT, names)
    return PageProject(names[0] if names else None, names)


def form_project(session: Session, name: str) -> PageProject:
    """The project a posted form named, if it exists; else the page's usual choice (a
    form that failed re-renders there rather than as a 404)."""
    names = visible_projects(session)
    return PageProject(name, names) if name in names else page_project(session, None)
