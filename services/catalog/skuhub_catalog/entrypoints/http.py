"""HTTP entrypoint of the catalog service: create, read, change and delete products.

Every write changes the products table and records a product-changed snapshot
in the outbox in one transaction; the relay publishes it right after commit.
The product's version is its ETag; send it back as ``If-Match`` (or as
``expected_version`` in a PATCH body) to refuse a change made meanwhile.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Header, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_catalog.adapters.product_repository import SqlProductRepository
from skuhub_catalog.domain import product as domain
from skuhub_catalog.domain.product import (
    UNSET,
    CatalogError,
    NewProduct,
    Product,
    ProductChange,
    ProductNotFoundError,
)
from skuhub_catalog.entrypoints.events import to_product_changed
from skuhub_catalog.service_layer.products import (
    Saved,
    create_product,
    delete_product,
    update_product,
)
from skuhub_contracts.events import ProductStatus
from skuhub_contracts.identifiers import Gtin, Locale, Sku, UnitCode
from skuhub_contracts.topics import PRODUCT_CHANGED
from skuhub_runtime.http import RuntimeDep
from skuhub_runtime.origin import Origin, request_origin
from skuhub_runtime.outbox import enqueue_events
from skuhub_runtime.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["products"])

SOURCE = "/skuhub/catalog"
Family = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(max_length=10_000)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No product has this SKU."},
    409: {"description": "SKU or GTIN taken, version conflict, or the product is deleted."},
    412: {"description": "If-Match does not name the product's current version (ETag)."},
    422: {"description": "The request breaks a rule; `detail` says which field and why."},
}
_STATUS_OF_ERROR: dict[type[CatalogError], int] = {
    domain.ProductNotFoundError: 404,
    domain.ProductAlreadyExistsError: 409,
    domain.VersionConflictError: 409,
    domain.ProductDeletedError: 409,
    domain.GtinInUseError: 409,
    domain.InvalidProductError: 422,
}
_IF_MATCH = re.compile(r'^\s*(W/)?"?(\d+)"?\s*$')


class ProductCreate(BaseModel):
    """A new product. Unknown fields are refused so that typos do not go unnoticed."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    title: dict[Locale, Text] = Field(description="Title per locale, e.g. {'en_US': 'T-shirt'}.")
    status: ProductStatus = ProductStatus.DRAFT
    gtin: Gtin | None = None
    family: Family | None = None
    parent_sku: Sku | None = Field(default=None, description="Product model of this variant.")
    unit: UnitCode = "EA"
    description: dict[Locale, Text] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)

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
    title: dict[Locale, Text | None] = Field(default_factory=dict)
    description: dict[Locale, Text | None] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)
    expected_version: int | None = Field(
        default=None, ge=1, description="Refuse (409) unless the product is at this version."
    )

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in ("status", "unit"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep the current value")
        return self

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
    responses={409: _ERRORS[409], 422: _ERRORS[422]},
    summary="Create a product",
    description="Creates the product at version 1 and publishes its product-changed snapshot.",
)
async def post_product(
    body: ProductCreate,
    runtime: RuntimeDep,
    response: Response,
    traceparent: str | None = Header(default=None),
    tracestate: str | None = Header(default=None),
) -> ProductView:
    with request_origin("catalog create product", traceparent, tracestate) as origin:
        try:
            async with runtime.transaction() as conn:
                saved = await create_product(SqlProductRepository(conn), body.to_new_product())
                await _publish(conn, runtime, saved, origin)
        except CatalogError as exc:
            raise _http_error(exc) from exc
        except sa_exc.IntegrityError as exc:
            raise _race(body.sku) from exc
    response.headers["Location"] = f"/v1/products/{saved.product.sku}"
    return _view(saved.product, response)


@router.get(
    "/products",
    response_model=ProductPage,
    summary="List products",
    description="Products ordered by SKU, one page at a time (cursor: the last SKU seen).",
)
async def list_products(
    runtime: RuntimeDep,
    limit: int = Query(default=100, ge=1, le=1000),
    after: str | None = Query(default=None, description="Return SKUs after this one."),
    include_deleted: bool = Query(default=False),
) -> ProductPage:
    async with runtime.engine.connect() as conn:
        found = await SqlProductRepository(conn).list_after(
            after, limit, include_deleted=include_deleted
        )
    return ProductPage(
        items=[ProductView.of(p) for p in found],
        next_after=found[-1].sku if len(found) == limit else None,
    )


