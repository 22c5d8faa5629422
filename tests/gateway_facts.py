"""The facts the sync gateway consumes, as its consumer hands them to the handler: one
builder per kind, for every gateway test that feeds ``project`` directly."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import (
    LifecycleStage,
    LifecycleStageChanged,
    ProductChanged,
    ProductStatus,
    PublishedContent,
    StockLevelChanged,
    WorkflowState,
)
from skuhub_runtime.handling import Incoming


def incoming(payload: Any, origin: datetime) -> Incoming[Any]:
    return Incoming(Envelope(payload, origin_time=origin), "/test")


def published_product(
    sku: str, version: int, title: dict[str, str], at: datetime, **fields: Any
) -> Incoming[ProductChanged]:
    """``sku`` at ``version``, enabled and published as it is unless ``fields`` say otherwise."""
    values: dict[str, Any] = {
        "status": ProductStatus.ENABLED,
        "workflow": WorkflowState.PUBLISHED,
        "published": PublishedContent(version=version, title=title),
        "changed_at": at,
    }
    return incoming(
        ProductChanged(sku=sku, product_version=version, title=title, **(values | fields)), at
    )


def stage_of(
    sku: str, stage: LifecycleStage, version: int, at: datetime, **fields: Any
) -> Incoming[LifecycleStageChanged]:
    return incoming(
        LifecycleStageChanged(
            sku=sku, stage=stage, stage_version=version, reason="r", changed_at=at, **fields
        ),
        at,
    )


def stock_level(
    sku: str,
    location: str,
    atp: Decimal | int | str,
    version: int,
    *,
    at: datetime,
    origin: datetime | None = None,
    kit: bool = False,
) -> Incoming[StockLevelChanged]:
    """A position of ``sku`` at ``location`` (no lot) whose ATP is all it holds: received
    ``atp`` units, nothing reserved or held; a kit's position holds nothing of its own."""
    q = Decimal(atp)
    zero = Decimal(0)
    return incoming(
        StockLevelChanged(
            sku=sku,
            location=location,
            unit="EA",
            on_hand=zero if kit else q,
            reserved=zero,
            quality_hold=zero,
            expired=zero,
            in_transit=zero,
            incoming=zero,
            available_to_promise=q,
            location_available_to_promise=q,
            received=zero if kit else q,
            shipped=zero,
            returned=zero,
            scrapped=zero,
            lost_sales=zero,
            kit=kit,
            position_version=version,
            caused_by=f"move-{sku}-{version}",
            changed_at=at,
        ),
        origin or at,
    )
