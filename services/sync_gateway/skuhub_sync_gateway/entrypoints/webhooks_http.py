"""HTTP entrypoint of webhooks: subscriptions, their delivery log and dead letters
(docs/webhooks.md)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, WithJsonSchema

from skuhub_contracts.identifiers import ChannelCode, Sku
from skuhub_runtime.access_http import PrincipalDep, check_channel, requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.handling import decided
from skuhub_runtime.http import JSON_EXACT_INTEGER_MAX, error_responses, get_runtime
from skuhub_runtime.service import ServiceRuntime
from skuhub_sync_gateway.domain.webhooks import (
    MAX_URL_LENGTH,
    OFFER_CHANGED,
    SECRET_PATTERN,
    URL_PATTERN,
    DeliveryStatus,
    Subscription,
    SubscriptionStatus,
    secret_problem,
    url_problem,
)
from skuhub_sync_gateway.service_layer import webhooks as use_cases
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork

GatewayRuntime = Annotated[ServiceRuntime[GatewayUnitOfWork], Depends(get_runtime)]

ERROR_STATUSES: dict[type[Exception], int] = {
    use_cases.UnknownSubscriptionError: 404,
    use_cases.InvalidSubscriptionError: 422,
}


async def _own_subscription(
    request: Request, principal: PrincipalDep, runtime: GatewayRuntime
) -> None:
    """A channel token reaches only its channels' subscriptions (403 for another's)."""
    raw = request.path_params.get("subscription_id")
    if raw is None or principal.every_channel:
        return
    try:
        key = str(uuid.UUID(raw))
    except ValueError:
        return  # the route's validation answers 422
    found = await runtime.read(lambda uow: uow.webhooks.get(key))
    if found is not None:
        check_channel(request, principal, found.channel)


router = APIRouter(prefix="/v1", tags=["webhooks"], dependencies=[Depends(_own_subscription)])

EXAMPLE_SUBSCRIPTION: dict[str, JsonValue] = {
    "url": "https://shop.example.com/hooks/skuhub",
    "channel": "web",
    "events": [OFFER_CHANGED],
    "only_sellable_changes": False,
    "description": "Web shop stock and content",
}
SUBSCRIPTION_404 = error_responses(404, e404="No subscription of that id.")


def _checked(problem: Any) -> Any:
    def check(value: str) -> str:
        found = problem(value)
        if found:
            raise ValueError(found)
        return value

    return AfterValidator(check)


WebhookUrl = Annotated[
    str,
    _checked(url_problem),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_URL_LENGTH,
            "pattern": URL_PATTERN,
            "description": "Where deliveries are POSTed: http:// or https://, a host, no "
            "credentials, no fragment.",
            "examples": ["https://shop.example.com/hooks/skuhub"],
        }
    ),
]
Secret = Annotated[
    str,
    _checked(secret_problem),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SECRET_PATTERN,
            "description": "A Standard Webhooks secret: whsec_ and 24 to 64 random bytes in "
            "base64.",
            "examples": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        }
    ),
]


class SubscriptionBody(BaseModel):
    """A new subscription."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [EXAMPLE_SUBSCRIPTION]}
    )

    url: WebhookUrl
    channel: ChannelCode = Field(description="The channel whose offers are delivered.")
    events: list[Literal["offer.changed"]] = Field(
        default=["offer.changed"],
        min_length=1,
        max_length=10,
        description="The event types to receive; offer.changed is every new offer version.",
    )
    only_sellable_changes: bool = Field(
        default=False,
        strict=True,  # true or false, not 0 or "yes": the document says boolean
        description="Only the offer versions whose `sellable` differs from the last one "
        "delivered for the SKU (and the first one of each SKU).",
    )
    secret: Secret | None = Field(
        default=None, description="Leave out to have one generated; answered only now."
    )
    description: str = Field(default="", max_length=500, description="For people.")


class Backlog(BaseModel):
    waiting: int = Field(description="Deliveries pending or retrying.")
    dead: int = Field(description="Dead letters (GET .../dead-letters).")


