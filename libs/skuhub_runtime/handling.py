"""What handlers see and return: they decide, the runtime does the I/O.

A Kafka handler takes the service's unit of work (its repositories, bound to
one transaction) and a batch of decoded events, and returns an
:class:`Outcome`: the events it emits, the events it refuses and the ones it
already had. An HTTP command handler takes the unit of work and returns a
:class:`Decision`: the value for the caller and the events it emits. Neither
opens a transaction, writes the outbox or the inbox, or commits: the runtime
does that around them, the same way for both (:mod:`skuhub_runtime.transactions`).

Everything is generic in the event type ``P`` and the unit of work ``U``, so a
handler bound to the wrong subscription, or to another service's unit of work,
is a type error.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import EventPayload
from skuhub_contracts.subscriptions import Subscription
from skuhub_runtime import messaging_spans

P = TypeVar("P", bound=EventPayload)
U = TypeVar("U")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Incoming(Generic[P]):
    """One decoded event of a batch, with the trace context its derived events continue."""

    envelope: Envelope[P]
    source: str
    """CloudEvents source of the events derived from this one (the consuming service)."""
    traceparent: str | None = None
    tracestate: str | None = None
    replay_of: str | None = None
    """The dead letter this record is a replay of, when an operator replayed one and the
    consumer judges the event again (docs/operations.md, Dead letters): a handler that
    keeps its own record of refusals forgets this event's."""

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def payload(self) -> P:
        return self.envelope.payload

    def derive(
        self,
        payload: EventPayload,
        *,
        origin_time: datetime | None = None,
        joins: Sequence[Incoming[Any]] = (),
    ) -> Envelope[Any]:
        """A new event caused by this one: same trace, new id, and this one's origin time
        unless the new event stands for older ones too (``origin_time``, the earliest).

        ``joins``: the other events it stands for; where spans are exported, their traces
        are linked to it (``messaging_spans.joined``).
        """
        traceparent, tracestate = self.traceparent, self.tracestate
        if len(joins) > 1:
            traceparent, tracestate = messaging_spans.joined(
                payload.event_type,
                traceparent,
                tracestate,
                ((i.traceparent, i.tracestate) for i in joins if i is not self),
            )
        return Envelope(
            payload=payload,
            id=str(uuid.uuid4()),
            source=self.source,
            time=datetime.now(UTC),
            origin_time=origin_time or self.envelope.origin_time,
            traceparent=traceparent,
            tracestate=tracestate,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler did with a batch of new events.

    ``emitted`` are published (through the outbox, in the batch's transaction);
    ``rejected`` maps event ids the domain refused to the reason, and those
    records go to the dead-letter topic; ``ignored`` are ids of events the domain
    recognised as facts it already had (the same movement under a new event id,
    an older snapshot): neither counted as applied nor as latency.
    """

    emitted: Sequence[Envelope[Any]] = ()
    rejected: Mapping[str, str] = field(default_factory=dict)
    ignored: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Decision(Generic[R]):
    """What an HTTP command handler decided: the value for the caller, the events to publish."""

    value: R
    emitted: Sequence[Envelope[Any]] = ()


async def decided(value: Awaitable[R]) -> Decision[R]:
    """The decision of a command whose use case emits nothing: its value alone."""
    return Decision(await value)


@dataclass(frozen=True, slots=True)
class ConsumerSpec(Generic[P, U]):
    """A service's consumer: a subscription from the registry and the handler of its events."""

    subscription: Subscription[P]
    handle: Callable[[U, Sequence[Incoming[P]]], Awaitable[Outcome]]
    gather_ms: int = 0
    """How long the broker may hold a fetch to gather more records before it answers (0:
    at once). For a consumer whose readers can wait that long: its batches grow, and what
    a batch costs whatever its size (transaction, inbox claim, statements, offsets) is
    shared by more events (docs/runtime.md, "Batches")."""

    @property
    def name(self) -> str:
        return self.subscription.name


__all__ = ["ConsumerSpec", "Decision", "Incoming", "Outcome", "decided"]
