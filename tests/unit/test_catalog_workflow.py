"""The approval workflow (domain/workflow.py, docs/catalog.md "Workflow"): draft → in review
→ approved → published, reject back with a comment; approval only when complete; only a
published version's content is what channels get; a change of content starts a new draft."""

from __future__ import annotations

import pytest

from skuhub_catalog.domain.completeness import NewFamily
from skuhub_catalog.domain.product import (
    NewProduct,
    Product,
    ProductChange,
    ProductStatus,
    VersionConflictError,
    WorkflowState,
)
from skuhub_catalog.domain.product_model import NewProductModel, ProductModelChange
from skuhub_catalog.domain.workflow import (
    IncompleteProductError,
    WorkflowAction,
    WorkflowStepError,
)
from skuhub_catalog.entrypoints.handlers import (
    create,
    create_family,
    create_model,
    step,
    update,
    update_model,
)
from skuhub_contracts.events import ProductChanged
from skuhub_contracts.events import PublishedContent as WirePublishedContent
from skuhub_runtime.handling import Decision
from skuhub_runtime.origin import Origin
from tests.fakes.catalog import FakeCatalogUnitOfWork

SKU = "MUG-1"
CHANNELS = {"web": ("en_US", "de_DE")}
SUBMIT, APPROVE, REJECT, PUBLISH = (
    WorkflowAction.SUBMIT,
    WorkflowAction.APPROVE,
    WorkflowAction.REJECT,
    WorkflowAction.PUBLISH,
)


def request() -> Origin:
    return Origin(None, None, source="/skuhub/catalog")


async def go(
    uow: FakeCatalogUnitOfWork,
    *actions: WorkflowAction,
    comment: str | None = None,
    expected_version: int | None = None,
) -> Decision[Product]:
    """Take each step in turn as ana; the last step's decision."""
    decision: Decision[Product] | None = None
    for action in actions:
        decision = await step(
            uow,
            SKU,
            action,
            request(),
            comment=comment,
            expected_version=expected_version,
            actor="ana",
            channels=CHANNELS,
        )
    assert decision is not None
    return decision


def snapshot(decision: Decision[Product]) -> ProductChanged:
    [envelope] = decision.emitted
    assert isinstance(envelope.payload, ProductChanged)
    return envelope.payload


async def mug(uow: FakeCatalogUnitOfWork, **fields: object) -> None:
    values: dict[str, object] = {"sku": SKU, "title": {"en_US": "Mug", "de_DE": "Becher"}}
    await create(uow, NewProduct(**(values | fields)), request(), channels=CHANNELS)  # type: ignore[arg-type]


async def test_a_new_product_is_a_draft_that_channels_have_no_content_of() -> None:
    uow = FakeCatalogUnitOfWork()
    await mug(uow)

    product = await uow.products.get(SKU)
    assert product is not None
    assert (product.workflow, product.published) == (WorkflowState.DRAFT, None)


async def test_submit_approve_publish_each_make_a_version_and_publish_hands_over_the_content() -> (
    None
):
    uow = FakeCatalogUnitOfWork()
    await mug(uow, attributes={"colour": "red"})

    states = []
    for action in (SUBMIT, APPROVE):
        sent = snapshot(await go(uow, action))
        states.append((sent.product_version, sent.workflow.value, sent.published))
    sent = snapshot(await go(uow, PUBLISH))

    assert states == [(2, "in_review", None), (3, "approved", None)]
    assert (sent.product_version, sent.workflow.value) == (4, "published")
    assert sent.published == WirePublishedContent(
        version=4, title={"en_US": "Mug", "de_DE": "Becher"}, attributes={"colour": "red"}
    )


@pytest.mark.parametrize(
    ("done", "refused"),
    [
        ((), APPROVE),
        ((), PUBLISH),
        ((), REJECT),
        ((SUBMIT,), SUBMIT),
        ((SUBMIT,), PUBLISH),
        ((SUBMIT, APPROVE), APPROVE),
        ((SUBMIT, APPROVE, PUBLISH), PUBLISH),
        ((SUBMIT, APPROVE, PUBLISH), APPROVE),
        ((SUBMIT, APPROVE, PUBLISH), REJECT),
    ],
)
async def test_a_step_out_of_order_is_refused_saying_what_comes_next(
    done: tuple[WorkflowAction, ...], refused: WorkflowAction
) -> None:
    uow = FakeCatalogUnitOfWork()
    await mug(uow)
    for action in done:
        await go(uow, action)
    before = await uow.products.get(SKU)

    with pytest.raises(WorkflowStepError) as refusal:
        await go(uow, refused, comment="no")

    assert f"{refused.value} needs it" in refusal.value.reason
    assert await uow.products.get(SKU) == before


