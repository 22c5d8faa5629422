"""The approval workflow: draft → in review → approved → published, reject back with a comment.

Pure Python. Each step is a new version of the product (so a step is published, recorded
in history and guarded by ``expected_version`` like any change). Approval needs the
product complete for every channel and locale its family requires something for;
publishing marks the version whose content the channels get (``published_version``).
A change of content afterwards sends the product back to draft (``product.next_version``)
while the channels keep the published content until the next publish.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Final

from skuhub_catalog.domain.product import (
    CatalogError,
    Completeness,
    Product,
    ProductDeletedError,
    PublishedContent,
    WorkflowState,
    check_expected_version,
)

MAX_COMMENT: Final = 2_000


class WorkflowAction(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    PUBLISH = "publish"


TRANSITIONS: Final[dict[WorkflowAction, tuple[frozenset[WorkflowState], WorkflowState]]] = {
    WorkflowAction.SUBMIT: (frozenset({WorkflowState.DRAFT}), WorkflowState.IN_REVIEW),
    WorkflowAction.APPROVE: (frozenset({WorkflowState.IN_REVIEW}), WorkflowState.APPROVED),
    WorkflowAction.REJECT: (
        frozenset({WorkflowState.IN_REVIEW, WorkflowState.APPROVED}),
        WorkflowState.DRAFT,
    ),
    WorkflowAction.PUBLISH: (frozenset({WorkflowState.APPROVED}), WorkflowState.PUBLISHED),
}
"""Per action: the states it starts from, and the state it leads to."""

_NEXT_STEP: Final = {
    WorkflowState.DRAFT: "submit it for review",
    WorkflowState.IN_REVIEW: "approve or reject it",
    WorkflowState.APPROVED: "publish or reject it",
    WorkflowState.PUBLISHED: "change it to start a new draft",
}


class WorkflowStepError(CatalogError):
    """The action does not start from the product's workflow state."""


class IncompleteProductError(CatalogError):
    """Approval refused: the product misses required values; ``incomplete`` lists them."""

    def __init__(self, reason: str, incomplete: Sequence[Completeness]) -> None:
        super().__init__(reason, field="workflow")
        self.incomplete = tuple(incomplete)


def take_step(
    product: Product,
    action: WorkflowAction,
    *,
    resolved: Product,
    comment: str | None,
    now: datetime,
    expected_version: int | None = None,
) -> Product:
    """The product's next version after ``action``. ``resolved`` is the product with what it
    inherits from its models (what publishing hands the channels); approval reads the
    product's completeness as measured now.

    Raises:
        VersionConflictError: ``expected_version`` is given and is not the current version.
        ProductDeletedError: the product is deleted.
        WorkflowStepError: the action does not start from the product's state, or a
            rejection has no comment.
        IncompleteProductError: approval of a product that misses required values.
    """
    check_expected_version(f"product {product.sku}", product.version, expected_version)
    if product.deleted:
        raise ProductDeletedError(f"product {product.sku} is deleted and cannot be changed")
    starts, leads_to = TRANSITIONS[action]
    if product.workflow not in starts:
        allowed = " or ".join(sorted(s.value for s in starts))
        raise WorkflowStepError(
            f"product {product.sku} is {product.workflow.value}: {action.value} needs it "
            f"{allowed}; {_NEXT_STEP[product.workflow]}",
            field="action",
        )
    if action is WorkflowAction.REJECT and not (comment or "").strip():
        raise WorkflowStepError(
            "a rejection needs a comment that says what to fix", field="comment"
        )
    if action is WorkflowAction.APPROVE:
        _check_complete(product.sku, product.completeness or ())
    version = product.version + 1
    published = (
        _content(resolved, version) if leads_to is WorkflowState.PUBLISHED else product.published
    )
    return dataclasses.replace(
        product, workflow=leads_to, published=published, version=version, updated_at=now
    )


def _content(resolved: Product, version: int) -> PublishedContent:
    return PublishedContent(
        version=version,
        gtin=resolved.gtin,
        title=dict(resolved.title),
        description=dict(resolved.description),
        attributes=dict(resolved.attributes),
        categories=resolved.categories,
    )


def _check_complete(sku: str, completeness: Sequence[Completeness]) -> None:
    incomplete = [c for c in completeness if not c.complete]
    if incomplete:
        gaps = "; ".join(f"{c.channel}/{c.locale}: {', '.join(c.missing)}" for c in incomplete)
        raise IncompleteProductError(
            f"product {sku} cannot be approved while required values are missing ({gaps}); "
            "set them, then approve",
            incomplete,
        )
