"""What the per-request limits and the redaction cost, in instructions per span (callgrind).

    .venv/bin/python -m bench.limits_instructions                # ~3,000 demo spans, ~20 min

As ``bench/pricing_instructions.py`` measures pricing: a decode worker's ``prepare()``
over the demo's bodies (500 spans, ~1.1 MB each), after the worker's own warm-up, run
for three passes and for one under callgrind; half the difference is one pass. Modes:

- ``limits``: as shipped: spans counted, depth capped, attributes counted, every string
  measured (these bodies are over the 768 KiB below which strings are not measured),
  indexed identifiers capped;
- ``none``: the limits switched off (``check_count``, ``reading_for``'s string checks,
  ``limit_spans`` and ``indexed`` patched out; the depth cap stays, it is part of the
  decoder's recursion);
- ``limits-small``, ``none-small``: the same on the same spans sent 200 per body
  (~450 KiB), where no string is measured;
- ``redact-email``, ``redact-all``: as shipped, with the email preset on, or every
  redaction preset.

The writer's instructions per span (``write_spans`` into a store that already holds
rows, as the pricing bench counts them) give the denominator: decode plus write.
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

MODES = ("limits", "none", "limits-small", "none-small", "redact-email", "redact-all")


def _switch_off_limits() -> None:
    import collector.decode_json
    import collector.decode_logs
    import collector.decode_proto
    import collector.pipeline
    import collector.rows
    from collector.limits import Limits, Reading

    def nothing(*args: object) -> None:
        return None

    def same(text: str | None) -> str | None:
        return text

    def depth_only(limits: Limits, body_bytes: int | None) -> Reading:
        return Reading(limits.max_value_depth)

    for module in (collector.decode_proto, collector.decode_json, collector.decode_logs):
        module.check_count = nothing  # type: ignore[assignment]
        module.reading_for = depth_only  # type: ignore[assignment]
    collector.pipeline.limit_spans = nothing  # type: ignore[assignment]
    collector.rows.indexed = same  # type: ignore[assignment]


def _prepare_all(bodies: list[bytes], mode: str) -> list[object]:
    from collector.body import Encoding, Signal
    from collector.limits import Limits
    from collector.pipeline import prepare
    from collector.redact import PRESETS, parse_patterns

    limits = Limits(max_body_bytes=64 << 20)
    presets = {"redact-email": ["email"], "redact-all": list(PRESETS)}
    redaction = parse_patterns(presets.get(mode, []))
    return [
        prepare(Signal.TRACES, body, Encoding.PROTOBUF, None, None, limits, True,
                redaction=redaction).batch
        for body in bodies
    ]  # fmt: skip


def child(step: str, mode: str, work: Path, passes: int) -> None:
    """Runs in a subprocess: ``prepare`` (under callgrind), ``pack`` or ``write``."""
    if mode.startswith("none"):
        _switch_off_limits()
    name = "small" if mode.endswith("-small") else "bodies"
    bodies = pickle.loads((work / f"{name}.pkl").read_bytes())
    if step == "prepare":
        from collector.service import _warm_up

        _warm_up()
        for _ in range(passes):
            _prepare_all(bodies, mode)
        return
    if step == "pack":
        (work / "batches.pkl").write_bytes(pickle.dumps(_prepare_all(bodies, mode)))
        return
    import migrations
    from store.engine import create_engine
    from store.maintenance import WRITER_AUTOCHECKPOINT_PAGES
    from store.write import write_spans

    batches = pickle.loads((work / "batches.pkl").read_bytes())
    engine = create_engine(
        f"sqlite:///{work / 'store.db'}",
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
    out = work / "callgrind.out"
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        f"--instr-atstart={'yes' if at_start else 'no'}",
        sys.executable, "-m", "bench.limits_instructions", "--child", *args, "--work", str(work),
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
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--child", nargs=3, metavar=("STEP", "MODE", "PASSES"))
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.child:
        step, mode, passes = args.child
        child(step, mode, args.work, int(passes))
        return

    from bench.demo_payloads import demo_bodies

    bodies, spans = demo_bodies(args.spans, 500)
    small, _ = demo_bodies(args.spans, 200)
    work = Path(tempfile.mkdtemp(prefix="rl-limits-instructions-"))
    (work / "bodies.pkl").write_bytes(pickle.dumps(bodies))
    (work / "small.pkl").write_bytes(pickle.dumps(small))
    print(f"{spans:,} demo spans: {len(bodies)} bodies of 500 (~{len(bodies[0]) >> 10} KiB), "
          f"{len(small)} of 200 (~{len(small[0]) >> 10} KiB)")  # fmt: skip
    worker: dict[str, float] = {}
    for mode in args.modes.split(","):
        # Three passes less one, halved: what varies between runs (collections, dict
        # growth) weighs less against two passes than against one.
        one, three = (callgrind(work, "prepare", mode, str(n)) for n in (1, 3))
        worker[mode] = (three - one) / 2 / spans
        print(f"  worker, {mode:<13} {worker[mode]:>10,.0f} instructions per span", flush=True)
    subprocess.run(
        [sys.executable, "-m", "bench.limits_instructions", "--child", "pack", "limits", "0",
         "--work", str(work)],
        check=True,
    )  # fmt: skip
    half = sum(_spans(body) for body in bodies[len(bodies) // 2 :])
    writer = callgrind(work, "write", "limits", "0", at_start=False) / half
    print(f"  writer                {writer:>10,.0f} instructions per span (last {half:,})")
    for suffix in ("", "-small"):
        on, off = worker.get(f"limits{suffix}"), worker.get(f"none{suffix}")
        if on is not None and off is not None:
            print(f"limits{suffix or ' (500 a body)'}: {on - off:+,.0f} per span, "
                  f"{(on - off) / (off + writer):+.2%} of decode + write")  # fmt: skip
    for mode in ("redact-email", "redact-all"):
        if mode in worker and "limits" in worker:
            cost = worker[mode] - worker["limits"]
            print(f"{mode}: {cost:+,.0f} per span, "
                  f"{cost / (worker['limits'] + writer):+.2%} of decode + write")  # fmt: skip


def _spans(body: bytes) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest.FromString(body)
    return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)


if __name__ == "__main__":
    main()
