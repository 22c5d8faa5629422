"""HTTP entrypoint of a channel's delivery by pull: the change feed (pages, long poll,
Server-Sent Events), the snapshot export, and the Google Merchant Center feed
(docs/change-feed.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from skuhub_contracts.events import ChannelOfferChanged
from skuhub_contracts.identifiers import ChannelCode
from skuhub_runtime.http import error_responses
from skuhub_sync_gateway.domain.feed import Cursor, CursorError, decode_cursor, encode_cursor
from skuhub_sync_gateway.entrypoints.http import GatewayRuntime
from skuhub_sync_gateway.service_layer import feed as use_cases
from skuhub_sync_gateway.service_layer.channels import UnknownChannelError
from skuhub_sync_gateway.service_layer.feed import FeedPage, Start
from skuhub_sync_gateway.settings import SyncGatewaySettings

ERROR_STATUSES: dict[type[Exception], int] = {
    CursorError: 400,
    use_cases.CursorGoneError: 410,
    use_cases.MerchantFeedNotConfiguredError: 409,
}

router = APIRouter(prefix="/v1", tags=["feed"])

CURSOR_HEADER = "Feed-Cursor"
_DEFAULTS = SyncGatewaySettings.model_fields


class FeedPageView(BaseModel):
    """A page of a channel's change feed."""

    changes: list[ChannelOfferChanged] = Field(
        description="Offer versions in the order they were made (the channel-offer-changed "
        "payloads). A SKU may come more than once; keep the highest offer_version."
    )
    next_cursor: str = Field(
        description="Opaque: pass it as cursor to read on. The same cursor when the page is empty."
    )
    has_more: bool = Field(description="More changes follow at once: read on without waiting.")


def _event(name: str, data: str, description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {
            "event": {"const": name},
            "id": {"type": "string"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": f"#/components/schemas/{data}"},
            },
        },
        "required": ["event", "data"],
    }


EVENT_SCHEMA: dict[str, Any] = {
    "oneOf": [
        _event("offer", "ChannelOfferChanged", "An offer version; id: the cursor after it."),
        _event(
            "gone",
            "ErrorMessage",
            "The last event: retention deleted changes not sent yet, or the channel was removed.",
        ),
    ]
}
"""One server-sent event, as its fields (event, id, data) with the data's JSON schema."""

CursorQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="next_cursor of the page read last. None: the oldest change the log "
        "retains (a client starting out reads the snapshot export first); now: after the "
        "newest change.",
    ),
]
_GONE = (
    "The log no longer holds changes after this cursor (retention): read the snapshot "
    "export again and continue from its cursor."
)


