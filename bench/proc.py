"""CPU seconds and load from /proc: what the ingest benchmarks read about the server."""

from __future__ import annotations

import os
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its reaped children) from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and ")"
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return int(fields[1]), (utime + stime + cutime + cstime) / TICK


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds so far of ``root`` and every descendant, by pid."""
    stats = {
        int(pid): stat for pid in os.listdir("/proc") if pid.isdigit() and (stat := _stat(pid))
    }
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    cpu: dict[int, float] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            cpu[pid] = stats[pid][1]
            todo += children.get(pid, [])
    return cpu


def settle(root: int, interval: float = 0.5, quiet: float = 0.02, timeout: float = 15) -> None:
    """Wait until the tree uses less than ``quiet`` CPU seconds in ``interval``."""
    deadline = time.monotonic() + timeout
    last = sum(tree_cpu(root).values())
    while time.monotonic() < deadline:
        time.sleep(interval)
        now = sum(tree_cpu(root).values())
        if now - last < quiet:
            return
        last = now


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])
