"""Ingest's instructions per span by stage (callgrind): decode worker and writer.

    .venv/bin/python -m bench.ingest_instructions                  # 4,000 spans, ~10 min
    .venv/bin/python -m bench.ingest_instructions --payload demo

The payload is what ``bench.ingest`` sends (``bench/payloads.py``, 500-span bodies), or
the demo's traffic. Stages, each counted as its own run so that a stage's figure is
the difference between two cumulative runs:

- decode worker, after its own warm-up (``collector.service._warm_up``), two passes
  minus one: ``decode`` (decompress, decode, limits), ``normalize`` (+ the normalizer
  on every span), ``rows`` (+ pricing, serialized JSON, the batch rows: ``prepare``
  with the packing left out), ``prepare`` (+ packing the batch for the writer);
- writer: ``write_spans`` and COMMIT, ``--per-commit`` batches per transaction as the
  group-commit writer takes them, into a store that already holds the first half of
  the batches; ``copy`` (rollups left out) and ``write`` (all of it).

The server process's other work (HTTP, receiving batches from the workers) and the
kernel's (write, fsync) are not counted; ``bench.ingest`` prints the CPU time of each
process.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import callgrind

WORKER_STAGES = ("decode", "normalize", "rows", "prepare")
WRITER_STAGES = ("copy", "write")
MODULE = "bench.ingest_instructions"


def _prepare(bodies: list[bytes], stage: str) -> list[Any]:
    from collector import pipeline
    from collector.body import Encoding, Signal, decompress
    from collector.decode_proto import decode_protobuf
    from collector.limit_items import limit_spans
    from collector.limits import Limits
    from store.batch import SpanBatch

    limits = Limits(max_body_bytes=64 << 20)
    if stage in ("decode", "normalize"):
        for body in bodies:
            decoded = decode_protobuf(decompress(body, None, limits.max_body_bytes), limits)
            limit_spans(decoded, limits)
            if stage == "normalize":
                for span in decoded.spans:
                    pipeline._normalize(span)
        return []
    if stage == "rows":
        pipeline.make_batch = lambda *args, **kwargs: SpanBatch()  # type: ignore[assignment]
    return [
        pipeline.prepare(Signal.TRACES, body, Encoding.PROTOBUF, None, None, limits, True).batch
        for body in bodies
    ]


def child(step: str, stage: str, work: Path, passes: int, per_commit: int) -> None:
    """Runs in a subprocess: ``prepare`` (under callgrind), ``pack`` or ``write``."""
    bodies = pickle.loads((work / "bodies.pkl").read_bytes())
    if step == "prepare":
        from collector.service import _warm_up

        _warm_up()
        for _ in range(passes):
            _prepare(bodies, stage)
        callgrind.exit_uncounted()
    if step == "pack":
        (work / "batches.pkl").write_bytes(pickle.dumps(_prepare(bodies, "prepare")))
        return
    import migrations
    import store.write
    from store.engine import create_engine
    from store.maintenance import WRITER_AUTOCHECKPOINT_PAGES

    if stage == "copy":
        store.write.refresh_rollups = lambda *args: None  # type: ignore[assignment]
    batches = pickle.loads((work / "batches.pkl").read_bytes())
    # As the server's writer engine (reasonlens/app.py): checkpoints are left to the
    # maintenance thread, which is not running here.
    engine = create_engine(
        f"sqlite:///{work / f'store-{stage}.db'}",
        sqlite_wal_autocheckpoint=WRITER_AUTOCHECKPOINT_PAGES,
        sqlite_cache_mib=32,
    )
    migrations.upgrade(engine)
    half = len(batches) // 2
    for start in range(0, len(batches), per_commit):
        if start == half:
            callgrind.instrument_on()
        with engine.begin() as connection:
            store.write.write_spans(connection, batches[start : start + per_commit])
    callgrind.exit_uncounted()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=4000)
    parser.add_argument("--payload", choices=("synthetic", "demo"), default="synthetic")
    parser.add_argument("--per-commit", type=int, default=2, help="batches per transaction")
    parser.add_argument("--only", choices=("worker", "writer"), help="count one side only")
    parser.add_argument(
        "--stages", default=",".join(WORKER_STAGES), help="the worker's stages to count"
    )
    parser.add_argument("--child", nargs=3, metavar=("STEP", "STAGE", "PASSES"))
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.child:
        step, stage, passes = args.child
        child(step, stage, args.work, int(passes), args.per_commit)
        return

    if args.payload == "demo":
        from bench.demo_payloads import demo_bodies

        bodies, spans = demo_bodies(args.spans, 500)
    else:
        from bench.payloads import Payloads

        bodies = list(Payloads(500).bodies(args.spans // 500))
        spans = 500 * len(bodies)
    work = Path(tempfile.mkdtemp(prefix="rl-ingest-instructions-"))
    (work / "bodies.pkl").write_bytes(pickle.dumps(bodies))
    # The writer counts from the first transaction of the second half.
    start = -(-(len(bodies) // 2) // args.per_commit) * args.per_commit
    counted = sum(_spans(body) for body in bodies[start:])
    common = ["--work", str(work), "--per-commit", str(args.per_commit)]
    print(f"{len(bodies)} {args.payload} bodies, {spans:,} spans; the writer counts {counted:,}")
    figures: dict[str, float] = {}
    if args.only != "writer":
        for stage in args.stages.split(","):
            one, two = (
                callgrind.count(work, MODULE, "--child", "prepare", stage, str(n), *common)
                for n in (1, 2)
            )
            figures[stage] = (two - one) / spans
            print(f"  worker {stage:<10} {figures[stage]:>10,.0f}", flush=True)
    if args.only != "worker":
        _run(sys.executable, "-m", MODULE, "--child", "pack", "-", "0", *common)
        for stage in WRITER_STAGES:
            total = callgrind.count(
                work, MODULE, "--child", "write", stage, "0", *common, at_start=False
            )
            figures[stage] = total / counted
            print(f"  writer {stage:<10} {figures[stage]:>10,.0f}", flush=True)
    print("\ninstructions per span, by stage")
    previous = 0.0
    for stage in (*WORKER_STAGES, *WRITER_STAGES):
        if stage in figures and (stage in WRITER_STAGES or args.stages == ",".join(WORKER_STAGES)):
            if stage == "copy":
                previous = 0.0
            print(f"  {stage:<10} {figures[stage] - previous:>10,.0f}")
            previous = figures[stage]
    for side, last in (("worker", "prepare"), ("writer", "write")):
        if last in figures:
            print(f"  {side} total {figures[last]:>10,.0f}")


def _run(*command: str) -> None:
    import subprocess

    subprocess.run(command, check=True)


def _spans(body: bytes) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest.FromString(body)
    return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)


if __name__ == "__main__":
    main()
