"""Use cases: create, move, relabel and delete categories; check a product's categories."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from skuhub_catalog.domain.category import (
    MAX_DEPTH,
    Category,
    CategoryChange,
    CategoryExistsError,
    CategoryInUseError,
    CategoryNotFoundError,
    apply_category_change,
    mark_category_deleted,
    new_category,
)
from skuhub_catalog.domain.product import InvalidProductError, Product
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork, CategoryRepository

_LISTED = 5
"""How many blocking products or children a refusal names."""


async def path_of(repo: CategoryRepository, code: str) -> list[str] | None:
    """The codes from the root of the category's tree down to it; None if it is unknown or
    deleted."""
    path: list[str] = []
    current: str | None = code
    while current is not None:
        category = await repo.get(current)
        if category is None or category.deleted:
            return None
        path.append(category.code)
        if len(path) > MAX_DEPTH:  # the domain keeps trees shallower; never loop
            raise RuntimeError(f"category {code} is more than {MAX_DEPTH} levels deep")
        current = category.parent
    return path[::-1]


async def create_category(
    uow: CatalogUnitOfWork,
    code: str,
    parent: str | None,
    labels: dict[str, str],
    *,
    now: datetime | None = None,
) -> Category:
    """Create a category at version 1, a root or under ``parent``.

    Raises:
        CategoryExistsError, InvalidCategoryError.
    """
    parent_path = await path_of(uow.categories, parent) if parent is not None else None
    category = new_category(code, parent, labels, parent_path, now=now or datetime.now(UTC))
    if not await uow.categories.add(category):
        raise CategoryExistsError(
            f"a category with code {code} exists already; change it with PATCH"
        )
    return category


async def update_category(
    uow: CatalogUnitOfWork,
    code: str,
    change: CategoryChange,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Category:
    """Relabel or move a category (its products and children move with it).

    Raises:
        CategoryNotFoundError, VersionConflictError, CategoryDeletedError,
        InvalidCategoryError.
    """
    current = await _get_for_update(uow.categories, code)
    target = change.parent if isinstance(change.parent, str) else None
    parent_path = await path_of(uow.categories, target) if target is not None else None
    category = apply_category_change(
        current,
        change,
        parent_path,
        now=now or datetime.now(UTC),
        expected_version=expected_version,
    )
    if category is not current:
        await uow.categories.update(category)
    return category


async def delete_category(
    uow: CatalogUnitOfWork,
    code: str,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Category:
    """Delete a category no product and no child category is in (its code stays taken).

    Raises:
        CategoryNotFoundError, VersionConflictError, CategoryDeletedError, CategoryInUseError.
    """
    current = await _get_for_update(uow.categories, code)
    inside = [f"category {c.code}" for c in await uow.categories.children(code)]
    inside += [f"product {sku}" for sku in await uow.products.skus_in_category(code, _LISTED + 1)]
    if inside:
        shown = ", ".join(inside[:_LISTED]) + (" and more" if len(inside) > _LISTED else "")
        raise CategoryInUseError(f"category {code} still holds {shown}: move or remove them first")
    deleted = mark_category_deleted(
        current, now=now or datetime.now(UTC), expected_version=expected_version
    )
    await uow.categories.update(deleted)
    return deleted


async def check_product_categories(
    repo: CategoryRepository, product: Product, before: Sequence[str] = ()
) -> None:
    """Every category the product newly names exists and is not deleted.

    Raises:
        InvalidProductError: naming the first category that does not.
    """
    for code in product.categories:
        if code not in before and await path_of(repo, code) is None:
            raise InvalidProductError(
                f"no category {code}; create it with POST /v1/categories first",
                field="categories",
            )


async def _get_for_update(repo: CategoryRepository, code: str) -> Category:
    category = await repo.get(code, for_update=True)
    if category is None:
        raise CategoryNotFoundError(f"no category {code}; create it with POST /v1/categories")
    return category
