"""Use case: fold state events into the gateway's projection, newest version wins."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from skuhub_sync_gateway.domain.offers import PositionFacts, ProductFacts, StageFacts

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Fact(Generic[T]):
    """A state fact with where it came from (for latency and trace provenance)."""

    value: T
    version: int
    trace_id: str | None
    origin_time: datetime


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
    """The gateway's copy of the facts offers are built from; upserts keep the newest version."""

    async def upsert_products(self, facts: Sequence[Fact[Any]]) -> None:
        """Store product-changed snapshots (one per SKU) unless a newer one is stored."""

    async def upsert_positions(self, facts: Sequence[Fact[Any]]) -> None:
        """Store stock-level-changed positions (one per key) unless a newer one is stored."""

    async def upsert_stages(self, facts: Sequence[Fact[Any]]) -> None:
        """Store lifecycle stages (one per SKU) unless a newer one is stored."""

    async def facts_of(
        self, sku: str
    ) -> tuple[ProductFacts | None, list[PositionFacts], StageFacts | None, dict[str, Any]]:
        """Everything known about a SKU, plus provenance (versions and trace ids) per fact."""


class GatewayUnitOfWork(Protocol):
    """The gateway's repositories, bound to one transaction."""

    @property
    def projection(self) -> ProjectionRepository: ...
