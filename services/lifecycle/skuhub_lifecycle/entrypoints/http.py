"""HTTP entrypoint of the lifecycle service: read a SKU's stage, move it as an operator."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from skuhub_contracts.events import LifecycleStage, Reason
from skuhub_contracts.identifiers import Sku
from skuhub_lifecycle.domain import stages as domain
from skuhub_lifecycle.domain.stages import SkuStage, Stage, StageNotFoundError
from skuhub_lifecycle.entrypoints import handlers
from skuhub_lifecycle.service_layer.ports import LifecycleUnitOfWork
from skuhub_runtime.http import ExpectedVersion, OriginDep, error_responses, get_runtime
from skuhub_runtime.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["lifecycle"])
LifecycleRuntime = Annotated[ServiceRuntime[LifecycleUnitOfWork], Depends(get_runtime)]

ERROR_STATUSES: dict[type[Exception], int] = {
    domain.StageNotFoundError: 404,
    domain.ForbiddenTransitionError: 409,
    domain.VersionConflictError: 409,
}
"""Each lifecycle refusal and its HTTP status (the app registers them once)."""
_NOT_SEEN = "The lifecycle has not seen this SKU (the catalog has not published it)."


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: LifecycleStage = Field(description="The stage to move to.")
    reason: Annotated[Reason, Field(min_length=1)] = Field(description="Why, for the audit trail.")
    expected_version: ExpectedVersion | None = Field(
        default=None, description="Refuse (409) unless the stage is at this version."
    )


class StageView(BaseModel):
    sku: str
    stage: LifecycleStage
    version: int = Field(description="Increases by one with every stage change.")
    product_version: int = Field(description="Newest catalog product version applied.")
    reason: str = Field(description="Why the SKU is in this stage.")
    changed_at: datetime = Field(description="When the SKU entered this stage.")
    allowed_next: list[LifecycleStage] = Field(description="Stages it may move to from here.")

    @classmethod
    def of(cls, state: SkuStage) -> StageView:
        return cls(
            sku=state.sku,
            stage=LifecycleStage(state.stage.value),
            version=state.version,
            product_version=state.product_version,
            reason=state.reason,
            changed_at=state.changed_at,
            allowed_next=[
                LifecycleStage(s.value) for s in domain.ORDER if s in domain.ALLOWED[state.stage]
            ],
        )


# Declared before GET /stages/{sku:path}, which matches these paths too (a SKU may hold a /):
# the first route whose path matches is the resource a 405 names in Allow.
@router.post(
    "/stages/{sku:path}/transitions",
    response_model=StageView,
    responses=error_responses(
        404,
        409,
        e404=_NOT_SEEN,
        e409="The transition is not allowed, or the stage changed meanwhile.",
    ),
    summary="Move a SKU to another stage",
    description="An operator-driven move along the transition table (forward, or phase-out back "
    "to active). Publishes lifecycle-stage-changed in the same transaction.",
)
async def post_transition(
    sku: Sku, body: TransitionRequest, runtime: LifecycleRuntime, origin: OriginDep
) -> StageView:
    state = await runtime.execute(
        lambda uow: handlers.transition(
            uow,
            sku,
            Stage(body.stage.value),
            body.reason,
            origin,
            expected_version=body.expected_version,
        )
    )
    return StageView.of(state)


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
