"""HTTP entrypoint of the catalog service: create, read, change and delete products.

Every write changes the products table and records a product-changed snapshot
in the outbox in one transaction (the runtime does both around the handler);
the relay publishes it right after commit. The product's version is its ETag;
send it back as ``If-Match`` (or as ``expected_version`` in a PATCH body) to
refuse a change made meanwhile.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from skuhub_catalog.domain import product as domain
from skuhub_catalog.domain.product import (
    UNSET,
    NewProduct,
    Product,
    ProductChange,
    ProductNotFoundError,
    VersionConflictError,
)
from skuhub_catalog.entrypoints import handlers
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork
from skuhub_contracts.events import AttributeCode, AttributeValue, Description, ProductStatus, Title
from skuhub_contracts.identifiers import Gtin, Locale, Sku, UnitCode
from skuhub_contracts.values import Line
from skuhub_runtime.handling import Decision
from skuhub_runtime.http import DomainError, OriginDep, error_responses, get_runtime
from skuhub_runtime.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["products"])
CatalogRuntime = Annotated[ServiceRuntime[CatalogUnitOfWork], Depends(get_runtime)]

Family = Annotated[Line, Field(min_length=1, max_length=64)]
Attributes = dict[AttributeCode, AttributeValue]
_IF_MATCH = re.compile(r'^\s*(W/)?"?(\d+)"?\s*$')


class PreconditionFailedError(Exception):
    """``If-Match`` does not name the product's current version (412)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


ERROR_STATUSES: dict[type[Exception], int] = {
    domain.ProductNotFoundError: 404,
    domain.ProductAlreadyExistsError: 409,
    domain.VersionConflictError: 409,
    domain.ProductDeletedError: 409,
    domain.GtinInUseError: 409,
    domain.InvalidProductError: 422,
    PreconditionFailedError: 412,
}
"""Each catalog refusal and its HTTP status (the app registers them once)."""


