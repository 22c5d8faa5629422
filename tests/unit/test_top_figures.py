"""``skuhub top``'s figures from two scrapes.

Oracles: the raw observations and counts the test feeds into a registry of its own
(the true percentile of the observations lies in the bucket the estimate lies in),
and sums worked out by hand.
"""

from __future__ import annotations

import bisect
import math

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from skuhub_cli.top import parse_urls, render
from skuhub_cli.top_figures import (
    ServiceFigures,
    bucket_growth,
    counter_rate,
    figures,
    parse_metrics,
    quantile,
)
from skuhub_runtime.metrics import LATENCY_BUCKETS

BOUNDS = (*LATENCY_BUCKETS, math.inf)


def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def bucket_of(value: float) -> int:
    return bisect.bisect_left(BOUNDS, value)


def cumulative(values: list[float]) -> dict[float, float]:
    return {bound: float(sum(v <= bound for v in values)) for bound in BOUNDS}


@given(
    st.lists(st.floats(0.0, 2000.0, allow_nan=False), min_size=1, max_size=200),
    st.sampled_from([0.5, 0.9, 0.99]),
)
def test_a_percentile_lies_in_the_bucket_of_the_true_one(values: list[float], share: float) -> None:
    estimate = quantile(share, cumulative(values))

    assert estimate is not None
    true = nearest_rank(values, share)
    if true > LATENCY_BUCKETS[-1]:  # the +Inf bucket: the highest finite bound stands in
        assert estimate == LATENCY_BUCKETS[-1]
    else:
        lower = BOUNDS[bucket_of(true) - 1] if bucket_of(true) else 0.0
        assert lower <= estimate <= BOUNDS[bucket_of(true)]


def test_a_percentile_interpolates_inside_its_bucket() -> None:
    # 10 observations up to 0.5 s (none below 0.1 s), 10 more up to 1 s: the median is
    # the last of the first ten, at the top of (0.1, 0.5]; p75 halfway through (0.5, 1].
    buckets = {0.1: 0.0, 0.5: 10.0, 1.0: 20.0, math.inf: 20.0}

    assert quantile(0.5, buckets) == 0.5
    assert quantile(0.75, buckets) == 0.75


def test_no_observation_has_no_percentile() -> None:
    assert quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None
    assert quantile(0.5, {}) is None


def test_a_rate_is_the_growth_per_second_and_a_reset_counts_from_zero() -> None:
    assert counter_rate(10.0, 40.0, 2.0) == 15.0
    assert counter_rate(100.0, 6.0, 2.0) == 3.0  # the service restarted
    assert counter_rate(None, 6.0, 2.0) == 3.0  # the first event type appeared
    assert counter_rate(1.0, None, 2.0) is None


def test_bucket_growth_is_the_windows_observations() -> None:
    before = {0.1: 2.0, math.inf: 3.0}

    assert bucket_growth(before, {0.1: 5.0, math.inf: 9.0}) == {0.1: 3.0, math.inf: 6.0}
    assert bucket_growth(before, {0.1: 1.0, math.inf: 1.0}) == {0.1: 1.0, math.inf: 1.0}


class FakeService:
    """A service's metrics in a registry of their own, exposed as text as /metrics does."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.applied = Counter(
            "skuhub_events_applied_total", "", ["service", "event_type"], registry=self.registry
        )
        self.latency = Histogram(
            "skuhub_data_latency_seconds",
            "",
            ["service", "event_type"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.dead = Counter(
            "skuhub_dead_lettered_total", "", ["service", "topic"], registry=self.registry
        )
        self.sum_lag = Gauge(
            "kafka_consumergroup_group_sum_lag", "", ["group"], registry=self.registry
        )
        self.max_lag_s = Gauge(
            "kafka_consumergroup_group_max_lag_seconds", "", ["group"], registry=self.registry
        )
        self.accuracy = Gauge(
            "skuhub_reconcile_accuracy_ratio",
            "",
            ["service", "projection", "channel"],
            registry=self.registry,
        )
        self.backlog = Gauge(
            "skuhub_outbox_backlog_records", "", ["service"], registry=self.registry
        )

    def scrape(self) -> str:
        return generate_latest(self.registry).decode()


def test_a_row_from_two_scrapes() -> None:
    service = FakeService()
    service.applied.labels("stock", "a").inc(5)
    for _ in range(50):  # before the window: slow, must not count
        service.latency.labels("stock", "a").observe(800.0)
    before = parse_metrics(service.scrape())
    window = [0.003, 0.004, 0.02, 0.02, 0.03, 0.2, 0.2, 0.3, 0.4, 3.0]
    for n, seconds in enumerate(window):
        service.applied.labels("stock", "ab"[n % 2]).inc()
        service.latency.labels("stock", "ab"[n % 2]).observe(seconds)
    service.dead.labels("stock", "t1").inc(2)
    service.dead.labels("stock", "t2").inc(1)
    service.sum_lag.labels("g1").set(3)
    service.sum_lag.labels("g2").set(4)
    service.max_lag_s.labels("g1").set(1.5)
    service.max_lag_s.labels("g2").set(2.5)
    service.accuracy.labels("stock", "offers", "web").set(0.98)
    service.accuracy.labels("stock", "positions", "").set(1.0)
    service.backlog.labels("stock").set(12)

    row = figures("stock", before, parse_metrics(service.scrape()), seconds=4.0)

    assert row.applied_per_s == len(window) / 4.0
    assert (row.lag_records, row.lag_seconds) == (7, 2.5)
    assert (row.dead_letters, row.accuracy, row.outbox_backlog) == (3, 0.98, 12)
    assert row.latency_p50_s is not None
    assert row.latency_p99_s is not None
    for share, estimate in ((0.5, row.latency_p50_s), (0.99, row.latency_p99_s)):
        true = nearest_rank(window, share)
        lower = BOUNDS[bucket_of(true) - 1] if bucket_of(true) else 0.0
        assert lower <= estimate <= BOUNDS[bucket_of(true)], (share, estimate, true)


def test_the_first_scrape_has_no_rate_and_a_quiet_service_no_metrics() -> None:
    row = figures("catalog", None, parse_metrics(FakeService().scrape()), seconds=0.0)

    assert row.up
    assert (row.applied_per_s, row.latency_p50_s, row.lag_records, row.accuracy) == (
        None,
        None,
        None,
        None,
    )
    assert row.dead_letters == 0  # the counter shows up with the first dead letter


def test_a_service_that_applied_nothing_in_the_window_has_rate_zero_and_no_latency() -> None:
    quiet = parse_metrics(FakeService().scrape())

    row = figures("catalog", quiet, quiet, seconds=2.0)

    assert (row.applied_per_s, row.latency_p50_s, row.latency_p99_s) == (0.0, None, None)


def test_a_service_that_does_not_answer_is_shown_down_with_the_reason() -> None:
    table = render(
        [ServiceFigures("stock", up=False, problem="ConnectError at http://127.0.0.1:1")], 2.0
    )

    assert table.caption == "down: stock: ConnectError at http://127.0.0.1:1"
    assert "down" in str(list(table.columns[1].cells))


def test_urls_are_name_equals_url() -> None:
    assert parse_urls(["stock=http://h:1/", "http://h:2"]) == {
        "stock": "http://h:1",
        "http://h:2": "http://h:2",
    }
