"""What the lifecycle use cases need from storage."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from skuhub_lifecycle.domain.stages import SkuStage


class StageRepository(Protocol):
    """The lifecycle state of each SKU.

    States come back as copies, field for field as saved, with ``changed_at`` in UTC:
    changing one changes nothing stored until it is saved.
    ``tests/integration/test_repository_contracts.py`` holds every implementation to
    this contract.
    """

    async def load(self, skus: Iterable[str]) -> dict[str, SkuStage]:
        """The states of these SKUs (those known), locked for this transaction, in one query:
        another ``load`` or ``get(for_update=True)`` of them waits until this transaction
        ends."""

    async def get(self, sku: str, *, for_update: bool = False) -> SkuStage | None:
        """The state of one SKU, optionally locked for this transaction (as :meth:`load`)."""

    async def save(self, states: Iterable[SkuStage]) -> None:
        """Insert or overwrite these states (every field as given) in one statement."""


class LifecycleUnitOfWork(Protocol):
    """The lifecycle service's repositories, bound to one transaction."""

    @property
    def stages(self) -> StageRepository: ...
