"""Reads a service's consumer lag from the broker and exports it (kafka-lag-exporter names).

Each refresh asks the broker for every partition's log start and log end
(ListOffsets) and the group's committed offsets (OffsetFetch), both plain Kafka
protocol that every broker answers the same way, and reads the timestamp of the
record at each lagging partition's position with a group-less consumer. The
timestamp is kept while the position stays put, so a stopped group costs one
fetch per partition, not one per refresh. The arithmetic is in :mod:`skuhub_runtime.lag`.

A refresh runs on the service's own clock (``SKUHUB_LAG_REFRESH_INTERVAL_S``), not
after a batch: a group that receives nothing, or is stuck, still shows its lag.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from skuhub_runtime import metrics
from skuhub_runtime.dependencies import describe
from skuhub_runtime.kafka import client_options
from skuhub_runtime.lag import GroupLag, PartitionOffsets, partition_lags
from skuhub_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

_TIMESTAMP_FETCH_S = 2.0
"""The longest a refresh waits for the records at the groups' positions."""


class LagMonitor:
    """The lag of some consumer groups, each reading some topics: ``{group: topics}``."""

    def __init__(
        self,
        settings: ServiceSettings,
        groups: Mapping[str, Sequence[str]],
        *,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._settings = settings
        self._groups = {group: tuple(topics) for group, topics in groups.items()}
        self._clock_ms = clock_ms
        self._admin: Any = None
        self._reader: Any = None
        self._timestamps: dict[tuple[TopicPartition, int], int] = {}
        """The timestamp of the first record at or after an offset, by (partition, offset)."""

    async def start(self) -> None:
        options = client_options(self._settings)
        self._admin = AIOKafkaAdminClient(**options)
        self._reader = AIOKafkaConsumer(
            **options,
            client_id=f"skuhub-{self._settings.instance_id or self._settings.service_name}-lag",
            group_id=None,
            enable_auto_commit=False,
            # One record per partition is all a refresh reads; KIP-74 still returns a
            # whole first batch when it is larger.
            max_partition_fetch_bytes=16 * 1024,
            fetch_max_wait_ms=100,
        )
        try:
            await self._admin.start()
            await self._reader.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    async def __aenter__(self) -> LagMonitor:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def refresh(self) -> list[GroupLag]:
        """Read every group's lag now, export it, and return it."""
        topics = sorted({t for topics in self._groups.values() for t in topics})
        partitions = await self._partitions(topics)
        starts: dict[TopicPartition, int] = await self._reader.beginning_offsets(partitions)
        ends: dict[TopicPartition, int] = await self._reader.end_offsets(partitions)
        offsets: dict[str, list[PartitionOffsets]] = {}
        for group, group_topics in self._groups.items():
            mine = [tp for tp in partitions if tp.topic in group_topics]
            committed = await self._admin.list_consumer_group_offsets(group, partitions=mine)
            offsets[group] = [
                PartitionOffsets(
                    tp.topic, tp.partition, starts[tp], ends[tp], _offset(committed.get(tp))
                )
                for tp in mine
            ]
        # Two groups at different positions in one partition: read both records.
        wanted = {
            (TopicPartition(p.topic, p.partition), p.position)
            for group_offsets in offsets.values()
            for p in group_offsets
            if p.records_behind > 0
        }
        await self._read_timestamps(wanted)
        self._timestamps = {k: v for k, v in self._timestamps.items() if k in wanted}
        now_ms = self._clock_ms()
        result = []
        for group, group_offsets in offsets.items():
            oldest = {
                (p.topic, p.partition): self._timestamps[key]
                for p in group_offsets
                if (key := (TopicPartition(p.topic, p.partition), p.position)) in self._timestamps
            }
            result.append(
                GroupLag(group, tuple(partition_lags(group, group_offsets, oldest, now_ms)))
            )
        _export(result)
        return result

    async def _partitions(self, topics: list[str]) -> list[TopicPartition]:
        partitions = []
        for topic in await self._admin.describe_topics(topics):
            if topic["error_code"] != 0:
                continue  # not created yet: nothing to lag behind
            partitions += [
                TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]
            ]
        return sorted(partitions)

    async def _read_timestamps(self, wanted: set[tuple[TopicPartition, int]]) -> None:
        """Find the timestamp of the first record at or after each (partition, offset)."""
        missing = sorted(w for w in wanted if w not in self._timestamps)
        # One offset per partition per read: the reader has one position per partition.
        while missing:
            batch: dict[TopicPartition, int] = {}
            for tp, offset in missing:
                batch.setdefault(tp, offset)
            await self._read_batch(batch)
            # What was not found in time stays unknown until the next refresh.
            missing = [w for w in missing if batch.get(w[0]) != w[1]]

    async def _read_batch(self, offsets: dict[TopicPartition, int]) -> None:
        reader = self._reader
        reader.assign(list(offsets))
        for tp, offset in offsets.items():
            reader.seek(tp, offset)
        pending = dict(offsets)
        deadline = time.monotonic() + _TIMESTAMP_FETCH_S
        while pending and time.monotonic() < deadline:
            fetched = await reader.getmany(*pending, timeout_ms=200)
            for tp, records in fetched.items():
                first = next((r for r in records if r.offset >= pending.get(tp, 0)), None)
                if first is not None and tp in pending:
                    self._timestamps[(tp, pending.pop(tp))] = first.timestamp
        # Not fetched on in the background until the next refresh assigns what it needs.
        reader.pause(*offsets)
        if pending:
            log.debug("no record read at %s within %.0fs", pending, _TIMESTAMP_FETCH_S)


def _offset(committed: Any) -> int | None:
    """The committed offset, or None where the group has none (-1 or absent)."""
    if committed is None or committed.offset < 0:
        return None
    return int(committed.offset)


def _export(groups: list[GroupLag]) -> None:
    for group in groups:
        for p in group.partitions:
            labels = (group.group, p.topic, str(p.partition))
            metrics.GROUP_LAG.labels(*labels).set(p.records)
            metrics.GROUP_LAG_SECONDS.labels(*labels).set(p.seconds)
            metrics.GROUP_OFFSET.labels(*labels).set(p.position)
            metrics.PARTITION_LATEST_OFFSET.labels(p.topic, str(p.partition)).set(p.log_end)
        metrics.GROUP_MAX_LAG.labels(group.group).set(group.max_records)
        metrics.GROUP_MAX_LAG_SECONDS.labels(group.group).set(group.max_seconds)
        metrics.GROUP_SUM_LAG.labels(group.group).set(group.sum_records)


async def watch_lag(
    settings: ServiceSettings, groups: Mapping[str, Sequence[str]], interval_s: float
) -> None:
    """Refresh the lag of ``groups`` every ``interval_s`` until cancelled.

    A broker that does not answer leaves the last figures in place (the dependency
    watch reports the outage) and is asked again at the next round.
    """
    async with LagMonitor(settings, groups) as monitor:
        while True:
            try:
                await monitor.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "consumer lag not read (%s); trying again in %.0fs", describe(exc), interval_s
                )
            # The refresh clock, not a synchronisation.
            await asyncio.sleep(interval_s)
