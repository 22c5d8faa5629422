"""HTTP entrypoint of the sync gateway: channels as data, and their stored offers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from pydantic import ConfigDict, Field, JsonValue

from skuhub_contracts.events import ChannelOfferChanged
from skuhub_contracts.identifiers import ChannelCode, Sku
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.handling import decided
from skuhub_runtime.http import error_responses, get_runtime
from skuhub_runtime.service import ServiceRuntime
from skuhub_sync_gateway.service_layer import channels as use_cases
from skuhub_sync_gateway.service_layer.offers import UnknownOfferError, stored_offer
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork
from skuhub_sync_gateway.settings import ChannelConfig

GatewayRuntime = Annotated[ServiceRuntime[GatewayUnitOfWork], Depends(get_runtime)]

ERROR_STATUSES: dict[type[Exception], int] = {
    use_cases.UnknownChannelError: 404,
    use_cases.ChannelExistsError: 409,
    use_cases.ChannelVersionError: 412,
    use_cases.UnsafeChannelsError: 409,
    UnknownOfferError: 404,
}

router = APIRouter(prefix="/v1", tags=["channels"])

EXAMPLE_CHANNEL: dict[str, JsonValue] = {
    "code": "marketplace",
    "name": "Marketplace",
    "locale": "fr_FR",
    "fallback_locales": ["en_GB"],
    "currency": "EUR",
    "locations": ["4012345000009"],
    "allocation": {"rule": "share", "share": "0.3"},
    "safety_buffer": "2",
    "low_stock_threshold": "5",
    "back_orders": False,
}


class ChannelView(ChannelConfig):
    """A channel as stored."""

    version: int = Field(description="Grows by one with every change; also the ETag.")


class ChannelBody(ChannelConfig):
    """A channel to create or replace (the code in the path wins on PUT)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={"examples": [EXAMPLE_CHANNEL]},
    )


class OfferView(ChannelOfferChanged):
    """One channel's current offer of a SKU: the payload of its latest channel-offer-changed."""

    sources: dict[str, Any] = Field(
        description="Which product, stage and position versions (with the movements that "
        "caused them, trace ids and times) this version was built from; "
        "GET .../lineage explains it."
    )


def _view(channel: Any) -> ChannelView:
    return ChannelView(**ChannelConfig.of(channel).model_dump(), version=channel.version)


def _etag(version: int) -> str:
    return f'"{version}"'


def _matches(header: str | None, version: int) -> bool:
    if header is None:
        return False
    return any(tag.strip() in ("*", _etag(version)) for tag in header.split(","))


@router.get("/channels", response_model=list[ChannelView], summary="Every sales channel")
async def list_channels(runtime: GatewayRuntime) -> list[ChannelView]:
    return [_view(c) for c in await runtime.read(lambda uow: uow.channels.all())]


@router.get(
    "/channels/{channel}",
    response_model=ChannelView,
    summary="One channel",
    responses=error_responses(404),
)
async def get_channel(channel: ChannelCode, runtime: GatewayRuntime, response: Response) -> Any:
    found = await runtime.read(lambda uow: use_cases.channel_named(uow, channel))
    response.headers["ETag"] = _etag(found.version)
    return _view(found)


@router.post(
    "/channels",
    dependencies=[requires(Scope.OPERATE)],
    response_model=ChannelView,
    status_code=201,
    summary="Add a channel",
    description="Refused (409) when its allocation and the other channels' could promise one "
    "unit twice: shares above 1 at a location, or an exclusive channel's location sold by "
    "another allocated channel. Its offers are built in the background.",
    responses={
        201: {
            "headers": {
                "Location": {"description": "The channel's URL.", "schema": {"type": "string"}}
            }
        },
        **error_responses(409),
    },
)
async def create_channel(
    body: ChannelBody, runtime: GatewayRuntime, response: Response
) -> ChannelView:
    now = datetime.now(UTC)
    stored = await runtime.execute(
        lambda uow: decided(use_cases.create_channel(uow, body.to_channel(), now))
    )
    response.headers["Location"] = f"/v1/channels/{stored.code}"
    response.headers["ETag"] = _etag(stored.version)
    return _view(stored)


@router.put(
    "/channels/{channel}",
    dependencies=[requires(Scope.OPERATE)],
    response_model=ChannelView,
    summary="Change a channel",
    description="Send the ETag of the version you read as If-Match (412 when it moved on). "
    "Every offer is built again in the background; those that change are published.",
    responses=error_responses(
        404, 409, 412, e412="If-Match does not name the channel's current version (ETag)."
    ),
)
async def replace_channel(
    channel: ChannelCode,
    body: ChannelBody,
    runtime: GatewayRuntime,
    if_match: Annotated[str | None, Header(description='The version read, e.g. "3".')] = None,
) -> ChannelView:
    now = datetime.now(UTC)
    expected = _expected(if_match)
    new = body.model_copy(update={"code": channel}).to_channel()
    stored = await runtime.execute(
        lambda uow: decided(use_cases.replace_channel(uow, new, expected, now))
    )
    return _view(stored)


@router.delete(
    "/channels/{channel}",
    dependencies=[requires(Scope.OPERATE)],
    status_code=204,
    summary="Remove a channel, its offers and its feed",
    responses=error_responses(404),
)
async def delete_channel(channel: ChannelCode, runtime: GatewayRuntime) -> Response:
    now = datetime.now(UTC)
    await runtime.execute(lambda uow: decided(use_cases.delete_channel(uow, channel, now)))
    return Response(status_code=204)


@router.get(
    "/channels/{channel}/offers/{sku:path}",
    response_model=OfferView,
    summary="The current offer of one SKU on one channel",
    description="Answers 304 to If-None-Match with the current ETag (the offer_version).",
    responses={
        304: {"description": "Not modified since the ETag sent."},
        **error_responses(404, e404="Unknown channel, or a SKU the gateway has never heard of."),
    },
)
async def get_offer(
    channel: ChannelCode,
    sku: Sku,
    runtime: GatewayRuntime,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Any:
    offer = await runtime.read(lambda uow: stored_offer(uow, channel, sku))
    etag = _etag(offer.offer_version)
    if _matches(if_none_match, offer.offer_version):
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return OfferView(**offer.offer, sources=offer.lineage)


def _expected(if_match: str | None) -> int | None:
    """The version If-Match names; 0 (no version) when it names none a channel can have,
    so the change is refused with 412 like any other stale ETag."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix('"').removesuffix('"')
    return int(tag) if tag.isdigit() and len(tag) < 19 else 0
