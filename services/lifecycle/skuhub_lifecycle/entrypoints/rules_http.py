"""HTTP entrypoint for the lifecycle rules: their settings, what they suggest, a review now."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from skuhub_contracts.events import LifecycleStage
from skuhub_contracts.identifiers import Sku
from skuhub_lifecycle.domain.rules import RuleMode, RuleSettings
from skuhub_lifecycle.entrypoints import handlers
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork
from skuhub_lifecycle.service_layer.rules import change_rules
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.handling import Decision
from skuhub_runtime.http import ExpectedVersion, error_responses, get_runtime
from skuhub_runtime.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["lifecycle rules"])
LifecycleRuntime = Annotated[ServiceRuntime[LifecycleUnitOfWork], Depends(get_runtime)]


class RulesBody(BaseModel):
    """The rules' settings; each rule is `off`, `suggest` or `apply`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slow_seller": "apply",
                    "slow_seller_sell_through_below": 0.1,
                    "slow_seller_weeks": 4,
                    "liquidation": "suggest",
                    "liquidation_weeks_of_supply_above": 26,
                    "maturity": "suggest",
                    "maturity_after_days": 90,
                }
            ]
        },
    )

    slow_seller: RuleMode = Field(
        description="mature -> phase-out when 28-day sell-through stays below the threshold."
    )
    slow_seller_sell_through_below: Annotated[float, Field(gt=0, le=1)]
    slow_seller_weeks: Annotated[int, Field(ge=1, le=52)] = Field(
        description="For this many week ends in a row."
    )
    liquidation: RuleMode = Field(
        description="Phase-out SKUs with more weeks of supply than the limit are flagged "
        "(`apply` acts as `suggest`: liquidation is a decision for a person)."
    )
    liquidation_weeks_of_supply_above: Annotated[float, Field(gt=0, le=520)]
    maturity: RuleMode = Field(description="active -> mature after a number of days.")
    maturity_after_days: Annotated[int, Field(ge=1, le=3650)]


class RulesView(RulesBody):
    version: int = Field(description="0 until the rules are first changed (the defaults).")


class RulesUpdate(RulesBody):
    expected_version: ExpectedVersion | None = Field(
        default=None, description="Refuse (409) unless the rules are at this version."
    )


class SuggestionView(BaseModel):
    sku: str
    rule: str
    target: LifecycleStage | None = Field(description="The stage the rule suggests (None: a flag).")
    reason: str
    suggested_at: datetime


class ReviewView(BaseModel):
    classified: int = Field(description="SKUs classified (every SKU stock has reported).")
    reclassified: int = Field(description="SKUs whose ABC or XYZ class changed.")
    suggestions: int
    transitions: int = Field(description="Moves the rules in `apply` mode made.")
    policies_changed: int


@router.get("/rules", response_model=RulesView, summary="The lifecycle rules' settings")
async def get_rules(runtime: LifecycleRuntime) -> RulesView:
    settings, version = await runtime.read(lambda uow: uow.policies.rules())
    return RulesView(version=version, **dataclasses.asdict(settings))


@router.put(
    "/rules",
    dependencies=[requires(Scope.OPERATE)],
    response_model=RulesView,
    responses=error_responses(409, e409="The rules changed since `expected_version`."),
    summary="Change the lifecycle rules",
)
async def put_rules(body: RulesUpdate, runtime: LifecycleRuntime) -> RulesView:
    values = body.model_dump(exclude={"expected_version"})
    for name in ("slow_seller_sell_through_below", "liquidation_weeks_of_supply_above"):
        values[name] = Decimal(str(values[name]))
    settings = RuleSettings(**values)

    async def save(uow: LifecycleUnitOfWork) -> Decision[int]:
        version = await change_rules(
            uow.policies,
            settings,
            expected_version=body.expected_version,
            now=datetime.now(UTC),
        )
        return Decision(version)

    version = await runtime.execute(save)
    return RulesView(version=version, **dataclasses.asdict(settings))


@router.get("/suggestions", response_model=list[SuggestionView], summary="What the rules suggest")
async def list_suggestions(
    runtime: LifecycleRuntime,
    after: Sku | None = Query(default=None, description="SKUs after this one (paging)."),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[SuggestionView]:
    found = await runtime.read(lambda uow: uow.policies.suggestions(after=after or "", limit=limit))
    return [
        SuggestionView(
            sku=s.sku,
            rule=s.rule,
            target=LifecycleStage(s.target.value) if s.target else None,
            reason=s.reason,
            suggested_at=at,
        )
        for s, at in found
    ]


@router.post(
    "/reviews",
    dependencies=[requires(Scope.OPERATE)],
    response_model=ReviewView,
    summary="Review now: classify every SKU, refresh policies, run the rules",
    description="The same review the service runs every `SKUHUB_REVIEW_INTERVAL_S` seconds.",
)
async def post_review(runtime: LifecycleRuntime) -> ReviewView:
    now = datetime.now(UTC)
    reviewed = await runtime.execute(lambda uow: handlers.run_review(uow, now))
    return ReviewView(
        classified=reviewed.classified,
        reclassified=reviewed.reclassified,
        suggestions=len(reviewed.suggestions),
        transitions=len(reviewed.changes),
        policies_changed=len(reviewed.policies),
    )