class SubscriptionView(BaseModel):
    """A subscription and its state. The secret is shown only in the answer to its creation."""

    id: uuid.UUID
    url: str
    channel: str
    events: list[str]
    only_sellable_changes: bool
    description: str
    status: SubscriptionStatus = Field(
        description="active: deliveries are sent as due; paused: the endpoint failed "
        "`consecutive_failures` times in a row, one probe is sent every probe interval "
        "until one succeeds (or POST .../resume)."
    )
    paused_reason: str | None = None
    paused_since: datetime | None = None
    next_probe_at: datetime | None = Field(default=None, description="While paused.")
    consecutive_failures: int = Field(description="Failed attempts in a row.")
    last_error: str | None = Field(
        default=None, description="The last failed attempt's error (kept after recovery)."
    )
    last_error_at: datetime | None = None
    created_at: datetime
    backlog: Backlog


class SubscriptionCreated(SubscriptionView):
    secret: str = Field(
        description="Verifies the signatures (Standard Webhooks). Shown only in this answer: "
        "store it now."
    )


class DeliveryView(BaseModel):
    """One delivery: an offer version for one subscription, with its attempts."""

    id: str = Field(description="The webhook-id header: the same on every attempt.")
    sku: str
    offer_version: int
    position: int = Field(description="Its place in the channel's offer change log.")
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = Field(description="The receiver's last HTTP status, if any.")
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="While pending or retrying.")
    delivered_at: datetime | None


class ReplayView(BaseModel):
    replayed: int = Field(description="Dead letters pending again (attempts start over).")
    superseded: int = Field(
        description="Dead letters not sent: a newer version of their SKU was delivered or "
        "is on its way."
    )


def _view(subscription: Subscription, backlog: use_cases.Backlog | None) -> dict[str, Any]:
    health = subscription.health
    return {
        "id": subscription.id,
        "url": subscription.url,
        "channel": subscription.channel,
        "events": list(subscription.events),
        "only_sellable_changes": subscription.only_sellable_changes,
        "description": subscription.description,
        "status": health.status,
        "paused_reason": health.paused_reason,
        "paused_since": health.paused_since,
        "next_probe_at": health.next_probe_at,
        "consecutive_failures": health.consecutive_failures,
        "last_error": health.last_error,
        "last_error_at": health.last_error_at,
        "created_at": subscription.created_at,
        "backlog": Backlog(
            waiting=backlog.waiting if backlog else 0, dead=backlog.dead if backlog else 0
        ),
    }


async def _with_backlog(uow: GatewayUnitOfWork, subscription_id: str) -> SubscriptionView:
    found = await use_cases.subscription(uow, subscription_id)
    backlogs = await uow.webhooks.backlogs([found.id])
    return SubscriptionView(**_view(found, backlogs.get(found.id)))


@router.post(
    "/subscriptions",
    dependencies=[requires(Scope.CHANNEL)],
    response_model=SubscriptionCreated,
    status_code=201,
    summary="Subscribe to a channel's offer changes",
    description="Every offer version of the channel logged from now on is delivered once, "
    "signed (Standard Webhooks), in order per SKU. A 422 names what to fix: the URL, the "
    "secret, the event filter, or an unknown channel.",
)
async def create_subscription(
    body: SubscriptionBody,
    runtime: GatewayRuntime,
    response: Response,
    request: Request,
    principal: PrincipalDep,
) -> SubscriptionCreated:
    check_channel(request, principal, body.channel)
    now = datetime.now(UTC)
    new = use_cases.NewSubscription(
        url=body.url,
        channel=body.channel,
        events=tuple(body.events),
        only_sellable_changes=body.only_sellable_changes,
        secret=body.secret,
        description=body.description,
    )
    subscription_id = str(uuid.uuid4())
    created = await runtime.execute(
        lambda uow: decided(use_cases.create_subscription(uow, new, subscription_id, now))
    )
    response.headers["Location"] = f"/v1/subscriptions/{created.id}"
    return SubscriptionCreated(**_view(created, None), secret=created.secret)


@router.get("/subscriptions", response_model=list[SubscriptionView], summary="Every subscription")
async def list_subscriptions(
    runtime: GatewayRuntime,
    request: Request,
    principal: PrincipalDep,
    channel: Annotated[ChannelCode | None, Query(description="Only this channel's.")] = None,
) -> list[SubscriptionView]:
    if channel is not None:
        check_channel(request, principal, channel)

    async def read(uow: GatewayUnitOfWork) -> list[SubscriptionView]:
        found = [
            s
            for s in await uow.webhooks.subscriptions(channel)
            if principal.refuses_channel(s.channel) is None
        ]
        backlogs = await uow.webhooks.backlogs([s.id for s in found])
        return [SubscriptionView(**_view(s, backlogs.get(s.id))) for s in found]

    return await runtime.read(read)


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionView,
    summary="One subscription and its state",
    responses=SUBSCRIPTION_404,
)
async def get_subscription(subscription_id: uuid.UUID, runtime: GatewayRuntime) -> SubscriptionView:
    return await runtime.read(lambda uow: _with_backlog(uow, str(subscription_id)))


