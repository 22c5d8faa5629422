"""``/v1/dead-letters`` of every service: list, read and replay what its consumers refused.

One router, included by every service's app: any token reads; a replay needs the ``operate``
scope. docs/operations.md ("Dead letters") tells the whole story.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field, JsonValue

from skuhub_contracts.values import Timestamp
from skuhub_runtime import dead_letter_replays, metrics
from skuhub_runtime.access_http import requires
from skuhub_runtime.access_tokens import Scope
from skuhub_runtime.dead_letter_log import DeadLetterLog
from skuhub_runtime.dead_letter_records import (
    ID_PATTERN,
    DeadLetter,
    DeadLetterFilter,
    Place,
    page,
    place_of,
    text_or_none,
)
from skuhub_runtime.dead_letter_replays import Replay
from skuhub_runtime.http import ActorDep, error_responses, get_runtime
from skuhub_runtime.service import ServiceRuntime

Runtime = Annotated[ServiceRuntime[Any], Depends(get_runtime)]

dead_letters_router = APIRouter(prefix="/v1", tags=["dead letters"])

_ID_EXAMPLE = "0-17-mgz3k1q8"


class DeadLetterReplayView(BaseModel):
    """A dead letter re-published to its original topic."""

    dead_letter_id: str = Field(examples=[_ID_EXAMPLE])
    topic: str = Field(description="Where it went: its original topic.")
    replayed_at: datetime
    actor: str = Field(description="Who asked for the replay: the actor of its API token.")

    @classmethod
    def of(cls, replay: Replay) -> DeadLetterReplayView:
        return cls(
            dead_letter_id=replay.dead_letter_id,
            topic=replay.topic,
            replayed_at=replay.at,
            actor=replay.actor,
        )


class DeadLetterSummary(BaseModel):
    """A record the service refused, where it came from and why."""

    id: str = Field(
        description="Stable and opaque: names this dead letter in every request.",
        examples=[_ID_EXAMPLE],
    )
    topic: str = Field(
        description="The topic the record was read from (original topic).",
        examples=["stock.stock-moved.v1"],
    )
    partition: int | None = Field(description="Its partition there.")
    offset: int | None = Field(description="Its offset there.")
    key: str | None = Field(
        description="Its key as text (the SKU); null if none or not UTF-8.",
        examples=["TSHIRT-RED-M"],
    )
    event_type: str | None = Field(description="CloudEvents type, if readable.")
    event_id: str | None = Field(description="CloudEvents id, if readable.")
    reason: str = Field(
        description="Why it was refused: what to fix.",
        examples=[
            "TSHIRT-RED-M at 4012345000009: unit CS cannot be converted to the stock unit EA: "
            "send one of EA"
        ],
    )
    dead_lettered_at: datetime
    replay_of: str | None = Field(
        description="When the record was itself a replay refused again: the earlier dead "
        "letter's id."
    )
    replayed: DeadLetterReplayView | None = Field(description="Its replay, if it was replayed.")

    @classmethod
    def of(cls, letter: DeadLetter, replay: Replay | None) -> DeadLetterSummary:
        event_type, event_id = letter.event
        return cls(
            id=letter.id,
            topic=letter.topic,
            partition=letter.source_partition,
            offset=letter.source_offset,
            key=text_or_none(letter.key),
            event_type=event_type,
            event_id=event_id,
            reason=letter.reason,
            dead_lettered_at=letter.at,
            replay_of=letter.replay_of,
            replayed=DeadLetterReplayView.of(replay) if replay else None,
        )


class DeadLetterHeaderView(BaseModel):
    name: str
    value: str = Field(description="The value: UTF-8 text, or base64 (see encoding).")
    encoding: str = Field(description="utf-8 or base64.", examples=["utf-8"])


class DeadLetterView(DeadLetterSummary):
    """A dead letter whole: every header and the value."""

    headers: list[DeadLetterHeaderView] = Field(
        description="Every header, in order, the dead letter's too."
    )
    value_text: str | None = Field(description="The value as UTF-8 text; null if it is not.")
    value_json: JsonValue = Field(description="The value parsed as JSON; null if it is not.")
    value_base64: str = Field(description="The value, byte for byte, in base64.")

    @classmethod
    def whole(cls, letter: DeadLetter, replay: Replay | None) -> DeadLetterView:
        value = letter.value or b""
        text = text_or_none(value)
        parsed: JsonValue = None
        if text is not None:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        return cls(
            **DeadLetterSummary.of(letter, replay).model_dump(),
            headers=[_header(name, raw) for name, raw in letter.headers],
            value_text=text,
            value_json=parsed,
            value_base64=base64.b64encode(value).decode(),
        )


class DeadLetterPage(BaseModel):
    items: list[DeadLetterSummary] = Field(description="Oldest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last one."
    )


def _header(name: str, raw: bytes) -> DeadLetterHeaderView:
    text = text_or_none(raw)
    if text is None:
        return DeadLetterHeaderView(
            name=name, value=base64.b64encode(raw).decode(), encoding="base64"
        )
    return DeadLetterHeaderView(name=name, value=text, encoding="utf-8")


_ID = Path(description="A dead letter's id, as listed.", examples=[_ID_EXAMPLE])

_TO_THE_FIRST_LISTED = {
    name: {
        "operationRef": f"#/paths/~1v1~1dead-letters~1{{dead_letter_id}}{target}",
        "parameters": {"path.dead_letter_id": "$response.body#/items/0/id"},
    }
    for name, target in (("read", "/get"), ("replay", "~1replays/post"))
}
"""OpenAPI links from a page to what an operator does next with its first dead letter."""


@dead_letters_router.get(
    "/dead-letters",
    response_model=DeadLetterPage,
    responses={200: {"links": _TO_THE_FIRST_LISTED}},
    summary="List this service's dead letters",
    description="The records this service's consumers refused, oldest first, with the reason "
    "and whether each was replayed. Read from the service's dead-letter topic (its newest "
    "SKUHUB_DEAD_LETTER_SCAN_MAX records per partition).",
)
async def list_dead_letters(
    runtime: Runtime,
    reason: Annotated[
        str | None,
        Query(
            max_length=500,
            description="Only reasons containing this, in any case.",
            examples=["cannot be converted"],
        ),
    ] = None,
    since: Annotated[
        Timestamp | None,
        Query(
            description="Only dead-lettered at or after this instant.",
            examples=["2026-12-01T00:00:00Z"],
        ),
    ] = None,
    until: Annotated[
        Timestamp | None,
        Query(description="Only dead-lettered before this instant."),
    ] = None,
    topic: Annotated[
        str | None,
        Query(
            max_length=300,
            description="Only records read from this topic (with or without the deployment "
            "prefix).",
            examples=["stock.stock-moved.v1"],
        ),
    ] = None,
    replayed: Annotated[
        bool | None, Query(description="Only replayed ones (true), or only the others (false).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
    cursor: Annotated[
        str | None,
        Query(
            pattern=ID_PATTERN,
            max_length=60,
            description="next_cursor of the previous page.",
            examples=[_ID_EXAMPLE],
        ),
    ] = None,
) -> DeadLetterPage:
    wanted = DeadLetterFilter(reason=reason, since=since, until=until, topic=topic)
    prefix = runtime.settings.topic_prefix
    letters = [
        letter
        for letter in await DeadLetterLog(runtime.settings).all()
        if wanted.matches(letter, prefix)
    ]
    async with runtime.engine.connect() as conn:
        if replayed is None:
            found, after = page(letters, after=_place(cursor), limit=limit)
            replays = await dead_letter_replays.replays_of(conn, [f.id for f in found])
        else:
            replays = await dead_letter_replays.replays_of(conn)
            found, after = page(
                letters,
                after=_place(cursor),
                limit=limit,
                keep=lambda letter: (letter.id in replays) == replayed,
            )
    return DeadLetterPage(
        items=[DeadLetterSummary.of(letter, replays.get(letter.id)) for letter in found],
        next_cursor=after.id if after else None,
    )


@dead_letters_router.get(
    "/dead-letters/{dead_letter_id}",
    response_model=DeadLetterView,
    summary="Read one dead letter whole",
    description="Its headers (the reason and origin in skuhub_dlq_*), its value as text, as "
    "JSON and byte for byte, and its replay, if any.",
    responses=error_responses(404, e404="No dead letter has this id in this service."),
)
async def get_dead_letter(runtime: Runtime, dead_letter_id: Annotated[str, _ID]) -> DeadLetterView:
    letter = await _dead_letter(runtime, dead_letter_id)
    async with runtime.engine.connect() as conn:
        replays = await dead_letter_replays.replays_of(conn, [letter.id])
    return DeadLetterView.whole(letter, replays.get(letter.id))


@dead_letters_router.post(
    "/dead-letters/{dead_letter_id}/replays",
    response_model=DeadLetterReplayView,
    status_code=201,
    summary="Replay a dead letter once its cause is fixed",
    description="Re-publishes the record to its original topic with its key, value and "
    "headers (less the skuhub_dlq_* ones), plus `skuhub_replay_of: <id>`; its consumer then "
    "judges it again. Once only: a second replay is a 409. Refused again, it comes back as "
    "a new dead letter, which can be replayed in turn.",
    responses=error_responses(
        404,
        409,
        e404="No dead letter has this id in this service.",
        e409="The dead letter was replayed already; `detail` says when and by whom.",
    ),
    dependencies=[requires(Scope.OPERATE)],
)
async def replay_dead_letter(
    runtime: Runtime,
    response: Response,
    dead_letter_id: Annotated[str, _ID],
    actor: ActorDep,
) -> DeadLetterReplayView:
    letter = await _dead_letter(runtime, dead_letter_id)
    if letter.topic not in _consumed_topics(runtime):
        raise HTTPException(
            409,
            f"dead letter {dead_letter_id} names {letter.topic or 'no topic'} as its origin, "
            f"which {runtime.service} does not consume; it cannot be replayed",
        )
    async with runtime.transactions.begin() as (conn, _):
        done = await dead_letter_replays.replay(conn, letter, actor=actor, at=datetime.now(UTC))
        if done is None:
            before = (await dead_letter_replays.replays_of(conn, [letter.id]))[letter.id]
            raise HTTPException(
                409,
                f"dead letter {dead_letter_id} was replayed at {before.at.isoformat()} by "
                f"{before.actor}; if it was refused again, replay the new dead letter that "
                f"names it in replay_of",
            )
    metrics.DEAD_LETTER_REPLAYS.labels(runtime.service).inc()
    response.headers["Location"] = f"/v1/dead-letters/{dead_letter_id}"
    return DeadLetterReplayView.of(done)


async def _dead_letter(runtime: ServiceRuntime[Any], dead_letter_id: str) -> DeadLetter:
    place = place_of(dead_letter_id)
    letter = None if place is None else await DeadLetterLog(runtime.settings).one(place)
    if letter is None:
        raise HTTPException(404, f"no dead letter {dead_letter_id} in {runtime.service}")
    return letter


def _place(cursor: str | None) -> Place | None:
    return place_of(cursor, strict=False) if cursor else None


def _consumed_topics(runtime: ServiceRuntime[Any]) -> set[str]:
    return {
        runtime.settings.topic(topic.name)
        for consumer in runtime.consumers
        for topic in consumer.spec.subscription.topics
    }
