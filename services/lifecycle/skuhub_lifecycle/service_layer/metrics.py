"""Use case: a SKU's metrics over its windows, read as of ``now``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from skuhub_lifecycle.domain.metrics import (
    SkuClass,
    WindowMetrics,
    selling_spans,
    window_metrics,
)
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork


async def sku_metrics(
    uow: LifecycleUnitOfWork, sku: str, windows: Sequence[int], *, now: datetime
) -> tuple[list[WindowMetrics], SkuClass | None] | None:
    """The SKU's metrics per window and its classes; None when stock has not reported it.

    Five statements: the SKU's totals, its days of the longest window (with the day
    before it), its stage history (the time it was selling), its stockouts in the window,
    its classes.
    """
    stock = await uow.flows.stock_of(sku)
    if stock is None:
        return None
    today = now.date()
    longest = max(windows)
    opening, days = await uow.flows.days(
        sku, since=today - timedelta(days=longest - 1), until=today
    )
    since = datetime.combine(today - timedelta(days=longest - 1), time(), tzinfo=UTC)
    selling = selling_spans(await uow.stages.history(sku))
    stockouts = await uow.flows.stockouts(sku, since=since)
    found: list[WindowMetrics] = []
    for window in sorted(windows):
        first = today - timedelta(days=window - 1)
        before = [d for d in days if d.day < first and d.on_hand_close is not None]
        window_opening = before[-1] if before else opening
        found.append(
            window_metrics(
                stock,
                days,
                window_opening,
                window_days=window,
                now=now,
                selling=selling,
                stockouts=stockouts,
            )
        )
    classes = await uow.policies.classes([sku])
    return found, classes.get(sku)
