"""HTTP entrypoint of the catalog service: create, read, change and delete products.

Every write changes the products table and records a product-changed snapshot
in the outbox in one transaction (the runtime does both around the handler);
the relay publishes it right after commit. The product's version is its ETag;
send it back as ``If-Match`` (or as ``expected_version`` in a PATCH body) to
refuse a change made meanwhile.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from skuhub_catalog.domain import attributes, category, completeness, imports, workflow
from skuhub_catalog.domain import product as domain
from skuhub_catalog.domain import product_model as models
from skuhub_catalog.domain.availability import Availability, StageFact
from skuhub_catalog.domain.history import HistoryEntry
from skuhub_catalog.domain.product import (
    UNSET,
    Completeness,
    NewProduct,
    Product,
    ProductChange,
    ProductNotFoundError,
    VersionConflictError,
)
from skuhub_catalog.entrypoints import handlers
from skuhub_catalog.service_layer.ports import CatalogUnitOfWork
from skuhub_catalog.service_layer.product_models import lineage_of
from skuhub_catalog.service_layer.products import product_with_gtin
from skuhub_catalog.service_layer.projection import Shown, shown
from skuhub_catalog.service_layer.snapshots import Channels, completeness_of
from skuhub_contracts.events import (
    MAX_KIT_COMPONENTS,
    AttributeCode,
    AttributeValue,
    CategoryCode,
    Description,
    Family,
    KitComponent,
    ProductStatus,
    RelationKind,
    ShelfLifeDays,
    Title,
    WorkflowState,
)
from skuhub_contracts.identifiers import Gtin, Locale, Sku, UnitCode
from skuhub_contracts.values import Flag, PositiveQuantity, Timestamp
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.handling import Decision
from skuhub_runtime.http import (
    ActorDep,
    DomainError,
    ExpectedVersion,
    OriginDep,
    error_responses,
    get_runtime,
)
from skuhub_runtime.service import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["products"])
CatalogRuntime = Annotated[ServiceRuntime[CatalogUnitOfWork], Depends(get_runtime)]


async def catalog_channels(request: Request) -> Channels:
    """The channels completeness is measured for (settings; app.py puts them in state)."""
    channels: Channels = request.app.state.catalog_channels
    return channels


ChannelsDep = Annotated[Channels, Depends(catalog_channels)]

Attributes = dict[AttributeCode, AttributeValue]
IF_MATCH_PATTERN = r'^[ \t]*(\*|(W/)?"?([0-9]+)"?)[ \t]*$'
"""What ``If-Match`` takes: ``*`` or one version, quoted or not (``W/`` never matches)."""
_IF_MATCH = re.compile(IF_MATCH_PATTERN)


class PreconditionFailedError(DomainError):
    """``If-Match`` does not name the product's current version (412)."""


class GoneError(DomainError):
    """The product, model or category is deleted (410); its SKU or code stays taken."""


ERROR_STATUSES: dict[type[Exception], int] = {
    domain.ProductNotFoundError: 404,
    domain.ProductAlreadyExistsError: 409,
    domain.VersionConflictError: 409,
    domain.ProductDeletedError: 409,
    domain.GtinInUseError: 409,
    domain.InvalidProductError: 422,
    attributes.AttributeNotFoundError: 404,
    attributes.AttributeExistsError: 409,
    attributes.InvalidAttributeError: 422,
    completeness.FamilyNotFoundError: 404,
    completeness.FamilyExistsError: 409,
    completeness.InvalidFamilyError: 422,
    category.CategoryNotFoundError: 404,
    category.CategoryExistsError: 409,
    category.CategoryInUseError: 409,
    category.CategoryDeletedError: 409,
    category.InvalidCategoryError: 422,
    imports.InvalidMappingError: 422,
    imports.MappingNotFoundError: 404,
    imports.ImportNotFoundError: 404,
    models.ProductModelNotFoundError: 404,
    models.ProductModelExistsError: 409,
    models.ProductModelInUseError: 409,
    models.ProductModelDeletedError: 409,
    models.InvalidProductModelError: 422,
    models.InvalidVariantError: 422,
    workflow.WorkflowStepError: 409,
    workflow.IncompleteProductError: 422,
    PreconditionFailedError: 412,
    GoneError: 410,
}
"""Each catalog refusal and its HTTP status (the app registers them once)."""


