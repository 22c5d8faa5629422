"""HTTP entrypoint of replenishment: proposals to decide, policies per SKU and location."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, Strict

from skuhub_contracts.identifiers import Gln, Sku
from skuhub_contracts.values import (
    LINE_PATTERN,
    LINE_SCHEMA,
    ONE_LINE,
    PARAGRAPHS_SCHEMA,
    SEVERAL_LINES,
    PositiveQuantity,
    Quantity,
)
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.handling import Decision
from skuhub_runtime.http import error_responses, get_runtime
from skuhub_runtime.service import ServiceRuntime
from skuhub_stock.domain.replenishment import (
    MAX_DAYS,
    SERVICE_LEVEL_MAX,
    SERVICE_LEVEL_MIN,
    LifecyclePolicy,
    PolicyError,
    PolicyInForce,
    Proposal,
    ProposalNotFoundError,
    ProposalNotOpenError,
    ProposalStatus,
    ReplenishmentPolicy,
)
from skuhub_stock.entrypoints.replenishment_events import replenishment_defaults
from skuhub_stock.service_layer import replenishment as use_cases
from skuhub_stock.service_layer.replenishment import ReplenishmentUnitOfWork

router = APIRouter(prefix="/v1", tags=["replenishment"])
ReplenishmentRuntime = Annotated[ServiceRuntime[ReplenishmentUnitOfWork], Depends(get_runtime)]

ERROR_STATUSES: dict[type[Exception], int] = {
    ProposalNotFoundError: 404,
    ProposalNotOpenError: 409,
    PolicyError: 422,
}
"""Each replenishment refusal and its HTTP status (the app registers them once)."""

GLN_EXAMPLE = "4012345000009"
ProposalId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        pattern=LINE_PATTERN,
        description="The proposal's id (`id` in the listing, `proposal_id` in the event).",
        examples=["4f7d2c1e-8b0a-4c55-9d1e-2a6f3b9c0d11"],
    ),
]
Person = Annotated[
    str, Field(min_length=1, max_length=200, json_schema_extra=LINE_SCHEMA), ONE_LINE
]
Note = Annotated[str, Field(max_length=2000, json_schema_extra=PARAGRAPHS_SCHEMA), SEVERAL_LINES]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS), Strict()]


class ProposalView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4f7d2c1e-8b0a-4c55-9d1e-2a6f3b9c0d11",
                    "seq": 42,
                    "sku": "TSHIRT-RED-M",
                    "location": GLN_EXAMPLE,
                    "status": "open",
                    "quantity": "60",
                    "unit": "EA",
                    "reorder_point": "54.87",
                    "order_up_to": "54.87",
                    "safety_stock": "9.87",
                    "inventory_position": "-3",
                    "available_to_promise": "0",
                    "created_at": "2025-03-01T08:00:00Z",
                    "decided_at": None,
                    "decided_by": None,
                    "note": None,
                }
            ]
        }
    )

    id: str
    seq: int = Field(description="Place in the listing; pass the last one as `after`.")
    sku: str
    location: str
    status: ProposalStatus
    quantity: Decimal = Field(description="What to order: a whole number of order multiples.")
    unit: str
    reorder_point: Decimal = Field(
        description="Proposed because the inventory position was at or below it."
    )
    order_up_to: Decimal = Field(description="The level the quantity brings the position up to.")
    safety_stock: Decimal = Field(
        description="b x z x sigma_d x sqrt(L + R) when proposed (b: the lifecycle policy's "
        "buffer multiplier, 1 without one and under min/max)."
    )
    inventory_position: Decimal = Field(
        description="on_hand + in_transit + incoming - reserved when proposed."
    )
    available_to_promise: Decimal
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    note: str | None

    @classmethod
    def of(cls, seq: int, p: Proposal) -> ProposalView:
        return cls(seq=seq, **dataclasses.asdict(p))


class DecidedView(BaseModel):
    """A proposal after the decision (``seq`` is in the listing)."""

    id: str
    status: ProposalStatus
    sku: str
    location: str
    quantity: Decimal
    unit: str
    decided_at: datetime | None
    decided_by: str | None
    note: str | None

    @classmethod
    def of(cls, p: Proposal) -> DecidedView:
        return cls.model_validate(dataclasses.asdict(p))  # the fields it shows, of all


class ProposalPage(BaseModel):
    proposals: list[ProposalView]
    next_after: int | None = Field(
        description="`after` for the next page; null when this page is the last. A full page "
        "at the very end is followed by an empty one."
    )


class DecisionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decided_by": "planner@example.com", "note": "PO 4711"}]},
    )

    decided_by: Person | None = Field(default=None, description="Who decided, for the record.")
    note: Note | None = Field(default=None, description="Why, or the purchase order raised.")


class PolicyRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"lead_time_days": 5, "review_period_days": 4, "service_level": 0.95},
                {
                    "lead_time_days": 10,
                    "review_period_days": 7,
                    "service_level": 0.98,
                    "min_quantity": "20",
                    "max_quantity": "120",
                    "order_multiple": "12",
                },
            ]
        },
    )

    lead_time_days: Days = Field(description="Supplier lead time L: order to arrival, in days.")
    review_period_days: Days = Field(
        description="Review period R: days between two reviews (0: continuous review)."
    )
    service_level: float = Field(
        ge=SERVICE_LEVEL_MIN,
        le=SERVICE_LEVEL_MAX,
        description="Cycle service level: the probability of no stock-out before the next order "
        "arrives (z = the standard normal quantile of it).",
    )
    min_quantity: Quantity | None = Field(
        default=None,
        description="Min/max policy: reorder when the inventory position is at or below it "
        "(zero or more; with max_quantity).",
    )
    max_quantity: Quantity | None = Field(
        default=None,
        description="Min/max policy: order up to it (more than min_quantity; with min_quantity).",
    )
    order_multiple: PositiveQuantity = Field(
        default=Decimal(1), description="Pack size: proposals are whole multiples of it."
    )

    def to_policy(self) -> ReplenishmentPolicy:
        """Raises:
        PolicyError: a rule across fields (min and max) does not hold; names the field.
        """
        return ReplenishmentPolicy(
            lead_time_days=self.lead_time_days,
            review_period_days=self.review_period_days,
            service_level=self.service_level,
            min_quantity=self.min_quantity,
            max_quantity=self.max_quantity,
            order_multiple=self.order_multiple,
        )


class LifecyclePolicyView(BaseModel):
    """The lifecycle service's inventory policy of the SKU (skuhub.inventory-policy-changed.v1,
    the highest version received), as it arrived."""

    policy_version: int = Field(description="The version in force; older ones are ignored.")
    stage: str = Field(description="The SKU's lifecycle stage it was decided for.")
    velocity_class: str | None
    variability_class: str | None
    replenish: bool = Field(
        description="False: no new proposals for the SKU at any location, whatever the "
        "position's own policy."
    )
    service_level: float = Field(
        description="Replaces the default service level (not one set for the position)."
    )
    review_period_days: int = Field(
        description="Replaces the default review period (not one set for the position)."
    )
    buffer_multiplier: float = Field(
        description="Multiplies the safety stock computed from demand (not under min/max)."
    )
    reason: str
    changed_at: datetime

    @classmethod
    def of(cls, p: LifecyclePolicy) -> LifecyclePolicyView:
        return cls(
            policy_version=p.version,
            stage=p.stage,
            velocity_class=p.velocity_class,
            variability_class=p.variability_class,
            replenish=p.replenish,
            service_level=p.service_level,
            review_period_days=p.review_period_days,
            buffer_multiplier=p.buffer_multiplier,
            reason=p.reason,
            changed_at=p.changed_at,
        )


class PolicyView(BaseModel):
    """What the next review of the position applies, and where each part comes from."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sku": "TSHIRT-RED-M",
                    "location": GLN_EXAMPLE,
                    "source": "default",
                    "lead_time_days": 7,
                    "review_period_days": 7,
                    "service_level": 0.95,
                    "min_quantity": None,
                    "max_quantity": None,
                    "order_multiple": "1",
                    "buffer_multiplier": 1.0,
                    "replenish": True,
                    "hold_reason": None,
                    "lifecycle": None,
                },
                {
                    "sku": "TSHIRT-RED-M",
                    "location": GLN_EXAMPLE,
                    "source": "default",
                    "lead_time_days": 7,
                    "review_period_days": 7,
                    "service_level": 0.98,
                    "min_quantity": None,
                    "max_quantity": None,
                    "order_multiple": "1",
                    "buffer_multiplier": 0.0,
                    "replenish": False,
                    "hold_reason": "lifecycle policy version 4 (stage phase-out) says not to "
                    "replenish: phase-out: run down, no new orders",
                    "lifecycle": {
                        "policy_version": 4,
                        "stage": "phase-out",
                        "velocity_class": "A",
                        "variability_class": "X",
                        "replenish": False,
                        "service_level": 0.98,
                        "review_period_days": 7,
                        "buffer_multiplier": 0.0,
                        "reason": "phase-out: run down, no new orders",
                        "changed_at": "2025-03-01T08:00:00Z",
                    },
                },
            ]
        }
    )

    sku: str
    location: str
    source: str = Field(
        description="`set`: the position's own policy (PUT here), whose service level and "
        "review period win over the lifecycle policy's; `default`: SKUHUB_REPLENISHMENT_* "
        "until one is set, with the lifecycle policy's service level and review period when "
        "the SKU has one."
    )
    lead_time_days: int
    review_period_days: int = Field(description="R the review applies (see `source`).")
    service_level: float = Field(description="The service level the review applies.")
    min_quantity: Decimal | None
    max_quantity: Decimal | None
    order_multiple: Decimal
    buffer_multiplier: float = Field(
        description="Multiplies the safety stock computed from demand: the lifecycle "
        "policy's; 1 without one, and under a min/max policy."
    )
    replenish: bool = Field(
        description="False: the SKU's lifecycle policy holds replenishment, and the review "
        "proposes nothing here (open proposals stay to be decided)."
    )
    hold_reason: str | None = Field(
        description="Why nothing is proposed (the lifecycle policy's version, stage and "
        "reason); null while proposals are made."
    )
    lifecycle: LifecyclePolicyView | None = Field(
        description="The SKU's lifecycle policy in force (every location); null until the "
        "lifecycle service has published one."
    )

    @classmethod
    def of(cls, sku: str, location: str, in_force: PolicyInForce) -> PolicyView:
        lifecycle = in_force.lifecycle
        return cls(
            sku=sku,
            location=location,
            source="set" if in_force.set_by_planner else "default",
            **dataclasses.asdict(in_force.policy),
            buffer_multiplier=in_force.buffer_multiplier,
            replenish=in_force.replenish,
            hold_reason=in_force.hold_reason,
            lifecycle=LifecyclePolicyView.of(lifecycle) if lifecycle is not None else None,
        )


