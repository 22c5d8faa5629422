"""The metric names read out of PromQL and out of an exposition (tests/promql.py), on
expressions and expositions written here by hand with the names they hold."""

from __future__ import annotations

import pytest

from tests.promql import (
    SYNTHETIC,
    DeployedExpression,
    PromQLSyntaxError,
    deployed_expressions,
    exposed_names,
    metric_names,
    names_missing,
)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('skuhub_ready{service="stock"} == 0', {"skuhub_ready"}),
        (
            "histogram_quantile(0.99, sum by (channel, le) "
            '(rate(skuhub_offer_latency_seconds_bucket{service=~"$service"}[$__rate_interval])))',
            {"skuhub_offer_latency_seconds_bucket"},
        ),
        ("sum(rate(a_total[5m])) by (service) / sum without (le) (b)", {"a_total", "b"}),
        ("a and on(instance) group_left(team, owner) b", {"a", "b"}),
        ("a * ignoring (le) group_right b", {"a", "b"}),
        ("a unless a offset 10m", {"a"}),
        ("a offset -5m or b @ end()", {"a", "b"}),
        ("time() - max(last_sweep_seconds)", {"last_sweep_seconds"}),
        ('{__name__="by_name", job="skuhub"}', {"by_name"}),
        ('{job="x", __name__ = "spaced_name"}', {"spaced_name"}),
        ('label_replace(src, "dst", "$1 sum(fake)", "src", "(.*)")', {"src"}),
        ('count_values("le", m) > bool 1e-3', {"m"}),
        ("topk(3, m) + Inf - NaN", {"m"}),
        ("max_over_time(m[10m:1m]) > 0x1F", {"m"}),
        ("job:rate5m:sum > 0", {"job:rate5m:sum"}),
        (
            "sum by (group) (kafka_consumergroup_group_sum_lag)",
            {"kafka_consumergroup_group_sum_lag"},
        ),
        ('a{label="has } and ] inside"} + b', {"a", "b"}),
        ("a # a comment naming not_a_metric\n+ b", {"a", "b"}),
        ("atan2(0.5, 2)", set()),
        ("vector(1) > ${threshold}", set()),
    ],
)
def test_metric_names_are_the_selected_series(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


@pytest.mark.parametrize("expr", ['a{b="unclosed}', "sum(rate(a[5m])", "a[5m", "a)"])
def test_an_unclosed_string_or_bracket_is_an_error(expr: str) -> None:
    with pytest.raises(PromQLSyntaxError):
        metric_names(expr)


EXPOSITION = """\
# HELP skuhub_events_applied_total Events applied to the projection.
# TYPE skuhub_events_applied_total counter
skuhub_events_applied_total{service="stock",event_type="stock.stock-moved.v1"} 3.0
# HELP skuhub_events_applied_created Events applied to the projection.
# TYPE skuhub_events_applied_created gauge
skuhub_events_applied_created{service="stock",event_type="stock.stock-moved.v1"} 1.7e+09
# HELP skuhub_dead_lettered_total Records sent to the dead-letter topic.
# TYPE skuhub_dead_lettered_total counter
# HELP skuhub_offer_latency_seconds Data latency.
# TYPE skuhub_offer_latency_seconds histogram
# HELP skuhub_ready 1 when the service is ready.
# TYPE skuhub_ready gauge
skuhub_ready{service="stock"} 1.0
# HELP legacy_requests An old counter whose family name lacks _total.
# TYPE legacy_requests counter
# HELP rpc_seconds A summary.
# TYPE rpc_seconds summary
# HELP python_info Python platform information
# TYPE python_info gauge
python_info{implementation="CPython",major="3"} 1.0
"""


def test_exposed_names_count_families_without_samples() -> None:
    assert exposed_names(EXPOSITION) == {
        "skuhub_events_applied_total",
        "skuhub_events_applied_created",
        # Labelled, never incremented: HELP and TYPE only.
        "skuhub_dead_lettered_total",
        "skuhub_offer_latency_seconds_bucket",
        "skuhub_offer_latency_seconds_sum",
        "skuhub_offer_latency_seconds_count",
        "skuhub_ready",
        "legacy_requests_total",
        "rpc_seconds",
        "rpc_seconds_sum",
        "rpc_seconds_count",
        "python_info",
    }


def test_names_missing_lists_each_unknown_name_with_where_it_is_used() -> None:
    expressions = [
        DeployedExpression("rules: A", "rate(skuhub_dead_lettered_total[5m]) > 0 and up == 1"),
        DeployedExpression("board: p", "skuhub_nope + skuhub_ready"),
        DeployedExpression("board: q", "histogram_quantile(0.5, skuhub_offer_latency_bucket)"),
        DeployedExpression("board: r", 'ALERTS{alertstate="firing"} + skuhub_nope'),
    ]
    assert names_missing(expressions, exposed_names(EXPOSITION)) == {
        "skuhub_nope": ["board: p", "board: r"],
        "skuhub_offer_latency_bucket": ["board: q"],
    }


def test_every_deployed_expression_names_at_least_one_series() -> None:
    """A panel or rule whose names all vanished (a typo turned into a function call, a
    selector lost in an edit) would pass the name check while showing nothing."""
    deployed = deployed_expressions()
    assert len(deployed) > 50
    empty = [d.where for d in deployed if not metric_names(d.expr) - (SYNTHETIC - {"up", "ALERTS"})]
    assert not empty, f"expressions that select no series: {empty}"
