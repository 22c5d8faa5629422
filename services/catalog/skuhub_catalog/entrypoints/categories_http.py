"""HTTP entrypoint for categories: trees that classify products.

A category publishes nothing of its own: each product's product-changed carries the codes
of its categories, and channels read the trees here. ETag and If-Match work as for
products.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from skuhub_catalog.domain.category import (
    MAX_DEPTH,
    Category,
    CategoryChange,
    CategoryNotFoundError,
)
from skuhub_catalog.domain.product import UNSET
from skuhub_catalog.entrypoints import handlers
from skuhub_catalog.entrypoints.http import (
    CatalogRuntime,
    GoneError,
    IfMatch,
    conditional,
    etag_header,
    expected_version,
    needs_a_change,
)
from skuhub_catalog.service_layer.categories import path_of
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork
from skuhub_contracts.events import CategoryCode, Title
from skuhub_contracts.identifiers import Locale
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.http import DomainError, error_responses

router = APIRouter(prefix="/v1", tags=["categories"])

Code = Annotated[CategoryCode, Field(description="The category's code.")]
_PARENT = (
    f"The category it sits under; none: the root of a tree. At most {MAX_DEPTH} levels, and "
    "never under itself or one of its own descendants."
)
_ETAG = etag_header("category")
_NOT_FOUND = "No category has this code."


class CategoryCreate(BaseModel):
    """A new category. Unknown fields are refused."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"code": "kitchen", "labels": {"en_US": "Kitchen", "de_DE": "Küche"}},
                {"code": "kitchen-mugs", "parent": "kitchen", "labels": {"en_US": "Mugs"}},
            ]
        },
    )

    code: Code
    parent: CategoryCode | None = Field(default=None, description=_PARENT)
    labels: dict[Locale, Title] = Field(default_factory=dict, description="Label per locale.")


class CategoryPatch(BaseModel):
    """Move (``parent``; null: to a root of its own) or relabel (merged per locale, null
    removes one). Its products and children move with it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=needs_a_change)

    parent: CategoryCode | None = Field(default=None, description=_PARENT)
    labels: dict[Locale, Title | None] = Field(default_factory=dict)

    def to_change(self) -> CategoryChange:
        return CategoryChange(
            parent=self.parent if "parent" in self.model_fields_set else UNSET,
            labels=self.labels,
        )


class CategoryView(BaseModel):
    code: str
    parent: str | None
    path: list[str] | None = Field(
        default=None,
        description="Codes from the root of its tree down to it (in reads; null in the "
        "answers to writes).",
    )
    labels: dict[str, str]
    version: int = Field(description="Increases by one with every change; also the ETag.")
    deleted: bool
    updated_at: datetime

    @classmethod
    def of(cls, category: Category, path: list[str] | None = None) -> CategoryView:
        return cls(
            code=category.code,
            parent=category.parent,
            path=path,
            labels=dict(category.labels),
            version=category.version,
            deleted=category.deleted,
            updated_at=category.updated_at,
        )


class CategoryPage(BaseModel):
    items: list[CategoryView]
    next_after: str | None = Field(
        description="Pass as `after` to get the next page; null on the last page."
    )


@router.post(
    "/categories",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    status_code=201,
    response_model=CategoryView,
    responses={201: {"headers": _ETAG}, **error_responses(409, e409="The code is taken.")},
    summary="Create a category",
    description="A root of a new tree, or a category under a parent.",
)
async def post_category(
    body: CategoryCreate, runtime: CatalogRuntime, response: Response
) -> CategoryView:
    made = await runtime.execute(
        lambda uow: handlers.create_category(uow, body.code, body.parent, body.labels)
    )
    response.headers["Location"] = f"/v1/categories/{made.code}"
    return _view(made, response)


@router.get(
    "/categories",
    response_model=CategoryPage,
    summary="List categories",
    description="Categories ordered by code, one page at a time (cursor: the last code seen); "
    "with `parent`, its children only.",
)
async def list_categories(
    runtime: CatalogRuntime,
    limit: int = Query(default=100, ge=1, le=1000),
    after: CategoryCode | None = Query(default=None, description="Codes after this one."),
    parent: CategoryCode | None = Query(default=None, description="Only its children."),
    include_deleted: bool = Query(default=False),
) -> CategoryPage:
    if parent is not None:
        found = await runtime.read(lambda uow: uow.categories.children(parent))
        found = [c for c in found if after is None or c.code > after][:limit]
    else:
        found = await runtime.read(
            lambda uow: uow.categories.list_after(after, limit, include_deleted=include_deleted)
        )
    return CategoryPage(
        items=[CategoryView.of(c) for c in found],
        next_after=found[-1].code if len(found) == limit else None,
    )


@router.get(
    "/categories/{code}",
    response_model=CategoryView,
    responses={
        200: {"headers": _ETAG},
        **error_responses(
            404, 410, e404=_NOT_FOUND, e410="The category is deleted; its code stays taken."
        ),
    },
    summary="Read a category, with its path",
)
async def get_category(code: Code, runtime: CatalogRuntime, response: Response) -> CategoryView:
    async def with_path(uow: CatalogUnitOfWork) -> tuple[Category | None, list[str] | None]:
        return await uow.categories.get(code), await path_of(uow.categories, code)

    found, path = await runtime.read(with_path)
    if found is None:
        raise CategoryNotFoundError(f"no category {code}")
    if found.deleted:
        raise GoneError(
            f"category {code} is deleted (version {found.version}); its code stays taken"
        )
    return _view(found, response, path)


_WRITE_ERRORS = error_responses(
    404, 412, e404=_NOT_FOUND, e412="If-Match does not name the category's current version."
)


@router.patch(
    "/categories/{code}",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=CategoryView,
    responses={
        200: {"headers": _ETAG},
        **_WRITE_ERRORS,
        **error_responses(409, e409="The category is deleted."),
    },
    summary="Move or relabel a category",
)
async def patch_category(
    code: Code,
    body: CategoryPatch,
    runtime: CatalogRuntime,
    response: Response,
    if_match: IfMatch = None,
) -> CategoryView:
    change = body.to_change()
    if change.is_empty:
        raise DomainError("nothing to change; send parent or labels")
    expected, via_if_match = expected_version(if_match, None)
    changed = await conditional(
        runtime,
        lambda uow: handlers.update_category(uow, code, change, expected_version=expected),
        via_if_match=via_if_match,
    )
    return _view(changed, response)


@router.delete(
    "/categories/{code}",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=CategoryView,
    responses={
        200: {"headers": _ETAG},
        **_WRITE_ERRORS,
        **error_responses(409, e409="Products or categories are still in it, or it is deleted."),
    },
    summary="Delete a category",
    description="Only a category no product and no child category is in; its code stays taken.",
)
async def delete_category(
    code: Code, runtime: CatalogRuntime, response: Response, if_match: IfMatch = None
) -> CategoryView:
    expected, via_if_match = expected_version(if_match, None)
    deleted = await conditional(
        runtime,
        lambda uow: handlers.delete_category(uow, code, expected_version=expected),
        via_if_match=via_if_match,
    )
    return _view(deleted, response)


def _view(category: Category, response: Response, path: list[str] | None = None) -> CategoryView:
    response.headers["ETag"] = f'"{category.version}"'
    return CategoryView.of(category, path)
