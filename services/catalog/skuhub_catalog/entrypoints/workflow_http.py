"""HTTP entrypoint of the approval workflow: submit, approve, reject and publish a product.

Each step is a new product version, published as a product-changed snapshot and recorded
in the product's history with the actor and the comment (docs/catalog.md, "Workflow").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from skuhub_catalog.domain.workflow import MAX_COMMENT, WorkflowAction
from skuhub_catalog.entrypoints import handlers
from skuhub_catalog.entrypoints.http import (
    PRODUCT_ETAG,
    WRITE_ERRORS,
    CatalogRuntime,
    ChannelsDep,
    IfMatch,
    ProductView,
    conditional,
    expected_version,
    product_view,
)
from skuhub_contracts.identifiers import Sku
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.http import ActorDep, OriginDep, error_responses

router = APIRouter(prefix="/v1", tags=["workflow"])

Comment = Annotated[str, StringConstraints(min_length=1, max_length=MAX_COMMENT)]


def _examples(schema: dict[str, Any]) -> None:
    schema["if"] = {"properties": {"action": {"const": "reject"}}}
    schema["then"] = {"required": ["comment"]}
    schema["examples"] = [
        {"action": "submit"},
        {"action": "reject", "comment": "The German title is machine-translated; fix it."},
        {"action": "approve"},
        {"action": "publish"},
    ]


class WorkflowStep(BaseModel):
    """One step of the approval workflow (a rejection says why in ``comment``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_examples)

    action: WorkflowAction = Field(
        description="submit (draft → in_review), approve (in_review → approved, only when "
        "complete), reject (in_review or approved → draft, with a comment), publish "
        "(approved → published: the channels get this content)."
    )
    comment: Comment | None = Field(
        default=None,
        description="Why: kept in the product's history; required to reject.",
    )

    @model_validator(mode="after")
    def _a_rejection_says_why(self) -> WorkflowStep:
        if self.action is WorkflowAction.REJECT and not (self.comment or "").strip():
            raise PydanticCustomError(
                "comment_required", "a rejection needs a comment that says what to fix"
            )
        return self


@router.post(
    "/product-workflow/{sku:path}",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=ProductView,
    responses={
        200: {"headers": PRODUCT_ETAG},
        **WRITE_ERRORS,
        **error_responses(
            409,
            e409="The action does not start from the product's workflow state (the detail "
            "says which step comes next), or the product is deleted.",
        ),
    },
    summary="Move a product along its approval workflow",
    description="draft → in_review → approved → published; reject sends it back to draft. "
    "Each step is a new version, published as product-changed; only a published version's "
    "content reaches the channels. A change of content afterwards starts a new draft. "
    "Approval of a product that misses required values is a 422 listing them per channel "
    "and locale (field `workflow`).",
)
async def post_workflow_step(
    actor: ActorDep,
    sku: Sku,
    body: WorkflowStep,
    runtime: CatalogRuntime,
    origin: OriginDep,
    response: Response,
    channels: ChannelsDep,
    if_match: IfMatch = None,
) -> ProductView:
    expected, via_if_match = expected_version(if_match, None)
    product = await conditional(
        runtime,
        lambda uow: handlers.step(
            uow,
            sku,
            body.action,
            origin,
            comment=body.comment,
            expected_version=expected,
            actor=actor,
            channels=channels,
        ),
        via_if_match=via_if_match,
    )
    return product_view(product, response)
