"""The lifecycle stage repository in memory, and its unit of work."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC

from skuhub_lifecycle.domain.stages import SkuStage


class FakeStageRepository:
    """Stages by SKU in memory; the contract suite holds it to ``SqlStageRepository``.

    ``saves`` lists the SKUs of each :meth:`save` call, so a test can see a batch saved in one go.
    """

    def __init__(self, *states: SkuStage) -> None:
        self._states = {s.sku: _copy(s) for s in states}
        self.saves: list[list[str]] = []

    async def load(self, skus: Iterable[str]) -> dict[str, SkuStage]:
        wanted = sorted(set(skus) & self._states.keys())
        return {sku: _copy(self._states[sku]) for sku in wanted}

    async def get(self, sku: str, *, for_update: bool = False) -> SkuStage | None:
        found = self._states.get(sku)
        return _copy(found) if found is not None else None

    async def save(self, states: Iterable[SkuStage]) -> None:
        saved = [_copy(s) for s in states]
        if saved:
            self.saves.append([s.sku for s in saved])
        self._states.update({s.sku: s for s in saved})


@dataclass(frozen=True, slots=True)
class FakeLifecycleUnitOfWork:
    """The lifecycle service's repositories, in memory."""

    stages: FakeStageRepository = field(default_factory=FakeStageRepository)


def _copy(state: SkuStage) -> SkuStage:
    """A copy, with the time in UTC (as PostgreSQL returns it)."""
    return dataclasses.replace(state, changed_at=state.changed_at.astimezone(UTC))
