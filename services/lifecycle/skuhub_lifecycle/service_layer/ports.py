"""What the lifecycle use cases need from storage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from skuhub_lifecycle.domain.flows import DayFlows, PositionReport, SkuStock
from skuhub_lifecycle.domain.gates import NetworkStock, SuccessorLink
from skuhub_lifecycle.domain.metrics import SkuClass, Span, Variability, Velocity
from skuhub_lifecycle.domain.policy import InventoryPolicy
from skuhub_lifecycle.domain.rules import RuleSettings, Suggestion
from skuhub_lifecycle.domain.stages import SkuStage, Stage, StageChange


class StageRepository(Protocol):
    """The lifecycle state of each SKU, with the catalog facts its gates read.

    States come back as copies, field for field as saved, with times in UTC: changing one
    changes nothing stored until it is saved. ``tests/integration/test_repository_contracts.py``
    holds every implementation to this contract.
    """

    async def load(self, skus: Iterable[str]) -> dict[str, SkuStage]:
        """The states of these SKUs (those known), locked for this transaction, in one query:
        another ``load`` or ``get(for_update=True)`` of them waits until this transaction
        ends."""

    async def get(self, sku: str, *, for_update: bool = False) -> SkuStage | None:
        """The state of one SKU, optionally locked for this transaction (as :meth:`load`)."""

    async def of_model(self, product_model: str, *, for_update: bool = False) -> list[SkuStage]:
        """The states of a product model's variants, by SKU."""

    async def in_stage(self, stage: Stage, *, after: str = "", limit: int = 100) -> list[SkuStage]:
        """SKUs in ``stage`` after ``after``, by SKU, at most ``limit``."""

    async def successor_links(self, start: str, *, depth: int) -> dict[str, SuccessorLink]:
        """``start`` and the SKUs its successor chain reaches (up to ``depth`` links)."""

    async def history(self, sku: str) -> list[StageChange]:
        """Every stage change of the SKU, oldest first."""

    async def model_history(self, product_model: str) -> list[StageChange]:
        """Every stage change of the model's variants, oldest first."""

    async def save(self, states: Iterable[SkuStage]) -> None:
        """Insert or overwrite these states (every field as given) in one statement, and
        append the changes in their ``history`` to the stored history (then empty it)."""


class FlowRepository(Protocol):
    """Each SKU's stock positions, network totals and day ledger."""

    async def load(self, skus: Iterable[str]) -> dict[str, SkuStock]:
        """The stock of these SKUs (those known) with their positions, locked."""

    async def save(
        self,
        stocks: Iterable[SkuStock],
        reports: Sequence[PositionReport],
        days: Iterable[DayFlows],
        stockout_spans: Mapping[tuple[str, datetime], datetime | None],
    ) -> None:
        """Store the SKUs' totals and positions; add the days to the ledger (counters add
        up; a closing on hand replaces the stored one); store each stockout begun or ended,
        keyed by (SKU, start), with its end (None while it lasts)."""

    async def stockouts(self, sku: str, *, since: datetime) -> list[Span]:
        """The SKU's stockouts that end after ``since`` or last still, by start."""

    async def network(self, sku: str) -> NetworkStock:
        """The SKU's network stock (zero when stock has never reported it)."""

    async def stock_of(self, sku: str) -> SkuStock | None:
        """The SKU's totals and clock (without positions)."""

    async def days(
        self, sku: str, *, since: date, until: date
    ) -> tuple[DayFlows | None, list[DayFlows]]:
        """The last day with a closing on hand before ``since``, and the days from ``since``
        to ``until`` in order."""

    async def days_of(
        self, skus: Iterable[str], *, since: date, until: date
    ) -> dict[str, list[DayFlows]]:
        """The recorded days of these SKUs from ``since`` to ``until``, in order."""

    async def on_hand_of(self, skus: Iterable[str]) -> dict[str, Decimal]:
        """Network on hand of these SKUs (those stock has reported)."""

    async def units_sold(self, *, since: date, until: date) -> dict[str, Decimal]:
        """Units sold per SKU from ``since`` to ``until`` (SKUs with recorded days)."""

    async def weekly_demand(self, *, since: date, until: date) -> dict[str, dict[int, Decimal]]:
        """Demand per SKU and seven-day span numbered back from ``until`` (0 ends there)."""

    async def first_days(self) -> dict[str, date]:
        """The day each SKU was first reported by stock."""


class PolicyRepository(Protocol):
    """Classes, inventory policies, rule settings and suggestions."""

    async def classes(self, skus: Iterable[str] | None = None) -> dict[str, SkuClass]: ...

    async def save_classes(self, classes: Sequence[SkuClass], *, at: datetime) -> None: ...

    async def of_class(
        self, velocity: Velocity | None, variability: Variability | None, *, after: str, limit: int
    ) -> list[SkuClass]: ...

    async def policies(
        self, skus: Iterable[str], *, for_update: bool = False
    ) -> dict[str, InventoryPolicy]:
        """The policies of these SKUs, optionally locked for this transaction."""

    async def save_policies(self, saved: Sequence[InventoryPolicy]) -> None: ...

    async def rules(self) -> tuple[RuleSettings, int]:
        """The rule settings and their version (0: the defaults, never changed)."""

    async def save_rules(self, settings: RuleSettings, version: int, *, at: datetime) -> None: ...

    async def replace_suggestions(
        self, skus: Iterable[str], found: Sequence[Suggestion], *, at: datetime
    ) -> None: ...

    async def suggestions(self, *, after: str, limit: int) -> list[tuple[Suggestion, datetime]]: ...


class LifecycleUnitOfWork(Protocol):
    """The lifecycle service's repositories, bound to one transaction."""

    @property
    def stages(self) -> StageRepository: ...

    @property
    def flows(self) -> FlowRepository: ...

    @property
    def policies(self) -> PolicyRepository: ...
