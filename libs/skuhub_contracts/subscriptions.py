"""The subscription registry: which service consumes which topics, as one consumer group each.

The one place this is written down. Services subscribe from it, the AsyncAPI
document lists its receivers from it, and the benchmark and the tests find
consumer groups through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from skuhub_contracts.events import (
    EventPayload,
    InventoryPolicyChanged,
    LifecycleStageChanged,
    ProductChanged,
    StockLevelChanged,
    StockMoved,
)
from skuhub_contracts.topics import (
    INVENTORY_POLICY_CHANGED,
    LIFECYCLE_STAGE_CHANGED,
    PRODUCT_CHANGED,
    SERVICES,
    STOCK_LEVEL_CHANGED,
    STOCK_MOVED,
    Topic,
)

P_co = TypeVar("P_co", bound=EventPayload, covariant=True)


@dataclass(frozen=True, slots=True)
class Subscription(Generic[P_co]):
    """One consumer of a service: the topics it reads and the events they carry (``P_co``)."""

    service: str
    name: str
    topics: tuple[Topic[P_co], ...]
    description: str

    @property
    def events(self) -> tuple[type[P_co], ...]:
        """The event types this consumer accepts (one per topic)."""
        return tuple(t.event for t in self.topics if t.event is not None)


OfferFact = StockLevelChanged | ProductChanged | LifecycleStageChanged
"""What the sync gateway builds offers from."""

CatalogFact = StockLevelChanged | LifecycleStageChanged
"""What the catalog shows beside a product's content."""

STOCK_MOVEMENTS: Subscription[StockMoved] = Subscription(
    "stock", "stock-moved", (STOCK_MOVED,), "Applies upstream movements to the ledger."
)
STOCK_PRODUCTS: Subscription[ProductChanged] = Subscription(
    "stock",
    "product-changed",
    (PRODUCT_CHANGED,),
    "Keeps each SKU's stock facts: stock unit, packs, lot tracking, shelf life, kit components.",
)
STOCK_POLICIES: Subscription[InventoryPolicyChanged] = Subscription(
    "stock",
    "inventory-policy",
    (INVENTORY_POLICY_CHANGED,),
    "Applies the lifecycle's inventory policy per SKU to replenishment.",
)
LIFECYCLE_PRODUCTS: Subscription[ProductChanged] = Subscription(
    "lifecycle",
    "product-changed",
    (PRODUCT_CHANGED,),
    "Follows the catalog's products: workflow, completeness, models and successors (gates).",
)
LIFECYCLE_STOCK: Subscription[StockLevelChanged] = Subscription(
    "lifecycle",
    "stock-level-changed",
    (STOCK_LEVEL_CHANGED,),
    "Keeps network stock per SKU (gates) and its cumulative flows by day (SKU metrics).",
)
OFFER_PROJECTION: Subscription[OfferFact] = Subscription(
    "sync_gateway",
    "offer-projection",
    (STOCK_LEVEL_CHANGED, PRODUCT_CHANGED, LIFECYCLE_STAGE_CHANGED),
    "Projects stock, product and stage facts for channel offers.",
)

CATALOG_PROJECTION: Subscription[CatalogFact] = Subscription(
    "catalog",
    "availability-and-stage",
    (STOCK_LEVEL_CHANGED, LIFECYCLE_STAGE_CHANGED),
    "Shows each product's availability and lifecycle stage beside its content.",
)

SUBSCRIPTIONS: tuple[Subscription[Any], ...] = (
    STOCK_MOVEMENTS,
    STOCK_PRODUCTS,
    STOCK_POLICIES,
    LIFECYCLE_PRODUCTS,
    LIFECYCLE_STOCK,
    OFFER_PROJECTION,
    CATALOG_PROJECTION,
)


def subscriptions_of(service: str) -> tuple[Subscription[Any], ...]:
    """Every subscription of one service."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    return tuple(s for s in SUBSCRIPTIONS if s.service == service)


def receivers_of(topic: Topic[Any]) -> tuple[str, ...]:
    """The services that consume ``topic``, in registry order."""
    return tuple(dict.fromkeys(s.service for s in SUBSCRIPTIONS if topic in s.topics))
