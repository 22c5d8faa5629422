"""Use case: a SKU's metrics over its windows, read as of ``now``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from skuhub_lifecycle.domain.metrics import SkuClass, WindowMetrics, window_metrics
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork


async def sku_metrics(
    uow: LifecycleUnitOfWork, sku: str, windows: Sequence[int], *, now: datetime
) -> tuple[list[WindowMetrics], SkuClass | None] | None:
    """The SKU's metrics per window and its classes; None when stock has not reported it.

    Three statements: the SKU's totals, its days of the longest window (with the day
    before it), its classes.
    """
    stock = await uow.flows.stock_of(sku)
    if stock is None:
        return None
    today = now.date()
    longest = max(windows)
    opening, days = await uow.flows.days(
        sku, since=today - timedelta(days=longest - 1), until=today
    )
    found: list[WindowMetrics] = []
    for window in sorted(windows):
        first = today - timedelta(days=window - 1)
        before = [d for d in days if d.day < first and d.on_hand_close is not None]
        window_opening = before[-1] if before else opening
        found.append(window_metrics(stock, days, window_opening, window_days=window, now=now))
    classes = await uow.policies.classes([sku])
    return found, classes.get(sku)