class ProductCreate(BaseModel):
    """A new product. Unknown fields are refused so that typos do not go unnoticed."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    title: dict[Locale, Title] = Field(description="Title per locale, e.g. {'en_US': 'T-shirt'}.")
    status: ProductStatus = ProductStatus.DRAFT
    gtin: Gtin | None = None
    family: Family | None = None
    parent_sku: Sku | None = Field(default=None, description="Product model of this variant.")
    unit: UnitCode = "EA"
    description: dict[Locale, Description] = Field(default_factory=dict)
    attributes: Attributes = Field(default_factory=dict)

    def to_new_product(self) -> NewProduct:
        return NewProduct(
            sku=self.sku,
            title=self.title,
            status=domain.ProductStatus(self.status.value),
            gtin=self.gtin,
            family=self.family,
            parent_sku=self.parent_sku,
            unit=self.unit,
            description=self.description,
            attributes=self.attributes,
        )


class ProductPatch(BaseModel):
    """A partial update: only the fields sent change.

    ``gtin``, ``family`` and ``parent_sku`` are cleared with ``null``. In
    ``title``, ``description`` and ``attributes`` each key is merged: a value
    sets it, ``null`` removes it, keys not sent stay (JSON merge patch).
    """

    model_config = ConfigDict(extra="forbid")

    status: ProductStatus | None = None
    gtin: Gtin | None = None
    family: Family | None = None
    parent_sku: Sku | None = None
    unit: UnitCode | None = None
    title: dict[Locale, Title | None] = Field(default_factory=dict)
    description: dict[Locale, Description | None] = Field(default_factory=dict)
    attributes: Attributes = Field(default_factory=dict)
    expected_version: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description="Refuse (409) unless the product is at this version.",
    )

    @field_validator("status", "unit")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            raise PydanticCustomError(
                "null_not_allowed", "cannot be null; leave it out to keep the current value"
            )
        return value

    def to_change(self) -> ProductChange:
        sent = self.model_fields_set
        return ProductChange(
            status=domain.ProductStatus(self.status.value) if self.status is not None else UNSET,
            gtin=self.gtin if "gtin" in sent else UNSET,
            family=self.family if "family" in sent else UNSET,
            parent_sku=self.parent_sku if "parent_sku" in sent else UNSET,
            unit=self.unit if self.unit is not None else UNSET,
            title=self.title,
            description=self.description,
            attributes=self.attributes,
        )


class ProductView(BaseModel):
    sku: str
    gtin: str | None
    status: ProductStatus
    family: str | None
    parent_sku: str | None
    unit: str
    title: dict[str, str]
    description: dict[str, str]
    attributes: dict[str, Any]
    version: int = Field(description="Increases by one with every change; also the ETag.")
    deleted: bool
    updated_at: datetime

    @classmethod
    def of(cls, product: Product) -> ProductView:
        return cls(
            sku=product.sku,
            gtin=product.gtin,
            status=ProductStatus(product.status.value),
            family=product.family,
            parent_sku=product.parent_sku,
            unit=product.unit,
            title=dict(product.title),
            description=dict(product.description),
            attributes=dict(product.attributes),
            version=product.version,
            deleted=product.deleted,
            updated_at=product.updated_at,
        )


class ProductPage(BaseModel):
    items: list[ProductView]
    next_after: str | None = Field(
        description="Pass as `after` to get the next page; null on the last page."
    )


@router.post(
    "/products",
    status_code=201,
    response_model=ProductView,
    responses=error_responses(409, e409="The SKU or the GTIN is taken."),
    summary="Create a product",
    description="Creates the product at version 1 and publishes its product-changed snapshot.",
)
async def post_product(
    body: ProductCreate, runtime: CatalogRuntime, origin: OriginDep, response: Response
) -> ProductView:
    product = await runtime.execute(lambda uow: handlers.create(uow, body.to_new_product(), origin))
    response.headers["Location"] = f"/v1/products/{product.sku}"
    return _view(product, response)


@router.get(
    "/products",
    response_model=ProductPage,
    summary="List products",
    description="Products ordered by SKU, one page at a time (cursor: the last SKU seen).",
)
async def list_products(
    runtime: CatalogRuntime,
    limit: int = Query(default=100, ge=1, le=1000),
    after: Sku | None = Query(default=None, description="Return SKUs after this one."),
    include_deleted: bool = Query(default=False),
) -> ProductPage:
    found = await runtime.read(
        lambda uow: uow.products.list_after(after, limit, include_deleted=include_deleted)
    )
    return ProductPage(
        items=[ProductView.of(p) for p in found],
        next_after=found[-1].sku if len(found) == limit else None,
    )


@router.get(
    "/products/{sku:path}",
    response_model=ProductView,
    responses=error_responses(404, e404="No product has this SKU."),
    summary="Read a product",
    description="The product's current version; a deleted product is returned with deleted=true.",
)
async def get_product(sku: Sku, runtime: CatalogRuntime, response: Response) -> ProductView:
    product = await runtime.read(lambda uow: uow.products.get(sku))
    if product is None:
        raise ProductNotFoundError(f"no product with SKU {sku}; create it with POST /v1/products")
    return _view(product, response)


IfMatch = Annotated[
    str | None,
    Header(
        description='The ETag of the version the change is meant for, e.g. "3"; "*" matches '
        "any version."
    ),
]
_WRITE_ERRORS = error_responses(
    400,
    404,
    409,
    412,
    e400="If-Match is no product version, or disagrees with expected_version.",
    e404="No product has this SKU.",
    e409="The GTIN is taken, expected_version is not current, or the product is deleted.",
    e412="If-Match does not name the product's current version (ETag).",
)


@router.patch(
    "/products/{sku:path}",
    response_model=ProductView,
    responses=_WRITE_ERRORS,
    summary="Change a product",
    description="Applies a partial update. A change that alters nothing keeps the version and "
    "publishes nothing.",
)
async def patch_product(
    sku: Sku,
    body: ProductPatch,
    runtime: CatalogRuntime,
    origin: OriginDep,
    response: Response,
    if_match: IfMatch = None,
) -> ProductView:
    change = body.to_change()
    if change.is_empty:
        raise DomainError("nothing to change; send at least one product field")
    expected, via_if_match = _expected_version(if_match, body.expected_version)
    product = await _conditional(
        runtime,
        lambda uow: handlers.update(uow, sku, change, origin, expected_version=expected),
        via_if_match=via_if_match,
    )
    return _view(product, response)


@router.delete(
    "/products/{sku:path}",
    response_model=ProductView,
    responses=_WRITE_ERRORS,
    summary="Delete a product",
    description="Marks the product deleted (a new version) and publishes that snapshot, so every "
    "channel removes it. The SKU stays taken.",
)
async def delete_product(
    sku: Sku,
    runtime: CatalogRuntime,
    origin: OriginDep,
    response: Response,
    if_match: IfMatch = None,
) -> ProductView:
    expected, via_if_match = _expected_version(if_match, None)
    product = await _conditional(
        runtime,
        lambda uow: handlers.delete(uow, sku, origin, expected_version=expected),
        via_if_match=via_if_match,
    )
    return _view(product, response)


def _view(product: Product, response: Response) -> ProductView:
    response.headers["ETag"] = f'"{product.version}"'
    return ProductView.of(product)


async def _conditional(
    runtime: ServiceRuntime[CatalogUnitOfWork],
    decide: Callable[[CatalogUnitOfWork], Awaitable[Decision[Product]]],
    *,
    via_if_match: bool,
) -> Product:
    """Run a conditional write: a version conflict found through If-Match is a failed
    precondition (412), not a conflict (409)."""
    try:
        return await runtime.execute(decide)
    except VersionConflictError as exc:
        if via_if_match:
            raise PreconditionFailedError(exc.reason) from exc
        raise


def _expected_version(if_match: str | None, in_body: int | None) -> tuple[int | None, bool]:
    """The version a write is conditional on, and whether it came from ``If-Match``."""
    from_header: int | None = None
    if if_match is not None and if_match.strip() != "*":
        matched = _IF_MATCH.match(if_match)
        if matched is None or int(matched.group(2)) > 2**63 - 1:
            raise HTTPException(
                400, f'If-Match {if_match!r} is not a product version; send the ETag, e.g. "3"'
            )
        if matched.group(1):
            # If-Match compares strongly (RFC 9110 13.1.1): a weak ETag never matches.
            raise PreconditionFailedError(
                f'If-Match {if_match!r} is a weak ETag and never matches; send e.g. "3"'
            )
        from_header = int(matched.group(2))
    if from_header is not None and in_body is not None and from_header != in_body:
        raise HTTPException(
            400, f"If-Match ({from_header}) and expected_version ({in_body}) disagree; send one"
        )
    if from_header is not None:
        return from_header, True
    return in_body, False
