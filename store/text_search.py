"""Case-insensitive "contains" for free-text search, the same on both databases.

PostgreSQL's ``lower()`` folds case by the database's (UTF-8) locale: ``KÖLN`` is
``köln``. SQLite's folds only A-Z, so on SQLite a search for ``köln`` missed ``KÖLN``
that PostgreSQL found. A search holding a non-ASCII character therefore lower-cases,
on SQLite, through :func:`unicode_lower`, a Python function each connection registers
(``store/engine.py``). An ASCII search keeps SQLite's own ``lower()``: it finds the same
rows (but for an odd letter like the Kelvin sign, whose lower case is an ASCII k)
without a Python call per row, which a search that matches nothing pays on every trace
of the project: over 50,000 traces of 1.3 KB, 0.23 s with SQLite's ``lower()``, 0.89 s
with the Python one (a GLOB of ``[öÖ]`` classes, the other way, took 1.3 s).

Both kinds escape LIKE's wildcards, so ``%`` and ``_`` in a search are literal.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

SQLITE_LOWER = "reasonlens_lower"
ESCAPE = "/"


def unicode_lower(value: object) -> object:
    """SQLite's ``reasonlens_lower()``: text lower-cased as Python (and PostgreSQL) do."""
    return value.lower() if isinstance(value, str) else value


class _Lower(FunctionElement[str]):
    """``lower()``, folding case beyond ASCII on SQLite too."""

    type = sa.Text()
    inherit_cache = True


@compiles(_Lower)
def _lower_default(element: _Lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(_Lower, "sqlite")
def _lower_sqlite(element: _Lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


def contains_text(column: sa.ColumnElement[str | None], text: str) -> sa.ColumnElement[bool]:
    """Whether ``column`` holds ``text``, ignoring case; wildcards in ``text`` are literal."""
    if text.isascii():
        return column.icontains(text, autoescape=True)
    escaped = text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    pattern = _Lower(sa.literal(f"%{escaped}%", sa.Text()))
    return _Lower(column).like(pattern, escape=ESCAPE)
