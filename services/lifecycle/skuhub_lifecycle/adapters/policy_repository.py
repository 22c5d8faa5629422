"""PostgreSQL implementation of the policy repository: classes, policies, rules, suggestions."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_lifecycle.adapters.tables import policies, rule_settings, sku_classes, suggestions
from skuhub_lifecycle.domain.metrics import SkuClass, Variability, Velocity
from skuhub_lifecycle.domain.policy import InventoryPolicy, PolicyTerms
from skuhub_lifecycle.domain.rules import RuleMode, RuleSettings, Suggestion
from skuhub_lifecycle.domain.stages import Stage

_RULES_ROW = 1


class SqlPolicyRepository:
    """Velocity classes, inventory policies, the rule settings and suggestions."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def classes(self, skus: Iterable[str] | None = None) -> dict[str, SkuClass]:
        statement = sa.select(sku_classes)
        if skus is not None:
            statement = statement.where(sku_classes.c.sku.in_(sorted(set(skus))))
        return {
            row["sku"]: SkuClass(
                row["sku"],
                Velocity(row["velocity"]),
                Variability(row["variability"]),
                row["units_sold_28"],
            )
            for row in (await self._conn.execute(statement)).mappings()
        }

    async def save_classes(self, classes: Sequence[SkuClass], *, at: datetime) -> None:
        if not classes:
            return
        statement = insert(sku_classes)
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[sku_classes.c.sku],
                set_={
                    c: statement.excluded[c]
                    for c in ("velocity", "variability", "units_sold_28", "classified_at")
                },
            ),
            [
                {
                    "sku": c.sku,
                    "velocity": c.velocity.value,
                    "variability": c.variability.value,
                    "units_sold_28": c.units_sold_28,
                    "classified_at": at,
                }
                for c in sorted(classes, key=lambda c: c.sku)
            ],
        )

    async def of_class(
        self, velocity: Velocity | None, variability: Variability | None, *, after: str, limit: int
    ) -> list[SkuClass]:
        statement = sa.select(sku_classes).where(sku_classes.c.sku > after)
        if velocity is not None:
            statement = statement.where(sku_classes.c.velocity == velocity.value)
        if variability is not None:
            statement = statement.where(sku_classes.c.variability == variability.value)
        statement = statement.order_by(sku_classes.c.sku).limit(limit)
        return [
            SkuClass(
                row["sku"],
                Velocity(row["velocity"]),
                Variability(row["variability"]),
                row["units_sold_28"],
            )
            for row in (await self._conn.execute(statement)).mappings()
        ]

    async def policies(
        self, skus: Iterable[str], *, for_update: bool = False
    ) -> dict[str, InventoryPolicy]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        statement = sa.select(policies).where(policies.c.sku.in_(wanted)).order_by(policies.c.sku)
        if for_update:
            statement = statement.with_for_update()
        return {
            row["sku"]: _to_policy(row) for row in (await self._conn.execute(statement)).mappings()
        }

    async def save_policies(self, saved: Sequence[InventoryPolicy]) -> None:
        if not saved:
            return
        statement = insert(policies)
        columns = [c.name for c in policies.columns if c.name != "sku"]
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[policies.c.sku],
                set_={c: statement.excluded[c] for c in columns},
            ),
            [_policy_row(p) for p in sorted(saved, key=lambda p: p.sku)],
        )

    async def rules(self) -> tuple[RuleSettings, int]:
        row = (
            (
                await self._conn.execute(
                    sa.select(rule_settings).where(rule_settings.c.id == _RULES_ROW)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return RuleSettings(), 0
        return rules_from_json(row["body"]), row["version"]

    async def save_rules(self, settings: RuleSettings, version: int, *, at: datetime) -> None:
        statement = insert(rule_settings).values(
            id=_RULES_ROW, version=version, body=rules_to_json(settings), changed_at=at
        )
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[rule_settings.c.id],
                set_={c: statement.excluded[c] for c in ("version", "body", "changed_at")},
            )
        )

    async def replace_suggestions(
        self, skus: Iterable[str], found: Sequence[Suggestion], *, at: datetime
    ) -> None:
        """Make ``found`` the suggestions of these SKUs (older ones of theirs are dropped)."""
        wanted = sorted(set(skus))
        if wanted:
            await self._conn.execute(sa.delete(suggestions).where(suggestions.c.sku.in_(wanted)))
        if found:
            await self._conn.execute(
                insert(suggestions).on_conflict_do_nothing(),
                [
                    {
                        "sku": s.sku,
                        "rule": s.rule,
                        "target": s.target.value if s.target else None,
                        "reason": s.reason,
                        "suggested_at": at,
                    }
                    for s in found
                ],
            )

    async def suggestions(self, *, after: str, limit: int) -> list[tuple[Suggestion, datetime]]:
        statement = (
            sa.select(suggestions)
            .where(suggestions.c.sku > after)
            .order_by(suggestions.c.sku, suggestions.c.rule)
            .limit(limit)
        )
        return [
            (
                Suggestion(
                    row["sku"],
                    row["rule"],
                    Stage(row["target"]) if row["target"] else None,
                    row["reason"],
                    False,
                ),
                row["suggested_at"].astimezone(UTC),
            )
            for row in (await self._conn.execute(statement)).mappings()
        ]


def rules_to_json(settings: RuleSettings) -> dict[str, Any]:
    return {
        name: str(value) if isinstance(value, (Decimal, RuleMode)) else value
        for name, value in dataclasses.asdict(settings).items()
    }


def rules_from_json(body: dict[str, Any]) -> RuleSettings:
    defaults = RuleSettings()
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(RuleSettings):
        if spec.name not in body:
            continue
        current = getattr(defaults, spec.name)
        raw = body[spec.name]
        if isinstance(current, RuleMode):
            values[spec.name] = RuleMode(raw)
        elif isinstance(current, Decimal):
            values[spec.name] = Decimal(raw)
        else:
            values[spec.name] = int(raw)
    return RuleSettings(**values)


def _policy_row(p: InventoryPolicy) -> dict[str, object]:
    return {
        "sku": p.sku,
        "version": p.version,
        "stage": p.stage.value,
        "velocity": p.velocity.value if p.velocity else None,
        "variability": p.variability.value if p.variability else None,
        "replenish": p.terms.replenish,
        "service_level": p.terms.service_level,
        "review_period_days": p.terms.review_period_days,
        "buffer_multiplier": p.terms.buffer_multiplier,
        "reason": p.terms.reason,
        "changed_at": p.changed_at,
    }


def _to_policy(row: sa.RowMapping) -> InventoryPolicy:
    return InventoryPolicy(
        sku=row["sku"],
        version=row["version"],
        stage=Stage(row["stage"]),
        velocity=Velocity(row["velocity"]) if row["velocity"] else None,
        variability=Variability(row["variability"]) if row["variability"] else None,
        terms=PolicyTerms(
            row["replenish"],
            row["service_level"],
            row["review_period_days"],
            row["buffer_multiplier"],
            row["reason"],
        ),
        changed_at=row["changed_at"].astimezone(UTC),
    )
