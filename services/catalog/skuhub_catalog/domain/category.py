"""Categories: trees that classify products (a product may sit in many, in several trees).

Pure Python. A category with no parent is the root of a tree. A category may move under
another, but never under itself or one of its own descendants: the trees stay trees. A
category is deleted only when no product and no child category is in it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from skuhub_catalog.domain.product import (
    UNSET,
    CatalogError,
    _Unset,
    check_expected_version,
    merge_patch,
)

MAX_DEPTH: Final = 20


class CategoryNotFoundError(CatalogError):
    """No category has this code."""


class CategoryExistsError(CatalogError):
    """A category with this code exists already."""


class CategoryInUseError(CatalogError):
    """Products or child categories are still in the category."""


class CategoryDeletedError(CatalogError):
    """The category is deleted; it can be read but not changed."""


class InvalidCategoryError(CatalogError):
    """The category would break the tree (a cycle, a missing parent, too deep)."""


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    version: int
    updated_at: datetime
    parent: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class CategoryChange:
    """A partial update: ``parent`` moves the category (None: to a root of its own);
    ``labels`` merge per locale (None removes one)."""

    parent: str | _Unset | None = UNSET
    labels: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return self.parent is UNSET and not self.labels


def new_category(
    code: str,
    parent: str | None,
    labels: Mapping[str, str],
    parent_path: Sequence[str] | None,
    *,
    now: datetime,
) -> Category:
    """A category at version 1 under ``parent`` (``parent_path``: the parent's path from its
    root, None when the parent does not exist).

    Raises:
        InvalidCategoryError: the parent is missing, or the tree would be too deep.
    """
    category = Category(code=code, version=1, updated_at=now, parent=parent, labels=dict(labels))
    _check_parent(category, parent_path)
    return category


def apply_category_change(
    category: Category,
    change: CategoryChange,
    parent_path: Sequence[str] | None,
    *,
    now: datetime,
    expected_version: int | None = None,
) -> Category:
    """The category after ``change`` (``parent_path``: the new parent's path from its root,
    None when it does not exist): the next version, or ``category`` itself if nothing differs.

    Raises:
        VersionConflictError, CategoryDeletedError, InvalidCategoryError (a cycle: the new
        parent is the category or inside it; a missing parent; too deep).
    """
    check_writable(category, expected_version)
    labels = merge_patch(category.labels, change.labels)
    parent = category.parent if isinstance(change.parent, _Unset) else change.parent
    changed = dataclasses.replace(category, parent=parent, labels=labels)
    if changed == category:
        return category
    if parent != category.parent:
        if parent_path is not None and category.code in (*parent_path, parent):
            raise InvalidCategoryError(
                f"moving {category.code} under {parent} would make a cycle: {parent} is "
                f"{'the category itself' if parent == category.code else 'inside it'}",
                field="parent",
            )
        _check_parent(changed, parent_path)
    return dataclasses.replace(changed, version=category.version + 1, updated_at=now)


def mark_category_deleted(
    category: Category, *, now: datetime, expected_version: int | None = None
) -> Category:
    """The deleted category; the caller checks that nothing is in it any more."""
    check_writable(category, expected_version)
    return dataclasses.replace(category, deleted=True, version=category.version + 1, updated_at=now)


def check_writable(category: Category, expected_version: int | None) -> None:
    check_expected_version(f"category {category.code}", category.version, expected_version)
    if category.deleted:
        raise CategoryDeletedError(f"category {category.code} is deleted and cannot be changed")


def _check_parent(category: Category, parent_path: Sequence[str] | None) -> None:
    if category.parent is None:
        return
    if category.parent == category.code:
        raise InvalidCategoryError(
            f"category {category.code} cannot be its own parent", field="parent"
        )
    if parent_path is None:
        raise InvalidCategoryError(
            f"no category {category.parent}: create the parent first", field="parent"
        )
    if len(parent_path) + 1 > MAX_DEPTH:
        raise InvalidCategoryError(
            f"a tree is at most {MAX_DEPTH} levels deep; {category.parent} is at level "
            f"{len(parent_path)}",
            field="parent",
        )
