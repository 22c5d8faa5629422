"""The gateway's projection repository in memory, and its unit of work."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from skuhub_contracts.events import LifecycleStageChanged, ProductChanged, StockLevelChanged
from skuhub_sync_gateway.domain.offers import PositionFacts, ProductFacts, StageFacts
from skuhub_sync_gateway.service_layer.projection import Fact

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class _Stored(Generic[T]):
    fact: Fact[T]
    applied_at: datetime


class FakeProjectionRepository:
    """The projection in memory; the contract suite holds it to ``SqlProjectionRepository``."""

    def __init__(self) -> None:
        self._products: dict[str, _Stored[ProductChanged]] = {}
        self._positions: dict[tuple[str, str, str], _Stored[StockLevelChanged]] = {}
        self._stages: dict[str, _Stored[LifecycleStageChanged]] = {}

    async def upsert_products(
        self, facts: Sequence[Fact[ProductChanged]]
    ) -> list[Fact[ProductChanged]]:
        return _keep_newest(self._products, facts, lambda p: p.sku)

    async def upsert_positions(
        self, facts: Sequence[Fact[StockLevelChanged]]
    ) -> list[Fact[StockLevelChanged]]:
        return _keep_newest(self._positions, facts, lambda p: (p.sku, p.location, p.lot or ""))

    async def upsert_stages(
        self, facts: Sequence[Fact[LifecycleStageChanged]]
    ) -> list[Fact[LifecycleStageChanged]]:
        return _keep_newest(self._stages, facts, lambda s: s.sku)

    async def facts_of(
        self, sku: str
    ) -> tuple[ProductFacts | None, list[PositionFacts], StageFacts | None, dict[str, Any]]:
        product = self._products.get(sku)
        stage = self._stages.get(sku)
        positions = sorted(
            ((k, s) for k, s in self._positions.items() if k[0] == sku), key=lambda item: item[0]
        )
        provenance: dict[str, Any] = {
            "product": _source(product) if product is not None else None,
            "stage": _source(stage) if stage is not None else None,
            "positions": [
                {"location": location, "lot": lot or None, **_source(stored)}
                for (_, location, lot), stored in positions
            ],
        }
        return (
            _product_facts(product.fact) if product is not None else None,
            [_position_facts(stored.fact, lot) for (_, _, lot), stored in positions],
            _stage_facts(stage.fact) if stage is not None else None,
            provenance,
        )


@dataclass(frozen=True, slots=True)
class FakeGatewayUnitOfWork:
    """The gateway's repositories, in memory."""

    projection: FakeProjectionRepository = field(default_factory=FakeProjectionRepository)


def _keep_newest(
    table: dict[K, _Stored[T]], facts: Sequence[Fact[T]], key: Callable[[T], K]
) -> list[Fact[T]]:
    """Store each fact unless its key holds the same or a newer version (in call order);
    the facts stored, less those a later fact of the call replaced."""
    written: dict[K, Fact[T]] = {}
    for fact in facts:
        k = key(fact.value)
        stored = table.get(k)
        if stored is None or stored.fact.version < fact.version:
            table[k] = _Stored(fact, datetime.now(UTC))
            written[k] = fact
    return list(written.values())


def _source(stored: _Stored[Any]) -> dict[str, Any]:
    return {
        "version": stored.fact.version,
        "trace_id": stored.fact.trace_id,
        "origin_time": stored.fact.origin_time.astimezone(UTC).isoformat(),
        "applied_at": stored.applied_at.isoformat(),
    }


def _product_facts(fact: Fact[ProductChanged]) -> ProductFacts:
    value = fact.value
    return ProductFacts(
        sku=value.sku,
        version=fact.version,
        status=value.status.value,
        deleted=value.deleted,
        unit=value.unit,
        gtin=value.published.gtin if value.published else None,
        title=dict(value.published.title) if value.published else {},
        published_version=value.published.version if value.published else None,
    )


def _position_facts(fact: Fact[StockLevelChanged], lot: str) -> PositionFacts:
    value = fact.value
    return PositionFacts(
        location=value.location,
        lot=lot,
        version=fact.version,
        unit=value.unit,
        available_to_promise=value.available_to_promise,
    )


def _stage_facts(fact: Fact[LifecycleStageChanged]) -> StageFacts:
    value = fact.value
    return StageFacts(
        stage=value.stage.value,
        version=fact.version,
        pre_order=value.pre_order,
        successor=value.successor,
    )
