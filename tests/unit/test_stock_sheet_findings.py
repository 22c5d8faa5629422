"""Histories where the stock ledger disagrees with docs/stock.md (found by
tests/integration/test_stock_oracle_stateful.py against the real PostgreSQL, shrunk by hand).

Each test is the smallest history, fed to the service's public use case
(``record_movements``) over the in-memory repository, with the expected values worked
out by hand from the formula sheet. They fail until the ledger is fixed (or the sheet
is changed on purpose); they are not marked xfail so that nobody forgets them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import MovementKind, StockMoved
from skuhub_stock.domain.ledger import SkuFacts
from skuhub_stock.entrypoints.events import to_reported
from skuhub_stock.service_layer.record_movements import expire_lots, record_movements
from tests.fakes.stock import FakeLedgerRepository

G0, G1, G2 = "0614141000012", "4012345000009", "4012345000023"
T0 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
K = MovementKind


class History:
    def __init__(self, **facts: SkuFacts) -> None:
        self.repo = FakeLedgerRepository()
        self.facts = facts
        self.sequence = 0

    async def send(self, kind: MovementKind, sku: str, quantity: str, **fields: Any) -> None:
        if self.sequence == 0:
            for name, facts in self.facts.items():
                await self.repo.save_facts(name, facts, 1)
        self.sequence += 1
        at = fields.pop("occurred_at", T0 + timedelta(minutes=self.sequence))
        fields.setdefault("location", G0)
        payload = StockMoved(
            sku=sku,
            kind=kind,
            quantity=Decimal(quantity),
            source_system="finding",
            source_sequence=self.sequence,
            occurred_at=at,
            **fields,
        )
        envelope = Envelope(
            payload=payload,
            id=str(uuid.UUID(int=self.sequence, version=4)),
            source="urn:finding",
            time=at,
            origin_time=at,
        )
        recorded = await record_movements(self.repo, [to_reported(envelope)], fields_now(at))
        assert not recorded.rejected

    async def position(self, sku: str, location: str, lot: str = "") -> Any:
        for p in await self.repo.positions_of(sku):
            if (p.location, p.lot or "") == (location, lot):
                return p
        raise AssertionError(f"no position {sku} {location} {lot!r}")


def fields_now(at: datetime) -> datetime:
    return at + timedelta(minutes=1)


async def test_a_movement_in_grams_of_a_kilogram_sku_converts() -> None:
    """ "KGM → GRM ... converts exactly (pint)": pint is not installed with skuhub, so the
    ledger raises ModuleNotFoundError instead of converting (the record cannot be applied)."""
    h = History(**{"SKU-KG": SkuFacts(unit="KGM")})
    await h.send(K.RECEIPT, "SKU-KG", "250", unit="GRM")
    p = await h.position("SKU-KG", G0)
    assert (p.on_hand, p.received) == (Decimal("0.25"), Decimal("0.25"))


async def test_a_lot_has_one_expiry_at_every_location() -> None:
    """ "One expiry per lot: a SKU's lot has one expires_on, at every location." A count finds
    23 of lot A1 at G0 before any inbound dated the lot; a receipt at G1 then fixes its
    date. The ledger leaves G0's position without an expiry, so from 2025-03-04 it still
    sells 23 units of an expired lot there (ATP 23; sheet: expired 23, ATP 0)."""
    h = History()
    await h.send(K.CYCLE_COUNT, "SKU-1", "23", lot="A1")
    await h.send(K.RECEIPT, "SKU-1", "12", location=G1, lot="A1", expires_on=date(2025, 3, 4))
    assert (await h.position("SKU-1", G1, "A1")).expires_on == date(2025, 3, 4)
    assert (await h.position("SKU-1", G0, "A1")).expires_on == date(2025, 3, 4)
    await expire_lots(h.repo, datetime(2025, 3, 4, tzinfo=UTC), 100, "scheduler")
    p = await h.position("SKU-1", G0, "A1")
    assert (p.expired_quantity, p.available_to_promise) == (Decimal(23), Decimal(0))


async def test_a_transfer_in_with_its_reference_receives_into_the_transfers_lots() -> None:
    """ "A transfer_in with a transfer_ref receives into the transfer's lots in order (what is
    left into its own lot or "")". The transfer took 4 of lot B1; the transfer-in names lot B2.
    Sheet: B1 at G2 gets on hand 4 and in transit 0; B2 gets nothing. The ledger puts the 4
    into B2 (in_transit -4, negative_in_transit) and leaves B1's 4 in transit for ever."""
    h = History()
    await h.send(K.RECEIPT, "SKU-1", "5", lot="B1", expires_on=date(2025, 3, 20))
    await h.send(K.TRANSFER_OUT, "SKU-1", "4", lot="B1", destination=G2, transfer_ref="T1")
    await h.send(K.TRANSFER_IN, "SKU-1", "4", location=G2, lot="B2", transfer_ref="T1")
    b1 = await h.position("SKU-1", G2, "B1")
    assert (b1.on_hand, b1.in_transit) == (Decimal(4), Decimal(0))
    b2 = [p for p in await h.repo.positions_of("SKU-1") if (p.location, p.lot) == (G2, "B2")]
    assert all(p.on_hand == 0 and p.in_transit == 0 for p in b2)


