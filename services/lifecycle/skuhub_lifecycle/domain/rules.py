"""Rules that suggest or make stage transitions from a SKU's metrics (docs/lifecycle.md).

Pure Python. Each rule is off, suggests (listed for an operator), or applies (the
service makes the move itself, through the same table and gate as an operator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from skuhub_lifecycle.domain.stages import SkuStage, Stage


class RuleMode(StrEnum):
    OFF = "off"
    SUGGEST = "suggest"
    APPLY = "apply"


class RulesVersionConflictError(Exception):
    """The rules changed since the caller read them."""


SLOW_SELLER = "slow-seller"
LIQUIDATION = "liquidation-candidate"
MATURITY = "maturity"


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """The rules' configuration (one per service, changed over HTTP)."""

    slow_seller: RuleMode = RuleMode.SUGGEST
    slow_seller_sell_through_below: Decimal = Decimal("0.10")
    slow_seller_weeks: int = 4
    liquidation: RuleMode = RuleMode.SUGGEST
    liquidation_weeks_of_supply_above: Decimal = Decimal(26)
    maturity: RuleMode = RuleMode.SUGGEST
    maturity_after_days: int = 90


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What a rule found for a SKU: a move to ``target`` (None: a flag such as liquidation)."""

    sku: str
    rule: str
    target: Stage | None
    reason: str
    apply: bool


@dataclass(frozen=True, slots=True)
class RuleInputs:
    """A SKU's figures the rules read."""

    sell_through_by_week: Sequence[Decimal | None]
    """28-day sell-through at the end of each of the last weeks, oldest first."""
    weeks_of_supply: Decimal | None
    on_hand: Decimal


def evaluate(
    state: SkuStage, inputs: RuleInputs, settings: RuleSettings, *, now: datetime
) -> list[Suggestion]:
    """What the rules say about one SKU now."""
    found: list[Suggestion] = []
    if state.stage is Stage.MATURE and settings.slow_seller is not RuleMode.OFF:
        weeks = settings.slow_seller_weeks
        recent = list(inputs.sell_through_by_week)[-weeks:]
        threshold = settings.slow_seller_sell_through_below
        if len(recent) == weeks and all(s is not None and s < threshold for s in recent):
            found.append(
                Suggestion(
                    state.sku,
                    SLOW_SELLER,
                    Stage.PHASE_OUT,
                    f"28-day sell-through below {threshold} for {weeks} weeks",
                    settings.slow_seller is RuleMode.APPLY,
                )
            )
    matured = now - state.changed_at >= timedelta(days=settings.maturity_after_days)
    if state.stage is Stage.ACTIVE and settings.maturity is not RuleMode.OFF and matured:
        found.append(
            Suggestion(
                state.sku,
                MATURITY,
                Stage.MATURE,
                f"active for {settings.maturity_after_days} days or more",
                settings.maturity is RuleMode.APPLY,
            )
        )
    if state.stage is Stage.PHASE_OUT and settings.liquidation is not RuleMode.OFF:
        cover = inputs.weeks_of_supply
        limit = settings.liquidation_weeks_of_supply_above
        excess = (cover is None and inputs.on_hand > 0) or (cover is not None and cover > limit)
        if excess:
            found.append(
                Suggestion(
                    state.sku,
                    LIQUIDATION,
                    None,
                    f"{inputs.on_hand} on hand is more than {limit} weeks of supply",
                    False,
                )
            )
    return found
