"""Use case: fold state events into the gateway's projection, newest version wins."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from skuhub_contracts.events import LifecycleStageChanged, ProductChanged, StockLevelChanged
from skuhub_sync_gateway.domain.offers import PositionFacts, ProductFacts, StageFacts

if TYPE_CHECKING:
    from skuhub_sync_gateway.service_layer.accuracy import AccuracyRepository
    from skuhub_sync_gateway.service_layer.feed import FeedRepository
    from skuhub_sync_gateway.service_layer.offers import ChannelRepository, OfferRepository
    from skuhub_sync_gateway.service_layer.webhooks import WebhookRepository

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Fact(Generic[T]):
    """A state fact with where it came from (for latency and trace provenance)."""

    value: T
    version: int
    trace_id: str | None
    origin_time: datetime
    event_id: str
    """The event that carried it."""


def newest_per_key(facts: Iterable[Fact[T]], key: Callable[[T], Hashable]) -> list[Fact[T]]:
    """Keep only the highest version of each key within a batch.

    The database upsert guards against older versions across batches; this
    guard keeps one batch from writing the same row twice.
    """
    newest: dict[Hashable, Fact[T]] = {}
    for fact in facts:
        k = key(fact.value)
        if k not in newest or fact.version > newest[k].version:
            newest[k] = fact
    return list(newest.values())


class ProjectionRepository(Protocol):
    """The gateway's copy of the facts offers are built from; upserts keep the newest version.

    Each fact is keyed by SKU (products, stages) or by SKU, location and lot (positions,
    a missing lot being ""). An upsert stores a fact unless its key holds one of the same
    or a newer version; facts of one call are applied in turn, so the newest of a key
    wins whatever their order. Each upsert returns the facts it stored (the others were
    facts the projection already had, or older). ``tests/integration/
    test_repository_contracts.py`` holds every implementation to this contract.
    """

    async def upsert_products(
        self, facts: Sequence[Fact[ProductChanged]]
    ) -> list[Fact[ProductChanged]]:
        """Store product-changed snapshots unless a version as new is stored."""

    async def upsert_positions(
        self, facts: Sequence[Fact[StockLevelChanged]]
    ) -> list[Fact[StockLevelChanged]]:
        """Store stock-level-changed positions unless a version as new is stored."""

    async def upsert_stages(
        self, facts: Sequence[Fact[LifecycleStageChanged]]
    ) -> list[Fact[LifecycleStageChanged]]:
        """Store lifecycle stages unless a version as new is stored; a stage is kept whole
        (stage, ``pre_order`` and ``successor`` as the event carried them), so the newest
        version's flags replace the older ones even when the stage itself is the same."""

    async def facts_for(self, skus: Sequence[str]) -> dict[str, SkuFacts]:
        """Everything known about each SKU the gateway knows anything of (positions by
        location and lot, as the database collates text), its successor's product where
        its stage names one from discontinued on, and provenance per fact: ``{"product":
        source | None, "stage": source | None, "positions": [{"location", "lot" (None for
        no lot), "caused_by", **source}]}``, a source being ``{"version", "trace_id",
        "origin_time", "applied_at"}`` with both times as ISO 8601 text in UTC
        (``applied_at``: when the upsert stored it)."""

    async def skus_succeeded_by(self, skus: Sequence[str]) -> dict[str, str]:
        """SKUs whose stage names one of ``skus`` as successor, and which one."""

    async def known_skus(self, after: str, limit: int) -> list[str]:
        """SKUs the gateway knows anything of, in order, after ``after``."""


@dataclass(frozen=True, slots=True)
class SkuFacts:
    """What the offers of one SKU are built from, read in one statement per kind."""

    sku: str
    product: ProductFacts | None
    positions: list[PositionFacts]
    stage: StageFacts | None
    successor: ProductFacts | None
    """The product the stage's successor names, when the stage names one and it is known."""
    sources: dict[str, Any]
    """Provenance of the SKU's own facts (see ``ProjectionRepository.facts_for``)."""


class GatewayUnitOfWork(Protocol):
    """The gateway's repositories, bound to one transaction."""

    @property
    def projection(self) -> ProjectionRepository: ...

    @property
    def channels(self) -> ChannelRepository: ...

    @property
    def offers(self) -> OfferRepository: ...

    @property
    def feed(self) -> FeedRepository: ...

    @property
    def accuracy(self) -> AccuracyRepository: ...

    @property
    def webhooks(self) -> WebhookRepository: ...
