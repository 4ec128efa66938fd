"""Instruction counts under callgrind, for the benchmarks that count them.

Instructions repeat to a few in a million where seconds on this shared VM drift by
±15-25%, so decisions on the ingest path are taken on them. Only user-space
instructions are counted: the kernel's share (write, fsync) is not.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def count(work: Path, module: str, *args: str, at_start: bool = True) -> int:
    """Instructions of ``python -m module *args`` run under callgrind.

    ``at_start=False`` counts from the child's :func:`instrument_on` call only, so a
    child can set a store up (imports, migrations, a first half of rows) uncounted.
    """
    out = work / "callgrind.out"
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        f"--instr-atstart={'yes' if at_start else 'no'}",
        sys.executable, "-m", module, *args,
    ]  # fmt: skip
    # A fixed hash seed: with random ones, dict and set layouts differ from run to run,
    # and so did a worker stage's count, by ~2%.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(command, check=True, capture_output=True, env=env)
    match = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"no totals in {out}")
    return int(match.group(1))


def instrument_on() -> None:
    """From a child run by :func:`count` with ``at_start=False``: start counting now."""
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True)


def exit_uncounted() -> None:
    """End a child now: the interpreter's finalization (module teardown, a last full
    collection) is not ingest's work, yet it was ~40% of a writer run's count."""
    sys.stdout.flush()
    os._exit(0)
