"""Webhook subscriptions and deliveries: the rules, without I/O (docs/webhooks.md).

Pure Python. A subscription receives every new version of its channel's offers (or, with
``only_sellable_changes``, the versions whose ``sellable`` differs from the last one it was
given): one delivery per offer version. The rules here decide

- which versions become deliveries (:func:`to_deliver`);
- which deliveries may be sent now: per subscription and SKU, only the oldest one still
  waiting, so a receiver sees a SKU's versions in order (:func:`sendable`);
- when a failed attempt is retried, with exponential backoff and full jitter, and when a
  delivery is given up (dead) (:func:`backoff_s`, :func:`after_attempt`);
- when a subscription whose endpoint keeps failing is paused, and when it is active again
  (:func:`health_after`);
- what a replay of dead letters sends again and what it marks superseded
  (:func:`plan_replay`).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

OFFER_CHANGED = "offer.changed"
"""The event type of every delivery: a new version of a channel's offer of one SKU."""
EVENT_TYPES = frozenset({OFFER_CHANGED})

SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)
"""Standard Webhooks: a secret is 24 to 64 random bytes, base64 after ``whsec_``."""
MAX_URL_LENGTH = 2000

_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
URL_PATTERN = (
    r"^https?://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)"
    rf"(?::{_PORT})?"
    r'(?:[/?][!-"$-~]*)?$'  # printable ASCII but # (0x23)
)
"""Every URL a subscription takes (and only those): http or https in lower case, a host name
or [IPv6] address, an optional port 1 to 65535, then path and query in printable ASCII
without #. The OpenAPI document states it; :func:`url_problem` says why a URL is not one."""
_B64 = "[A-Za-z0-9+/]"
SECRET_PATTERN = (
    rf"^whsec_(?:(?:{_B64}{{4}}){{8,20}}(?:{_B64}{{2}}==|{_B64}{{3}}=)?"
    rf"|(?:{_B64}{{4}}){{21}}(?:{_B64}{{2}}==)?)$"
)
"""Every secret a subscription takes: ``whsec_`` and the padded base64 of 24 to 64 bytes."""
_URL = re.compile(URL_PATTERN)
_SECRET = re.compile(SECRET_PATTERN)


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    """Deliveries are sent as they are due."""
    PAUSED = "paused"
    """The endpoint failed too often in a row: one probe delivery per probe interval."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Not attempted yet."""
    RETRYING = "retrying"
    """Attempted and failed; tried again at ``next_attempt_at``."""
    DELIVERED = "delivered"
    """The receiver answered 2xx."""
    DEAD = "dead"
    """Every attempt failed: a dead letter, until replayed."""
    SUPERSEDED = "superseded"
    """A dead letter not sent again on replay: a newer version of its SKU was delivered or
    is on its way, and sending the old one after it would break the order."""


WAITING = frozenset({DeliveryStatus.PENDING, DeliveryStatus.RETRYING})
"""Deliveries still to be sent; they hold back the newer versions of their SKU."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How deliveries are retried and when a subscription is paused (settings)."""

    base_s: float = 1.0
    """The first retry waits up to this long."""
    max_delay_s: float = 600.0
    """No retry waits longer."""
    max_attempts: int = 15
    """Attempts of one delivery, the first included, before it is dead."""
    pause_after_failures: int = 20
    """Failed attempts in a row (any deliveries) that pause a subscription."""
    probe_interval_s: float = 30.0
    """While paused, one delivery is tried this often."""


@dataclass(frozen=True, slots=True)
class Health:
    """A subscription's state as its attempts left it."""

    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    consecutive_failures: int = 0
    paused_reason: str | None = None
    paused_since: datetime | None = None
    next_probe_at: datetime | None = None
    last_error: str | None = None
    """The last failed attempt's error, kept after the endpoint recovered."""
    last_error_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """Who receives which offer changes, and how their signatures are made."""

    id: str
    url: str
    channel: str
    events: tuple[str, ...]
    only_sellable_changes: bool
    secret: str
    description: str
    created_at: datetime
    health: Health = Health()