async def test_a_rejection_needs_a_comment_and_keeps_it_in_history() -> None:
    uow = FakeCatalogUnitOfWork()
    await mug(uow)
    await go(uow, SUBMIT)

    with pytest.raises(WorkflowStepError, match="needs a comment"):
        await go(uow, REJECT, comment="  ")
    sent = snapshot(await go(uow, REJECT, comment="German title is machine-translated"))

    assert (sent.product_version, sent.workflow.value) == (3, "draft")
    [entry, *_] = await uow.history.of(SKU, before=None, limit=1)
    assert (entry.version, entry.actor, entry.comment) == (
        3,
        "ana",
        "German title is machine-translated",
    )
    assert [(c.field, c.old, c.new) for c in entry.changes] == [("workflow", "in_review", "draft")]


async def test_approval_is_refused_while_a_required_value_is_missing_naming_it() -> None:
    uow = FakeCatalogUnitOfWork()
    mugs = NewFamily(code="mugs", attributes=("brand",), requirements={"web": ("title", "brand")})
    await create_family(uow, mugs, request(), actor="ana", channels=CHANNELS)
    await mug(uow, family="mugs", title={"en_US": "Mug"})
    await go(uow, SUBMIT)

    with pytest.raises(IncompleteProductError) as refusal:
        await go(uow, APPROVE)

    assert "web/de_DE: title, brand" in refusal.value.reason
    assert "web/en_US: brand" in refusal.value.reason
    assert [(c.channel, c.locale, c.missing) for c in refusal.value.incomplete] == [
        ("web", "en_US", ("brand",)),
        ("web", "de_DE", ("title", "brand")),
    ]
    product = await uow.products.get(SKU)
    assert product is not None
    assert product.workflow is WorkflowState.IN_REVIEW


async def test_a_change_of_content_starts_a_new_draft_and_keeps_the_published_content() -> None:
    uow = FakeCatalogUnitOfWork()
    await mug(uow)
    await go(uow, SUBMIT, APPROVE, PUBLISH)

    decision = await update(
        uow,
        SKU,
        ProductChange(title={"en_US": "Big mug"}),
        request(),
        expected_version=4,
        channels=CHANNELS,
    )

    sent = snapshot(decision)
    assert (sent.product_version, sent.workflow.value, sent.title["en_US"]) == (
        5,
        "draft",
        "Big mug",
    )
    assert sent.published is not None
    assert (sent.published.version, sent.published.title["en_US"]) == (4, "Mug")


async def test_a_change_of_status_alone_keeps_the_product_published() -> None:
    uow = FakeCatalogUnitOfWork()
    await mug(uow)
    await go(uow, SUBMIT, APPROVE, PUBLISH)

    decision = await update(
        uow,
        SKU,
        ProductChange(status=ProductStatus.DISABLED),
        request(),
        expected_version=None,
        channels=CHANNELS,
    )

    sent = snapshot(decision)
    assert (sent.workflow.value, sent.status.value) == ("published", "disabled")


async def test_a_step_meant_for_an_older_version_is_a_conflict() -> None:
    uow = FakeCatalogUnitOfWork()
    await mug(uow)

    with pytest.raises(VersionConflictError):
        await go(uow, SUBMIT, expected_version=2)


async def test_a_variant_publishes_what_it_inherits_and_a_model_change_starts_a_new_draft() -> None:
    uow = FakeCatalogUnitOfWork()
    model = NewProductModel(
        code="MUG", axes=("colour",), title={"en_US": "Mug"}, attributes={"material": "clay"}
    )
    await create_model(uow, model, request())
    await create(
        uow,
        NewProduct(sku=SKU, title={}, product_model="MUG", attributes={"colour": "red"}),
        request(),
        channels=CHANNELS,
    )
    sent = snapshot(await go(uow, SUBMIT, APPROVE, PUBLISH))
    assert sent.published == WirePublishedContent(
        version=4, title={"en_US": "Mug"}, attributes={"colour": "red", "material": "clay"}
    )

    saved = await update_model(
        uow,
        "MUG",
        ProductModelChange(attributes={"material": "porcelain"}),
        request(),
        expected_version=None,
        channels=CHANNELS,
    )

    [envelope] = saved.emitted
    assert isinstance(envelope.payload, ProductChanged)
    assert envelope.payload.workflow.value == "draft"
    assert envelope.payload.attributes["material"] == "porcelain"
    assert envelope.payload.published is not None
    assert envelope.payload.published.attributes["material"] == "clay"
