"""The catalog's facts in the ledger: kits (docs/stock.md, "Kits") from their components' ATP,
re-published when a component moves; unknown SKUs quarantined until described, or refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from skuhub_stock.domain.kits import kit_available
from skuhub_stock.domain.ledger import QUARANTINE, REJECT, SkuFacts
from skuhub_stock.domain.movements import Movement, MovementKind
from skuhub_stock.service_layer.facts import Described, record_facts
from skuhub_stock.service_layer.ports import ReportedMovement
from skuhub_stock.service_layer.record_movements import record_movements
from tests.fakes.stock import FakeLedgerRepository

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
HERE = "4012345000009"
THERE = "0614141000036"
D = Decimal


def test_a_kit_is_as_many_as_its_scarcest_component_makes() -> None:
    components = (("BOARD", D(1)), ("PIECE", D(32)))
    assert kit_available(components, {"BOARD": D(5), "PIECE": D(100)}) == 3  # 100 // 32
    assert kit_available(components, {"BOARD": D(2), "PIECE": D(100)}) == 2
    assert kit_available(components, {"BOARD": D(5)}) == 0, "no pieces, no kit"
    assert kit_available(components, {"BOARD": D(5), "PIECE": D(-4)}) == 0
    assert kit_available((), {"BOARD": D(5)}) == 0


def received(sku: str, quantity: int, location: str = HERE) -> ReportedMovement:
    movement = Movement(MovementKind.RECEIPT, sku, location, D(quantity), "EA", NOW)
    return ReportedMovement(str(uuid.uuid4()), "it", uuid.uuid4().int % 10**12, movement)


async def test_a_component_movement_changes_the_kit_where_it_happened() -> None:
    repo = FakeLedgerRepository()
    await repo.save_facts(
        "CHESS", SkuFacts("EA", components=(("BOARD", D(1)), ("PIECE", D(32)))), 1
    )

    first = await record_movements(repo, [received("BOARD", 4), received("PIECE", 70)], NOW)
    assert [(k.sku, k.location, k.available, k.version) for k in first.kits] == [
        ("CHESS", HERE, D(2), 1)
    ]
    more_boards = await record_movements(repo, [received("BOARD", 1)], NOW)
    assert more_boards.kits == [], "still 2 kits: the pieces are scarce"
    more_pieces = await record_movements(
        repo, [received("PIECE", 64), received("PIECE", 40, THERE)], NOW
    )
    assert [(k.location, k.available, k.version) for k in more_pieces.kits] == [
        (THERE, D(0), 1),
        (HERE, D(4), 2),
    ]


async def test_a_quarantined_movement_applies_in_the_stock_unit_once_its_product_is_known() -> None:
    repo = FakeLedgerRepository()
    cases = ReportedMovement(
        "m1",
        "wms",
        1,
        Movement(MovementKind.RECEIPT, "COFFEE", HERE, D(2), "CS", NOW),
    )
    held = await record_movements(repo, [cases], NOW, unknown_sku=QUARANTINE)
    assert held.changed == []
    assert [(p.waiting_for, p.reported.event_id) for p in await repo.parked(limit=10)] == [
        (("product", "COFFEE", ""), "m1")
    ]

    facts = SkuFacts("EA", packs={"CS": D(12)}, lot_tracked=False)
    known = await record_facts(
        repo, [Described("COFFEE", facts, 3, "p1")], NOW, unknown_sku=QUARANTINE
    )
    assert [(c.position.on_hand, c.position.unit, c.cause) for c in known.changed] == [
        (D(24), "EA", "m1")
    ]
    assert await repo.parked(limit=10) == []


async def test_a_movement_of_an_unknown_sku_is_refused_when_so_configured() -> None:
    repo = FakeLedgerRepository()
    movement = Movement(MovementKind.RECEIPT, "COFFEE", HERE, D(2), "EA", NOW)
    refused = await record_movements(
        repo, [ReportedMovement("m1", "wms", 1, movement)], NOW, unknown_sku=REJECT
    )
    assert refused.rejected == {
        "m1": "COFFEE is not in the catalog: publish its product first "
        "(movements of unknown SKUs are rejected by this service's setting)"
    }


async def test_a_kit_described_after_its_components_are_stocked_has_its_availability() -> None:
    repo = FakeLedgerRepository()
    await record_movements(
        repo, [received("BOARD", 3), received("PIECE", 96), received("PIECE", 40, THERE)], NOW
    )
    chess = SkuFacts("EA", components=(("BOARD", D(1)), ("PIECE", D(32))))
    described = await record_facts(
        repo, [Described("CHESS", chess, 1, "p1")], NOW, unknown_sku="accept"
    )
    assert [(k.location, k.available, k.version, k.cause) for k in described.kits] == [
        (THERE, D(0), 1, "p1"),
        (HERE, D(3), 1, "p1"),
    ]
