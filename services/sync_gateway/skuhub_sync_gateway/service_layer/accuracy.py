"""Use cases: the accuracy of every stored offer against the stock service, and the KPIs.

An offer's ``available`` is its channel's allocation of the locations' available-to-promise,
less the safety buffer (domain/channels.py). The reconciler asks the stock service for a
SKU's positions and, when the gateway's projection holds exactly the versions stock holds
("the same position version"), allocates stock's own location ATP over the stored channels
and compares the result with every stored offer of the SKU (docs/kpis.md):

- ``match``: the same number;
- ``mismatch``: another number at the same versions, no offer of a known product, or a
  projection ahead of stock: a real accuracy error;
- ``in_flight``: stock is ahead (or the offers are being built again after a channel
  change); a mismatch once it stays so longer than the grace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from skuhub_runtime.reconcile import (
    MATCHED,
    Claim,
    Figures,
    Observation,
    PositionKey,
    Standing,
    Tally,
    Verdict,
    compare_versions,
    settle,
    versions_of,
)
from skuhub_runtime.stock_positions import StockPositions
from skuhub_sync_gateway.domain.channels import Channel, allocate, available_for
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork

REBUILDING = "channels changed: the offers are being built again"


@dataclass(frozen=True, slots=True)
class StoredAvailability:
    """What a stored offer promises."""

    offer_version: int
    available: Decimal


@dataclass(frozen=True, slots=True)
class OfferVerdict:
    """The verdict of one channel's offer of one SKU, with what it was judged on."""

    channel: str
    sku: str
    standing: Standing
    offer_version: int | None = None
    """None: no stored offer."""
    offer_available: Decimal | None = None
    expected_available: Decimal | None = None
    """From stock's location ATP and the stored channel; None unless the versions agree."""
    local_versions: Mapping[PositionKey, int] = field(default_factory=dict)
    stock_versions: Mapping[PositionKey, int] = field(default_factory=dict)
    checked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Data latency (origin time -> offer version stored) of one channel and cause."""

    channel: str
    cause: str
    count: int
    p50_s: float
    p90_s: float
    p99_s: float
    max_s: float


class AccuracyRepository(Protocol):
    """The offers' verdicts, and the reads the reconciler and the KPIs need."""

    async def skus_after(self, after: str, limit: int) -> list[str]:
        """SKUs with a stored offer or a projected position, in order, after ``after``."""

    async def offers_of(self, skus: Sequence[str]) -> dict[str, dict[str, StoredAvailability]]:
        """``sku -> channel -> availability`` of the stored offers."""

    async def known_products(self, skus: Sequence[str]) -> set[str]:
        """Those of ``skus`` whose product the gateway knows (each channel has an offer)."""

    async def previous(self, skus: Sequence[str]) -> dict[tuple[str, str], Standing]:
        """The stored verdicts of these SKUs' offers, by (channel, SKU)."""

    async def replace(
        self,
        verdicts: Sequence[OfferVerdict],
        previous: Mapping[tuple[str, str], Standing],
        now: datetime,
    ) -> None:
        """Store one step's verdicts over ``previous`` (the stored ones of its SKUs): every
        discrepancy, a match when it begins (a match that goes on is not written again);
        the SKUs' other stored verdicts (offers gone) are forgotten."""

    async def forget_outside(self, claim: Claim) -> None:
        """Forget the verdicts of SKUs the claim passed over (they left the sweep)."""

    async def tallies(self) -> dict[str, Tally]:
        """The verdicts of each channel's offers."""

    async def mismatches(self, channel: str | None, limit: int) -> list[OfferVerdict]:
        """Open mismatches (of one channel, or all), oldest first."""

    async def latency(self, since: datetime, sample: int) -> list[LatencyStats]:
        """Per channel and cause, over the newest ``sample`` changes of each channel made
        since ``since``."""


@dataclass(frozen=True, slots=True)
class OfferSnapshot:
    """The gateway's state of a batch of SKUs, read before stock is asked."""

    skus: list[str]
    channels: list[Channel]
    rebuilding: bool
    positions: dict[str, list[Figures]]
    """The projection's positions of each SKU (versions; ``on_hand``, ``available_to_promise``)."""
    offers: dict[str, dict[str, StoredAvailability]]
    known: set[str]


