"""Sales channels and how they share the stock that feeds them (docs/sync-gateway.md).

Pure Python. A channel sells from a set of locations (all when it names none) and takes
its part of each location's available-to-promise by its allocation rule:

- ``share``: ``floor(share * pool)`` of each location's pool, whole units;
- ``exclusive``: the whole pool of its locations, which no other allocated channel sells;
- ``priority``: what the shares leave, served by rank (lowest first), each up to its cap
  (none: all that is left);
- ``shared-pool``: the whole pool, outside the allocation. Only this rule may promise
  units another channel promises too.

:func:`check_channels` refuses a set of channels whose allocated channels could promise
more than a location has, so the sum over channels never exceeds the ledger's ATP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

ZERO = Decimal(0)
ONE = Decimal(1)
OTHER_LOCATIONS = "*"
"""Stands for every location no channel names (only channels of all locations sell there)."""


class AllocationRule(StrEnum):
    SHARE = "share"
    EXCLUSIVE = "exclusive"
    PRIORITY = "priority"
    SHARED_POOL = "shared-pool"


@dataclass(frozen=True, slots=True)
class Allocation:
    """How a channel takes its part of each location's pool."""

    rule: AllocationRule = AllocationRule.SHARE
    share: Decimal = ONE
    """``share`` only: the fraction of each pool, 0 < share <= 1."""
    priority: int = 0
    """``priority`` only: lower ranks are served first."""
    cap: Decimal | None = None
    """``priority`` only: at most this much per location (None: all that is left)."""


@dataclass(frozen=True, slots=True)
class MerchantFeed:
    """A Google Merchant Center product-data feed of the channel's offers."""

    link_template: str
    """The product page, ``{sku}`` replaced by the SKU."""
    price_attribute: str | None = None
    """The price collection attribute the feed's price comes from, in the channel currency."""
    brand_attribute: str | None = None


@dataclass(frozen=True, slots=True)
class Channel:
    """A sales channel as data: who it sells to, in which locales, from which stock."""

    code: str
    name: str
    locales: tuple[str, ...] = ("en_US",)
    """The fallback chain: content in the first locale, else the next, never another."""
    scope: str = ""
    """The catalog channel whose completeness counts (empty: ``code``)."""
    currency: str = "EUR"
    locations: frozenset[str] = frozenset()
    """GLNs feeding the channel; empty means every location."""
    allocation: Allocation = field(default_factory=Allocation)
    safety_buffer: Decimal = ZERO
    """Units held back from the channel's total, against selling what sync has not seen."""
    low_stock_threshold: Decimal = Decimal(5)
    back_orders: bool = False
    """Sell a SKU of a selling stage with nothing available (a back-order)."""
    merchant_feed: MerchantFeed | None = None
    version: int = 1

    @property
    def locale(self) -> str:
        return self.locales[0]

    @property
    def completeness_scope(self) -> str:
        return self.scope or self.code

    @property
    def pooled(self) -> bool:
        """Outside the allocation: promises whole pools another channel may promise too."""
        return self.allocation.rule is AllocationRule.SHARED_POOL

    def sells_from(self, location: str) -> bool:
        return not self.locations or location in self.locations


def check_channels(channels: Sequence[Channel]) -> list[str]:
    """What makes this set of channels unsafe or unusable, in words (empty: fine).

    For every location some channel names (and for the others, ``*``): the shares of the
    allocated channels there add up to at most 1, and an exclusive channel is the only
    allocated one there. An exclusive channel names its locations.
    """
    problems: list[str] = []
    for channel in channels:
        a = channel.allocation
        if a.rule is AllocationRule.EXCLUSIVE and not channel.locations:
            problems.append(f"channel {channel.code}: an exclusive channel names its locations")
        if a.rule is AllocationRule.SHARE and not ZERO < a.share <= ONE:
            problems.append(f"channel {channel.code}: share must be more than 0 and at most 1")
        if a.cap is not None and a.cap < 0:
            problems.append(f"channel {channel.code}: cap must not be negative")
    allocated = [c for c in channels if not c.pooled]
    named = sorted({loc for c in allocated for loc in c.locations})
    for location in [*named, OTHER_LOCATIONS]:
        there = [c for c in allocated if _covers(c, location)]
        shares = sum(
            (c.allocation.share for c in there if c.allocation.rule is AllocationRule.SHARE),
            ZERO,
        )
        where = "locations no channel names" if location == OTHER_LOCATIONS else location
        if shares > ONE:
            codes = ", ".join(c.code for c in there if c.allocation.rule is AllocationRule.SHARE)
            problems.append(
                f"at {where} the shares of {codes} add up to {shares}, more than all of the "
                "stock; lower them or make a channel shared-pool"
            )
        exclusive = [c.code for c in there if c.allocation.rule is AllocationRule.EXCLUSIVE]
        if exclusive and len(there) > 1:
            others = ", ".join(c.code for c in there if c.code != exclusive[0])
            problems.append(
                f"at {where} channel {exclusive[0]} is exclusive but {others} sell there too"
            )
    return problems


def _covers(channel: Channel, location: str) -> bool:
    if location == OTHER_LOCATIONS:
        return not channel.locations
    return channel.sells_from(location)


def allocate(
    channels: Sequence[Channel], location_atp: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """Each channel's units over all its locations, before its safety buffer.

    ``location_atp`` is the SKU's ATP per location (negative counts as 0). For a set of
    channels :func:`check_channels` accepts, the allocated channels' units at a location
    add up to at most its ATP.
    """
    totals = {c.code: ZERO for c in channels}
    for location, atp in location_atp.items():
        pool = max(atp, ZERO)
        there = [c for c in channels if c.sells_from(location)]
        left = pool
        for channel in there:
            rule = channel.allocation.rule
            if rule in (AllocationRule.SHARED_POOL, AllocationRule.EXCLUSIVE):
                totals[channel.code] += pool
            elif rule is AllocationRule.SHARE:
                part = (channel.allocation.share * pool).to_integral_value(ROUND_FLOOR)
                totals[channel.code] += part
                left -= part
        ranked = sorted(
            (c for c in there if c.allocation.rule is AllocationRule.PRIORITY),
            key=lambda c: (c.allocation.priority, c.code),
        )
        for channel in ranked:
            cap = channel.allocation.cap
            part = max(min(left, cap) if cap is not None else left, ZERO)
            totals[channel.code] += part
            left -= part
    return totals


def available_for(channel: Channel, allocated: Decimal) -> Decimal:
    """What the channel may promise: its allocation less its safety buffer, never below 0."""
    return max(allocated - channel.safety_buffer, ZERO)


def localized(texts: Mapping[str, str], chain: Iterable[str]) -> tuple[str, str] | None:
    """The text in the first locale of ``chain`` that has one, and that locale; else None.

    Never another locale: a channel that declares ``fr_CA, fr_FR`` shows no English.
    """
    for locale in chain:
        text = texts.get(locale)
        if text:
            return text, locale
    return None
