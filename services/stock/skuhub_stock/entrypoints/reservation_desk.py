"""Reservation requests served in batches: one transaction for every request that arrived
while the previous one ran.

Reservations of one SKU are made one after the other under the SKU's lock (docs/stock.md,
"Facts and commands"). One transaction per request made racing clients queue for that lock,
a dozen statements each. The desk keeps the order and the lock and shares the statements:
requests that arrive while a batch's transaction runs wait together and go in the next one
(natural batching: an idle desk serves a lone request at once, no timer holds it back).
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from skuhub_contracts.codec import Envelope
from skuhub_runtime.handling import Decision
from skuhub_runtime.origin import Origin
from skuhub_stock.domain.commands import ReserveCommand
from skuhub_stock.entrypoints.events import to_kit_level_changed, to_stock_level_changed
from skuhub_stock.entrypoints.http import StockRuntime
from skuhub_stock.service_layer.commands import Commanded, Reserved, make_reservations
from skuhub_stock.service_layer.ports import StockUnitOfWork
from skuhub_stock.service_layer.replenish import note_demand

MAX_BATCH = 256
"""Requests per transaction at most; more wait for the next one."""


@dataclass(frozen=True, slots=True)
class _Request:
    command: ReserveCommand
    origin: Origin
    answer: asyncio.Future[Commanded]


class ReservationDesk:
    """Takes reservation requests and answers each once its batch has committed."""

    def __init__(self, runtime: StockRuntime) -> None:
        self._runtime = runtime
        self._waiting: list[_Request] = []
        self._serving: asyncio.Task[None] | None = None

    async def reserve(self, command: ReserveCommand, origin: Origin) -> Commanded:
        """The reservation made (or replayed) for ``command``.

        Raises:
            ReservationRefused, IdempotencyKeyReused, MovementRejected: refused; nothing kept.
        """
        answer: asyncio.Future[Commanded] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Request(command, origin, answer))
        if self._serving is None or self._serving.done():
            self._serving = asyncio.create_task(self._serve(), name="reservation-desk")
        return await answer

    async def _serve(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                reserved = await self._runtime.execute(functools.partial(self._decide, batch))
            except Exception as failed:  # the transaction failed: every request in it did
                for request in batch:
                    if not request.answer.done():
                        request.answer.set_exception(failed)
                continue
            for request, answer in zip(batch, reserved.answers, strict=True):
                if request.answer.done():  # the client went away; the answer stays valid
                    continue
                if isinstance(answer, Exception):
                    request.answer.set_exception(answer)
                else:
                    request.answer.set_result(answer)

    async def _decide(self, batch: list[_Request], uow: StockUnitOfWork) -> Decision[Reserved]:
        now = datetime.now(UTC)
        reserved = await make_reservations(uow.ledger, [r.command for r in batch], now)
        await note_demand(uow.replenishment, reserved.ledger)
        return Decision(value=reserved, emitted=_emitted(reserved, batch))


def _emitted(reserved: Reserved, batch: list[_Request]) -> list[Envelope[Any]]:
    """One stock-level-changed per changed position, in the trace of the last request that
    changed it and as old as the first (the earliest origin time, as the consumer does)."""
    origins: dict[str, Origin] = {}
    for request, answer in zip(batch, reserved.answers, strict=True):
        if isinstance(answer, Commanded):
            origins.update(dict.fromkeys(answer.event_ids, request.origin))
    emitted: list[Envelope[Any]] = []
    for changed in reserved.changed:
        here = [origins[c] for c in changed.causes if c in origins] or [batch[-1].origin]
        first = min(o.at for o in here)
        emitted.append(here[-1].envelope(to_stock_level_changed(changed), origin_time=first))
    for kit in reserved.kits:
        emitted.append(origins.get(kit.cause, batch[-1].origin).envelope(to_kit_level_changed(kit)))
    return emitted
