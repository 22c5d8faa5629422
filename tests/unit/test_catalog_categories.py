"""Categories on the fake unit of work (domain/category.py): trees that stay trees, a
product in categories that exist, deletion only of an empty category."""

from __future__ import annotations

import pytest

from skuhub_catalog.domain.category import (
    MAX_DEPTH,
    CategoryChange,
    CategoryExistsError,
    CategoryInUseError,
    InvalidCategoryError,
)
from skuhub_catalog.domain.product import InvalidProductError, NewProduct, ProductChange
from skuhub_catalog.entrypoints.handlers import (
    create,
    create_category,
    delete_category,
    update,
    update_category,
)
from skuhub_catalog.service_layer.categories import path_of
from skuhub_contracts.events import ProductChanged
from skuhub_runtime.origin import Origin
from tests.fakes.catalog import FakeCatalogUnitOfWork


def request() -> Origin:
    return Origin(None, None, source="/skuhub/catalog")


async def kitchen() -> FakeCatalogUnitOfWork:
    """kitchen > mugs > espresso-cups, and a second tree: gifts."""
    uow = FakeCatalogUnitOfWork()
    await create_category(uow, "kitchen", None, {"en_US": "Kitchen"})
    await create_category(uow, "mugs", "kitchen", {"en_US": "Mugs"})
    await create_category(uow, "espresso-cups", "mugs", {})
    await create_category(uow, "gifts", None, {})
    return uow


async def test_a_path_runs_from_the_root_of_the_tree() -> None:
    uow = await kitchen()

    assert await path_of(uow.categories, "espresso-cups") == ["kitchen", "mugs", "espresso-cups"]
    assert await path_of(uow.categories, "gifts") == ["gifts"]
    assert await path_of(uow.categories, "nope") is None


async def test_a_category_never_moves_under_itself_or_its_descendants() -> None:
    uow = await kitchen()

    for target in ("kitchen", "mugs", "espresso-cups"):
        with pytest.raises(InvalidCategoryError, match="cycle") as refused:
            await update_category(
                uow, "kitchen", CategoryChange(parent=target), expected_version=None
            )
        assert refused.value.field == "parent"
    moved = await update_category(
        uow, "mugs", CategoryChange(parent="gifts"), expected_version=None
    )
    assert moved.value.version == 2
    assert await path_of(uow.categories, "espresso-cups") == ["gifts", "mugs", "espresso-cups"]


async def test_a_parent_must_exist_and_a_tree_has_a_depth_limit() -> None:
    uow = await kitchen()

    with pytest.raises(InvalidCategoryError, match="no category nope"):
        await create_category(uow, "x", "nope", {})
    with pytest.raises(CategoryExistsError):
        await create_category(uow, "mugs", None, {})
    parent = "gifts"
    for level in range(2, MAX_DEPTH + 1):
        await create_category(uow, f"level-{level}", parent, {})
        parent = f"level-{level}"
    with pytest.raises(InvalidCategoryError, match=f"at most {MAX_DEPTH} levels"):
        await create_category(uow, "too-deep", parent, {})


async def test_a_product_is_in_categories_that_exist_each_once() -> None:
    uow = await kitchen()
    mug = NewProduct(sku="MUG-1", title={"en_US": "Mug"}, categories=("mugs", "gifts"))

    [envelope] = (await create(uow, mug, request())).emitted
    assert isinstance(envelope.payload, ProductChanged)
    assert envelope.payload.categories == ["gifts", "mugs"]
    with pytest.raises(InvalidProductError, match="no category nope") as refused:
        await update(
            uow, "MUG-1", ProductChange(categories=("nope",)), request(), expected_version=None
        )
    assert refused.value.field == "categories"
    with pytest.raises(InvalidProductError, match="listed twice"):
        await update(
            uow,
            "MUG-1",
            ProductChange(categories=("mugs", "mugs")),
            request(),
            expected_version=None,
        )


async def test_a_category_is_deleted_only_when_empty() -> None:
    uow = await kitchen()
    await create(
        uow, NewProduct(sku="MUG-1", title={"en_US": "Mug"}, categories=("gifts",)), request()
    )

    with pytest.raises(CategoryInUseError, match="category espresso-cups"):
        await delete_category(uow, "mugs", expected_version=None)
    with pytest.raises(CategoryInUseError, match="product MUG-1"):
        await delete_category(uow, "gifts", expected_version=None)
    await delete_category(uow, "espresso-cups", expected_version=None)
    deleted = (await delete_category(uow, "mugs", expected_version=None)).value

    assert deleted.deleted
    with pytest.raises(InvalidProductError, match="no category mugs"):
        await create(
            uow, NewProduct(sku="MUG-2", title={"en_US": "x"}, categories=("mugs",)), request()
        )