class KitComponentBody(KitComponent):
    """One component of a kit, as a request sends it (unknown fields refused)."""

    model_config = ConfigDict(extra="forbid")


KitComponents = Annotated[list[KitComponentBody], Field(max_length=MAX_KIT_COMPONENTS)]
Categories = Annotated[list[CategoryCode], Field(max_length=domain.MAX_CATEGORIES)]
Related = Annotated[list[Sku], Field(max_length=domain.MAX_RELATED)]
_RELATIONS = (
    "Other products this one points at, per kind (SKUs of products that exist, each once, "
    "never itself): accessory, replacement (its successor: at most one; a chain of "
    "successors never comes back), cross_sell, up_sell."
)
_RELATIONS_EXAMPLE = {"accessory": ["MUG-LID"], "replacement": ["MUG-2"]}
_CATEGORIES = (
    "Codes of the categories the product is in, each once (POST /v1/categories), in any of "
    "the trees; at most 100."
)

_UNIT = (
    "Stock unit: the unit stock positions of this SKU are kept in (UN/ECE Recommendation 20 "
    "code, e.g. EA, KGM, LTR)."
)
_PACKS = (
    "How many stock units one pack holds, per pack unit code (UN/ECE Recommendation 20, e.g. "
    "CS for a case, PF for a pallet). A pack unit must differ from unit."
)
_LOT_TRACKED = "Inbound stock must name a lot."
_SHELF_LIFE = "Days from receipt to expiry (1 to 36500), for lots received without an expiry date."
_KIT = (
    "What one kit (bundle) is made of: each component SKU once, not the kit itself, at most "
    "100; empty when the product is not a kit."
)
_PRODUCT_MODEL = (
    "Code of the product model this product is a variant of (POST /v1/product-models): it "
    "sets a value for each of the model's axes, no two variants alike, and inherits what the "
    "model sets."
)
_PACKS_EXAMPLE = {"CS": "12", "PF": "480"}
_KIT_EXAMPLE = [
    {"sku": "COFFEE-BEANS-500G", "quantity": "2"},
    {"sku": "MUG-WHITE", "quantity": "1"},
]
PRODUCT_EXAMPLES: list[dict[str, Any]] = [
    {
        "sku": "COFFEE-BEANS-500G",
        "title": {"en_US": "Coffee beans 500 g", "de_DE": "Kaffeebohnen 500 g"},
        "status": "enabled",
        "family": "grocery",
        "unit": "EA",
        "packs": _PACKS_EXAMPLE,
        "lot_tracked": True,
        "shelf_life_days": 365,
        "attributes": {"weight_g": 500, "organic": True},
    },
    {
        "sku": "COFFEE-GIFT-SET",
        "title": {"en_US": "Coffee gift set"},
        "family": "bundle",
        "kit_components": _KIT_EXAMPLE,
    },
]
"""What the OpenAPI document shows as request bodies: a packed, lot-tracked food item, a kit."""


def _with_examples(schema: dict[str, Any]) -> None:
    schema["examples"] = copy.deepcopy(PRODUCT_EXAMPLES)