@router.get(
    "/channels/{channel}/feed",
    response_model=FeedPageView,
    summary="A page of the channel's change feed (long poll with wait)",
    description="The channel's offer changes after the cursor, in order. With wait, an "
    "empty page is answered once a change arrives or after wait seconds. No offset: a "
    "client pages through any number of changes.",
    responses=error_responses(
        400,
        404,
        410,
        e400="The cursor is malformed, altered, or another channel's.",
        e404="Unknown channel.",
        e410=_GONE,
    ),
)
async def read_feed(
    channel: ChannelCode,
    runtime: GatewayRuntime,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=use_cases.MAX_LIMIT)] = 100,
    wait: Annotated[
        float, Query(ge=0, le=use_cases.MAX_WAIT_S, description="Seconds to wait for a change.")
    ] = 0,
) -> Response:
    page = await use_cases.read_feed(
        runtime.read,
        runtime.commits,
        channel,
        _start(cursor, channel),
        limit,
        wait_s=wait,
        recheck_s=_recheck_s(runtime),
    )
    # The offers as stored, not parsed and validated again: a page of 1,000 in one piece.
    body = (
        '{"changes":['
        + ",".join(change.offer for change in page.changes)
        + f'],"next_cursor":"{encode_cursor(page.next)}","has_more":'
        + ("true" if page.has_more else "false")
        + "}"
    )
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get(
    "/channels/{channel}/feed/stream",
    summary="The channel's change feed as Server-Sent Events",
    description="Each change is an event `offer` whose data is the offer (JSON) and whose id "
    "is the cursor after it; comments keep the connection alive. Reconnecting with "
    "Last-Event-ID (as EventSource does) resumes after the last event received. When "
    "retention deleted changes the client had not read, or the channel is removed, the "
    "stream sends one event `gone` and ends.",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "An endless stream of events until the client disconnects.",
            "content": {"text/event-stream": {"schema": EVENT_SCHEMA}},
        },
        **error_responses(
            400,
            404,
            410,
            e400="The cursor (or Last-Event-ID) is malformed, altered, or another channel's.",
            e404="Unknown channel.",
            e410=_GONE,
        ),
    },
)
async def stream_feed(
    channel: ChannelCode,
    runtime: GatewayRuntime,
    cursor: CursorQuery = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=200,
            description="The id of the last event received; wins over cursor.",
        ),
    ] = None,
) -> EventSourceResponse:
    recheck_s = _recheck_s(runtime)
    # The first page before the response starts: a bad cursor is a 4xx, not a broken stream.
    first = await use_cases.read_feed(
        runtime.read,
        runtime.commits,
        channel,
        _start(last_event_id or cursor, channel),
        use_cases.MAX_LIMIT,
    )

    async def events() -> AsyncIterator[ServerSentEvent]:
        page: FeedPage = first
        while True:
            for change in page.changes:
                after = Cursor(channel, change.seq)
                yield ServerSentEvent(data=change.offer, event="offer", id=encode_cursor(after))
            try:
                page = await use_cases.read_feed(
                    runtime.read,
                    runtime.commits,
                    channel,
                    page.next,
                    use_cases.MAX_LIMIT,
                    wait_s=use_cases.MAX_WAIT_S,
                    recheck_s=recheck_s,
                )
            except (use_cases.CursorGoneError, UnknownChannelError) as gone:
                yield ServerSentEvent(data=json.dumps({"detail": str(gone)}), event="gone")
                return

    ping = _setting(runtime, "feed_stream_ping_s")
    return EventSourceResponse(events(), ping=ping, headers={"Cache-Control": "no-store"})


@router.get(
    "/channels/{channel}/offers",
    summary="Every current offer of the channel (snapshot export, NDJSON)",
    description="One offer (the channel-offer-changed payload) per line, by SKU, streamed. "
    f"The {CURSOR_HEADER} header is the feed cursor to continue from: it was taken before "
    "the first offer was read, so a change made meanwhile comes again in the feed (keep the "
    "highest offer_version).",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The offers, one JSON object per line.",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            "headers": {
                CURSOR_HEADER: {
                    "description": "The change-feed cursor to continue from after the export.",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
        },
        **error_responses(404, e404="Unknown channel."),
    },
)
async def export_offers(channel: ChannelCode, runtime: GatewayRuntime) -> StreamingResponse:
    snapshot = await use_cases.snapshot(runtime.read, channel)
    return StreamingResponse(
        snapshot.lines,
        media_type="application/x-ndjson",
        headers={CURSOR_HEADER: encode_cursor(snapshot.cursor), "Cache-Control": "no-store"},
    )


@router.get(
    "/channels/{channel}/exports/google-merchant.tsv",
    summary="The channel's Google Merchant Center product-data feed (TSV)",
    description="One row per published offer: id, title, description, link, availability, "
    "availability_date, price, gtin, brand, condition (docs/change-feed.md). For channels "
    "with a merchant_feed.",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Tab-separated values with a header row.",
            "content": {"text/tab-separated-values": {"schema": {"type": "string"}}},
        },
        **error_responses(
            404, 409, e404="Unknown channel.", e409="The channel has no merchant_feed."
        ),
    },
)
async def export_merchant_feed(channel: ChannelCode, runtime: GatewayRuntime) -> StreamingResponse:
    lines = await use_cases.merchant_feed(runtime.read, channel)
    return StreamingResponse(
        lines,
        media_type="text/tab-separated-values; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{channel}-google-merchant.tsv"'},
    )


def _start(cursor: str | None, channel: str) -> Cursor | Start:
    if cursor is None or cursor == "":
        return Start.OLDEST
    if cursor == "now":
        return Start.LATEST
    return decode_cursor(cursor, channel)


def _recheck_s(runtime: GatewayRuntime) -> float:
    return _setting(runtime, "feed_recheck_s")


def _setting(runtime: Any, name: str) -> float:
    settings = runtime.settings
    if isinstance(settings, SyncGatewaySettings):
        return float(getattr(settings, name))
    return float(_DEFAULTS[name].default)