@router.get(
    "/products/{sku:path}",
    response_model=ProductView,
    responses={404: _ERRORS[404]},
    summary="Read a product",
    description="The product's current version; a deleted product is returned with deleted=true.",
)
async def get_product(sku: str, runtime: RuntimeDep, response: Response) -> ProductView:
    async with runtime.engine.connect() as conn:
        product = await SqlProductRepository(conn).get(sku)
    if product is None:
        raise _http_error(
            ProductNotFoundError(f"no product with SKU {sku}; create it with POST /v1/products")
        )
    return _view(product, response)


@router.patch(
    "/products/{sku:path}",
    response_model=ProductView,
    responses=_ERRORS,
    summary="Change a product",
    description="Applies a partial update. A change that alters nothing keeps the version and "
    "publishes nothing.",
)
async def patch_product(
    sku: str,
    body: ProductPatch,
    runtime: RuntimeDep,
    response: Response,
    if_match: str | None = Header(default=None),
    traceparent: str | None = Header(default=None),
    tracestate: str | None = Header(default=None),
) -> ProductView:
    change = body.to_change()
    if change.is_empty:
        raise HTTPException(422, "nothing to change; send at least one product field")
    expected, via_if_match = _expected_version(if_match, body.expected_version)
    with request_origin("catalog update product", traceparent, tracestate) as origin:
        try:
            async with runtime.transaction() as conn:
                saved = await update_product(
                    SqlProductRepository(conn), sku, change, expected_version=expected
                )
                await _publish(conn, runtime, saved, origin)
        except CatalogError as exc:
            raise _http_error(exc, via_if_match=via_if_match) from exc
        except sa_exc.IntegrityError as exc:
            raise _race(sku) from exc
    return _view(saved.product, response)


@router.delete(
    "/products/{sku:path}",
    response_model=ProductView,
    responses={404: _ERRORS[404], 409: _ERRORS[409], 412: _ERRORS[412]},
    summary="Delete a product",
    description="Marks the product deleted (a new version) and publishes that snapshot, so every "
    "channel removes it. The SKU stays taken.",
)
async def delete_product_endpoint(
    sku: str,
    runtime: RuntimeDep,
    response: Response,
    if_match: str | None = Header(default=None),
    traceparent: str | None = Header(default=None),
    tracestate: str | None = Header(default=None),
) -> ProductView:
    expected, via_if_match = _expected_version(if_match, None)
    with request_origin("catalog delete product", traceparent, tracestate) as origin:
        try:
            async with runtime.transaction() as conn:
                saved = await delete_product(
                    SqlProductRepository(conn), sku, expected_version=expected
                )
                await _publish(conn, runtime, saved, origin)
        except CatalogError as exc:
            raise _http_error(exc, via_if_match=via_if_match) from exc
    return _view(saved.product, response)


async def _publish(
    conn: AsyncConnection, runtime: ServiceRuntime, saved: Saved, origin: Origin
) -> None:
    """Record the product-changed snapshot in the outbox, in the caller's transaction."""
    if not saved.changed:
        return
    envelope = origin.envelope(
        to_product_changed(saved.product), source=SOURCE, time=saved.product.updated_at
    )
    await enqueue_events(conn, [(runtime.settings.topic(PRODUCT_CHANGED.name), envelope)])


def _view(product: Product, response: Response) -> ProductView:
    response.headers["ETag"] = f'"{product.version}"'
    return ProductView.of(product)


def _expected_version(if_match: str | None, in_body: int | None) -> tuple[int | None, bool]:
    """The version a write is conditional on, and whether it came from ``If-Match``."""
    from_header: int | None = None
    if if_match is not None and if_match.strip() != "*":
        matched = _IF_MATCH.match(if_match)
        if matched is None:
            raise HTTPException(
                400, f'If-Match {if_match!r} is not a product version; send the ETag, e.g. "3"'
            )
        if matched.group(1):
            # If-Match compares strongly (RFC 9110 13.1.1): a weak ETag never matches.
            raise HTTPException(
                412, f'If-Match {if_match!r} is a weak ETag and never matches; send e.g. "3"'
            )
        from_header = int(matched.group(2))
    if from_header is not None and in_body is not None and from_header != in_body:
        raise HTTPException(
            400, f"If-Match ({from_header}) and expected_version ({in_body}) disagree; send one"
        )
    if from_header is not None:
        return from_header, True
    return in_body, False


def _http_error(exc: CatalogError, *, via_if_match: bool = False) -> HTTPException:
    if via_if_match and isinstance(exc, domain.VersionConflictError):
        return HTTPException(412, exc.reason)  # a failed precondition, not a conflict
    return HTTPException(_STATUS_OF_ERROR.get(type(exc), 400), exc.reason)


def _race(sku: str) -> HTTPException:
    return HTTPException(
        409,
        f"another request changed product {sku} or took its SKU or GTIN at the same time; "
        "read the product again and retry",
    )
