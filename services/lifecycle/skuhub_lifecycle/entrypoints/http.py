"""HTTP entrypoint of the lifecycle service: stages and their history, transitions per SKU
and per product, SKU metrics, classes, policies, rules and suggestions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from skuhub_contracts.events import Actor, LifecycleStage, Reason, VariabilityClass, VelocityClass
from skuhub_contracts.identifiers import Sku
from skuhub_lifecycle.domain import stages as domain
from skuhub_lifecycle.domain.metrics import WINDOWS, Variability, Velocity, WindowMetrics
from skuhub_lifecycle.domain.policy import InventoryPolicy
from skuhub_lifecycle.domain.rules import RulesVersionConflictError
from skuhub_lifecycle.domain.stages import Move, SkuStage, Stage, StageChange, StageNotFoundError
from skuhub_lifecycle.entrypoints import handlers
from skuhub_lifecycle.service_layer.metrics import sku_metrics
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork
from skuhub_lifecycle.service_layer.transitions import ProductGateNotMetError
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.http import ExpectedVersion, OriginDep, error_responses, get_runtime
from skuhub_runtime.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["lifecycle"])
LifecycleRuntime = Annotated[ServiceRuntime[LifecycleUnitOfWork], Depends(get_runtime)]

ERROR_STATUSES: dict[type[Exception], int] = {
    domain.StageNotFoundError: 404,
    domain.ForbiddenTransitionError: 409,
    domain.GateNotMetError: 409,
    ProductGateNotMetError: 409,
    domain.VersionConflictError: 409,
    domain.BadTransitionRequestError: 400,
    RulesVersionConflictError: 409,
}
"""Each lifecycle refusal and its HTTP status (the app registers them once)."""
_NOT_SEEN = "The lifecycle has not seen this SKU (the catalog has not published it)."
_REFUSED = (
    "The transition table does not allow the move, its gate does not hold (`detail` lists "
    "every unmet condition), or the stage changed meanwhile."
)


_EXAMPLES: list[JsonValue] = [
    {"stage": "pre-launch", "reason": "launch on 1 March", "actor": "maria", "pre_order": True},
    {
        "stage": "discontinued",
        "reason": "replaced by the 2027 model",
        "actor": "maria",
        "successor": "MUG-2027",
    },
]


class ProductTransitionRequest(BaseModel):
    """A move of every variant of a product."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": _EXAMPLES})

    stage: LifecycleStage = Field(description="The stage to move to.")
    reason: Annotated[Reason, Field(min_length=1)] = Field(description="Why, for the audit trail.")
    actor: Actor = Field(description="Who moves it (kept in the history and the event).")
    pre_order: bool = Field(
        default=False, description="Pre-launch only: let channels take orders before stock."
    )
    successor: Sku | None = Field(
        default=None, description="Discontinued only: the SKU that replaces this one."
    )
    no_successor: bool = Field(
        default=False, description="Discontinued only: say explicitly that none replaces it."
    )

    def to_move(self) -> Move:
        return Move(
            Stage(self.stage.value),
            self.reason,
            self.actor,
            pre_order=self.pre_order,
            successor=self.successor,
            no_successor=self.no_successor,
        )


