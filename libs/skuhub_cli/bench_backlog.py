"""The backlog case of ``skuhub bench --backlog N``: the stock service reading, from the
start, a topic that a steady trickle filled one record per batch.

A partition written by single events holds about as many record batches as records,
and a broker whose fetch cost grows with the batches it holds starves its consumers
(the embedded broker before Apache Kafka did, at tens of thousands). The case writes
N movements one per batch, starts the stock service on them and compares its
sustained rate with the throughput case's, read from a topic written in big batches.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

from skuhub_cli.bench_accuracy import stock_accuracy
from skuhub_cli.bench_report import Row
from skuhub_cli.bench_session import BenchSession, blocking
from skuhub_cli.bench_throughput import consumer_case
from skuhub_contracts.subscriptions import STOCK_MOVEMENTS
from skuhub_contracts.topics import STOCK_MOVED
from skuhub_traffic.catalog import build_catalog
from skuhub_traffic.movements import generate_deliveries
from skuhub_traffic.publish import publish

_BATCH_HEADER = struct.Struct(">qi")  # baseOffset, batchLength (record batch format v2)


async def backlog_case(session: BenchSession) -> None:
    """Write the backlog one record per batch, then time the stock service draining it."""
    options = session.options
    with session.step(f"Generating {options.backlog:,} movements for the backlog"):
        config = options.traffic(options.backlog)
        deliveries = await blocking(generate_deliveries, config, build_catalog(config))
    group = await session.new_group()
    topic = group.wiring.settings().topic(STOCK_MOVED.name)
    with session.step(
        f"Writing {len(deliveries):,} records one per batch", total=len(deliveries)
    ) as update:
        stats = await blocking(
            publish,
            deliveries,
            bootstrap=session.bootstrap,
            topic=topic,
            one_per_batch=True,
            on_progress=update,
        )
    batches = _record_batches(session, topic)
    session.report.details["backlog"] = {
        "records": stats.records,
        "write_seconds": round(stats.seconds, 1),
        "record_batches": batches,
    }
    written = f"{stats.records:,} records in {batches:,} batches" if batches else ""
    session.done(f"backlog written: {written or stats.records} in {stats.seconds:.0f}s")
    baseline = session.report.details.get("baseline", {})
    pass_through = baseline.get("records", 0) / baseline.get("seconds", math.inf) or math.nan
    await consumer_case(
        session,
        group,
        STOCK_MOVEMENTS,
        pass_through,
        outbox=True,
        case="stock (trickled backlog)",
        within_s=max(180.0, stats.records / 200),
    )
    await stock_accuracy(session, "backlog", group.wiring, deliveries)
    _compare(session, written)


def _compare(session: BenchSession, written: str) -> None:
    """The backlog's sustained rate as a share of the fresh topic's."""
    fresh = session.report.details.get("throughput_stock", {}).get("sustained_rate", math.nan)
    backlog = session.report.details["throughput_stock (trickled backlog)"]["sustained_rate"]
    share = backlog / fresh if fresh and not math.isnan(fresh) else None
    session.report.add(
        Row(
            "stock (trickled backlog)",
            "sustained rate vs a fresh topic",
            100.0 * share if share is not None else math.nan,
            "%",
            note=f"{backlog:,.0f} vs {fresh:,.0f} rec/s; {written}".rstrip("; "),
        )
    )


def _record_batches(session: BenchSession, topic: str) -> int:
    """How many record batches the embedded broker's partitions of ``topic`` hold
    (0 on an external broker, whose files are not here)."""
    kafka = session.infra.kafka
    if kafka is None:
        return 0
    return sum(
        _batches_in(segment)
        for partition in kafka.log_dirs.glob(f"{topic}-*")
        for segment in sorted(partition.glob("*.log"))
    )


def _batches_in(segment: Path) -> int:
    """Walk a log segment's batch headers: each names its length, so no record is read."""
    count = 0
    with segment.open("rb") as log:
        while header := log.read(_BATCH_HEADER.size):
            if len(header) < _BATCH_HEADER.size:
                break
            _, length = _BATCH_HEADER.unpack(header)
            if length <= 0:
                break  # preallocated tail of the active segment
            log.seek(length, 1)
            count += 1
    return count
