"""Use case: keep every channel's stored offer of a SKU current, and say what changed.

An offer is built again whenever a fact it depends on is stored (the SKU's product,
positions or stage, its successor's product, or the channels). It is stored with a new
``offer_version`` only when it differs from the stored one; then it is appended to the
offer change log (the feed and webhooks read it) and published as channel-offer-changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from skuhub_contracts.events import ChannelOfferChanged, LifecycleStage, OfferCause
from skuhub_sync_gateway.domain.channels import Channel, allocate
from skuhub_sync_gateway.domain.offers import Offer, build_offer, location_atp
from skuhub_sync_gateway.service_layer.channels import channel_named
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork, SkuFacts


@dataclass(frozen=True, slots=True)
class Trigger:
    """Why a SKU's offers are built again: the kind of fact and its origin time."""

    cause: OfferCause
    origin_time: datetime
    traceparent: str | None = None
    """The trace the change continues (the span that processed the fact), if any."""
    caused_by: str | None = None
    """The upstream event behind the fact (a stock fact's movement; else the fact's own)."""


@dataclass(frozen=True, slots=True)
class OfferChange:
    """A new version of one channel's offer of one SKU."""

    event: ChannelOfferChanged
    lineage: dict[str, Any]
    fingerprint: str
    origin_time: datetime
    traceparent: str | None = None
    caused_by: str | None = None

    @property
    def channel(self) -> str:
        return self.event.channel

    @property
    def sku(self) -> str:
        return self.event.sku


@dataclass(frozen=True, slots=True)
class StoredOffer:
    """A channel's current offer of a SKU as stored, with its position in the change log."""

    channel: str
    sku: str
    offer_version: int
    offer: dict[str, Any]
    """The channel-offer-changed payload of ``offer_version`` (JSON)."""
    lineage: dict[str, Any]
    cause: str
    origin_time: datetime
    changed_at: datetime
    seq: int


class ChannelRepository(Protocol):
    """The channels, as data."""

    async def all(self) -> list[Channel]:
        """Every channel, by code."""

    async def get(self, code: str) -> Channel | None: ...

    async def add(self, channel: Channel, now: datetime) -> bool:
        """Store a new channel; False when one of that code exists."""

    async def replace(self, channel: Channel, now: datetime) -> Channel | None:
        """Store a channel over the one of its code at ``channel.version - 1``; the stored
        one, or None when the code is unknown or its version is not that one."""

    async def remove(self, code: str) -> bool:
        """Delete a channel and its offers; False when the code is unknown."""


class OfferRepository(Protocol):
    """Stored offers, their change log, and the queue of offers to build again."""

    async def lock(self) -> None:
        """Serialise offer writers until the transaction ends: versions and the change
        log's order then follow commit order."""

    async def fingerprints(self, skus: Sequence[str]) -> dict[tuple[str, str], tuple[int, str]]:
        """``(channel, sku) -> (offer_version, fingerprint)`` of the stored offers."""

    async def save(self, changes: Sequence[OfferChange], now: datetime) -> None:
        """Store new versions and append them to the change log, in order."""

    async def get(self, channel: str, sku: str) -> StoredOffer | None: ...

    async def request_rebuild(self, now: datetime) -> None:
        """Build every offer again (channels changed), from the first SKU."""

    async def rebuild_cursor(self) -> str | None:
        """The last SKU rebuilt so far ("" before the first), None when no rebuild is due."""

    async def advance_rebuild(self, after_sku: str | None) -> None:
        """Record progress; None ends the rebuild."""

    async def changes_of(self, sku: str, limit: int) -> list[TracedChange]:
        """The SKU's last ``limit`` logged offer changes (every channel), newest first, each
        with its webhook deliveries."""


@dataclass(frozen=True, slots=True)
class TracedDelivery:
    """A webhook delivery of a logged change, as far as it got."""

    subscription_id: str
    webhook_id: str
    status: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class TracedChange:
    """One entry of the offer change log with what tells where it came from."""

    channel: str
    sku: str
    offer_version: int
    cause: str
    caused_by: str | None
    origin_time: datetime
    changed_at: datetime
    traceparent: str | None
    deliveries: list[TracedDelivery]


class UnknownOfferError(Exception):
    """No offer of that SKU on that channel: the gateway has heard nothing of the SKU."""


