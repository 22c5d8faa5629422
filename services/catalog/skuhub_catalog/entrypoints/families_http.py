"""HTTP entrypoint for families: a kind of product, its attributes, and per channel the
ones a product needs there (completeness).

A family change that alters a product's completeness publishes that product's new
product-changed snapshot, in the same transaction. ETag and If-Match work as for products.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from skuhub_catalog.domain.completeness import (
    Condition,
    Family,
    FamilyChange,
    FamilyNotFoundError,
    NewFamily,
)
from skuhub_catalog.entrypoints import handlers
from skuhub_catalog.entrypoints.http import (
    CatalogRuntime,
    ChannelsDep,
    IfMatch,
    conditional,
    etag_header,
    expected_version,
    needs_a_change,
)
from skuhub_contracts.events import AttributeCode, AttributeValue, Title
from skuhub_contracts.events import Family as FamilyCode
from skuhub_contracts.identifiers import Locale
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.http import ActorDep, DomainError, OriginDep, error_responses

router = APIRouter(prefix="/v1", tags=["families"])

_ATTRIBUTES = "Codes of the attributes products of the family have."
_REQUIREMENTS = (
    "Per channel code (SKUHUB_CHANNELS), what a product needs before that channel shows it: "
    "title and description per locale of the channel, any attribute of the family once."
)
_ETAG = etag_header("family")
_EXAMPLE: dict[str, Any] = {
    "code": "cleaning",
    "labels": {"en_US": "Cleaning products"},
    "attributes": ["brand", "volume_ml", "hazardous", "un_number", "safety_data_sheet"],
    "requirements": {"web": ["title", "description", "brand", "volume_ml"]},
    "conditions": [
        {"attribute": "hazardous", "equals": True, "require": ["un_number", "safety_data_sheet"]}
    ],
}


def _with_example(schema: dict[str, Any]) -> None:
    schema["examples"] = [copy.deepcopy(_EXAMPLE)]


class ConditionBody(BaseModel):
    """When ``attribute`` equals ``equals``, ``require`` is required too (in every channel the
    family has requirements for)."""

    model_config = ConfigDict(extra="forbid")

    attribute: AttributeCode
    equals: AttributeValue
    require: list[AttributeCode] = Field(min_length=1)

    def to_condition(self) -> Condition:
        return Condition(self.attribute, self.equals, tuple(self.require))

    @classmethod
    def of(cls, condition: Condition) -> ConditionBody:
        return cls(
            attribute=condition.attribute,
            equals=condition.equals,
            require=list(condition.require),
        )


_CONDITIONS = (
    "Values that make more attributes required, e.g. hazardous = true requires un_number "
    "and safety_data_sheet."
)


class FamilyCreate(BaseModel):
    """A new family. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_with_example)

    code: FamilyCode
    labels: dict[Locale, Title] = Field(default_factory=dict)
    attributes: list[AttributeCode] = Field(default_factory=list, description=_ATTRIBUTES)
    requirements: dict[str, list[AttributeCode]] = Field(
        default_factory=dict, description=_REQUIREMENTS
    )
    conditions: list[ConditionBody] = Field(default_factory=list, description=_CONDITIONS)

    def to_new(self) -> NewFamily:
        return NewFamily(
            code=self.code,
            labels=self.labels,
            attributes=tuple(self.attributes),
            requirements=self.requirements,
            conditions=tuple(c.to_condition() for c in self.conditions),
        )


