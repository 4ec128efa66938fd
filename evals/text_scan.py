"""Regex passes over many texts at once: the safety evaluators' scanning primitive.

A chunk's texts (outputs, tool arguments, tool results) are joined into one string, so
the regex engine runs in C over the whole chunk instead of being called once per span;
each match is mapped back to its text by offset. Only matches (rare) reach Python, where
the evaluators validate them (checksums, context).

Python's ``re`` searches fast only for a pattern's literal prefix: measured on 2.4 MB of
demo traces, ``000-00-0000`` takes 2 ms, a pattern starting with a character class or a
lookbehind 100 to 1,000 ms, and one alternation of twenty such shapes over a second.
So each pattern here starts with a literal, and two views of the joined text, of equal
length and offsets, give number shapes a literal to start with: ``shapes`` has every
digit as ``0`` and every ASCII capital as ``A`` (``(201) 555-0142`` reads
``(000) 000-0000``), ``lower`` is ASCII lower case. Checks that need the text before a
match (word boundaries) are done on the match's ``before``, not with a lookbehind,
which would cost the literal prefix. The separator holds a NUL between newlines, which
no pattern here crosses.
"""

from __future__ import annotations

import bisect
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from re import _compiler, _parser
from typing import Literal

import numpy as np

SEPARATOR = "\n\x00\n"
View = Literal["text", "shapes", "lower"]
_SHAPES = str.maketrans(string.digits + string.ascii_uppercase, "0" * 10 + "A" * 26)
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


@dataclass(frozen=True, slots=True)
class Hit:
    """One match: which text (its position in the texts scanned), which named group
    matched last, the matched value as written and the text around it, never beyond
    its own text."""

    row: int
    group: str
    value: str
    start: int  # offset in its own text
    before: str
    after: str


class Corpus:
    """Texts joined once; each view is built on first use."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.text = SEPARATOR.join(texts)
        lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
        self._lengths: list[int] = lengths.tolist()
        starts = np.concatenate(([0], np.cumsum(lengths + len(SEPARATOR))[:-1]))
        self._starts: list[int] = starts.tolist()
        self._views: dict[str, str] = {"text": self.text}

    def view(self, name: View) -> str:
        if name not in self._views:
            table = _SHAPES if name == "shapes" else _LOWER
            self._views[name] = self.text.translate(table)
        return self._views[name]

    def find(
        self,
        patterns: Iterable[tuple[View, re.Pattern[str]]],
        *,
        before: int = 0,
        after: int = 0,
    ) -> list[Hit]:
        """Every match of each (view, pattern), in text order; values and context are
        read from the text as written."""
        if not self._lengths:
            return []
        found = []
        for view, pattern in patterns:
            for match in pattern.finditer(self.view(view)):
                found.append(self._hit(match, before, after))
        found.sort(key=lambda hit: (hit.row, hit.start))
        return found

    def _hit(self, match: re.Match[str], before: int, after: int) -> Hit:
        start, end = match.span()
        row = bisect.bisect_right(self._starts, start) - 1
        text_start = self._starts[row]
        text_end = text_start + self._lengths[row]
        return Hit(
            row=row,
            group=match.lastgroup or "",
            value=self.text[start:end],
            start=start - text_start,
            before=self.text[max(text_start, start - before) : start],
            after=self.text[end : min(text_end, end + after)],
        )


def literal_prefix(pattern: re.Pattern[str]) -> str:
    """The literal ``re`` searches ``pattern`` by (empty: it tries every position), read
    with CPython's own compiler helpers; tests check every scanning pattern has one."""
    parsed = _parser.parse(pattern.pattern, pattern.flags)
    prefix: list[int] = _compiler._get_literal_prefix(parsed, pattern.flags)[0]
    return "".join(map(chr, prefix))


def clip(text: str, limit: int = 80) -> str:
    """``text`` on one line and at most ``limit`` characters, for explanations."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
