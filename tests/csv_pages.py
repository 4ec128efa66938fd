"""The page side of the CSV tests: a table's rows as the page shows them, a link's
target, the file it downloads, and the check that no cell reads as a formula."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx

from tests.csv_files import FORMULA_STARTS
from tests.server import Server


@dataclass
class Row:
    attributes: dict[str, str]
    cells: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class TableRows(HTMLParser):
    """The rows of the page's table whose class includes ``css_class`` (its own rows,
    not those of a table nested in it): attributes, cell texts and links."""

    def __init__(self, body: str, css_class: str) -> None:
        super().__init__()
        self.css_class = css_class
        self.rows: list[Row] = []
        self._depth = 0  # inside the table: 1; inside a table nested in it: more
        self._cell: list[str] | None = None
        self.feed(body)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "table" and (self._depth or self.css_class in found.get("class", "").split()):
            self._depth += 1
        elif self._depth == 1 and tag == "tr":
            self.rows.append(Row(found))
        elif self._depth == 1 and tag == "td" and self.rows:
            self._cell = []
        elif self._depth == 1 and tag == "a" and self.rows:
            self.rows[-1].links.append(found.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._depth:
            self._depth -= 1
        elif tag == "td" and self._cell is not None:
            self.rows[-1].cells.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def rows_of(html: str, css_class: str) -> list[Row]:
    """The body rows (those with cells) of the table."""
    return [row for row in TableRows(html, css_class).rows if row.cells]


def page(server: Server, path: str, **params: Any) -> str:
    response = httpx.get(f"{server.url}{path}", params=params, timeout=60)
    assert response.status_code == 200, response.text
    return response.text


def link(html: str, css_class: str) -> str:
    """The href of the page's link with this class (entities decoded)."""
    found = re.search(rf'class="csv-link {css_class}" href="([^"]*)"', html)
    assert found, css_class
    return found.group(1).replace("&amp;", "&")


def fetch(server: Server, href: str) -> bytes:
    """Download a link as the page gives it."""
    response = httpx.get(f"{server.url}{href}", timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return response.content


def assert_disarmed(rows: list[dict[str, str]]) -> None:
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(FORMULA_STARTS), (column, value)