class ProductCreate(BaseModel):
    """A new product. Unknown fields are refused so that typos do not go unnoticed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_with_examples)

    sku: Sku
    title: dict[Locale, Title] = Field(description="Title per locale, e.g. {'en_US': 'T-shirt'}.")
    status: ProductStatus = ProductStatus.DRAFT
    gtin: Gtin | None = None
    family: Family | None = None
    product_model: Sku | None = Field(default=None, description=_PRODUCT_MODEL)
    unit: UnitCode = Field(default="EA", description=_UNIT)
    packs: dict[UnitCode, PositiveQuantity] = Field(
        default_factory=dict, description=_PACKS, examples=[_PACKS_EXAMPLE]
    )
    lot_tracked: Flag = Field(default=False, description=_LOT_TRACKED)
    shelf_life_days: ShelfLifeDays | None = Field(default=None, description=_SHELF_LIFE)
    kit_components: KitComponents = Field(
        default_factory=list, description=_KIT, examples=[_KIT_EXAMPLE]
    )
    categories: Categories = Field(default_factory=list, description=_CATEGORIES)
    relations: dict[RelationKind, Related] = Field(
        default_factory=dict, description=_RELATIONS, examples=[_RELATIONS_EXAMPLE]
    )
    description: dict[Locale, Description] = Field(default_factory=dict)
    attributes: Attributes = Field(default_factory=dict)

    def to_new_product(self) -> NewProduct:
        return NewProduct(
            sku=self.sku,
            title=self.title,
            status=domain.ProductStatus(self.status.value),
            gtin=self.gtin,
            family=self.family,
            product_model=self.product_model,
            unit=self.unit,
            description=self.description,
            attributes=self.attributes,
            packs=self.packs,
            lot_tracked=self.lot_tracked,
            shelf_life_days=self.shelf_life_days,
            kit_components=_components(self.kit_components),
            categories=tuple(self.categories),
            relations={domain.RelationKind(k.value): v for k, v in self.relations.items()},
        )


def _relations(
    relations: Mapping[RelationKind, list[str] | None],
) -> dict[domain.RelationKind, list[str] | None]:
    return {domain.RelationKind(kind.value): skus for kind, skus in relations.items()}


def _components(components: list[KitComponentBody]) -> tuple[domain.KitComponent, ...]:
    return tuple(domain.KitComponent(c.sku, c.quantity) for c in components)


def _unsent(schema: dict[str, Any]) -> None:
    """No ``default: null`` in the schema of a field that takes no null."""
    del schema["default"]


def needs_a_change(schema: dict[str, Any]) -> None:
    """State in the schema what a PATCH refuses as empty: at least one field, and a map with
    at least one key."""
    schema["anyOf"] = [
        {"required": [name]}
        | ({"properties": {name: {"minProperties": 1}}} if field.get("type") == "object" else {})
        for name, field in schema["properties"].items()
        if name != "expected_version"
    ]


class ProductPatch(BaseModel):
    """A partial update: only the fields sent change, and at least one must be sent.

    ``gtin``, ``family``, ``product_model`` and ``shelf_life_days`` are cleared with
    ``null``; ``status``, ``unit``, ``lot_tracked`` and ``kit_components`` cannot
    be. In ``title``, ``description``, ``attributes`` and ``packs`` each key is
    merged: a value sets it, ``null`` removes it, keys not sent stay (JSON merge
    patch). ``kit_components`` replaces the whole list (``[]``: no longer a kit).
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=needs_a_change)

    # None only stands for "not sent": the schema shows no null, _not_null refuses one.
    status: ProductStatus | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_unsent)
    gtin: Gtin | None = None
    family: Family | None = None
    product_model: Sku | None = Field(
        default=None, description=f"{_PRODUCT_MODEL} null detaches it."
    )
    unit: UnitCode | SkipJsonSchema[None] = Field(
        default=None, description=_UNIT, json_schema_extra=_unsent
    )
    packs: dict[UnitCode, PositiveQuantity | None] = Field(
        default_factory=dict,
        description=f"{_PACKS} Merged per pack unit: null removes one.",
        examples=[{"CS": "24"}],
    )
    lot_tracked: Flag | SkipJsonSchema[None] = Field(
        default=None, description=_LOT_TRACKED, json_schema_extra=_unsent
    )
    shelf_life_days: ShelfLifeDays | None = Field(
        default=None, description=f"{_SHELF_LIFE} null clears it."
    )
    kit_components: KitComponents | SkipJsonSchema[None] = Field(
        default=None,
        description=f"{_KIT} Replaces the whole list.",
        examples=[_KIT_EXAMPLE],
        json_schema_extra=_unsent,
    )
    categories: Categories | SkipJsonSchema[None] = Field(
        default=None,
        description=f"{_CATEGORIES} Replaces the whole list ([]: in none).",
        json_schema_extra=_unsent,
    )
    relations: dict[RelationKind, Related | None] = Field(
        default_factory=dict,
        description=f"{_RELATIONS} Merged per kind: a list replaces that kind's, null or [] "
        "removes it.",
        examples=[{"accessory": ["MUG-LID"], "up_sell": None}],
    )
    title: dict[Locale, Title | None] = Field(default_factory=dict)
    description: dict[Locale, Description | None] = Field(default_factory=dict)
    attributes: Attributes = Field(default_factory=dict)
    expected_version: ExpectedVersion | None = Field(
        default=None, description="Refuse (409) unless the product is at this version."
    )

    @field_validator("status", "unit", "lot_tracked", "kit_components", "categories")
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
            product_model=self.product_model if "product_model" in sent else UNSET,
            unit=self.unit if self.unit is not None else UNSET,
            title=self.title,
            description=self.description,
            attributes=self.attributes,
            packs=self.packs,
            lot_tracked=self.lot_tracked if self.lot_tracked is not None else UNSET,
            shelf_life_days=self.shelf_life_days if "shelf_life_days" in sent else UNSET,
            kit_components=(
                _components(self.kit_components) if self.kit_components is not None else UNSET
            ),
            categories=tuple(self.categories) if self.categories is not None else UNSET,
            relations=_relations(self.relations),
        )


