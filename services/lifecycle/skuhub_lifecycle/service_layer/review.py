"""Use case: classify every SKU (ABC, XYZ), refresh policies, and run the stage rules.

Runs on a clock (a periodic job) and on request (``POST /v1/reviews``); each run reads
the day ledger as of ``now``, so two runs at the same time agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from skuhub_lifecycle.domain.metrics import (
    ABC_WINDOW_DAYS,
    XYZ_WEEKS,
    SkuClass,
    sell_through_by_week,
    variability_class,
    velocity_classes,
    weekly_series,
)
from skuhub_lifecycle.domain.policy import InventoryPolicy
from skuhub_lifecycle.domain.rules import RuleInputs, Suggestion, evaluate
from skuhub_lifecycle.domain.stages import (
    LIFECYCLE_ACTOR,
    LifecycleError,
    Move,
    Stage,
    StageChange,
)
from skuhub_lifecycle.service_layer.policies import refresh_policies
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork
from skuhub_lifecycle.service_layer.transitions import transition_stage

RULE_STAGES = (Stage.ACTIVE, Stage.MATURE, Stage.PHASE_OUT)
PAGE = 500


@dataclass
class Reviewed:
    """What a review did."""

    classified: int = 0
    reclassified: int = 0
    suggestions: list[Suggestion] = field(default_factory=list)
    changes: list[StageChange] = field(default_factory=list)
    policies: list[InventoryPolicy] = field(default_factory=list)


async def review(uow: LifecycleUnitOfWork, *, now: datetime) -> Reviewed:
    """Classify, refresh the policies of reclassified SKUs, evaluate the rules."""
    result = Reviewed()
    reclassified = await _classify(uow, now, result)
    if reclassified:
        states = await uow.stages.load(reclassified)
        result.policies += await refresh_policies(
            uow, [(sku, s.stage) for sku, s in states.items()], now=now
        )
    await _run_rules(uow, now, result)
    return result


async def _classify(uow: LifecycleUnitOfWork, now: datetime, result: Reviewed) -> list[str]:
    today = now.date()
    first_days = await uow.flows.first_days()
    sold = await uow.flows.units_sold(
        since=today - timedelta(days=ABC_WINDOW_DAYS - 1), until=today
    )
    weekly = await uow.flows.weekly_demand(
        since=today - timedelta(days=7 * XYZ_WEEKS - 1), until=today
    )
    velocity = velocity_classes({sku: sold.get(sku, Decimal(0)) for sku in first_days})
    classes = [
        SkuClass(
            sku,
            velocity[sku],
            variability_class(weekly_series(weekly.get(sku, {}), first_seen=first, today=today)),
            sold.get(sku, Decimal(0)),
        )
        for sku, first in first_days.items()
    ]
    before = await uow.policies.classes()
    await uow.policies.save_classes([c for c in classes if before.get(c.sku) != c], at=now)
    changed = [
        c.sku
        for c in classes
        if (old := before.get(c.sku)) is None
        or (old.velocity, old.variability) != (c.velocity, c.variability)
    ]
    result.classified = len(classes)
    result.reclassified = len(changed)
    return changed


async def _run_rules(uow: LifecycleUnitOfWork, now: datetime, result: Reviewed) -> None:
    settings, _ = await uow.policies.rules()
    today = now.date()
    weeks = max(settings.slow_seller_weeks, 4)
    since = today - timedelta(days=7 * weeks + ABC_WINDOW_DAYS + 90)
    for stage in RULE_STAGES:
        after = ""
        while page := await uow.stages.in_stage(stage, after=after, limit=PAGE):
            after = page[-1].sku
            skus = [s.sku for s in page]
            days = await uow.flows.days_of(skus, since=since, until=today)
            on_hand = await uow.flows.on_hand_of(skus)
            found: list[Suggestion] = []
            for state in page:
                history = days.get(state.sku, [])
                series = sell_through_by_week(history, today=today, weeks=weeks)
                sold = sum(
                    (d.shipped for d in history if (today - d.day).days < ABC_WINDOW_DAYS),
                    Decimal(0),
                )
                stock = on_hand.get(state.sku, Decimal(0))
                cover = stock / (sold / 4) if sold > 0 else None
                found += evaluate(state, RuleInputs(series, cover, stock), settings, now=now)
            kept: list[Suggestion] = []
            for suggestion in found:
                if suggestion.apply and suggestion.target is not None:
                    move = Move(
                        suggestion.target,
                        f"rule {suggestion.rule}: {suggestion.reason}",
                        LIFECYCLE_ACTOR,
                    )
                    try:
                        moved = await transition_stage(uow, suggestion.sku, move, now=now)
                    except LifecycleError:
                        kept.append(suggestion)  # its gate does not hold yet: stays a suggestion
                        continue
                    result.changes += moved.changes
                    result.policies += moved.policies
                else:
                    kept.append(suggestion)
            await uow.policies.replace_suggestions(skus, kept, at=now)
            result.suggestions += kept
