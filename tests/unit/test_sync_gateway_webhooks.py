"""Webhook rules (domain/webhooks.py; docs/webhooks.md): backoff with full jitter, the order
per SKU, pausing a failing subscription, what a subscription receives, and replays.

Every expected value is worked out by hand from the rules in the docs.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from skuhub_sync_gateway.domain.webhooks import (
    DeadLetter,
    DeliveryStatus,
    Health,
    LoggedChange,
    Outcome,
    RetryPolicy,
    SubscriptionStatus,
    WaitingDelivery,
    after_attempt,
    backoff_s,
    events_problem,
    health_after,
    new_secret,
    plan_replay,
    resumed,
    secret_problem,
    sendable,
    to_deliver,
    url_problem,
)
from skuhub_sync_gateway.service_layer.webhooks import ClaimedDelivery, message_of

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    base_s=1.0, max_delay_s=600.0, max_attempts=4, pause_after_failures=3, probe_interval_s=30.0
)
PENDING = DeliveryStatus.PENDING
RETRYING = DeliveryStatus.RETRYING


# Backoff


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 512.0), (11, 600.0), (12, 600.0), (5000, 600.0)],
)
def test_a_retry_waits_up_to_base_times_two_to_the_attempts_so_far_capped_at_the_max_delay(
    attempt: int, ceiling: float
) -> None:
    assert backoff_s(POLICY, attempt, lambda: 0.0) == 0.0
    assert backoff_s(POLICY, attempt, lambda: 0.5) == ceiling / 2
    assert backoff_s(POLICY, attempt, lambda: 0.999) == pytest.approx(ceiling * 0.999)
    assert backoff_s(POLICY, attempt, lambda: 0.999) < ceiling


def test_full_jitter_spreads_retries_over_the_whole_window() -> None:
    draws = iter([0.1, 0.9])
    first = backoff_s(POLICY, 3, lambda: next(draws))
    second = backoff_s(POLICY, 3, lambda: next(draws))
    assert first == pytest.approx(0.4)
    assert second == pytest.approx(3.6)


def test_a_failed_attempt_is_retried_after_the_backoff_until_the_last_one_then_dead() -> None:
    # max_attempts 4: the 1st, 2nd and 3rd failures retry after up to 1, 2, 4 s; the 4th dies.
    assert after_attempt(POLICY, 0, False, T0, lambda: 0.5) == (
        RETRYING,
        T0 + timedelta(seconds=0.5),
    )
    assert after_attempt(POLICY, 2, False, T0, lambda: 0.5) == (
        RETRYING,
        T0 + timedelta(seconds=2),
    )
    assert after_attempt(POLICY, 3, False, T0, lambda: 0.5) == (DeliveryStatus.DEAD, T0)


def test_a_successful_attempt_is_delivered_whatever_came_before() -> None:
    assert after_attempt(POLICY, 3, True, T0, lambda: 0.5) == (DeliveryStatus.DELIVERED, T0)


# Order per SKU


def waiting(
    id_: str,
    sku: str,
    version: int,
    status: DeliveryStatus = PENDING,
    due: datetime = T0,
    *,
    leased: bool = False,
) -> WaitingDelivery:
    return WaitingDelivery(id_, sku, version, status, due, leased)


def test_only_the_oldest_waiting_version_of_a_sku_may_be_sent() -> None:
    found = sendable([waiting("a2", "A", 2), waiting("a1", "A", 1), waiting("b1", "B", 1)], T0)
    assert found == ["a1", "b1"]


def test_a_sku_whose_oldest_version_is_being_sent_or_not_due_sends_nothing_newer() -> None:
    later = T0 + timedelta(seconds=5)
    found = sendable(
        [
            waiting("a1", "A", 1, leased=True),
            waiting("a2", "A", 2),
            waiting("b1", "B", 1, RETRYING, due=later),
            waiting("b2", "B", 2),
        ],
        T0,
    )
    assert found == []
    assert sendable([waiting("b1", "B", 1, RETRYING, due=later), waiting("b2", "B", 2)], later) == [
        "b1"
    ]


def test_delivered_dead_and_superseded_versions_hold_nothing_back() -> None:
    found = sendable(
        [
            waiting("a1", "A", 1, DeliveryStatus.DELIVERED),
            waiting("a2", "A", 2, DeliveryStatus.DEAD),
            waiting("a3", "A", 3, DeliveryStatus.SUPERSEDED),
            waiting("a4", "A", 4),
        ],
        T0,
    )
    assert found == ["a4"]


def test_sendable_deliveries_come_oldest_due_first() -> None:
    found = sendable(
        [
            waiting("c1", "C", 1, due=T0 - timedelta(seconds=1)),
            waiting("a1", "A", 1),
            waiting("b1", "B", 1, due=T0 - timedelta(seconds=3)),
        ],
        T0,
    )
    assert found == ["b1", "c1", "a1"]


# Pausing


def failed(seconds: int, error: str = "HTTP 500") -> Outcome:
    return Outcome(False, error, T0 + timedelta(seconds=seconds))


def succeeded(seconds: int) -> Outcome:
    return Outcome(True, None, T0 + timedelta(seconds=seconds))


def test_n_failures_in_a_row_pause_the_subscription_with_reason_since_and_next_probe() -> None:
    health = health_after(POLICY, Health(), [failed(1), failed(2), failed(3, "timed out")])
    assert health.status is SubscriptionStatus.PAUSED
    assert health.consecutive_failures == 3
    assert health.paused_since == T0 + timedelta(seconds=3)
    assert health.next_probe_at == T0 + timedelta(seconds=33)
    assert health.last_error == "timed out"
    assert health.paused_reason is not None
    assert health.paused_reason.startswith("3 attempts in a row failed")


def test_a_success_between_failures_starts_the_count_over() -> None:
    health = health_after(POLICY, Health(), [failed(1), failed(2), succeeded(3), failed(4)])
    assert health.status is SubscriptionStatus.ACTIVE
    assert health.consecutive_failures == 1


def test_a_failed_probe_moves_the_next_probe_one_interval_on() -> None:
    paused = health_after(POLICY, Health(), [failed(1), failed(2), failed(3)])
    after = health_after(POLICY, paused, [failed(40, "HTTP 503")])
    assert after.status is SubscriptionStatus.PAUSED
    assert after.paused_since == T0 + timedelta(seconds=3)
    assert after.next_probe_at == T0 + timedelta(seconds=70)
    assert after.consecutive_failures == 4
    assert after.last_error == "HTTP 503"


def test_a_successful_probe_makes_the_subscription_active_and_keeps_the_last_error() -> None:
    paused = health_after(POLICY, Health(), [failed(1), failed(2), failed(3, "boom")])
    after = health_after(POLICY, paused, [succeeded(40)])
    assert after == Health(
        status=SubscriptionStatus.ACTIVE,
        consecutive_failures=0,
        last_error="boom",
        last_error_at=T0 + timedelta(seconds=3),
    )


def test_resuming_by_hand_clears_the_pause_and_the_count() -> None:
    paused = health_after(POLICY, Health(), [failed(1), failed(2), failed(3, "boom")])
    assert resumed(paused) == Health(last_error="boom", last_error_at=T0 + timedelta(seconds=3))


# What a subscription receives


def change(seq: int, sku: str, version: int, *, sellable: bool) -> LoggedChange:
    return LoggedChange(seq, "web", sku, version, sellable, {"sku": sku}, T0)


def test_without_a_filter_every_offer_version_is_delivered() -> None:
    changes = [change(1, "A", 1, sellable=True), change(2, "A", 2, sellable=True)]
    assert to_deliver(changes, False, {}) == changes


def test_only_sellable_changes_delivers_the_first_version_seen_and_each_flip() -> None:
    changes = [
        change(1, "A", 4, sellable=True),  # first seen of A: delivered
        change(2, "A", 5, sellable=True),  # no flip
        change(3, "B", 1, sellable=False),  # B was last given as sellable: a flip
        change(4, "A", 6, sellable=False),  # flip
        change(5, "A", 7, sellable=False),  # no flip
        change(6, "A", 8, sellable=True),  # flip
    ]
    chosen = to_deliver(changes, True, {"B": True})
    assert [(c.sku, c.offer_version) for c in chosen] == [("A", 4), ("B", 1), ("A", 6), ("A", 8)]


def test_only_sellable_changes_skips_a_version_that_repeats_the_last_one_delivered() -> None:
    assert to_deliver([change(1, "A", 3, sellable=False)], True, {"A": False}) == []


# Replays


def test_a_dead_letter_whose_sku_had_a_newer_version_delivered_is_superseded() -> None:
    plan = plan_replay([DeadLetter("a1", "A", 1)], {"A": 2})
    assert (plan.replay, plan.supersede) == ([], ["a1"])


def test_a_dead_letter_that_is_its_skus_newest_version_is_sent_again() -> None:
    plan = plan_replay([DeadLetter("a3", "A", 3)], {"A": 2})
    assert (plan.replay, plan.supersede) == (["a3"], [])


def test_of_several_dead_versions_of_a_sku_only_the_newest_is_sent_again() -> None:
    dead = [DeadLetter("a1", "A", 1), DeadLetter("a2", "A", 2), DeadLetter("b1", "B", 1)]
    plan = plan_replay(dead, {})
    assert (sorted(plan.replay), plan.supersede) == (["a2", "b1"], ["a1"])


# Input checks


@pytest.mark.parametrize(
    "url",
    ["https://shop.example.com/hooks", "http://127.0.0.1:8080/in?x=1", "http://[::1]:9/x"],
)
def test_http_and_https_urls_are_accepted(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.com/x", "scheme ftp"),
        ("javascript:alert(1)", "scheme javascript"),
        ("example.com/hook", "scheme none"),
        ("https://user:pw@example.com/x", "credentials"),
        ("https://token@example.com/x", "credentials"),
        ("https:///path", "no host"),
        ("https://example.com/x#top", "fragment"),
        ("https://example.com:99999/x", "malformed"),
        ("https://exa mple.com/", "spaces"),
        ("HTTPS://example.com/x", "lower case"),
        ("https://exämple.com/x", "printable ASCII"),
    ],
)
def test_urls_that_cannot_receive_webhooks_are_refused_with_the_reason(url: str, says: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert says in problem


def test_a_generated_secret_is_standard_webhooks_shaped() -> None:
    secret = new_secret(bytes(range(32)))
    assert secret == "whsec_" + base64.b64encode(bytes(range(32))).decode()
    assert secret_problem(secret) is None


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "does not start with whsec_"),
        ("whsec_not base64!", "not base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "holds 5 bytes"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "holds 65 bytes"),
        ("whsec_" + base64.b64encode(bytes(25)).decode().rstrip("="), "not base64"),
    ],
)
def test_secrets_that_are_not_standard_webhooks_secrets_are_refused(secret: str, says: str) -> None:
    problem = secret_problem(secret)
    assert problem is not None
    assert says in problem


def test_the_event_filter_names_known_types_only() -> None:
    assert events_problem(["offer.changed"]) is None
    assert events_problem([]) is not None
    assert "unknown event type offer.deleted" in (events_problem(["offer.deleted"]) or "")


# The body


def test_the_body_is_type_timestamp_and_the_offer_as_logged() -> None:
    offer = {"sku": "A", "channel": "web", "offer_version": 3, "sellable": True}
    delivery = ClaimedDelivery("msg_1", "A", 3, 0, offer, T0)
    message = message_of(delivery)
    assert message.id == "msg_1"
    assert json.loads(message.body) == {
        "type": "offer.changed",
        "timestamp": "2026-03-01T08:00:00+00:00",
        "data": offer,
    }
