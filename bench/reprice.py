"""Re-pricing a large store: model calls/s and wall time of ``store.pricing.reprice``.

    .venv/bin/python -m bench.ingest --spans 1000000 --payload demo --keep-db bench/out/demo-1m
    .venv/bin/python -m bench.reprice --db sqlite:///bench/out/demo-1m/reasonlens.db

Three passes a round:
- "price change": every price of the book raised by 10% (a bench-only price book), so
  every priced model call and every trace changes value but not size;
- "unchanged": the same again, nothing to write;
- "from nothing": every computed cost forgotten first (a store upgraded from before
  costs were computed), so every call gains its ``span_costs`` row again.
The issue's target: 1,000,000 spans under 60 s on SQLite.
"""

from __future__ import annotations

import argparse
import statistics
import time

import sqlalchemy as sa

import migrations
from store.engine import create_engine
from store.models import Span, Trace
from store.pricing import book
from store.pricing.prices import Price
from store.pricing.reprice import reprice
from tests.stored_costs import forget_computed_costs

_book_price = book.price_for


def raised_book(factor: float) -> None:
    """Every price times ``factor`` (1.0: the real book again)."""
    if factor == 1.0:
        book.price_for = _book_price
        return
    raised: dict[str, Price] = {}

    def price_for(provider: str | None, model: str | None, start_ns: int) -> Price | None:
        price = _book_price(provider, model, start_ns)
        if price is None:
            return None
        if price.key not in raised:
            per_mtok = {kind: value * factor for kind, value in price.usd_per_mtok.items()}
            raised[price.key] = Price(
                "custom", f"bench x{factor}", price.provider, price.model, per_mtok, price.tiers
            )
        return raised[price.key]

    book.price_for = price_for


def forget(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        forget_computed_costs(connection)
        connection.execute(sa.update(Trace).values(cost_usd=None, unpriced_count=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    engine = create_engine(args.db, sqlite_synchronous="NORMAL", sqlite_cache_mib=256)
    migrations.upgrade(engine)
    with engine.connect() as connection:
        spans = connection.scalar(sa.select(sa.func.count()).select_from(Span))
    walls = []
    for attempt in range(args.repeat):
        raised_book(1.0)
        reprice(engine)  # the real book's costs everywhere, before the round
        raised_book(1.1)
        change = reprice(engine)
        same = reprice(engine)
        raised_book(1.0)
        mark = time.perf_counter()
        forget(engine)
        forgot = time.perf_counter() - mark
        fresh = reprice(engine)
        walls.append(change.seconds)
        print(
            f"round {attempt + 1}: {spans:,} spans, {change.calls:,} model calls. "
            f"price change: {change.seconds:.1f} s ({spans / change.seconds:,.0f} spans/s), "
            f"{change.changed:,} calls and {change.traces:,} traces changed; "
            f"unchanged: {same.seconds:.1f} s ({same.changed} changed); "
            f"from nothing: {fresh.seconds:.1f} s, {fresh.changed:,} calls "
            f"(forgetting took {forgot:.1f} s)"
        )
    print(f"median price change: {statistics.median(walls):.1f} s")


if __name__ == "__main__":
    main()
