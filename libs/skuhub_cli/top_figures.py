"""The figures of ``skuhub top``, computed from two scrapes of a service's ``/metrics``.

Pure functions: text in, numbers out. A rate or a percentile needs two scrapes
(the counters' and buckets' growth over the window between them), as
Prometheus's ``rate`` and ``histogram_quantile`` over a range do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, list[tuple[dict[str, str], float]]]
"""A scrape: sample name (``…_total``, ``…_bucket``) → (labels, value) of every series."""


def parse_metrics(text: str) -> Samples:
    """The samples of a Prometheus text exposition."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return samples


def summed(samples: Samples, name: str) -> float | None:
    """The sum of every series of ``name``; None when the service exports none."""
    series = samples.get(name)
    return None if not series else sum(value for _, value in series)


def highest(samples: Samples, name: str) -> float | None:
    series = samples.get(name)
    return None if not series else max(value for _, value in series)


def lowest(samples: Samples, name: str) -> float | None:
    series = [value for _, value in samples.get(name, []) if not math.isnan(value)]
    return min(series) if series else None


def counter_rate(before: float | None, after: float | None, seconds: float) -> float | None:
    """Growth per second of a counter between two scrapes ``seconds`` apart.

    A counter that went down was reset (the service restarted): its whole value
    counts as growth, as Prometheus's ``rate`` does.
    """
    if after is None or seconds <= 0:
        return None
    start = before or 0.0
    grown = after - start if after >= start else after
    return grown / seconds


def cumulative_buckets(samples: Samples, name: str) -> dict[float, float]:
    """A histogram's cumulative bucket counts by upper bound, over all its label sets."""
    buckets: dict[float, float] = {}
    for labels, value in samples.get(f"{name}_bucket", []):
        bound = float(labels["le"])
        buckets[bound] = buckets.get(bound, 0.0) + value
    return buckets


def bucket_growth(
    before: Mapping[float, float], after: Mapping[float, float]
) -> dict[float, float]:
    """The observations of the window, per bucket (cumulative); a reset counts from 0."""
    if any(after.get(bound, 0.0) < count for bound, count in before.items()):
        return dict(after)
    return {bound: count - before.get(bound, 0.0) for bound, count in after.items()}


def quantile(share: float, buckets: Mapping[float, float]) -> float | None:
    """The ``share`` quantile (0..1) of a histogram, as Prometheus's ``histogram_quantile``.

    Linear interpolation inside the bucket that holds the rank; the first bucket
    starts at 0; a rank in the +Inf bucket answers the highest finite bound. None
    when the histogram holds no observation.
    """
    bounds = sorted(buckets)
    if not bounds or bounds[-1] != math.inf:
        return None
    total = buckets[math.inf]
    if total <= 0:
        return None
    rank = share * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == math.inf:
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """One row of ``skuhub top``."""

    name: str
    up: bool
    problem: str = ""
    applied_per_s: float | None = None
    lag_records: float | None = None
    lag_seconds: float | None = None
    latency_p50_s: float | None = None
    latency_p99_s: float | None = None
    dead_letters: float | None = None
    accuracy: float | None = None
    outbox_backlog: float | None = None


def figures(name: str, before: Samples | None, after: Samples, seconds: float) -> ServiceFigures:
    """A service's row from its scrape ``after`` and the one ``seconds`` before it (None:
    the first scrape, or the service did not answer it: no rate or percentile yet)."""
    latency: dict[float, float] = {}
    applied = None
    if before is not None:
        # A counter shows up with its first event: absent is none so far.
        applied = counter_rate(
            summed(before, "skuhub_events_applied_total") or 0.0,
            summed(after, "skuhub_events_applied_total") or 0.0,
            seconds,
        )
        latency = bucket_growth(
            cumulative_buckets(before, "skuhub_data_latency_seconds"),
            cumulative_buckets(after, "skuhub_data_latency_seconds"),
        )
    return ServiceFigures(
        name=name,
        up=True,
        applied_per_s=applied,
        lag_records=summed(after, "kafka_consumergroup_group_sum_lag"),
        lag_seconds=highest(after, "kafka_consumergroup_group_max_lag_seconds"),
        latency_p50_s=quantile(0.5, latency),
        latency_p99_s=quantile(0.99, latency),
        dead_letters=summed(after, "skuhub_dead_lettered_total") or 0.0,
        accuracy=lowest(after, "skuhub_reconcile_accuracy_ratio"),
        outbox_backlog=summed(after, "skuhub_outbox_backlog_records"),
    )