class LocationAvailabilityView(BaseModel):
    location: str = Field(description="GLN.")
    on_hand: Decimal
    available_to_promise: Decimal = Field(
        description="The signed sum over the location's lots of on hand - quality hold - "
        "expired - reserved, never below 0 (docs/stock.md)."
    )


class AvailabilityView(BaseModel):
    """The SKU's stock as the stock service last reported it, in the stock unit."""

    unit: str
    on_hand: Decimal
    available_to_promise: Decimal = Field(description="Over the network: the locations' sum.")
    locations: list[LocationAvailabilityView]
    changed_at: datetime = Field(description="The newest position change reported.")

    @classmethod
    def of(cls, figures: Availability | None) -> AvailabilityView | None:
        if figures is None:
            return None
        return cls(
            unit=figures.unit,
            on_hand=figures.on_hand,
            available_to_promise=figures.available_to_promise,
            locations=[LocationAvailabilityView(**asdict(loc)) for loc in figures.locations],
            changed_at=figures.changed_at,
        )


class LifecycleView(BaseModel):
    """The SKU's lifecycle stage as the lifecycle service last reported it."""

    stage: str
    stage_version: int
    changed_at: datetime

    @classmethod
    def of(cls, fact: StageFact | None) -> LifecycleView | None:
        if fact is None:
            return None
        return cls(stage=fact.stage, stage_version=fact.stage_version, changed_at=fact.changed_at)


class CompletenessView(BaseModel):
    channel: str
    locale: str
    ratio: Decimal = Field(description="Share of the family's requirements met, 0 to 1.")
    complete: bool
    missing: list[str] = Field(description="Required and not set: title, brand, …")


class ProductView(BaseModel):
    sku: str
    gtin: str | None
    status: ProductStatus
    family: str | None
    product_model: str | None = Field(description=_PRODUCT_MODEL)
    unit: str = Field(description=_UNIT)
    packs: dict[UnitCode, PositiveQuantity] = Field(description=_PACKS)
    lot_tracked: bool = Field(description=_LOT_TRACKED)
    shelf_life_days: int | None = Field(description=_SHELF_LIFE)
    kit_components: list[KitComponent] = Field(description=_KIT)
    categories: list[str] = Field(description="Codes of the categories it is in, sorted.")
    relations: dict[str, list[str]] = Field(description=_RELATIONS)
    title: dict[str, str]
    description: dict[str, str]
    attributes: dict[str, Any]
    version: int = Field(description="Increases by one with every change; also the ETag.")
    workflow: WorkflowState = Field(
        description="Approval state: draft, in_review, approved or published (POST "
        "/v1/product-workflow/{sku}); a change of content starts a new draft."
    )
    published_version: int | None = Field(
        description="The version whose content the channels have; null if never published."
    )
    deleted: bool
    updated_at: datetime
    availability: AvailabilityView | None = Field(
        default=None,
        description="Stock as last reported by the stock service (stock-level-changed); null "
        "when none is reported yet, and in the answers to writes.",
    )
    lifecycle: LifecycleView | None = Field(
        default=None,
        description="Stage as last reported by the lifecycle service; null when none is "
        "reported yet, and in the answers to writes.",
    )
    completeness: list[CompletenessView] | None = Field(
        default=None,
        description="Per channel and locale its family requires something for (product-"
        "changed carries the same); in GET /v1/products/{sku} only, null elsewhere.",
    )

    @classmethod
    def of(
        cls,
        product: Product,
        shown: Shown | None = None,
        complete: Sequence[Completeness] | None = None,
    ) -> ProductView:
        return cls(
            sku=product.sku,
            gtin=product.gtin,
            status=ProductStatus(product.status.value),
            family=product.family,
            product_model=product.product_model,
            unit=product.unit,
            packs=dict(product.packs),
            lot_tracked=product.lot_tracked,
            shelf_life_days=product.shelf_life_days,
            kit_components=[
                KitComponent(sku=c.sku, quantity=c.quantity) for c in product.kit_components
            ],
            categories=list(product.categories),
            relations={kind.value: list(skus) for kind, skus in product.relations.items()},
            title=dict(product.title),
            description=dict(product.description),
            attributes=dict(product.attributes),
            version=product.version,
            workflow=WorkflowState(product.workflow.value),
            published_version=product.published_version,
            deleted=product.deleted,
            updated_at=product.updated_at,
            availability=AvailabilityView.of(shown.availability) if shown else None,
            lifecycle=LifecycleView.of(shown.stage) if shown else None,
            completeness=None
            if complete is None
            else [
                CompletenessView(
                    channel=c.channel,
                    locale=c.locale,
                    ratio=c.ratio,
                    complete=c.complete,
                    missing=list(c.missing),
                )
                for c in complete
            ],
        )