async def test_a_transfer_in_with_its_reference_receives_into_the_lotless_part() -> None:
    """The same with a lot-less transfer-out at a location without lots: the transfer took
    from the lot-less position, so the transfer-in (naming lot A2) lands there: G2's lot-less
    position has on hand 1 and in transit 6."""
    h = History()
    await h.send(K.TRANSFER_OUT, "SKU-1", "7", destination=G2, transfer_ref="T0")
    await h.send(K.TRANSFER_IN, "SKU-1", "1", location=G2, lot="A2", transfer_ref="T0")
    p = await h.position("SKU-1", G2)
    assert (p.on_hand, p.in_transit) == (Decimal(1), Decimal(6))


async def test_a_release_by_reservation_id_releases_where_the_reservation_is() -> None:
    """ "A reservation_release with a reservation_id releases from that reservation's lots".
    The release names another location (G1) than the reservation (G0). Sheet: G0 keeps
    on hand 10 and received 10, reserved back to 0. The ledger overwrites G0's position
    with a blank one: on hand 0, received 0, reserved -2."""
    h = History()
    await h.send(K.RECEIPT, "SKU-1", "10")
    await h.send(K.RESERVATION, "SKU-1", "2", reservation_id="R1")
    await h.send(K.RESERVATION_RELEASE, "SKU-1", "2", location=G1, reservation_id="R1")
    p = await h.position("SKU-1", G0)
    assert (p.on_hand, p.reserved, p.received) == (Decimal(10), Decimal(0), Decimal(10))


async def test_a_position_with_less_sellable_than_reserved_is_oversold() -> None:
    """ "oversold (reserved > max(sellable, 0))": a shipment of 3 from nothing leaves on hand
    -3 with nothing reserved: negative on hand, not oversold (the sheet said "reserved >
    sellable" first, which called this oversold too). Reserving 1 then promises more than
    there is."""
    h = History()
    await h.send(K.SHIPMENT, "SKU-1", "3")
    p = await h.position("SKU-1", G0)
    assert sorted(a.value for a in p.anomalies) == ["negative_on_hand"]
    await h.send(K.RESERVATION, "SKU-1", "1")
    p = await h.position("SKU-1", G0)
    assert sorted(a.value for a in p.anomalies) == ["negative_on_hand", "oversold"]


async def test_a_record_delivered_twice_in_one_batch_applies_once() -> None:
    """Facts are applied once ("duplicates are ignored"). ``record_movements`` keeps the
    batch's movements whose event id the journal reports new; an exact redelivery in the
    same batch has that same id, so both copies pass and the receipt counts twice
    (sheet: on hand 5, received 5; ledger: 10 and 10)."""
    h = History()
    at = T0 + timedelta(minutes=1)
    payload = StockMoved(
        sku="SKU-1",
        kind=K.RECEIPT,
        location=G0,
        quantity=Decimal(5),
        source_system="finding",
        source_sequence=1,
        occurred_at=at,
    )
    envelope = Envelope(
        payload=payload,
        id=str(uuid.UUID(int=1, version=4)),
        source="urn:finding",
        time=at,
        origin_time=at,
    )
    once = to_reported(envelope)
    await record_movements(h.repo, [once, once], fields_now(at))
    p = await h.position("SKU-1", G0)
    assert (p.on_hand, p.received) == (Decimal(5), Decimal(5))