@router.get(
    "/proposals",
    response_model=ProposalPage,
    summary="Replenishment proposals",
    description="Proposals oldest first, a page at a time, filtered by status, SKU and location "
    "(all optional). A proposal is made when a position's inventory position falls to its "
    "reorder point, and published as skuhub.replenishment-proposed.v1; none is made while the "
    "SKU's lifecycle policy says not to replenish (GET /v1/policies/{sku}/{location} shows "
    "it, with the reason).",
)
async def list_proposals(
    runtime: ReplenishmentRuntime,
    status: Annotated[
        ProposalStatus | None, Query(description="open, accepted or dismissed.")
    ] = None,
    sku: Annotated[Sku | None, Query()] = None,
    location: Annotated[Gln | None, Query(description="GLN of the location.")] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="`next_after` of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Proposals per page.")] = 100,
) -> ProposalPage:
    found = await runtime.read(
        lambda uow: uow.replenishment.list_proposals(
            status=status, sku=sku, location=location, after=after, limit=limit
        )
    )
    views = [ProposalView.of(seq, p) for seq, p in found]
    return ProposalPage(proposals=views, next_after=views[-1].seq if len(views) == limit else None)


_DECISION_ERRORS = error_responses(
    404,
    409,
    e404="No proposal has this id.",
    e409="The proposal is not open: it was accepted or dismissed already.",
)
_DECISION_EXAMPLES: dict[str, Any] = {
    "empty": {"summary": "No details", "value": {}},
    "recorded": {
        "summary": "Who and why",
        "value": {"decided_by": "planner@example.com", "note": "PO 4711 raised"},
    },
}


