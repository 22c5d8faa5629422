"""What the lifecycle use cases need from storage."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from skuhub_lifecycle.domain.stages import SkuStage


class StageRepository(Protocol):
    """The lifecycle state of each SKU."""

    async def load(self, skus: Iterable[str]) -> dict[str, SkuStage]:
        """The states of these SKUs (those known), locked for this transaction, in one query."""

    async def get(self, sku: str, *, for_update: bool = False) -> SkuStage | None:
        """The state of one SKU, optionally locked for this transaction."""

    async def save(self, states: Iterable[SkuStage]) -> None:
        """Insert or update these states in one statement."""


class LifecycleUnitOfWork(Protocol):
    """The lifecycle service's repositories, bound to one transaction."""

    @property
    def stages(self) -> StageRepository: ...
