"""HTTP entrypoint for attribute definitions: each attribute's type and value rules.

Defining an attribute publishes nothing; it decides which values products and models may
take from then on (values stored before are not re-checked).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from skuhub_catalog.domain.attributes import (
    Attribute,
    AttributeChange,
    AttributeNotFoundError,
    AttributeType,
    Column,
    ColumnType,
    Option,
)
from skuhub_catalog.entrypoints import handlers
from skuhub_catalog.entrypoints.http import (
    CatalogRuntime,
    IfMatch,
    conditional,
    etag_header,
    expected_version,
    needs_a_change,
)
from skuhub_contracts.events import AttributeCode, Title
from skuhub_contracts.identifiers import Locale
from skuhub_contracts.units import DIMENSIONS
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.http import DomainError, error_responses

router = APIRouter(prefix="/v1", tags=["attributes"])

_ETAG = etag_header("attribute")
_EXAMPLES: list[dict[str, Any]] = [
    {"code": "capacity", "type": "measurement", "unit_family": "volume", "minimum": 0},
    {
        "code": "material",
        "type": "simple_select",
        "options": [
            {"code": "stoneware", "labels": {"en_US": "Stoneware", "de_DE": "Steingut"}},
            {"code": "porcelain", "labels": {"en_US": "Porcelain"}},
        ],
    },
    {
        "code": "nutrition",
        "type": "table",
        "columns": [{"code": "nutrient", "type": "text"}, {"code": "per_100g", "type": "number"}],
    },
]


class OptionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: AttributeCode
    labels: dict[Locale, Title] = Field(default_factory=dict)


class ColumnBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: AttributeCode
    type: ColumnType


def _with_examples(schema: dict[str, Any]) -> None:
    schema["examples"] = copy.deepcopy(_EXAMPLES)


class AttributeCreate(BaseModel):
    """A new attribute definition. Unknown fields are refused; ``type`` is fixed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_with_examples)

    code: AttributeCode
    type: AttributeType = Field(
        description="identifier, text, textarea: text; number; measurement: {amount, unit} "
        "in unit_family; boolean; date: YYYY-MM-DD; simple_select: an option code; "
        "multi_select: option codes; price_collection: amount per ISO 4217 currency; asset "
        "and product_reference: a reference; table: rows of columns."
    )
    labels: dict[Locale, Title] = Field(default_factory=dict)
    group: AttributeCode | None = Field(default=None, description="Attribute group, for people.")
    max_length: int | None = Field(default=None, ge=1, le=65_535, description="Text types.")
    pattern: str | None = Field(
        default=None, max_length=500, description="Text types: a regular expression to match."
    )
    minimum: Decimal | None = Field(default=None, description="Numbers and measurements.")
    maximum: Decimal | None = Field(default=None, description="Numbers and measurements.")
    decimals: bool = Field(default=True, description="Numbers: whether decimals are allowed.")
    unit_family: str | None = Field(
        default=None,
        description=f"Measurements: {', '.join(DIMENSIONS)}; units are UN/ECE codes of it.",
    )
    options: list[OptionBody] = Field(default_factory=list, description="Selects.")
    columns: list[ColumnBody] = Field(default_factory=list, description="Tables.")
    localizable: bool = Field(
        default=False,
        description='A value per locale: {"en_US": …, "de_DE": …} (fixed once created).',
    )
    scopable: bool = Field(
        default=False,
        description='A value per channel: {"web": …}; with localizable, {"web": {"en_US": …}} '
        "(fixed once created).",
    )

    def to_attribute(self, now: datetime) -> Attribute:
        return Attribute(
            code=self.code,
            type=self.type,
            version=1,
            updated_at=now,
            labels=self.labels,
            group=self.group,
            max_length=self.max_length,
            pattern=self.pattern,
            minimum=self.minimum,
            maximum=self.maximum,
            decimals=self.decimals,
            unit_family=self.unit_family,
            options=tuple(Option(o.code, o.labels) for o in self.options),
            columns=tuple(Column(c.code, c.type) for c in self.columns),
            localizable=self.localizable,
            scopable=self.scopable,
        )