@router.post(
    "/proposals/{proposal_id}/accept",
    dependencies=[requires(Scope.OPERATE)],
    response_model=DecidedView,
    responses=_DECISION_ERRORS,
    summary="Accept a proposal",
    description="Marks an open proposal accepted (who and why optional). The position gets no "
    "new proposal for its review period: the order shows as `incoming` once the purchase order "
    "reaches the ledger.",
)
async def accept_proposal(
    proposal_id: ProposalId,
    runtime: ReplenishmentRuntime,
    body: Annotated[DecisionRequest | None, Body(openapi_examples=_DECISION_EXAMPLES)] = None,
) -> DecidedView:
    return await _decide(runtime, proposal_id, body, use_cases.accept)


@router.post(
    "/proposals/{proposal_id}/dismiss",
    dependencies=[requires(Scope.OPERATE)],
    response_model=DecidedView,
    responses=_DECISION_ERRORS,
    summary="Dismiss a proposal",
    description="Marks an open proposal dismissed, with an optional note. The position gets no "
    "new proposal for its review period.",
)
async def dismiss_proposal(
    proposal_id: ProposalId,
    runtime: ReplenishmentRuntime,
    body: Annotated[DecisionRequest | None, Body(openapi_examples=_DECISION_EXAMPLES)] = None,
) -> DecidedView:
    return await _decide(runtime, proposal_id, body, use_cases.dismiss)