class ProductPage(BaseModel):
    items: list[ProductView]
    next_after: str | None = Field(
        description="Pass as `after` to get the next page; null on the last page."
    )


def etag_header(thing: str) -> dict[str, Any]:
    """The ETag response header of a versioned resource, for OpenAPI."""
    return {
        "ETag": {
            "description": f'The {thing}\'s version as a strong ETag, e.g. "3"; send it as '
            "If-Match.",
            "required": True,
            "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
        }
    }


PRODUCT_ETAG = etag_header("product")
_LOCATION = {
    "Location": {
        "description": "Path of the new product: /v1/products/ and the SKU as one path "
        "segment (a / in it sent as %2F).",
        "required": True,
        "schema": {"type": "string", "format": "uri-reference", "pattern": "^/v1/products/"},
    }
}

_THE_NEW_PRODUCT = {
    name: {
        "operationRef": f"#/paths/~1v1~1products~1{{sku}}/{method}",
        "parameters": {"sku": "$response.body#/sku"}
        | ({"header.if-match": "$response.header.ETag"} if method != "get" else {}),
    }
    for name, method in (("read", "get"), ("change", "patch"), ("delete", "delete"))
}
"""OpenAPI links from a created product to what a client does next with it."""


@router.post(
    "/products",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    status_code=201,
    response_model=ProductView,
    responses={
        201: {"headers": PRODUCT_ETAG | _LOCATION, "links": _THE_NEW_PRODUCT},
        **error_responses(409, e409="The SKU or the GTIN is taken."),
    },
    summary="Create a product",
    description="Creates the product at version 1 and publishes its product-changed snapshot.",
)
async def post_product(
    actor: ActorDep,
    body: ProductCreate,
    runtime: CatalogRuntime,
    origin: OriginDep,
    response: Response,
    channels: ChannelsDep,
) -> ProductView:
    new = body.to_new_product()
    product = await runtime.execute(
        lambda uow: handlers.create(uow, new, origin, actor=actor, channels=channels)
    )
    # One path segment, as the template /v1/products/{sku} says: a / in the SKU is %2F.
    response.headers["Location"] = f"/v1/products/{quote(product.sku, safe='')}"
    return product_view(product, response)


@router.get(
    "/products",
    response_model=ProductPage,
    summary="List products, or find one by GTIN",
    description="Products ordered by SKU, one page at a time (cursor: the last SKU seen). With "
    "`gtin`, the one product carrying that GTIN in any of its forms, or none.",
)
async def list_products(
    runtime: CatalogRuntime,
    limit: int = Query(default=100, ge=1, le=1000),
    after: Sku | None = Query(default=None, description="Return SKUs after this one."),
    include_deleted: bool = Query(default=False),
    updated_since: Timestamp | None = Query(
        default=None,
        description="Only products changed at or after this instant (RFC 3339 with an "
        "offset): a channel syncing changes passes the time its last sync started.",
        examples=["2026-12-01T00:00:00Z"],
    ),
    gtin: Gtin | None = Query(
        default=None,
        description="Only the product carrying this GTIN, compared as 14 digits: "
        "04006381333931 finds the product sent with 4006381333931. `after`, `limit` and "
        "`updated_since` do not apply.",
        examples=["04006381333931"],
    ),
) -> ProductPage:

    async def page(uow: CatalogUnitOfWork) -> tuple[list[Product], dict[str, Shown]]:
        if gtin is not None:
            carrying = await product_with_gtin(uow.products, gtin)
            found = [carrying] if carrying and (include_deleted or not carrying.deleted) else []
        else:
            found = await uow.products.list_after(
                after, limit, include_deleted=include_deleted, updated_since=updated_since
            )
        return found, await shown(uow.projection, [p.sku for p in found])

    found, beside = await runtime.read(page)
    return ProductPage(
        items=[ProductView.of(p, beside[p.sku]) for p in found],
        next_after=found[-1].sku if gtin is None and len(found) == limit else None,
    )


