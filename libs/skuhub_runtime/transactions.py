"""One transaction per decision: the handler's effects and the events it emits commit together.

:class:`Transactions` is the one place that opens a service's transactions. It
binds the service's unit of work to the connection, lets the handler decide,
writes what it emitted to the outbox in the same transaction, commits, and
wakes the outbox relay. Kafka consumers (with their inbox and dead letters)
and HTTP commands go through it alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skuhub_contracts.codec import Envelope, KafkaRecord, encode
from skuhub_contracts.events import EventPayload
from skuhub_contracts.topics import EVENT_TOPICS
from skuhub_runtime import outbox
from skuhub_runtime.handling import Decision
from skuhub_runtime.settings import ServiceSettings

U = TypeVar("U")
R = TypeVar("R")


class UnpublishedEventError(RuntimeError):
    """A handler emitted an event its service does not own (a bug, never the input's fault)."""


class Transactions(Generic[U]):
    """Opens transactions with the service's unit of work and records what handlers emit."""

    def __init__(
        self,
        engine: AsyncEngine,
        unit_of_work: Callable[[AsyncConnection], U],
        *,
        settings: ServiceSettings,
        after_commit: Callable[[outbox.Enqueued], None],
    ) -> None:
        self._engine = engine
        self._unit_of_work = unit_of_work
        self._after_commit = after_commit
        self._service = settings.service_name
        self._topics: dict[type[EventPayload], str] = {
            topic.event: settings.topic(topic.name)
            for topic in EVENT_TOPICS
            if topic.owner == settings.service_name and topic.event is not None
        }

    async def execute(self, decide: Callable[[U], Awaitable[Decision[R]]]) -> R:
        """Run a command handler in a transaction; publish what it emitted; return its value."""
        async with self.begin() as (conn, unit_of_work):
            decision = await decide(unit_of_work)
            await self.record(conn, decision.emitted)
        return decision.value

    async def read(self, query: Callable[[U], Awaitable[R]]) -> R:
        """Run a query against the unit of work, outside a transaction.

        Each statement sees what was committed when it started: no BEGIN and ROLLBACK round
        trips around a read. A query that needs one snapshot across several statements
        runs in :meth:`begin` instead.
        """
        async with self._engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await query(self._unit_of_work(autocommit))

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[tuple[AsyncConnection, U]]:
        """A transaction and the unit of work bound to it; after the commit, what it wrote
        to the outbox goes to ``after_commit`` (the relay)."""
        with outbox.collecting() as enqueued:
            async with self._engine.begin() as conn:
                yield conn, self._unit_of_work(conn)
        self._after_commit(enqueued)

    async def record(
        self,
        conn: AsyncConnection,
        emitted: Sequence[Envelope[Any]],
        dead_letters: Iterable[tuple[str, KafkaRecord]] = (),
    ) -> None:
        """Add emitted events (each to its topic) and dead letters to the outbox."""
        records = [(self.topic_of(envelope), encode(envelope)) for envelope in emitted]
        await outbox.enqueue(conn, [*records, *dead_letters])

    def topic_of(self, envelope: Envelope[Any]) -> str:
        """The topic an emitted event goes to: the one the registry gives its type.

        Raises:
            UnpublishedEventError: this service does not own that topic.
        """
        topic = self._topics.get(type(envelope.payload))
        if topic is None:
            raise UnpublishedEventError(
                f"{self._service} emitted {envelope.type}, but the topic registry does not "
                f"name {self._service} as the owner of its topic"
            )
        return topic