@router.delete(
    "/subscriptions/{subscription_id}",
    dependencies=[requires(Scope.CHANNEL)],
    status_code=204,
    summary="Unsubscribe (its deliveries and dead letters go too)",
    responses=SUBSCRIPTION_404,
)
async def delete_subscription(subscription_id: uuid.UUID, runtime: GatewayRuntime) -> Response:
    await runtime.execute(
        lambda uow: decided(use_cases.remove_subscription(uow, str(subscription_id)))
    )
    return Response(status_code=204)


@router.post(
    "/subscriptions/{subscription_id}/resume",
    dependencies=[requires(Scope.CHANNEL)],
    response_model=SubscriptionView,
    summary="Make a paused subscription active again",
    description="Every waiting delivery is due at once; the failure count starts over. An "
    "active subscription stays as it is.",
    responses=SUBSCRIPTION_404,
)
async def resume_subscription(
    subscription_id: uuid.UUID, runtime: GatewayRuntime
) -> SubscriptionView:
    now = datetime.now(UTC)
    key = str(subscription_id)
    await runtime.execute(lambda uow: decided(use_cases.resume_subscription(uow, key, now)))
    return await runtime.read(lambda uow: _with_backlog(uow, key))


Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")]
Before = Annotated[
    int | None,
    Query(
        ge=1,
        le=JSON_EXACT_INTEGER_MAX,
        description="Only deliveries before this position (the next page).",
    ),
]


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response_model=list[DeliveryView],
    summary="The delivery log",
    description="Newest position first; the `position` of the last entry, as `before`, "
    "gives the next page.",
    responses=SUBSCRIPTION_404,
)
async def list_deliveries(
    subscription_id: uuid.UUID,
    runtime: GatewayRuntime,
    sku: Annotated[Sku | None, Query(description="Only this SKU's.")] = None,
    status: Annotated[DeliveryStatus | None, Query(description="Only in this state.")] = None,
    before: Before = None,
    limit: Limit = 100,
) -> list[DeliveryView]:
    return await _log(runtime, str(subscription_id), sku, status, before, limit)


@router.get(
    "/subscriptions/{subscription_id}/dead-letters",
    response_model=list[DeliveryView],
    summary="Deliveries whose every attempt failed",
    responses=SUBSCRIPTION_404,
)
async def list_dead_letters(
    subscription_id: uuid.UUID,
    runtime: GatewayRuntime,
    before: Before = None,
    limit: Limit = 100,
) -> list[DeliveryView]:
    return await _log(runtime, str(subscription_id), None, DeliveryStatus.DEAD, before, limit)


@router.post(
    "/subscriptions/{subscription_id}/dead-letters/replay",
    dependencies=[requires(Scope.CHANNEL)],
    response_model=ReplayView,
    summary="Send the dead letters again",
    description="Per SKU the newest dead version is sent again (attempts start over) unless "
    "a newer version was delivered or is on its way; every other dead letter is marked "
    "superseded, so the order per SKU holds.",
    responses=SUBSCRIPTION_404,
)
async def replay_dead_letters(subscription_id: uuid.UUID, runtime: GatewayRuntime) -> ReplayView:
    now = datetime.now(UTC)
    key = str(subscription_id)
    result = await runtime.execute(
        lambda uow: decided(use_cases.replay_dead_letters(uow, key, now))
    )
    return ReplayView(replayed=len(result.replayed), superseded=len(result.superseded))


async def _log(
    runtime: ServiceRuntime[GatewayUnitOfWork],
    subscription_id: str,
    sku: str | None,
    status: DeliveryStatus | None,
    before: int | None,
    limit: int,
) -> list[DeliveryView]:
    async def read(uow: GatewayUnitOfWork) -> list[DeliveryView]:
        await use_cases.subscription(uow, subscription_id)
        found = await uow.webhooks.deliveries(
            subscription_id, sku=sku, status=status, before=before, limit=limit
        )
        return [DeliveryView(**dataclasses.asdict(d)) for d in found]

    return await runtime.read(read)