async def stored_offer(uow: GatewayUnitOfWork, channel: str, sku: str) -> StoredOffer:
    """A channel's current offer of a SKU.

    Raises:
        UnknownChannelError: no such channel.
        UnknownOfferError: no offer of the SKU there.
    """
    await channel_named(uow, channel)
    found = await uow.offers.get(channel, sku)
    if found is None:
        raise UnknownOfferError(
            f"SKU {sku!r} is not known to the gateway (yet): no product, stock or stage"
        )
    return found


async def refresh_offers(
    uow: GatewayUnitOfWork, triggers: Mapping[str, Trigger], now: datetime
) -> list[OfferChange]:
    """Build the offers of the triggered SKUs (and of SKUs naming one as successor) for
    every channel; store and return those that changed."""
    await uow.offers.lock()
    channels = await uow.channels.all()
    if not channels or not triggers:
        return []
    triggers = dict(triggers)
    # A successor's title shows in the offers of the SKUs it replaces.
    for sku, successor in (await uow.projection.skus_succeeded_by(list(triggers))).items():
        triggers.setdefault(sku, triggers[successor])
    facts = await uow.projection.facts_for(sorted(triggers))
    stored = await uow.offers.fingerprints(sorted(facts))
    changes: list[OfferChange] = []
    for sku in sorted(facts):
        trigger = triggers[sku]
        for channel, offer, lineage in offers_of(channels, facts[sku]):
            fingerprint = offer.fingerprint()
            version, known = stored.get((channel.code, sku), (0, ""))
            if known == fingerprint:
                continue
            changes.append(
                OfferChange(
                    event=to_event(offer, version + 1, trigger.cause, now),
                    lineage=lineage,
                    fingerprint=fingerprint,
                    origin_time=trigger.origin_time,
                    traceparent=trigger.traceparent,
                    caused_by=trigger.caused_by,
                )
            )
    await uow.offers.save(changes, now)
    return changes


def offers_of(
    channels: Sequence[Channel], facts: SkuFacts
) -> Iterable[tuple[Channel, Offer, dict[str, Any]]]:
    """Each channel's offer of one SKU, with its lineage."""
    atp = location_atp(facts.positions)
    allocated = allocate(channels, atp)
    unit = facts.positions[0].unit if facts.positions else "EA"
    for channel in channels:
        offer = build_offer(
            channel,
            facts.sku,
            facts.product,
            allocated[channel.code],
            facts.stage,
            facts.successor,
            unit=unit,
        )
        yield (
            channel,
            offer,
            {
                **facts.sources,
                "channel_version": channel.version,
                "location_atp": {loc: str(q) for loc, q in sorted(atp.items())},
                "allocated": str(allocated[channel.code]),
                "allocation_rule": channel.allocation.rule.value,
                "safety_buffer": str(channel.safety_buffer),
            },
        )


def to_event(offer: Offer, version: int, cause: OfferCause, now: datetime) -> ChannelOfferChanged:
    """The contract's form of an offer version."""
    return ChannelOfferChanged(
        sku=offer.sku,
        channel=offer.channel,
        offer_version=version,
        locale=offer.locale,
        content_locale=offer.content_locale,
        title=offer.title,
        description=offer.description,
        gtin=offer.gtin,
        attributes=dict(offer.attributes),
        categories=list(offer.categories),
        published_version=offer.published_version,
        available=offer.available,
        unit=offer.unit,
        kit=offer.kit,
        stage=LifecycleStage(offer.stage) if offer.stage else None,
        sellable=offer.sellable,
        low_stock=offer.low_stock,
        back_order=offer.back_order,
        pre_order=offer.pre_order,
        successor=offer.successor,
        successor_title=offer.successor_title,
        not_sellable_because=list(offer.reasons),
        cause=cause,
        changed_at=now,
    )


async def rebuild_step(
    uow: GatewayUnitOfWork, now: datetime, batch: int
) -> tuple[list[OfferChange], bool]:
    """Build the next ``batch`` SKUs' offers again while a rebuild is due; the offers that
    changed, and whether the rebuild goes on."""
    after = await uow.offers.rebuild_cursor()
    if after is None:
        return [], False
    skus = await uow.projection.known_skus(after, batch)
    changes = await refresh_offers(
        uow, {sku: Trigger(OfferCause.CHANNEL, now) for sku in skus}, now
    )
    more = len(skus) == batch
    await uow.offers.advance_rebuild(skus[-1] if more else None)
    return changes, more
