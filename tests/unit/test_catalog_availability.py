"""What the catalog shows beside content (domain/availability.py, service_layer/projection.py):
figures by the stock formula sheet (docs/stock.md), each position and stage at its newest
version however late or repeated the events arrive."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from skuhub_catalog.domain.availability import (
    LocationAvailability,
    PositionFact,
    StageFact,
    availability,
)
from skuhub_catalog.entrypoints.handlers import on_catalog_fact
from skuhub_catalog.service_layer.projection import keep, shown
from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import LifecycleStage, LifecycleStageChanged
from skuhub_runtime.handling import Incoming
from tests.fakes.catalog import FakeCatalogUnitOfWork, FakeProjectionRepository

T0 = datetime(2026, 3, 1, tzinfo=UTC)
STORE, DEPOT = "4012345000009", "4012345000016"


def position(location: str, lot: str = "", version: int = 1, **figures: str) -> PositionFact:
    values = {
        k: Decimal(figures.get(k, "0"))
        for k in ("on_hand", "quality_hold", "expired", "reserved", "available_to_promise")
    }
    return PositionFact(
        sku="MUG-1",
        location=location,
        lot=lot,
        unit="EA",
        kit=False,
        position_version=version,
        changed_at=T0 + timedelta(minutes=version),
        **values,
    )


def test_a_location_nets_its_lots_and_the_network_sums_its_locations() -> None:
    figures = availability(
        [
            position(STORE, "A", on_hand="10", reserved="3"),  # 7
            position(STORE, "B", on_hand="2", quality_hold="1"),  # 1
            position(STORE, "C", on_hand="4", expired="4"),  # 0
            position(DEPOT, on_hand="1", reserved="4"),  # -3 -> 0
        ]
    )

    assert figures is not None
    assert figures.locations == (  # by GLN
        LocationAvailability(STORE, Decimal(16), Decimal(8)),
        LocationAvailability(DEPOT, Decimal(1), Decimal(0)),
    )
    assert (figures.on_hand, figures.available_to_promise) == (Decimal(17), Decimal(8))


def test_a_negative_lot_takes_from_the_others_at_its_location() -> None:
    figures = availability(
        [
            position(STORE, "A", on_hand="5"),
            position(STORE, "B", on_hand="-2"),  # oversold: a fact, recorded as it is
        ]
    )

    assert figures is not None
    assert figures.available_to_promise == Decimal(3)


def test_a_kit_shows_the_kits_its_components_make() -> None:
    kit = replace(position(STORE, available_to_promise="5"), kit=True)

    figures = availability([kit])

    assert figures is not None
    assert (figures.on_hand, figures.available_to_promise) == (Decimal(0), Decimal(5))


def test_nothing_reported_is_no_figure() -> None:
    assert availability([]) is None


async def test_the_newest_version_wins_however_late_or_repeated() -> None:
    repo = FakeProjectionRepository()
    newer = position(STORE, version=3, on_hand="9")
    older = position(STORE, version=2, on_hand="4")

    await keep(repo, [newer, older, newer], [StageFact("MUG-1", "active", 2, T0)])
    await keep(
        repo, [position(STORE, version=1, on_hand="1")], [StageFact("MUG-1", "development", 1, T0)]
    )

    [figures] = (await shown(repo, ["MUG-1"])).values()
    assert figures.availability is not None
    assert figures.availability.on_hand == Decimal(9)
    assert figures.stage is not None
    assert (figures.stage.stage, figures.stage.stage_version) == ("active", 2)
    nothing = (await shown(repo, ["CUP-1"]))["CUP-1"]
    assert (nothing.availability, nothing.stage) == (None, None)


async def test_a_retired_stage_is_kept_and_shown_like_any_other() -> None:
    uow = FakeCatalogUnitOfWork()
    retired = LifecycleStageChanged(
        sku="MUG-1",
        stage=LifecycleStage.RETIRED,
        previous_stage=LifecycleStage.DISCONTINUED,
        stage_version=9,
        reason="sold out after discontinuation",
        successor="MUG-2",
        changed_at=T0,
    )

    await on_catalog_fact(uow, [Incoming(Envelope(retired, origin_time=T0), "/skuhub/catalog")])

    [figures] = (await shown(uow.projection, ["MUG-1"])).values()
    assert figures.stage == StageFact("MUG-1", "retired", 9, T0)
