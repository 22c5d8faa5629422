"""The topic registry: every topic skuhub reads or writes, with its major version.

Topic names may get a deployment prefix (``SKUHUB_TOPIC_PREFIX``), which lets
tests and tenants share one cluster without seeing each other's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from skuhub_contracts.events import (
    ChannelOfferChanged,
    EventPayload,
    InventoryPolicyChanged,
    LifecycleStageChanged,
    ProductChanged,
    ReplenishmentProposed,
    StockLevelChanged,
    StockMoved,
)

P_co = TypeVar("P_co", bound=EventPayload, covariant=True)


@dataclass(frozen=True, slots=True)
class Topic(Generic[P_co]):
    """A Kafka topic: its base name, the event it carries (None: dead letters) and its owner,
    the one service (or ``upstream``) that writes it."""

    name: str
    event: type[P_co] | None
    owner: str
    description: str

    def qualified(self, prefix: str = "") -> str:
        """Name on the cluster, with the deployment prefix."""
        return f"{prefix}{self.name}"


STOCK_MOVED = Topic(
    "stock.stock-moved.v1", StockMoved, "upstream", "Stock movements from upstream systems."
)
STOCK_LEVEL_CHANGED = Topic(
    "stock.stock-level-changed.v1", StockLevelChanged, "stock", "Whole positions after a change."
)
REPLENISHMENT_PROPOSED = Topic(
    "stock.replenishment-proposed.v1", ReplenishmentProposed, "stock", "Reorder proposals."
)
PRODUCT_CHANGED = Topic(
    "catalog.product-changed.v1", ProductChanged, "catalog", "Per-SKU product snapshots."
)
LIFECYCLE_STAGE_CHANGED = Topic(
    "lifecycle.lifecycle-stage-changed.v1",
    LifecycleStageChanged,
    "lifecycle",
    "Lifecycle stage transitions.",
)
INVENTORY_POLICY_CHANGED = Topic(
    "lifecycle.inventory-policy-changed.v1",
    InventoryPolicyChanged,
    "lifecycle",
    "Replenishment policy per SKU, from its stage and velocity.",
)
CHANNEL_OFFER_CHANGED = Topic(
    "sync.channel-offer-changed.v1",
    ChannelOfferChanged,
    "sync_gateway",
    "Channel-ready offers for adapters.",
)

SERVICES = ("catalog", "stock", "lifecycle", "sync_gateway")


def dead_letter(service: str) -> Topic[EventPayload]:
    """The dead-letter topic of one consuming service (reason and origin in headers)."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    return Topic(
        f"{service.replace('_', '-')}.dead-letter.v1",
        None,
        service,
        f"Records {service} could not accept, with the reason in headers.",
    )


EVENT_TOPICS: tuple[Topic[EventPayload], ...] = (
    STOCK_MOVED,
    STOCK_LEVEL_CHANGED,
    REPLENISHMENT_PROPOSED,
    PRODUCT_CHANGED,
    LIFECYCLE_STAGE_CHANGED,
    INVENTORY_POLICY_CHANGED,
    CHANNEL_OFFER_CHANGED,
)
DEAD_LETTER_TOPICS: tuple[Topic[EventPayload], ...] = tuple(dead_letter(s) for s in SERVICES)
ALL_TOPICS: tuple[Topic[EventPayload], ...] = EVENT_TOPICS + DEAD_LETTER_TOPICS
UPSTREAM = "upstream"
"""Owner of the topics skuhub takes from outside."""