class FamilyPatch(BaseModel):
    """Labels merge per locale (null removes one); ``attributes`` replaces the list;
    ``requirements`` replaces each channel sent (null or []: nothing required there)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=needs_a_change)

    labels: dict[Locale, Title | None] = Field(default_factory=dict)
    attributes: list[AttributeCode] | None = Field(default=None, description=_ATTRIBUTES)
    requirements: dict[str, list[AttributeCode] | None] = Field(
        default_factory=dict, description=_REQUIREMENTS
    )
    conditions: list[ConditionBody] | None = Field(
        default=None, description=f"{_CONDITIONS} Replaces the whole list."
    )

    def to_change(self) -> FamilyChange:
        conditions = self.conditions
        return FamilyChange(
            labels=self.labels,
            attributes=tuple(self.attributes) if self.attributes is not None else None,
            requirements=self.requirements,
            conditions=None if conditions is None else tuple(c.to_condition() for c in conditions),
        )


class FamilyView(BaseModel):
    code: str
    labels: dict[str, str]
    attributes: list[str] = Field(description=_ATTRIBUTES)
    requirements: dict[str, list[str]] = Field(description=_REQUIREMENTS)
    conditions: list[ConditionBody] = Field(description=_CONDITIONS)
    version: int = Field(description="Increases by one with every change; also the ETag.")
    updated_at: datetime

    @classmethod
    def of(cls, family: Family) -> FamilyView:
        return cls(
            code=family.code,
            labels=dict(family.labels),
            attributes=list(family.attributes),
            requirements={ch: list(req) for ch, req in family.requirements.items()},
            conditions=[ConditionBody.of(c) for c in family.conditions],
            version=family.version,
            updated_at=family.updated_at,
        )


class FamilyPage(BaseModel):
    items: list[FamilyView]
    next_after: str | None = Field(
        description="Pass as `after` to get the next page; null on the last page."
    )


@router.post(
    "/families",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    status_code=201,
    response_model=FamilyView,
    responses={201: {"headers": _ETAG}, **error_responses(409, e409="The code is taken.")},
    summary="Create a family",
    description="Products already naming the family get their completeness, published.",
)
async def post_family(
    actor: ActorDep,
    body: FamilyCreate,
    runtime: CatalogRuntime,
    origin: OriginDep,
    channels: ChannelsDep,
    response: Response,
) -> FamilyView:
    family = await runtime.execute(
        lambda uow: handlers.create_family(
            uow, body.to_new(), origin, actor=actor, channels=channels
        )
    )
    response.headers["Location"] = f"/v1/families/{quote(family.code, safe='')}"
    return _view(family, response)


@router.get("/families", response_model=FamilyPage, summary="List families")
async def list_families(
    runtime: CatalogRuntime,
    limit: int = Query(default=100, ge=1, le=1000),
    after: FamilyCode | None = Query(default=None, description="Codes after this one."),
) -> FamilyPage:
    found = await runtime.read(lambda uow: uow.families.list_after(after, limit))
    return FamilyPage(
        items=[FamilyView.of(f) for f in found],
        next_after=found[-1].code if len(found) == limit else None,
    )


@router.get(
    "/families/{code:path}",
    response_model=FamilyView,
    responses={200: {"headers": _ETAG}, **error_responses(404, e404="No family has this code.")},
    summary="Read a family",
)
async def get_family(code: FamilyCode, runtime: CatalogRuntime, response: Response) -> FamilyView:
    family = await runtime.read(lambda uow: uow.families.get(code))
    if family is None:
        raise FamilyNotFoundError(f"no family {code}; create it with POST /v1/families")
    return _view(family, response)


@router.patch(
    "/families/{code:path}",
    dependencies=[requires(Scope.CATALOG_WRITE)],
    response_model=FamilyView,
    responses={
        200: {"headers": _ETAG},
        **error_responses(
            404,
            412,
            e404="No family has this code.",
            e412="If-Match does not name the family's current version.",
        ),
    },
    summary="Change a family",
    description="Publishes a new snapshot of every product whose completeness changed.",
)
async def patch_family(
    actor: ActorDep,
    code: FamilyCode,
    body: FamilyPatch,
    runtime: CatalogRuntime,
    origin: OriginDep,
    channels: ChannelsDep,
    response: Response,
    if_match: IfMatch = None,
) -> FamilyView:
    change = body.to_change()
    if change.is_empty:
        raise DomainError("nothing to change; send labels, attributes or requirements")
    expected, via_if_match = expected_version(if_match, None)
    family = await conditional(
        runtime,
        lambda uow: handlers.update_family(
            uow, code, change, origin, expected_version=expected, actor=actor, channels=channels
        ),
        via_if_match=via_if_match,
    )
    return _view(family, response)


def _view(family: Family, response: Response) -> FamilyView:
    response.headers["ETag"] = f'"{family.version}"'
    return FamilyView.of(family)