@dataclass(frozen=True, slots=True)
class LoggedChange:
    """One entry of the offer change log, as a delivery needs it."""

    seq: int
    channel: str
    sku: str
    offer_version: int
    sellable: bool
    offer: Mapping[str, object]
    changed_at: datetime
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class WaitingDelivery:
    """What the ordering rule looks at: a delivery's SKU, version, state and due time."""

    id: str
    sku: str
    offer_version: int
    status: DeliveryStatus
    next_attempt_at: datetime
    leased: bool = False
    """Being sent right now (by this or another instance)."""


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks, or None when it can."""
    if len(url) > MAX_URL_LENGTH:
        return f"the URL is longer than {MAX_URL_LENGTH} characters"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "the URL contains spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"the URL is malformed ({exc})"
    if parts.scheme not in ("http", "https"):
        shown = parts.scheme or "none"
        return f"the URL must start with https:// or http:// (scheme {shown} is not accepted)"
    if not parts.hostname:
        return "the URL names no host"
    if parts.username is not None or parts.password is not None:
        return (
            "the URL carries credentials (user:password@); receivers check the signature "
            "instead, so remove them"
        )
    if parts.fragment:
        return "the URL has a fragment (#…), which is never sent; remove it"
    if port == 0:
        return "the URL's port must be 1 to 65535"
    if not _URL.fullmatch(url):
        return (
            "the URL is not one the gateway sends to: http:// or https:// in lower case, a host "
            "name or [IPv6] address, a port of 1 to 65535, then path and query in printable "
            "ASCII (percent-encode anything else)"
        )
    return None


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is no Standard Webhooks secret, or None."""
    low, high = SECRET_BYTES
    expected = (
        f"a secret is {SECRET_PREFIX} followed by {low} to {high} random bytes in base64 "
        "(leave it out to have one generated)"
    )
    if not secret.startswith(SECRET_PREFIX):
        return f"the secret does not start with {SECRET_PREFIX}; {expected}"
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return f"the secret is not base64 after {SECRET_PREFIX}; {expected}"
    if not low <= len(raw) <= high:
        return f"the secret holds {len(raw)} bytes; {expected}"
    if not _SECRET.fullmatch(secret):
        return f"the secret's base64 is not padded to whole groups of four; {expected}"
    return None


def new_secret(random_bytes: bytes) -> str:
    """A Standard Webhooks secret of ``random_bytes``."""
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode("ascii")


def events_problem(events: Sequence[str]) -> str | None:
    """Why ``events`` is no valid event filter, or None."""
    if not events:
        return f"name at least one event type ({', '.join(sorted(EVENT_TYPES))})"
    unknown = sorted(set(events) - EVENT_TYPES)
    if unknown:
        return f"unknown event type {', '.join(unknown)}; known: {', '.join(sorted(EVENT_TYPES))}"
    return None


def to_deliver(
    changes: Iterable[LoggedChange], only_sellable_changes: bool, last_sellable: Mapping[str, bool]
) -> list[LoggedChange]:
    """The changes (in log order) a subscription receives.

    Without ``only_sellable_changes``: every one. With it: a version whose ``sellable``
    differs from the last version given to the subscription for that SKU, and the first
    version it sees of a SKU (``last_sellable`` has no entry), which tells the receiver
    where the SKU stands.
    """
    if not only_sellable_changes:
        return list(changes)
    known = dict(last_sellable)
    chosen = []
    for change in changes:
        if known.get(change.sku) != change.sellable:
            chosen.append(change)
            known[change.sku] = change.sellable
    return chosen


def sendable(deliveries: Iterable[WaitingDelivery], now: datetime) -> list[str]:
    """The deliveries that may be sent at ``now``, oldest due first.

    Per SKU only the waiting (pending or retrying) delivery of the lowest offer version
    may go, when it is due and not being sent already; every newer one waits for it to be
    delivered or to die. Delivered, dead and superseded deliveries hold nothing back.
    """
    heads: dict[str, WaitingDelivery] = {}
    for d in deliveries:
        if d.status in WAITING and (
            d.sku not in heads or d.offer_version < heads[d.sku].offer_version
        ):
            heads[d.sku] = d
    due = [d for d in heads.values() if not d.leased and d.next_attempt_at <= now]
    return [d.id for d in sorted(due, key=lambda d: (d.next_attempt_at, d.sku))]