class TransitionRequest(ProductTransitionRequest):
    """A move of one SKU, optionally only from the stage version the caller read."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": _EXAMPLES})

    expected_version: ExpectedVersion | None = Field(
        default=None, description="Refuse (409) unless the stage is at this version."
    )


class StageView(BaseModel):
    sku: str
    stage: LifecycleStage
    version: int = Field(description="Increases by one with every stage change.")
    product_version: int = Field(description="Newest catalog product version applied.")
    product_model: str | None = Field(description="The product (model) it is a variant of.")
    reason: str = Field(description="Why the SKU is in this stage.")
    actor: str = Field(description="Who moved it here (`lifecycle`: a catalog fact or a rule).")
    changed_at: datetime = Field(description="When the SKU entered this stage.")
    pre_order: bool = Field(description="Pre-launch with pre-order enabled.")
    successor: str | None = Field(description="End of life: the SKU that replaces it.")
    approved: bool = Field(description="The catalog's workflow has approved its content.")
    allowed_next: list[LifecycleStage] = Field(description="Stages it may move to from here.")

    @classmethod
    def of(cls, state: SkuStage) -> StageView:
        return cls(
            sku=state.sku,
            stage=LifecycleStage(state.stage.value),
            version=state.version,
            product_version=state.product_version,
            product_model=state.product.product_model,
            reason=state.reason,
            actor=state.actor,
            changed_at=state.changed_at,
            pre_order=state.pre_order,
            successor=state.successor,
            approved=state.product.approved,
            allowed_next=[
                LifecycleStage(s.value)
                for s in domain.ORDER
                if s in domain.TRANSITIONS[state.stage]
            ],
        )


class StageChangeView(BaseModel):
    sku: str
    version: int
    stage: LifecycleStage
    previous_stage: LifecycleStage | None
    reason: str
    actor: str
    pre_order: bool
    successor: str | None
    changed_at: datetime

    @classmethod
    def of(cls, change: StageChange) -> StageChangeView:
        return cls(
            sku=change.sku,
            version=change.version,
            stage=LifecycleStage(change.stage.value),
            previous_stage=LifecycleStage(change.previous.value) if change.previous else None,
            reason=change.reason,
            actor=change.actor,
            pre_order=change.pre_order,
            successor=change.successor,
            changed_at=change.changed_at,
        )


class WindowView(BaseModel):
    window_days: int
    units_sold: Decimal
    units_received: Decimal
    units_returned: Decimal
    units_scrapped: Decimal
    lost_sales: Decimal = Field(description="Demand that could not be served.")
    on_hand: Decimal = Field(description="Network on hand now.")
    opening_on_hand: Decimal = Field(description="Network on hand when the window opened.")
    average_on_hand: Decimal = Field(description="Mean closing on hand over the window's days.")
    inventory_turnover: Decimal | None = Field(description="units_sold / average_on_hand.")
    sell_through: Decimal | None = Field(
        description="units_sold / (opening_on_hand + units_received)."
    )
    weeks_of_supply: Decimal | None = Field(description="on_hand / units sold per week.")
    fill_rate: Decimal | None = Field(description="units_sold / (units_sold + lost_sales).")
    stockout_rate: float | None = Field(
        description="Share of the tracked time with no stock available to promise anywhere."
    )
    days_since_last_sale: int | None

    @classmethod
    def of(cls, m: WindowMetrics) -> WindowView:
        return cls(
            window_days=m.window_days,
            units_sold=m.units_sold,
            units_received=m.units_received,
            units_returned=m.units_returned,
            units_scrapped=m.units_scrapped,
            lost_sales=m.lost_sales,
            on_hand=m.on_hand,
            opening_on_hand=m.opening_on_hand,
            average_on_hand=m.average_on_hand,
            inventory_turnover=m.inventory_turnover,
            sell_through=m.sell_through,
            weeks_of_supply=m.weeks_of_supply,
            fill_rate=m.fill_rate,
            stockout_rate=m.stockout_rate,
            days_since_last_sale=m.days_since_last_sale,
        )


class MetricsView(BaseModel):
    sku: str
    as_of: datetime
    velocity_class: VelocityClass | None = Field(description="ABC by 28-day units sold.")
    variability_class: VariabilityClass | None = Field(description="XYZ by weekly demand.")
    windows: list[WindowView]


class ClassView(BaseModel):
    sku: str
    velocity_class: VelocityClass
    variability_class: VariabilityClass
    units_sold_28: Decimal


class PolicyView(BaseModel):
    sku: str
    version: int
    stage: LifecycleStage
    velocity_class: VelocityClass | None
    variability_class: VariabilityClass | None
    replenish: bool
    service_level: float
    review_period_days: int
    buffer_multiplier: float
    reason: str
    changed_at: datetime

    @classmethod
    def of(cls, p: InventoryPolicy) -> PolicyView:
        return cls(
            sku=p.sku,
            version=p.version,
            stage=LifecycleStage(p.stage.value),
            velocity_class=VelocityClass(p.velocity.value) if p.velocity else None,
            variability_class=VariabilityClass(p.variability.value) if p.variability else None,
            replenish=p.terms.replenish,
            service_level=p.terms.service_level,
            review_period_days=p.terms.review_period_days,
            buffer_multiplier=p.terms.buffer_multiplier,
            reason=p.terms.reason,
            changed_at=p.changed_at,
        )


# Declared before GET /stages/{sku:path}, which matches these paths too (a SKU may hold a /):
# the first route whose path matches is the resource a 405 names in Allow.
@router.post(
    "/stages/{sku:path}/transitions",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=StageView,
    responses=error_responses(400, 404, 409, e404=_NOT_SEEN, e409=_REFUSED),
    summary="Move a SKU to another stage",
    description="A move along the transition table (docs/lifecycle.md), allowed only when the "
    "target's gate holds. Publishes lifecycle-stage-changed (and inventory-policy-changed when "
    "the policy changes) in the same transaction.",
)
async def post_transition(
    sku: Sku, body: TransitionRequest, runtime: LifecycleRuntime, origin: OriginDep
) -> StageView:
    state = await runtime.execute(
        lambda uow: handlers.transition(
            uow, sku, body.to_move(), origin, expected_version=body.expected_version
        )
    )
    return StageView.of(state)


@router.get(
    "/stages/{sku:path}/history",
    response_model=list[StageChangeView],
    responses=error_responses(404, e404=_NOT_SEEN),
    summary="Every stage change of a SKU, oldest first",
)
async def get_history(sku: Sku, runtime: LifecycleRuntime) -> list[StageChangeView]:
    history = await runtime.read(lambda uow: uow.stages.history(sku))
    if not history:
        raise StageNotFoundError.for_sku(sku)
    return [StageChangeView.of(c) for c in history]


@router.get(
    "/stages/{sku:path}",
    response_model=StageView,
    responses=error_responses(404, e404=_NOT_SEEN),
    summary="Lifecycle stage of a SKU",
)
async def get_stage(sku: Sku, runtime: LifecycleRuntime) -> StageView:
    state = await runtime.read(lambda uow: uow.stages.get(sku))
    if state is None:
        raise StageNotFoundError.for_sku(sku)
    return StageView.of(state)


@router.get("/stages", response_model=list[StageView], summary="SKUs in a stage, by SKU")
async def list_stage(
    runtime: LifecycleRuntime,
    stage: LifecycleStage = Query(description="The stage to list."),
    after: Sku | None = Query(default=None, description="SKUs after this one (paging)."),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[StageView]:
    found = await runtime.read(
        lambda uow: uow.stages.in_stage(Stage(stage.value), after=after or "", limit=limit)
    )
    return [StageView.of(s) for s in found]


@router.post(
    "/products/{product_model:path}/transitions",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=list[StageView],
    responses=error_responses(
        400, 404, 409, e404="No variant of this model is known.", e409=_REFUSED
    ),
    summary="Move every variant of a product to another stage",
    description="All or none: every variant not already there must be allowed to move and "
    "meet the gate; otherwise `detail` lists each variant's unmet conditions.",
)
async def post_product_transition(
    product_model: Sku,
    body: ProductTransitionRequest,
    runtime: LifecycleRuntime,
    origin: OriginDep,
) -> list[StageView]:
    states = await runtime.execute(
        lambda uow: handlers.transition_variants(uow, product_model, body.to_move(), origin)
    )
    return [StageView.of(s) for s in states]


@router.get(
    "/products/{product_model:path}/history",
    response_model=list[StageChangeView],
    responses=error_responses(404, e404="No variant of this model is known."),
    summary="Every stage change of a product's variants, oldest first",
)
async def get_product_history(
    product_model: Sku, runtime: LifecycleRuntime
) -> list[StageChangeView]:
    history = await runtime.read(lambda uow: uow.stages.model_history(product_model))
    if not history:
        raise StageNotFoundError(f"no variant of product model {product_model} is known")
    return [StageChangeView.of(c) for c in history]


@router.get(
    "/products/{product_model:path}/stages",
    response_model=list[StageView],
    responses=error_responses(404, e404="No variant of this model is known."),
    summary="Stages of a product's variants",
)
async def get_product_stages(product_model: Sku, runtime: LifecycleRuntime) -> list[StageView]:
    found = await runtime.read(lambda uow: uow.stages.of_model(product_model))
    if not found:
        raise StageNotFoundError(f"no variant of product model {product_model} is known")
    return [StageView.of(s) for s in found]


@router.get(
    "/sku-metrics/{sku:path}",
    response_model=MetricsView,
    responses=error_responses(404, e404="Stock has not reported this SKU yet."),
    summary="SKU metrics over 7, 28 and 90 days",
    description="Flows from the cumulative counters of stock-level-changed; formulas in "
    "docs/lifecycle.md.",
)
async def get_metrics(
    sku: Sku,
    runtime: LifecycleRuntime,
    window: Literal["7", "28", "90"] | None = Query(
        default=None, description="Only this window (days)."
    ),
) -> MetricsView:
    now = datetime.now(UTC)
    windows = (int(window),) if window is not None else WINDOWS
    found = await runtime.read(lambda uow: sku_metrics(uow, sku, windows, now=now))
    if found is None:
        raise StageNotFoundError(f"stock has not reported SKU {sku} yet")
    metrics, classes = found
    return MetricsView(
        sku=sku,
        as_of=now,
        velocity_class=VelocityClass(classes.velocity.value) if classes else None,
        variability_class=VariabilityClass(classes.variability.value) if classes else None,
        windows=[WindowView.of(m) for m in metrics],
    )


@router.get("/classes", response_model=list[ClassView], summary="SKUs by ABC / XYZ class")
async def list_classes(
    runtime: LifecycleRuntime,
    velocity: VelocityClass | None = Query(default=None, description="Only this ABC class."),
    variability: VariabilityClass | None = Query(default=None, description="Only this XYZ class."),
    after: Sku | None = Query(default=None, description="SKUs after this one (paging)."),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[ClassView]:
    found = await runtime.read(
        lambda uow: uow.policies.of_class(
            Velocity(velocity.value) if velocity else None,
            Variability(variability.value) if variability else None,
            after=after or "",
            limit=limit,
        )
    )
    return [
        ClassView(
            sku=c.sku,
            velocity_class=VelocityClass(c.velocity.value),
            variability_class=VariabilityClass(c.variability.value),
            units_sold_28=c.units_sold_28,
        )
        for c in found
    ]


@router.get(
    "/policies/{sku:path}",
    response_model=PolicyView,
    responses=error_responses(404, e404=_NOT_SEEN),
    summary="Inventory policy of a SKU",
)
async def get_policy(sku: Sku, runtime: LifecycleRuntime) -> PolicyView:
    found = await runtime.read(lambda uow: uow.policies.policies([sku]))
    if sku not in found:
        raise StageNotFoundError.for_sku(sku)
    return PolicyView.of(found[sku])