_NOT_FOUND = "No product has this SKU."


@router.get(
    "/products/{sku:path}",
    response_model=ProductView,
    responses={
        200: {"headers": PRODUCT_ETAG},
        **error_responses(
            404,
            410,
            e404=_NOT_FOUND,
            e410="The product is deleted; its SKU stays taken (listed with include_deleted).",
        ),
    },
    summary="Read a product",
    description="The product's current version.",
)
async def get_product(
    sku: Sku, runtime: CatalogRuntime, channels: ChannelsDep, response: Response
) -> ProductView:
    async def with_what_is_shown(
        uow: CatalogUnitOfWork,
    ) -> tuple[Product | None, Shown, tuple[Completeness, ...]]:
        product = await uow.products.get(sku)
        if product is None or product.deleted:
            return product, Shown(None, None), ()
        complete = product.completeness
        if complete is None:  # saved before products kept it (0014): measure it now
            lineage = (
                await lineage_of(uow.models, product.product_model)
                if product.product_model
                else None
            )
            complete = await completeness_of(uow, product, lineage, channels)
        return product, (await shown(uow.projection, [sku]))[sku], complete

    product, beside, complete = await runtime.read(with_what_is_shown)
    if product is None:
        raise ProductNotFoundError(f"no product with SKU {sku}; create it with POST /v1/products")
    if product.deleted:
        raise GoneError(
            f"product {sku} is deleted (version {product.version}); its SKU stays taken, and "
            "GET /v1/products?include_deleted=true lists it"
        )
    return product_view(product, response, beside, complete)


class FieldChangeView(BaseModel):
    field: str = Field(
        description="The field, or one key of a map field: status, title.de_DE, "
        "attributes.colour, packs.CS, kit_components…"
    )
    old: Any = Field(description="Before the change; null where it was not set.")
    new: Any = Field(description="After the change; null where it is no longer set.")


class HistoryEntryView(BaseModel):
    version: int = Field(description="The product version this change made.")
    actor: str = Field(description="Who made it: the actor of the API token that sent it.")
    via: str | None = Field(
        description="The product model whose change this was; the fields are then what the "
        "product inherits, as channels see it."
    )
    comment: str | None = Field(
        description="What the actor said about it (why a product was rejected, for one)."
    )
    changed_at: datetime
    changes: list[FieldChangeView]


class HistoryPage(BaseModel):
    items: list[HistoryEntryView] = Field(description="Newest first.")
    next_before: int | None = Field(
        description="Pass as `before` to get older entries; null on the last page."
    )


@router.get(
    "/product-history/{sku:path}",
    response_model=HistoryPage,
    responses=error_responses(404, e404=_NOT_FOUND),
    summary="A product's history",
    description="One entry per version since history was kept (migration 0005): who, when, "
    "and each field with its old and new value. A deleted product keeps its history.",
)
async def get_product_history(
    sku: Sku,
    runtime: CatalogRuntime,
    before: int | None = Query(
        default=None, ge=1, description="Only versions below this one (a cursor)."
    ),
    limit: int = Query(default=50, ge=1, le=500),
) -> HistoryPage:
    async def history(uow: CatalogUnitOfWork) -> list[HistoryEntry] | None:
        if await uow.products.get(sku) is None:
            return None
        return await uow.history.of(sku, before=before, limit=limit)

    entries = await runtime.read(history)
    if entries is None:
        raise ProductNotFoundError(f"no product with SKU {sku}; create it with POST /v1/products")
    return HistoryPage(
        items=[
            HistoryEntryView(
                version=e.version,
                actor=e.actor,
                via=e.via,
                comment=e.comment,
                changed_at=e.changed_at,
                changes=[FieldChangeView(field=c.field, old=c.old, new=c.new) for c in e.changes],
            )
            for e in entries
        ],
        next_before=entries[-1].version if len(entries) == limit else None,
    )