async def _decide(
    runtime: ReplenishmentRuntime,
    proposal_id: str,
    body: DecisionRequest | None,
    decision_of: Callable[..., Awaitable[Proposal]],
) -> DecidedView:
    """Accept or dismiss a proposal (``decision_of``) in one transaction."""
    decision = body or DecisionRequest()

    async def decide(uow: ReplenishmentUnitOfWork) -> Decision[Proposal]:
        decided = await decision_of(
            uow.replenishment,
            proposal_id,
            datetime.now(UTC),
            by=decision.decided_by,
            note=decision.note,
        )
        return Decision(decided)

    return DecidedView.of(await runtime.execute(decide))


# The SKU may hold a /; the location (a GLN) never does, so it is the last segment.
_NO_SUCH_PATH = error_responses(
    404,
    e404="The path is not a SKU followed by one more segment, the GLN (a SKU with a line "
    "break, say, matches no route).",
)


@router.get(
    "/policies/{sku:path}/{location}",
    response_model=PolicyView,
    responses=_NO_SUCH_PATH,
    summary="Replenishment policy in force for a SKU at a location",
    description="What the next review applies: the policy set for the position, or the "
    "default (`source`: default) until one is set, combined with the SKU's lifecycle policy "
    "(`lifecycle`, from skuhub.inventory-policy-changed.v1). The lifecycle policy's service "
    "level and review period replace the default's (a policy set here keeps its own); its "
    "buffer multiplier scales the safety stock computed from demand (not a min/max policy); "
    "and when it says not to replenish, `replenish` is false, `hold_reason` says why, and no "
    "new proposal is made for the SKU at any location.",
)
async def get_policy(sku: Sku, location: Gln, runtime: ReplenishmentRuntime) -> PolicyView:
    default = replenishment_defaults(runtime.settings).policy
    in_force = await runtime.read(
        lambda uow: use_cases.policy_in_force_of(uow.replenishment, sku, location, default)
    )
    return PolicyView.of(sku, location, in_force)


@router.put(
    "/policies/{sku:path}/{location}",
    dependencies=[requires(Scope.OPERATE)],
    response_model=PolicyView,
    responses=_NO_SUCH_PATH,
    summary="Set the replenishment policy of a SKU at a location",
    description="Replaces the position's policy; the next review uses it, and its service "
    "level and review period win over the SKU's lifecycle policy. The lifecycle policy still "
    "holds replenishment when it says not to replenish, and its buffer multiplier still "
    "scales a safety stock computed from demand (not a min/max policy). The answer is the "
    "policy in force, as GET shows it. 422 names the field that breaks a rule (lead time and "
    "review period 0 to 3650 days, service level 0.5 to 0.999, min_quantity and max_quantity "
    "together with min < max, order multiple above 0).",
)
async def put_policy(
    sku: Sku,
    location: Gln,
    body: Annotated[
        PolicyRequest,
        Body(
            openapi_examples={
                "computed": {
                    "summary": "Reorder point from demand",
                    "value": {"lead_time_days": 5, "review_period_days": 4, "service_level": 0.95},
                },
                "min_max": {
                    "summary": "Min/max in packs of 12",
                    "value": {
                        "lead_time_days": 10,
                        "review_period_days": 7,
                        "service_level": 0.98,
                        "min_quantity": "20",
                        "max_quantity": "120",
                        "order_multiple": "12",
                    },
                },
            }
        ),
    ],
    runtime: ReplenishmentRuntime,
) -> PolicyView:
    policy = body.to_policy()
    default = replenishment_defaults(runtime.settings).policy

    async def decide(uow: ReplenishmentUnitOfWork) -> Decision[PolicyInForce]:
        await use_cases.set_policy(uow.replenishment, sku, location, policy)
        return Decision(
            await use_cases.policy_in_force_of(uow.replenishment, sku, location, default)
        )

    return PolicyView.of(sku, location, await runtime.execute(decide))
