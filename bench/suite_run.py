"""What one run of the benchmark suite (``bench/suite.py``) measures and writes: its
sizes, and the markdown report every stage appends to."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.latency import Timing

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Sizes:
    spans: int  # per door, at saturation
    peer_spans: int  # per peer and door
    latency_seconds: float  # of offered load at 50%
    store_spans: int  # demo spans in the store for stages 3-6
    repeat: int  # requests per query or page, after one warm-up
    csv_repeat: int
    eval_repeat: int


QUICK = Sizes(20_000, 1_000, 5.0, 20_000, 5, 1, 1)
FULL = Sizes(200_000, 10_000, 20.0, 1_000_000, 20, 1, 1)


class Report:
    """The markdown the suite prints and writes, rewritten after every stage so that a
    run stopped midway keeps what it measured."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        for line in lines:
            print(line, flush=True)
        self.lines += lines
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(self.lines) + "\n")

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.add(
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows),
            "",
        )


@contextlib.contextmanager
def stage(report: Report, title: str) -> Iterator[None]:
    """A section headed with the load it started under; its end load and wall time after."""
    load, started = os.getloadavg()[0], time.perf_counter()
    report.add(f"## {title}", "")
    yield
    report.add(
        f"_Load {load:.1f} -> {os.getloadavg()[0]:.1f}; {time.perf_counter() - started:.0f} s._",
        "",
    )


def mib(size: float) -> str:
    return f"{size / 2**20:,.0f} MiB"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def ratio(ours: float, theirs: float) -> str:
    return f"**{ours / theirs:,.0f}x**" if theirs else "-"


def timing_rows(timings: list[Timing]) -> list[list[str]]:
    return [[t.name, ms(t.median), ms(t.p95), str(t.rows) if t.rows else ""] for t in timings]
