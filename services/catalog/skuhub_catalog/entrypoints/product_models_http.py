"""HTTP entrypoint for product models: what the variants of a product share, and their axes.

A model's own changes publish nothing; a change that alters what a variant inherits
publishes that variant's new product-changed snapshot (in the same transaction). ETag and
If-Match work as for products.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from skuhub_catalog.domain.product import UNSET
from skuhub_catalog.domain.product_model import (
    MAX_AXES,
    NewProductModel,
    ProductModel,
    ProductModelChange,
    ProductModelNotFoundError,
)
from skuhub_catalog.entrypoints import handlers
from skuhub_catalog.entrypoints.http import (
    Attributes,
    CatalogRuntime,
    ChannelsDep,
    GoneError,
    IfMatch,
    conditional,
    etag_header,
    expected_version,
    needs_a_change,
)
from skuhub_contracts.events import AttributeCode, Description, Family, Title
from skuhub_contracts.identifiers import Locale, Sku
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.http import ActorDep, DomainError, OriginDep, error_responses

router = APIRouter(prefix="/v1", tags=["product models"])

ModelCode = Annotated[Sku, Field(description="The model's code (the SKU pattern).")]
_AXES = (
    f"1 to {MAX_AXES} attributes that tell this model's children apart (e.g. colour); each "
    "child sets them, no two alike. Fixed once the model exists."
)
_PARENT = (
    "A root model, making this a sub-model (two levels at most: model → colour → size); it "
    "then sets a value for each of the parent's axes. Fixed once the model exists."
)
_EXAMPLES: list[dict[str, Any]] = [
    {
        "code": "TSHIRT-CREW",
        "axes": ["colour"],
        "family": "apparel",
        "title": {"en_US": "Crew-neck T-shirt"},
        "attributes": {"brand": "Acme", "material": "cotton"},
    },
    {
        "code": "TSHIRT-CREW-RED",
        "parent": "TSHIRT-CREW",
        "axes": ["size"],
        "attributes": {"colour": "red"},
    },
]


def _with_examples(schema: dict[str, Any]) -> None:
    schema["examples"] = copy.deepcopy(_EXAMPLES)


class ProductModelCreate(BaseModel):
    """A new product model. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_with_examples)

    code: ModelCode
    axes: list[AttributeCode] = Field(min_length=1, max_length=MAX_AXES, description=_AXES)
    parent: ModelCode | None = Field(default=None, description=_PARENT)
    family: Family | None = None
    title: dict[Locale, Title] = Field(
        default_factory=dict, description="Inherited per locale by variants without their own."
    )
    description: dict[Locale, Description] = Field(default_factory=dict)
    attributes: Attributes = Field(
        default_factory=dict,
        description="Values every variant below inherits; none may set them again.",
    )

    def to_new(self) -> NewProductModel:
        return NewProductModel(
            code=self.code,
            axes=tuple(self.axes),
            parent=self.parent,
            family=self.family,
            title=self.title,
            description=self.description,
            attributes=self.attributes,
        )


