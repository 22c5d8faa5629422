"""The stock service at a retailer's size: N movements over 50,000 SKUs x 20 locations,
skewed like real demand (:mod:`skuhub_traffic.sized`), against a pass-through baseline of
the same records in the same run, with the lifecycle consuming stock-level-changed
alongside (:mod:`skuhub_cli.bench_lifecycle`); then the ledger against the oracle."""

from __future__ import annotations

from skuhub_cli.bench_accuracy import stock_accuracy
from skuhub_cli.bench_lifecycle import after_load, start_alongside
from skuhub_cli.bench_probes import create_plain_topics, produce_flat_out
from skuhub_cli.bench_session import BenchSession, blocking
from skuhub_cli.bench_throughput import baseline_case, consumer_case
from skuhub_contracts.subscriptions import STOCK_MOVEMENTS
from skuhub_contracts.topics import STOCK_MOVED
from skuhub_traffic.sized import sized_deliveries

SKUS = 50_000
LOCATIONS = 20


async def realistic_case(session: BenchSession, movements: int) -> None:
    """Pre-load the stream, time the baseline and the stock service on it, check accuracy."""
    with session.step(f"Generating {movements:,} movements over {SKUS:,} SKUs x {LOCATIONS}"):
        config = session.options.traffic(movements)
        deliveries = await blocking(sized_deliveries, config, skus=SKUS, locations=LOCATIONS)
    valid = [d for d in deliveries if d.kind == "valid"]
    group = await session.new_group()
    settings = group.wiring.settings()
    bench_in, bench_out = settings.topic("bench.in"), settings.topic("bench.out")
    with session.step(f"Pre-loading {len(deliveries):,} deliveries and {len(valid):,} records"):
        await create_plain_topics(
            session.bootstrap, [bench_in, bench_out], session.options.partitions
        )
        await produce_flat_out(session.bootstrap, settings.topic(STOCK_MOVED.name), deliveries)
        await produce_flat_out(session.bootstrap, bench_in, valid)
    group_name = f"{settings.topic_prefix}bench-pass-through"
    baseline = await baseline_case(
        session, bench_in, bench_out, group_name, len(valid), case="baseline (realistic)"
    )
    alongside = await start_alongside(session, group)
    load_ended_at = await consumer_case(
        session,
        group,
        STOCK_MOVEMENTS,
        baseline,
        outbox=True,
        case=f"stock ({SKUS:,} SKUs x {LOCATIONS}, lifecycle consuming alongside)",
        within_s=max(180.0, len(deliveries) / 100),
    )
    skus = [d.key.decode() for d in valid]
    await after_load(session, group, alongside, skus, load_ended_at=load_ended_at)
    await stock_accuracy(session, "realistic", group.wiring, deliveries)
