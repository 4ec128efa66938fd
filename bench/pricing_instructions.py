"""What pricing at ingest costs, in instructions per span (callgrind): decode worker and writer.

    .venv/bin/python -m bench.pricing_instructions               # ~3,000 demo spans, ~10 min

``bench/pricing_overhead.py`` measures the whole server's CPU, which this VM's drift
(±10% between runs of the same code) blurs at the size of the effect. Instruction
counts repeat to a few in a million, so they resolve the two halves of ingest that
pricing touches, on the same demo bodies, with pricing on and off (``span_cost``
patched out as ``bench/pricing_overhead.py`` does):

- the decode worker: ``prepare()`` over every body, after the worker's own warm-up
  (``collector.service._warm_up``: the price registry loaded, the heap frozen, the
  collector's thresholds), run for two passes and for one; the difference is one pass;
- the writer: ``write_spans`` of the same batches into a SQLite file, one transaction
  per batch as the writer commits them; the first half is written uninstrumented (a
  store that already holds rows), then instrumentation is switched on
  (``callgrind_control``) for the second half.

The server process also parses HTTP and moves batches between processes, the same
work whether pricing is on or off; that is not counted here.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

MODES = ("on", "off")


def _switch_off_pricing() -> None:
    import collector.costing

    def no_cost(*args: object, **kwargs: object) -> tuple[None, ...]:
        return (None,) * 5

    collector.costing.span_cost = no_cost  # type: ignore[assignment]


def _batches(bodies: list[bytes]) -> list[object]:
    from collector.body import Encoding, Signal
    from collector.limits import Limits
    from collector.pipeline import prepare

    limits = Limits(max_body_bytes=64 << 20)
    return [
        prepare(Signal.TRACES, body, Encoding.PROTOBUF, None, None, limits, True).batch
        for body in bodies
    ]


def child(step: str, mode: str, work: Path, passes: int) -> None:
    """Runs in a subprocess: ``prepare`` (under callgrind), ``pack`` or ``write``."""
    if mode == "off":
        _switch_off_pricing()
    bodies = pickle.loads((work / "bodies.pkl").read_bytes())
    if step == "prepare":
        from collector.service import _warm_up

        _warm_up()
        for _ in range(passes):
            _batches(bodies)
        return
    if step == "pack":
        (work / f"batches-{mode}.pkl").write_bytes(pickle.dumps(_batches(bodies)))
        return
    import migrations
    from store.engine import create_engine
    from store.maintenance import WRITER_AUTOCHECKPOINT_PAGES
    from store.write import write_spans

    batches = pickle.loads((work / f"batches-{mode}.pkl").read_bytes())
    # As the server's writer engine (reasonlens/app.py): checkpoints are left to the
    # maintenance thread, which is not running here.
    engine = create_engine(
        f"sqlite:///{work / f'store-{mode}.db'}",
        sqlite_wal_autocheckpoint=WRITER_AUTOCHECKPOINT_PAGES,
        sqlite_cache_mib=32,
    )
    migrations.upgrade(engine)
    half = len(batches) // 2
    for number, batch in enumerate(batches):
        if number == half:
            subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True)
        with engine.begin() as connection:
            write_spans(connection, [batch])
    engine.dispose()


def callgrind(work: Path, *args: str, at_start: bool = True) -> int:
    """Instructions of a child run under callgrind."""
    out = work / "callgrind.out"
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        f"--instr-atstart={'yes' if at_start else 'no'}",
        sys.executable, "-m", "bench.pricing_instructions", "--child", *args, "--work", str(work),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    match = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"no totals in {out}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=3000, help="demo spans")
    parser.add_argument("--child", nargs=3, metavar=("STEP", "MODE", "PASSES"))
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.child:
        step, mode, passes = args.child
        child(step, mode, args.work, int(passes))
        return

    from bench.demo_payloads import demo_bodies

    bodies, spans = demo_bodies(args.spans, 500)
    work = Path(tempfile.mkdtemp(prefix="rl-pricing-instructions-"))
    (work / "bodies.pkl").write_bytes(pickle.dumps(bodies))
    half = sum(_spans(body) for body in bodies[len(bodies) // 2 :])
    print(f"{len(bodies)} demo bodies, {spans:,} spans; the writer counts the last {half:,}")
    figures: dict[tuple[str, str], float] = {}
    for mode in MODES:
        one, two = (callgrind(work, "prepare", mode, str(n)) for n in (1, 2))
        figures["worker", mode] = (two - one) / spans
        subprocess.run(
            [sys.executable, "-m", "bench.pricing_instructions", "--child", "pack", mode, "0",
             "--work", str(work)],
            check=True,
        )  # fmt: skip
        figures["writer", mode] = callgrind(work, "write", mode, "0", at_start=False) / half
    print("\ninstructions per span   pricing on   pricing off   on / off - 1")
    for part in ("worker", "writer"):
        on, off = figures[part, "on"], figures[part, "off"]
        print(f"  {part:<21} {on:>10,.0f}   {off:>11,.0f}   {on / off - 1:+.2%}")
    on = figures["worker", "on"] + figures["writer", "on"]
    off = figures["worker", "off"] + figures["writer", "off"]
    print(f"  {'both':<21} {on:>10,.0f}   {off:>11,.0f}   {on / off - 1:+.2%}")


def _spans(body: bytes) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest.FromString(body)
    return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)


if __name__ == "__main__":
    main()