class ProductModelPatch(BaseModel):
    """A partial update, merged key by key (null removes a key); ``family`` null clears it.
    ``axes`` and ``parent`` cannot change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=needs_a_change)

    family: Family | None = None
    title: dict[Locale, Title | None] = Field(default_factory=dict)
    description: dict[Locale, Description | None] = Field(default_factory=dict)
    attributes: Attributes = Field(default_factory=dict)

    def to_change(self) -> ProductModelChange:
        return ProductModelChange(
            family=self.family if "family" in self.model_fields_set else UNSET,
            title=self.title,
            description=self.description,
            attributes=self.attributes,
        )


class ProductModelView(BaseModel):
    code: str
    parent: str | None = Field(description=_PARENT)
    axes: list[str] = Field(description=_AXES)
    family: str | None
    title: dict[str, str]
    description: dict[str, str]
    attributes: dict[str, Any]
    version: int = Field(description="Increases by one with every change; also the ETag.")
    deleted: bool
    updated_at: datetime

    @classmethod
    def of(cls, model: ProductModel) -> ProductModelView:
        return cls(
            code=model.code,
            parent=model.parent,
            axes=list(model.axes),
            family=model.family,
            title=dict(model.title),
            description=dict(model.description),
            attributes=dict(model.attributes),
            version=model.version,
            deleted=model.deleted,
            updated_at=model.updated_at,
        )


class ProductModelPage(BaseModel):
    items: list[ProductModelView]
    next_after: str | None = Field(
        description="Pass as `after` to get the next page; null on the last page."
    )


_ETAG = etag_header("model")
_NOT_FOUND = "No product model has this code."


@router.post(
    "/product-models",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    status_code=201,
    response_model=ProductModelView,
    responses={201: {"headers": _ETAG}, **error_responses(409, e409="The code is taken.")},
    summary="Create a product model",
    description="A model holds what its variants share and names the axes they differ in. "
    "Create it before its variants (products naming it in product_model).",
)
async def post_product_model(
    body: ProductModelCreate, runtime: CatalogRuntime, origin: OriginDep, response: Response
) -> ProductModelView:
    model = await runtime.execute(lambda uow: handlers.create_model(uow, body.to_new(), origin))
    response.headers["Location"] = f"/v1/product-models/{quote(model.code, safe='')}"
    return _view(model, response)


@router.get(
    "/product-models",
    response_model=ProductModelPage,
    summary="List product models",
    description="Models ordered by code, one page at a time (cursor: the last code seen).",
)
async def list_product_models(
    runtime: CatalogRuntime,
    limit: int = Query(default=100, ge=1, le=1000),
    after: ModelCode | None = Query(default=None, description="Return codes after this one."),
    include_deleted: bool = Query(default=False),
) -> ProductModelPage:
    found = await runtime.read(
        lambda uow: uow.models.list_after(after, limit, include_deleted=include_deleted)
    )
    return ProductModelPage(
        items=[ProductModelView.of(m) for m in found],
        next_after=found[-1].code if len(found) == limit else None,
    )


@router.get(
    "/product-models/{code:path}",
    response_model=ProductModelView,
    responses={
        200: {"headers": _ETAG},
        **error_responses(
            404, 410, e404=_NOT_FOUND, e410="The model is deleted; its code stays taken."
        ),
    },
    summary="Read a product model",
)
async def get_product_model(
    code: ModelCode, runtime: CatalogRuntime, response: Response
) -> ProductModelView:
    model = await runtime.read(lambda uow: uow.models.get(code))
    if model is None:
        raise ProductModelNotFoundError(f"no product model {code}")
    if model.deleted:
        raise GoneError(
            f"product model {code} is deleted (version {model.version}); its code stays taken, "
            "and GET /v1/product-models?include_deleted=true lists it"
        )
    return _view(model, response)


_WRITE_ERRORS = error_responses(
    404, 412, e404=_NOT_FOUND, e412="If-Match does not name the model's current version."
)


@router.patch(
    "/product-models/{code:path}",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=ProductModelView,
    responses={
        200: {"headers": _ETAG},
        **_WRITE_ERRORS,
        **error_responses(409, e409="The model is deleted."),
    },
    summary="Change a product model",
    description="Publishes a new snapshot of every variant whose inherited content changed, "
    "and nothing when nothing changed.",
)
async def patch_product_model(
    actor: ActorDep,
    code: ModelCode,
    body: ProductModelPatch,
    runtime: CatalogRuntime,
    origin: OriginDep,
    response: Response,
    channels: ChannelsDep,
    if_match: IfMatch = None,
) -> ProductModelView:
    change = body.to_change()
    if change.is_empty:
        raise DomainError("nothing to change; send family, title, description or attributes")
    expected, via_if_match = expected_version(if_match, None)
    model = await conditional(
        runtime,
        lambda uow: handlers.update_model(
            uow, code, change, origin, expected_version=expected, actor=actor, channels=channels
        ),
        via_if_match=via_if_match,
    )
    return _view(model, response)


@router.delete(
    "/product-models/{code:path}",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=ProductModelView,
    responses={
        200: {"headers": _ETAG},
        **_WRITE_ERRORS,
        **error_responses(409, e409="The model still has sub-models or variants, or is deleted."),
    },
    summary="Delete a product model",
    description="Only a model with no live sub-models or variants; its code stays taken.",
)
async def delete_product_model(
    code: ModelCode,
    runtime: CatalogRuntime,
    origin: OriginDep,
    response: Response,
    if_match: IfMatch = None,
) -> ProductModelView:
    expected, via_if_match = expected_version(if_match, None)
    model = await conditional(
        runtime,
        lambda uow: handlers.delete_model(uow, code, origin, expected_version=expected),
        via_if_match=via_if_match,
    )
    return _view(model, response)


def _view(model: ProductModel, response: Response) -> ProductModelView:
    response.headers["ETag"] = f'"{model.version}"'
    return ProductModelView.of(model)
