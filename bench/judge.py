"""LLM judge throughput: 1,000 traces against a loopback judge that answers in 200 ms.

    .venv/bin/python -m bench.judge                       # 1,000 traces, 200 ms, 16 in flight
    .venv/bin/python -m bench.judge --traces 2000 --concurrency 32 --repeat 3

The judge is ``tests/fake_judge.py`` (a thread per request, so it serves any number in
parallel) in a process of its own, so that its work does not share the evaluator's
GIL. The evaluator scores one chunk of realistic-sized traces (a question, a 1 KB
answer, two tool results) as the runner hands it over. The floor is ``traces /
concurrency * latency`` (12.5 s for the defaults); the time above it is the client's
own cost (prompts, HTTP, parsing; its CPU time is printed) and the machine's. Target:
under 20 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from evals.evaluator_options import LlmJudgeOptions
from evals.evaluators.base import RunContext
from evals.evaluators.llm_judge import LlmJudge
from evals.frames import Chunk
from tests.eval_chunks import make_chunk, span, tool

# The fake judge's process: prints its endpoint, serves until its stdin closes, then
# prints what it counted.
_JUDGE = """
import json, sys
from tests.fake_judge import FakeJudge
with FakeJudge(latency_s=float(sys.argv[1])) as fake:
    print(fake.endpoint, flush=True)
    sys.stdin.read()
    print(json.dumps({"calls": fake.calls, "max_in_flight": fake.max_in_flight}), flush=True)
"""


@contextmanager
def judge_process(latency: float, stats: dict[str, int]) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _JUDGE, str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        yield process.stdout.readline().strip()
    finally:
        process.stdin.close()
        stats.update(json.loads(process.stdout.readline() or "{}"))
        process.stdout.close()
        process.wait(30)


def chunk(traces: int) -> Chunk:
    answer = "The refund for order {n} was approved and will arrive in 3-5 days. " * 15
    return make_chunk(
        *(
            [
                span("agent", input_text=f"Where is the refund for order {n}?", output_text=answer),
                tool("lookup_order", result=f'{{"order": {n}, "status": "refunded"}}'),
                tool("refund_status", result='{"eta_days": 4}'),
            ]
            for n in range(traces)
        )
    )


def run_once(endpoint: str, work: Chunk, concurrency: int) -> float:
    judge = LlmJudge(
        LlmJudgeOptions(
            endpoint=endpoint,
            model="judge-bench",
            rubric="Is the answer correct and grounded in the tool results?",
            concurrency=concurrency,
            usd_per_1k_input_tokens=0.15,
            usd_per_1k_output_tokens=0.6,
        )
    )
    judge.setup(RunContext(sa.create_engine("sqlite://"), 1, "bench"))
    began, cpu = time.perf_counter(), time.process_time()
    scores = asyncio.run(judge.score_async(work))
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    labels = scores["label"].value_counts().to_dict()
    print(f"  {elapsed:.2f} s (evaluator CPU {cpu:.2f} s)  labels {labels}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.2, help="Seconds per answer.")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    work = chunk(args.traces)
    floor = args.traces / args.concurrency * args.latency
    stats: dict[str, int] = {}
    with judge_process(args.latency, stats) as endpoint:
        times = [run_once(endpoint, work, args.concurrency) for _ in range(args.repeat)]
    most = stats.get("max_in_flight")
    median = statistics.median(times)
    overhead = f"{(median / floor - 1) * 100:.1f}%" if floor else "n/a"
    print(
        f"{args.traces} traces, {args.latency * 1000:.0f} ms a call, concurrency "
        f"{args.concurrency}: median {median:.2f} s (floor {floor:.2f} s, overhead "
        f"{overhead}), at most {most} calls in flight"
    )


if __name__ == "__main__":
    main()