def backoff_s(policy: RetryPolicy, attempt: int, random: Callable[[], float]) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 = the first): full jitter,
    uniform in ``[0, min(max_delay, base * 2^(attempt - 1)))``. ``random`` returns a
    number in ``[0, 1)``."""
    exponent = min(max(attempt - 1, 0), 60)  # beyond 2^60 every ceiling is max_delay
    ceiling = min(policy.max_delay_s, policy.base_s * math.ldexp(1.0, exponent))
    return ceiling * random()


def after_attempt(
    policy: RetryPolicy,
    attempts_before: int,
    ok: bool,
    now: datetime,
    random: Callable[[], float],
) -> tuple[DeliveryStatus, datetime]:
    """A delivery's state after one more attempt, and when it is tried next (``now`` when
    it is not)."""
    attempts = attempts_before + 1
    if ok:
        return DeliveryStatus.DELIVERED, now
    if attempts >= policy.max_attempts:
        return DeliveryStatus.DEAD, now
    return DeliveryStatus.RETRYING, now + timedelta(seconds=backoff_s(policy, attempts, random))


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result, as the subscription's health counts it."""

    ok: bool
    error: str | None
    at: datetime


def health_after(policy: RetryPolicy, health: Health, outcomes: Sequence[Outcome]) -> Health:
    """The subscription's health after ``outcomes`` (in the order they finished).

    A success makes it active and clears the failure count. A failure counts one more in
    a row; at ``pause_after_failures`` in a row an active subscription is paused, and
    from then on (and after every failed probe) the next probe is due one probe interval
    later.
    """
    for outcome in outcomes:
        if outcome.ok:
            health = replace(
                health,
                status=SubscriptionStatus.ACTIVE,
                consecutive_failures=0,
                paused_reason=None,
                paused_since=None,
                next_probe_at=None,
            )
            continue
        failures = health.consecutive_failures + 1
        health = replace(
            health,
            consecutive_failures=failures,
            last_error=outcome.error,
            last_error_at=outcome.at,
        )
        probe_at = outcome.at + timedelta(seconds=policy.probe_interval_s)
        if health.status is SubscriptionStatus.PAUSED:
            health = replace(health, next_probe_at=probe_at)
        elif failures >= policy.pause_after_failures:
            health = replace(
                health,
                status=SubscriptionStatus.PAUSED,
                paused_reason=f"{failures} attempts in a row failed; one delivery is tried "
                f"every {policy.probe_interval_s:g} s until one succeeds (or POST .../resume)",
                paused_since=outcome.at,
                next_probe_at=probe_at,
            )
    return health


def resumed(health: Health) -> Health:
    """Active again by hand: the failure count starts over; the last error stays readable."""
    return replace(
        health,
        status=SubscriptionStatus.ACTIVE,
        consecutive_failures=0,
        paused_reason=None,
        paused_since=None,
        next_probe_at=None,
    )


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    replay: list[str]
    """Dead deliveries sent again (attempts start over)."""
    supersede: list[str]
    """Dead deliveries marked superseded instead."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    sku: str
    offer_version: int


def plan_replay(dead: Iterable[DeadLetter], newest_alive: Mapping[str, int]) -> ReplayPlan:
    """What a replay of ``dead`` does, given per SKU the newest offer version of the
    subscription's deliveries that are delivered or still waiting (``newest_alive``).

    Per SKU only the newest dead version is sent again, and only when no newer version was
    delivered or is on its way: those carry a later state of the offer, and sending an
    older one after them would break the order per SKU. Every other dead delivery is
    superseded.
    """
    newest_dead: dict[str, DeadLetter] = {}
    letters = list(dead)
    for letter in letters:
        best = newest_dead.get(letter.sku)
        if best is None or letter.offer_version > best.offer_version:
            newest_dead[letter.sku] = letter
    replay: list[str] = []
    supersede: list[str] = []
    for letter in letters:
        head = newest_dead[letter.sku]
        alive = newest_alive.get(letter.sku, 0)
        if letter is head and letter.offer_version > alive:
            replay.append(letter.id)
        else:
            supersede.append(letter.id)
    return ReplayPlan(replay=replay, supersede=supersede)