class AttributePatch(BaseModel):
    """Labels merge per locale (null removes one); ``group`` and ``options`` (whole list),
    when sent, replace. Type and value rules are fixed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=needs_a_change)

    labels: dict[Locale, Title | None] = Field(default_factory=dict)
    group: AttributeCode | None = None
    options: list[OptionBody] | None = None

    def to_change(self) -> AttributeChange:
        return AttributeChange(
            labels=self.labels,
            group=self.group,
            options=None
            if self.options is None
            else tuple(Option(o.code, o.labels) for o in self.options),
        )


class AttributeView(AttributeCreate):
    model_config = ConfigDict(extra="ignore")

    version: int = Field(description="Increases by one with every change; also the ETag.")
    updated_at: datetime

    @classmethod
    def of(cls, a: Attribute) -> AttributeView:
        return cls(
            code=a.code,
            type=a.type,
            labels=dict(a.labels),
            group=a.group,
            max_length=a.max_length,
            pattern=a.pattern,
            minimum=a.minimum,
            maximum=a.maximum,
            decimals=a.decimals,
            unit_family=a.unit_family,
            options=[OptionBody(code=o.code, labels=dict(o.labels)) for o in a.options],
            columns=[ColumnBody(code=c.code, type=c.type) for c in a.columns],
            localizable=a.localizable,
            scopable=a.scopable,
            version=a.version,
            updated_at=a.updated_at,
        )


class AttributePage(BaseModel):
    items: list[AttributeView]
    next_after: str | None = Field(
        description="Pass as `after` to get the next page; null on the last page."
    )


@router.post(
    "/attributes",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    status_code=201,
    response_model=AttributeView,
    responses={201: {"headers": _ETAG}, **error_responses(409, e409="The code is taken.")},
    summary="Define an attribute",
)
async def post_attribute(
    body: AttributeCreate, runtime: CatalogRuntime, response: Response
) -> AttributeView:
    new = body.to_attribute(datetime.now(UTC))
    attribute = await runtime.execute(lambda uow: handlers.create_attribute(uow, new))
    response.headers["Location"] = f"/v1/attributes/{quote(attribute.code, safe='')}"
    return _view(attribute, response)


@router.get("/attributes", response_model=AttributePage, summary="List attribute definitions")
async def list_attributes(
    runtime: CatalogRuntime,
    limit: int = Query(default=100, ge=1, le=1000),
    after: AttributeCode | None = Query(default=None, description="Codes after this one."),
) -> AttributePage:
    found = await runtime.read(lambda uow: uow.attributes.list_after(after, limit))
    return AttributePage(
        items=[AttributeView.of(a) for a in found],
        next_after=found[-1].code if len(found) == limit else None,
    )


@router.get(
    "/attributes/{code:path}",
    response_model=AttributeView,
    responses={200: {"headers": _ETAG}, **error_responses(404, e404="No attribute has this code.")},
    summary="Read an attribute definition",
)
async def get_attribute(
    code: AttributeCode, runtime: CatalogRuntime, response: Response
) -> AttributeView:
    attribute = await runtime.read(lambda uow: uow.attributes.get(code))
    if attribute is None:
        raise AttributeNotFoundError(f"no attribute {code}; define it with POST /v1/attributes")
    return _view(attribute, response)


@router.patch(
    "/attributes/{code:path}",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=AttributeView,
    responses={
        200: {"headers": _ETAG},
        **error_responses(
            404,
            412,
            e404="No attribute has this code.",
            e412="If-Match does not name the attribute's current version.",
        ),
    },
    summary="Relabel an attribute, or change its group or options",
)
async def patch_attribute(
    code: AttributeCode,
    body: AttributePatch,
    runtime: CatalogRuntime,
    response: Response,
    if_match: IfMatch = None,
) -> AttributeView:
    change = body.to_change()
    if change.is_empty:
        raise DomainError("nothing to change; send labels, group or options")
    expected, via_if_match = expected_version(if_match, None)
    attribute = await conditional(
        runtime,
        lambda uow: handlers.update_attribute(uow, code, change, expected_version=expected),
        via_if_match=via_if_match,
    )
    return _view(attribute, response)


def _view(attribute: Attribute, response: Response) -> AttributeView:
    response.headers["ETag"] = f'"{attribute.version}"'
    return AttributeView.of(attribute)
