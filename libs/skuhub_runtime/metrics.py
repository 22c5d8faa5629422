"""Prometheus metrics every service exports at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 900)

EVENTS_APPLIED = Counter(
    "skuhub_events_applied_total", "Events applied to the projection.", ["service", "event_type"]
)
EVENTS_DUPLICATE = Counter(
    "skuhub_events_duplicate_total",
    "Events skipped as already applied: the same event id (inbox), or the same fact under a "
    "new id where the domain can tell (stock: source system and sequence).",
    ["service"],
)
DEAD_LETTERED = Counter(
    "skuhub_dead_lettered_total", "Records sent to the dead-letter topic.", ["service", "topic"]
)
DATA_LATENCY = Histogram(
    "skuhub_data_latency_seconds",
    "From the event's origin time to applied in this service's projection.",
    ["service", "event_type"],
    buckets=LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram(
    "skuhub_consumer_batch_records",
    "Records per applied consumer batch.",
    ["service"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 5000),
)
BATCH_SECONDS = Histogram(
    "skuhub_consumer_batch_seconds",
    "Time per consumer batch by phase: claim (inbox), handle (effects and outbox rows), "
    "commit (database), offsets (Kafka offset commit).",
    ["service", "phase"],
    buckets=LATENCY_BUCKETS,
)
DEAD_LETTER_REPLAYS = Counter(
    "skuhub_dead_letter_replays_total",
    "Dead letters re-published to their original topic (POST /v1/dead-letters/{id}/replays).",
    ["service"],
)
OUTBOX_PUBLISHED = Counter(
    "skuhub_outbox_published_total", "Records the outbox relay published.", ["service"]
)
CONSUMER_RETRIES = Counter(
    "skuhub_consumer_retries_total", "Batches retried after an infrastructure error.", ["service"]
)
# Lag under the names of kafka-lag-exporter, so its dashboards and rules apply as they are.
# Every service exports them for its own consumer groups (skuhub_runtime.lag_monitor).
GROUP_LAG = Gauge(
    "kafka_consumergroup_group_lag",
    "Records between the group's committed offset and the partition's log-end offset.",
    ["group", "topic", "partition"],
)
GROUP_LAG_SECONDS = Gauge(
    "kafka_consumergroup_group_lag_seconds",
    "Age of the oldest record the group has not processed (0 when it has no lag).",
    ["group", "topic", "partition"],
)
GROUP_OFFSET = Gauge(
    "kafka_consumergroup_group_offset",
    "The group's committed offset (the log start while it has committed nothing).",
    ["group", "topic", "partition"],
)
PARTITION_LATEST_OFFSET = Gauge(
    "kafka_partition_latest_offset",
    "The partition's log-end offset: the offset the next record written will get.",
    ["topic", "partition"],
)
GROUP_MAX_LAG = Gauge(
    "kafka_consumergroup_group_max_lag", "The group's largest partition lag in records.", ["group"]
)
GROUP_MAX_LAG_SECONDS = Gauge(
    "kafka_consumergroup_group_max_lag_seconds",
    "The group's largest partition lag in seconds.",
    ["group"],
)
GROUP_SUM_LAG = Gauge(
    "kafka_consumergroup_group_sum_lag",
    "The group's lag in records over all its partitions.",
    ["group"],
)
OUTBOX_BACKLOG = Gauge(
    "skuhub_outbox_backlog_records",
    "Outbox rows committed and not yet published.",
    ["service"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "skuhub_outbox_oldest_age_seconds",
    "Age of the oldest outbox row not yet published (0 when the outbox is empty).",
    ["service"],
)
READY = Gauge("skuhub_ready", "1 when the service is ready.", ["service"])
DEPENDENCY_UP = Gauge(
    "skuhub_dependency_up",
    "1 while the dependency (kafka, postgresql) answers the service's probe, 0 while it does not.",
    ["service", "dependency"],
)
DEPENDENCY_OUTAGES = Counter(
    "skuhub_dependency_outages_total",
    "Times the dependency became unreachable.",
    ["service", "dependency"],
)
DEPENDENCY_UNREACHABLE_SECONDS = Counter(
    "skuhub_dependency_unreachable_seconds_total",
    "Seconds the dependency was unreachable, as the probe saw it.",
    ["service", "dependency"],
)
