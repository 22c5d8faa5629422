"""Use cases: keep what stock and lifecycle report, and read it beside a product."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from skuhub_catalog.domain.availability import Availability, PositionFact, StageFact, availability
from skuhub_catalog.service_layer.ports import ProjectionRepository


@dataclass(frozen=True, slots=True)
class Shown:
    """What the catalog shows beside one product's content (None: nothing reported yet)."""

    availability: Availability | None
    stage: StageFact | None


async def keep(
    repo: ProjectionRepository, positions: Iterable[PositionFact], stages: Iterable[StageFact]
) -> None:
    """Store the newest fact per position and per SKU; older ones (a replay, a late record)
    change nothing."""
    await repo.keep_positions(
        _newest(positions, lambda f: (f.sku, f.location, f.lot), lambda f: f.position_version)
    )
    await repo.keep_stages(_newest(stages, lambda f: f.sku, lambda f: f.stage_version))


async def shown(repo: ProjectionRepository, skus: Sequence[str]) -> dict[str, Shown]:
    """Availability and stage of each SKU (every SKU asked for is in the answer)."""
    positions, stages = await repo.shown_of(skus)
    return {sku: Shown(availability(positions.get(sku, [])), stages.get(sku)) for sku in skus}


F = TypeVar("F")
K = TypeVar("K")


def _newest(facts: Iterable[F], key: Callable[[F], K], version: Callable[[F], int]) -> list[F]:
    newest: dict[K, F] = {}
    for fact in facts:
        stored = newest.get(key(fact))
        if stored is None or version(stored) < version(fact):
            newest[key(fact)] = fact
    return list(newest.values())