IfMatch = Annotated[
    # The pattern on the string itself: on the union, the schema would lose it.
    Annotated[str, StringConstraints(pattern=IF_MATCH_PATTERN)] | SkipJsonSchema[None],
    Header(
        description='The ETag of the version the change is meant for, e.g. "3"; "*" matches '
        "any version."
    ),
]
WRITE_ERRORS = error_responses(
    404,
    412,
    e404=_NOT_FOUND,
    e412="If-Match does not name the product's current version (ETag).",
)


@router.patch(
    "/products/{sku:path}",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=ProductView,
    responses={
        200: {"headers": PRODUCT_ETAG},
        **WRITE_ERRORS,
        **error_responses(
            400,
            409,
            e400="If-Match and expected_version disagree, or the body is not UTF-8 text.",
            e409="The GTIN is taken, expected_version is not current, or the product is deleted.",
        ),
    },
    summary="Change a product",
    description="Applies a partial update. A change that alters nothing keeps the version and "
    "publishes nothing.",
)
async def patch_product(
    actor: ActorDep,
    sku: Sku,
    body: ProductPatch,
    runtime: CatalogRuntime,
    origin: OriginDep,
    response: Response,
    channels: ChannelsDep,
    if_match: IfMatch = None,
) -> ProductView:
    change = body.to_change()
    if change.is_empty:
        raise DomainError("nothing to change; send at least one product field")
    expected, via_if_match = expected_version(if_match, body.expected_version)
    product = await conditional(
        runtime,
        lambda uow: handlers.update(
            uow, sku, change, origin, expected_version=expected, actor=actor, channels=channels
        ),
        via_if_match=via_if_match,
    )
    return product_view(product, response)


@router.delete(
    "/products/{sku:path}",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=ProductView,
    responses={
        200: {"headers": PRODUCT_ETAG},
        **WRITE_ERRORS,
        **error_responses(409, e409="The product is deleted already."),
    },
    summary="Delete a product",
    description="Marks the product deleted (a new version) and publishes that snapshot, so every "
    "channel removes it. The SKU stays taken.",
)
async def delete_product(
    actor: ActorDep,
    sku: Sku,
    runtime: CatalogRuntime,
    origin: OriginDep,
    response: Response,
    channels: ChannelsDep,
    if_match: IfMatch = None,
) -> ProductView:
    expected, via_if_match = expected_version(if_match, None)
    product = await conditional(
        runtime,
        lambda uow: handlers.delete(
            uow, sku, origin, expected_version=expected, actor=actor, channels=channels
        ),
        via_if_match=via_if_match,
    )
    return product_view(product, response)


def product_view(
    product: Product,
    response: Response,
    beside: Shown | None = None,
    complete: Sequence[Completeness] | None = None,
) -> ProductView:
    response.headers["ETag"] = f'"{product.version}"'
    return ProductView.of(product, beside, complete)


Written = TypeVar("Written")


async def conditional(
    runtime: ServiceRuntime[CatalogUnitOfWork],
    decide: Callable[[CatalogUnitOfWork], Awaitable[Decision[Written]]],
    *,
    via_if_match: bool,
) -> Written:
    """Run a conditional write: a version conflict found through If-Match is a failed
    precondition (412), not a conflict (409)."""
    try:
        return await runtime.execute(decide)
    except VersionConflictError as exc:
        if via_if_match:
            raise PreconditionFailedError(exc.reason) from exc
        raise


def expected_version(if_match: str | None, in_body: int | None) -> tuple[int | None, bool]:
    """The version a write is conditional on, and whether it came from ``If-Match``.

    A version number no product reaches does not match either (412), like any other
    version the product is not at.
    """
    matched = _IF_MATCH.match(if_match or "*")
    if matched is None:
        raise ValueError(f"If-Match {if_match!r} escaped FastAPI's check of IF_MATCH_PATTERN")
    _, weak, version = matched.groups()
    if weak:
        # If-Match compares strongly (RFC 9110 13.1.1): a weak ETag never matches.
        raise PreconditionFailedError(
            f'If-Match {if_match!r} is a weak ETag and never matches; send e.g. "3"'
        )
    if version is None:  # no If-Match, or "*": any version
        return in_body, False
    if in_body is not None and int(version) != in_body:
        raise HTTPException(
            400, f"If-Match ({int(version)}) and expected_version ({in_body}) disagree; send one"
        )
    return int(version), True
