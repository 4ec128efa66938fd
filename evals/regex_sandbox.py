"""Dataset regexes run in a child process, each search under a time limit.

A dataset's expected output may be a pattern (``match: regex``) written by a person and
run against text a model wrote. Python's ``re`` backtracks: ``(a+)+$`` takes minutes on
forty characters. A search holds the GIL, so no other thread can stop it, and a signal
can (``re`` checks for signals as it loops) but only in the main thread, which the
runner may not be on. So a chunk's searches run in a small child process
(``python -I -S``: only ``re``, ``json`` and ``signal``, ~20 ms to start) whose main
thread keeps a periodic timer: a search found running over ``timeout_s`` is stopped
and reported as None, and the next one goes on. The parent kills the child if the
whole batch runs over its summed limits (a platform without ``setitimer``). Neither
the ``regex`` module (timeouts) nor RE2 (linear time) is a dependency; either would
replace this module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence

_START_ALLOWANCE_S = 10.0

# Reads a JSON array of [pattern, text] pairs, writes one character a search:
# "1" found, "0" not found, "t" stopped by the timer.
_CHILD = """
import json, re, signal, sys, time
class Late(Exception):
    pass
limit = float(sys.argv[1])
started = float("inf")
def tick(signum, frame):
    if time.monotonic() - started > limit:
        raise Late
# A periodic tick rather than a timer armed around each search: two setitimer calls
# cost more than most searches.
if hasattr(signal, "setitimer"):
    signal.signal(signal.SIGALRM, tick)
    signal.setitimer(signal.ITIMER_REAL, limit / 4, limit / 4)
cache = {}
answers = []
for pattern, text in json.loads(sys.stdin.buffer.read()):
    compiled = cache.get(pattern)
    if compiled is None:
        compiled = cache[pattern] = re.compile(pattern)
    try:
        started = time.monotonic()
        found = compiled.search(text) is not None
        started = float("inf")
        answers.append("1" if found else "0")
    except Late:
        started = float("inf")
        answers.append("t")
sys.stdout.write("".join(answers))
"""

_ANSWERS = {"1": True, "0": False}


def search_many(jobs: Sequence[tuple[str, str]], timeout_s: float = 1.0) -> list[bool | None]:
    """Whether each pattern is found (``re.search``) in its text; None where the search
    ran over ``timeout_s``. Patterns must compile (check them before)."""
    if not jobs:
        return []
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _CHILD, str(timeout_s)],
            input=json.dumps(jobs).encode(),
            capture_output=True,
            timeout=_START_ALLOWANCE_S + timeout_s * len(jobs),
            check=True,
        )
    except subprocess.TimeoutExpired:
        return [None] * len(jobs)
    answers = done.stdout.decode()
    if len(answers) != len(jobs):
        raise RuntimeError(f"the regex child answered {len(answers)} of {len(jobs)} searches")
    return [_ANSWERS.get(answer) for answer in answers]
