"""Consumer lag as operators know it from kafka-lag-exporter and Burrow: the arithmetic.

Lag is measured against the partition's log-end offset (a ListOffsets "latest"
answer), not against the high watermark a consumer last saw in a fetch: that one
is only as fresh as the last batch, and some brokers report it low. A group that
has committed nothing yet reads from the log start (``auto_offset_reset=earliest``),
so everything from there is unprocessed. Lag in seconds is the age of the oldest
unprocessed record: the timestamp of the first record at or after the group's
position. Nothing here does I/O; :mod:`skuhub_runtime.lag_monitor` reads the offsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    """What the broker says about one partition, and the group's committed offset there."""

    topic: str
    partition: int
    log_start: int
    log_end: int
    committed: int | None
    """None: the group has committed nothing in this partition."""

    @property
    def position(self) -> int:
        """The offset of the next record the group will process."""
        if self.committed is None:
            return self.log_start
        # A committed offset below the log start (records deleted by retention) reads on
        # from the log start: those records can never be processed, so they are no lag.
        return max(self.committed, self.log_start)

    @property
    def records_behind(self) -> int:
        """Records between the group's position and the log end (0 when caught up)."""
        return max(self.log_end - self.position, 0)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """One partition's lag for one group, ready to export."""

    group: str
    topic: str
    partition: int
    log_end: int
    position: int
    records: int
    seconds: float


def lag_seconds(records: int, oldest_timestamp_ms: int | None, now_ms: int) -> float:
    """The age of the oldest unprocessed record: 0 when nothing is behind.

    ``oldest_timestamp_ms``: the timestamp of the record at the group's position
    (None when it could not be read: the age is unknown, reported as 0 rather
    than guessed). A record stamped in the future (clock skew) has age 0.
    """
    if records <= 0 or oldest_timestamp_ms is None:
        return 0.0
    return max(now_ms - oldest_timestamp_ms, 0) / 1000.0


def partition_lags(
    group: str,
    offsets: Iterable[PartitionOffsets],
    oldest_timestamps_ms: Mapping[tuple[str, int], int],
    now_ms: int,
) -> list[PartitionLag]:
    """Every partition's lag; ``oldest_timestamps_ms`` by (topic, partition)."""
    lags = []
    for p in offsets:
        behind = p.records_behind
        oldest = oldest_timestamps_ms.get((p.topic, p.partition))
        lags.append(
            PartitionLag(
                group=group,
                topic=p.topic,
                partition=p.partition,
                log_end=p.log_end,
                position=p.position,
                records=behind,
                seconds=lag_seconds(behind, oldest, now_ms),
            )
        )
    return lags


@dataclass(frozen=True, slots=True)
class GroupLag:
    """A group's lag over all its partitions (kafka-lag-exporter's max and sum)."""

    group: str
    partitions: tuple[PartitionLag, ...]

    @property
    def max_records(self) -> int:
        return max((p.records for p in self.partitions), default=0)

    @property
    def max_seconds(self) -> float:
        return max((p.seconds for p in self.partitions), default=0.0)

    @property
    def sum_records(self) -> int:
        return sum(p.records for p in self.partitions)
