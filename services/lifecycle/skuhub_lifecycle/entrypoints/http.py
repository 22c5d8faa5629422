"""HTTP entrypoint of the lifecycle service: read a SKU's stage, move it as an operator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from skuhub_contracts.events import LifecycleStage
from skuhub_contracts.topics import LIFECYCLE_STAGE_CHANGED
from skuhub_lifecycle.adapters.stage_repository import SqlStageRepository
from skuhub_lifecycle.domain import stages as domain
from skuhub_lifecycle.domain.stages import LifecycleError, SkuStage, Stage, StageNotFoundError
from skuhub_lifecycle.entrypoints.events import to_stage_changed
from skuhub_lifecycle.service_layer.transitions import transition_stage
from skuhub_runtime.http import RuntimeDep
from skuhub_runtime.origin import request_origin
from skuhub_runtime.outbox import enqueue_events

router = APIRouter(prefix="/v1", tags=["lifecycle"])

SOURCE = "/skuhub/lifecycle"
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "The lifecycle has not seen this SKU (the catalog has not published it)."},
    409: {"description": "The transition is not allowed, or the stage changed meanwhile."},
    422: {"description": "The request breaks a rule; `detail` says which field and why."},
}
_STATUS_OF_ERROR: dict[type[LifecycleError], int] = {
    domain.StageNotFoundError: 404,
    domain.ForbiddenTransitionError: 409,
    domain.VersionConflictError: 409,
}


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: LifecycleStage = Field(description="The stage to move to.")
    reason: str = Field(min_length=1, max_length=200, description="Why, for the audit trail.")
    expected_version: int | None = Field(
        default=None, ge=1, description="Refuse (409) unless the stage is at this version."
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


@router.get(
    "/stages/{sku:path}",
    response_model=StageView,
    responses={404: _ERRORS[404]},
    summary="Lifecycle stage of a SKU",
)
async def get_stage(sku: str, runtime: RuntimeDep) -> StageView:
    async with runtime.engine.connect() as conn:
        state = await SqlStageRepository(conn).get(sku)
    if state is None:
        raise _http_error(StageNotFoundError.for_sku(sku))
    return StageView.of(state)


@router.post(
    "/stages/{sku:path}/transitions",
    response_model=StageView,
    responses=_ERRORS,
    summary="Move a SKU to another stage",
    description="An operator-driven move along the transition table (forward, or phase-out back "
    "to active). Publishes lifecycle-stage-changed in the same transaction.",
)
async def post_transition(
    sku: str,
    body: TransitionRequest,
    runtime: RuntimeDep,
    traceparent: str | None = Header(default=None),
    tracestate: str | None = Header(default=None),
) -> StageView:
    topic = runtime.settings.topic(LIFECYCLE_STAGE_CHANGED.name)
    with request_origin("lifecycle transition stage", traceparent, tracestate) as origin:
        try:
            async with runtime.transaction() as conn:
                moved = await transition_stage(
                    SqlStageRepository(conn),
                    sku,
                    Stage(body.stage.value),
                    body.reason,
                    expected_version=body.expected_version,
                )
                envelope = origin.envelope(
                    to_stage_changed(moved.change), source=SOURCE, time=moved.change.changed_at
                )
                await enqueue_events(conn, [(topic, envelope)])
        except LifecycleError as exc:
            raise _http_error(exc) from exc
    return StageView.of(moved.state)


def _http_error(exc: LifecycleError) -> HTTPException:
    return HTTPException(_STATUS_OF_ERROR.get(type(exc), 400), exc.reason)