async def offer_snapshot(
    uow: GatewayUnitOfWork, skus: Sequence[str], positions: dict[str, list[Figures]]
) -> OfferSnapshot:
    """What the offers of ``skus`` are (``positions``: the projection's, read alongside)."""
    return OfferSnapshot(
        skus=list(skus),
        channels=await uow.channels.all(),
        rebuilding=await uow.offers.rebuild_cursor() is not None,
        positions=positions,
        offers=await uow.accuracy.offers_of(skus),
        known=await uow.accuracy.known_products(skus),
    )


def expected_available(
    channels: Sequence[Channel], location_atp: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """What each channel should promise from stock's location ATP: its allocation less its
    safety buffer (the offer's own rule, applied to the ledger's figures)."""
    allocated = allocate(channels, location_atp)
    return {c.code: available_for(c, allocated[c.code]) for c in channels}


def observe_offer(
    offer: StoredAvailability | None,
    expected: Decimal,
    local: Mapping[PositionKey, int],
    stock: Mapping[PositionKey, int],
    *,
    rebuilding: bool,
) -> Observation:
    """One offer against stock, before the grace (see the module's rules)."""
    versions = compare_versions(local, stock)
    if versions is not None:
        return versions
    if rebuilding:
        return Observation(Verdict.IN_FLIGHT, REBUILDING)
    if offer is None:
        return Observation(Verdict.MISMATCH, "no stored offer of a product the gateway knows")
    if offer.available != expected:
        return Observation(
            Verdict.MISMATCH,
            f"offer version {offer.offer_version} promises {_plain(offer.available)}; stock's "
            f"location ATP at the same position versions allocates {_plain(expected)}",
        )
    return MATCHED


def judge_offers(
    snapshot: OfferSnapshot,
    stock: Mapping[str, StockPositions],
    previous: Mapping[tuple[str, str], Standing],
    now: datetime,
    grace: timedelta,
) -> list[OfferVerdict]:
    """The verdict of every channel's offer of the snapshot's SKUs: every stored offer, and
    the missing offers of known products."""
    verdicts: list[OfferVerdict] = []
    for sku in snapshot.skus:
        offers = snapshot.offers.get(sku, {})
        channels = [c for c in snapshot.channels if c.code in offers or sku in snapshot.known]
        if not channels:
            continue
        answer = stock.get(sku, StockPositions(sku))
        local = versions_of(snapshot.positions.get(sku, ()))
        theirs = versions_of(answer.positions)
        expected = expected_available(snapshot.channels, answer.location_atp)
        agreed = compare_versions(local, theirs) is None
        for channel in channels:
            offer = offers.get(channel.code)
            observed = observe_offer(
                offer, expected[channel.code], local, theirs, rebuilding=snapshot.rebuilding
            )
            standing = settle(observed, previous.get((channel.code, sku)), local, now, grace)
            verdicts.append(
                OfferVerdict(
                    channel=channel.code,
                    sku=sku,
                    standing=standing,
                    offer_version=offer.offer_version if offer else None,
                    offer_available=offer.available if offer else None,
                    expected_available=expected[channel.code] if agreed else None,
                    local_versions=local,
                    stock_versions=theirs,
                )
            )
    return verdicts


async def record_offers(
    uow: GatewayUnitOfWork,
    snapshot: OfferSnapshot,
    stock: Mapping[str, StockPositions],
    now: datetime,
    grace: timedelta,
) -> list[OfferVerdict]:
    """Judge and store the verdicts of a snapshot's offers."""
    previous = await uow.accuracy.previous(snapshot.skus)
    verdicts = judge_offers(snapshot, stock, previous, now, grace)
    await uow.accuracy.replace(verdicts, previous, now)
    return verdicts


def overall(tallies: Iterable[Tally]) -> Tally:
    """The sum of several tallies (the oldest mismatch of all)."""
    found = list(tallies)
    oldest = [t.oldest_mismatch_since for t in found if t.oldest_mismatch_since is not None]
    return Tally(
        matches=sum(t.matches for t in found),
        mismatches=sum(t.mismatches for t in found),
        in_flight=sum(t.in_flight for t in found),
        oldest_mismatch_since=min(oldest, default=None),
    )


def _plain(quantity: Decimal) -> str:
    return format(quantity.normalize(), "f") if quantity else "0"
