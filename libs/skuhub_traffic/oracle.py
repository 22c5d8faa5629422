"""The expected stock positions of a stream of stock-moved records, without skuhub code.

A model of docs/stock.md (the formula sheet), written from the sheet alone. It reads
the records as they go on the wire (JSON body, CloudEvents headers) with the
standard library only: it shares no code with the stock service, so a bug there
cannot hide in both. Records apply in delivery order (each SKU's partition order).

:class:`StockModel` applies records one by one, each at a processing time ``now``
(which decides what has expired when FEFO picks lots), and reports every bucket and
counter of every position as of a given ``now``. :class:`Oracle` is the summary of a
whole stream that the benchmark and the end-to-end tests compare the service with.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from skuhub_traffic.model import Delivery, ExpectedPosition, StockFacts

PositionKey = tuple[str, str, str]
"""(sku, location GLN, lot; "" for stock without a lot)."""
Place = tuple[str, str]
"""(sku, location): every lot of a SKU at a location."""
Outcome = Literal["applied", "parked", "refused", "duplicate", "malformed"]

ZERO = Decimal(0)

_INBOUND = frozenset({"receipt", "return", "transfer_in"})
"""Movements that bring a lot in: they must name it on a lot-tracked SKU and fix its expiry."""
_FEFO = frozenset({"shipment", "scrap", "transfer_out", "reservation"})

# Physical units (UN/ECE Rec. 20 codes) by dimension, in a base unit of that dimension.
_PHYSICAL: dict[str, tuple[str, Decimal]] = {
    "MGM": ("mass", Decimal("0.001")),
    "GRM": ("mass", Decimal(1)),
    "KGM": ("mass", Decimal(1000)),
    "TNE": ("mass", Decimal(1_000_000)),
    "ONZ": ("mass", Decimal("28.349523125")),
    "LBR": ("mass", Decimal("453.59237")),
    "MLT": ("volume", Decimal(1)),
    "CLT": ("volume", Decimal(10)),
    "DLT": ("volume", Decimal(100)),
    "LTR": ("volume", Decimal(1000)),
    "MTQ": ("volume", Decimal(1_000_000)),
    "MMT": ("length", Decimal(1)),
    "CMT": ("length", Decimal(10)),
    "DMT": ("length", Decimal(100)),
    "MTR": ("length", Decimal(1000)),
    "KMT": ("length", Decimal(1_000_000)),
}

BUCKETS = (
    "on_hand",
    "reserved",
    "in_transit",
    "quality_hold",
    "expired",
    "incoming",
    "location_available_to_promise",
    "received",
    "shipped",
    "returned",
    "scrapped",
    "lost_sales",
)
"""The quantities of an :class:`ExpectedPosition`, in the order they are compared."""


class Refused(Exception):
    """A record that cannot be read as a fact (docs/stock.md, "Facts and commands")."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def convert(quantity: Decimal, unit: str, stock_unit: str, packs: Mapping[str, Decimal]) -> Decimal:
    """``quantity`` of ``unit`` in ``stock_unit``: a pack multiplies by its size, a physical
    unit of the same dimension converts exactly; anything else is refused (``unit``)."""
    if unit == stock_unit:
        return quantity
    if unit in packs:
        return quantity * packs[unit]
    given, wanted = _PHYSICAL.get(unit), _PHYSICAL.get(stock_unit)
    if given is not None and wanted is not None and given[0] == wanted[0]:
        return quantity * given[1] / wanted[1]
    raise Refused("unit", f"{unit} is not convertible to the stock unit {stock_unit}")


def expiry_instant(expires_on: date) -> datetime:
    """A lot expires at the start (00:00 UTC) of its ``expires_on``."""
    return datetime.combine(expires_on, time(0), tzinfo=UTC)


@dataclass
class _Position:
    unit: str
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    quality_hold: Decimal = ZERO
    in_transit: Decimal = ZERO
    received: Decimal = ZERO
    shipped: Decimal = ZERO
    returned: Decimal = ZERO
    scrapped: Decimal = ZERO
    lost_sales: Decimal = ZERO
    counted_at: datetime | None = None
    effects: list[tuple[datetime, Decimal]] = field(default_factory=list)
    """On-hand effects applied here, with their occurred_at (what a late count keeps)."""


@dataclass
class _Record:
    """One stock-moved record as read from the wire, quantity not yet converted."""

    event_id: str
    kind: str
    sku: str
    location: str
    destination: str | None
    quantity: Decimal
    unit: str
    lot: str
    expires_on: date | None
    occurred_at: datetime
    reservation_id: str | None
    transfer_ref: str | None
    order_ref: str | None

    @classmethod
    def read(cls, body: Mapping[str, Any], event_id: str) -> _Record:
        expires = body.get("expires_on")
        return cls(
            event_id=event_id,
            kind=str(body["kind"]),
            sku=str(body["sku"]),
            location=str(body["location"]),
            destination=body.get("destination") or None,
            quantity=Decimal(str(body["quantity"])),
            unit=str(body.get("unit") or "EA"),
            lot=str(body.get("lot") or ""),
            expires_on=date.fromisoformat(expires) if expires else None,
            occurred_at=_timestamp(str(body["occurred_at"])),
            reservation_id=body.get("reservation_id") or None,
            transfer_ref=body.get("transfer_ref") or None,
            order_ref=body.get("order_ref") or None,
        )


def _timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class StockModel:
    """docs/stock.md as a plain in-memory model, fed one wire record at a time."""

    def __init__(self, catalog: Mapping[str, StockFacts] | None = None) -> None:
        self.catalog: Mapping[str, StockFacts] = catalog or {}
        self.positions: dict[PositionKey, _Position] = {}
        self.lots_at: dict[Place, list[str]] = {}
        """(sku, location) -> its lots ("" for stock without one), as positions appear."""
        self.lots: dict[tuple[str, str], date] = {}
        """(sku, lot) -> its one expiry date."""
        self.order_lines: dict[tuple[str, str, str], Decimal] = {}
        """(sku, location, order_ref) -> open quantity."""
        self.reservations: dict[tuple[str, str], list[list[Any]]] = {}
        """(sku, reservation_id) -> [[position key, quantity it still holds there], ...], one
        entry per lot in the order first taken (references are per SKU)."""
        self.transfers: dict[tuple[str, str], list[list[Any]]] = {}
        """(sku, transfer_ref) -> [[lot, quantity not yet received], ...], likewise."""
        self.parked: dict[tuple[str, str, str], list[tuple[_Record, Decimal]]] = {}
        """("reservation" | "transfer", sku, reference) -> records waiting for it, in order."""
        self.refused: dict[str, str] = {}
        """event id -> reason, for records that are not facts."""
        self.anomalies: list[tuple[str, PositionKey, str]] = []
        """Anomalies that are events, not states: (kind, position, event id)."""
        self.superseded: set[str] = set()
        self.absorbed: set[str] = set()
        self._seen_ids: set[str] = set()
        self._seen_sequences: set[tuple[str, int]] = set()
        self.applied = 0
        """Records journaled and not refused (parked ones included)."""

    # ------------------------------------------------------------------ reading the wire

    def deliver(self, delivery: Delivery, now: datetime) -> Outcome:
        """One Kafka record as delivered; malformed and duplicate ones change nothing."""
        if delivery.kind == "malformed":
            return "malformed"
        headers = dict(delivery.headers)
        raw_id = headers.get("ce_id")
        event_id = raw_id.decode() if raw_id is not None else delivery.event_id
        body: dict[str, Any] = json.loads(delivery.value)
        return self.record(body, event_id or "", now)

    def record(self, body: Mapping[str, Any], event_id: str, now: datetime) -> Outcome:
        """The JSON body of one stock-moved record, processed at ``now``."""
        sequence = (str(body["source_system"]), int(body["source_sequence"]))
        if (event_id and event_id in self._seen_ids) or sequence in self._seen_sequences:
            return "duplicate"
        if event_id:
            self._seen_ids.add(event_id)
        self._seen_sequences.add(sequence)
        record = _Record.read(body, event_id)
        try:
            q = self._quantity(record)
            self._check_lot(record)
        except Refused as refused:
            self.refused[event_id] = refused.reason
            return "refused"
        self.applied += 1
        return self._apply(record, q, now)

    # ------------------------------------------------------------------ facts of a SKU

    def _facts(self, sku: str) -> StockFacts | None:
        return self.catalog.get(sku)

    def _stock_unit(self, key: PositionKey, given: str) -> str:
        facts = self._facts(key[0])
        if facts is not None:
            return facts.unit
        found = self.positions.get(key)
        return found.unit if found is not None else given

    def _quantity(self, r: _Record) -> Decimal:
        facts = self._facts(r.sku)
        packs = facts.packs if facts is not None else {}
        return convert(
            r.quantity, r.unit, self._stock_unit((r.sku, r.location, r.lot), r.unit), packs
        )

    def _check_lot(self, r: _Record) -> None:
        """Refuse what cannot be a fact: a lot-less inbound of a lot-tracked SKU, a second
        expiry date for a lot. Fixes the lot's expiry when this is its first date."""
        if r.kind not in _INBOUND:
            return
        facts = self._facts(r.sku)
        if not r.lot:
            if facts is not None and facts.lot_tracked:
                raise Refused("lot", f"{r.sku} is lot-tracked: {r.kind} must name a lot")
            return
        fixed = self.lots.get((r.sku, r.lot))
        if fixed is not None:
            if r.expires_on is not None and r.expires_on != fixed:
                raise Refused(
                    "expires_on", f"lot {r.lot} expires on {fixed}, not on {r.expires_on}"
                )
            return
        expires = r.expires_on
        if (
            expires is None
            and facts is not None
            and facts.lot_tracked
            and facts.shelf_life_days is not None
        ):
            expires = r.occurred_at.astimezone(UTC).date() + timedelta(days=facts.shelf_life_days)
        if expires is not None:
            self.lots[(r.sku, r.lot)] = expires

    # ------------------------------------------------------------------ positions

    def at(self, key: PositionKey, unit: str | None = None) -> _Position:
        found = self.positions.get(key)
        if found is None:
            facts = self._facts(key[0])
            stock_unit = facts.unit if facts is not None else (unit or "EA")
            found = self.positions[key] = _Position(stock_unit)
            self.lots_at.setdefault(key[:2], []).append(key[2])
        return found

    def expires_on(self, key: PositionKey) -> date | None:
        return self.lots.get((key[0], key[2])) if key[2] else None

    def expired(self, key: PositionKey, now: datetime) -> Decimal:
        expires = self.expires_on(key)
        if expires is None or now < expiry_instant(expires):
            return ZERO
        return max(self.positions[key].on_hand, ZERO)

    def sellable(self, key: PositionKey, now: datetime) -> Decimal:
        p = self.positions[key]
        return p.on_hand - p.quality_hold - self.expired(key, now)

    def location_available_to_promise(self, place: Place, now: datetime) -> Decimal:
        total = ZERO
        for lot in self.lots_at.get(place, ()):
            key = (*place, lot)
            total += self.sellable(key, now) - self.positions[key].reserved
        return max(total, ZERO)

    def incoming(self, key: PositionKey) -> Decimal:
        if key[2]:
            return ZERO
        return sum(
            (q for (sku, loc, _), q in self.order_lines.items() if (sku, loc) == key[:2]), ZERO
        )

    def _fefo(self, r: _Record, q: Decimal, now: datetime) -> list[tuple[str, Decimal]]:
        """Lots an outbound movement takes, in order: FEFO when it names no lot."""
        if r.lot:
            return [(r.lot, q)]
        lots = [
            (r.sku, r.location, lot) for lot in self.lots_at.get((r.sku, r.location), ()) if lot
        ]
        if not lots:
            return [("", q)]

        def order(key: PositionKey) -> tuple[bool, date, str]:
            expires = self.expires_on(key)
            return (expires is None, expires or date.min, key[2])

        parts: list[tuple[str, Decimal]] = []
        remaining = q
        for key in sorted(lots, key=order):
            if remaining <= 0:
                break
            free = self.sellable(key, now)
            if r.kind == "reservation":
                free -= self.positions[key].reserved
            take = min(remaining, max(free, ZERO))
            if take > 0:
                parts.append((key[2], take))
                remaining -= take
        if remaining > 0:
            parts.append(("", remaining))
        return parts

    def _on_hand(self, key: PositionKey, delta: Decimal, r: _Record) -> None:
        """An on-hand effect, unless a cycle count at or after it already saw it (absorbed)."""
        p = self.at(key, r.unit)
        if p.counted_at is not None and r.occurred_at <= p.counted_at:
            self.absorbed.add(r.event_id)
            return
        p.on_hand += delta
        p.effects.append((r.occurred_at, delta))

    # ------------------------------------------------------------------ movements

    def _apply(self, r: _Record, q: Decimal, now: datetime) -> Outcome:
        kind = r.kind
        key = (r.sku, r.location, r.lot)
        if kind in ("receipt", "return", "adjustment"):
            self._on_hand(key, q, r)
            p = self.at(key, r.unit)
            if kind == "receipt":
                p.received += q
                if r.order_ref is not None:
                    line = (r.sku, r.location, r.order_ref)
                    if line in self.order_lines:
                        self.at((r.sku, r.location, ""), r.unit)
                        self.order_lines[line] -= min(q, self.order_lines[line])
            elif kind == "return":
                p.returned += q
        elif kind in ("shipment", "scrap"):
            for lot, part in self._fefo(r, q, now):
                here = (r.sku, r.location, lot)
                self._on_hand(here, -part, r)
                p = self.at(here, r.unit)
                if kind == "shipment":
                    p.shipped += part
                else:
                    p.scrapped += part
        elif kind == "transfer_out":
            return self._transfer_out(r, q, now)
        elif kind == "transfer_in":
            if r.transfer_ref is not None:
                if (r.sku, r.transfer_ref) not in self.transfers:
                    waiting = ("transfer", r.sku, r.transfer_ref)
                    self.parked.setdefault(waiting, []).append((r, q))
                    return "parked"
                self._transfer_in(r, q)
            else:
                self._on_hand(key, q, r)
                self.at(key, r.unit).in_transit -= q
        elif kind == "reservation":
            return self._reservation(r, q, now)
        elif kind == "reservation_release":
            if r.reservation_id is not None:
                if (r.sku, r.reservation_id) not in self.reservations:
                    waiting = ("reservation", r.sku, r.reservation_id)
                    self.parked.setdefault(waiting, []).append((r, q))
                    return "parked"
                self._release_reservation(r, q)
            else:
                p = self.at(key, r.unit)
                take = min(q, max(p.reserved, ZERO))
                p.reserved -= take
                if take < q:
                    self.anomalies.append(("release_exceeds_reserved", key, r.event_id))
        elif kind == "cycle_count":
            self._count(key, q, r)
        elif kind == "quality_hold":
            self.at(key, r.unit).quality_hold += q
        elif kind == "quality_release":
            p = self.at(key, r.unit)
            p.quality_hold -= min(q, p.quality_hold)
        elif kind == "expected_receipt":
            self.at((r.sku, r.location, ""), r.unit)
            line = (r.sku, r.location, r.order_ref or "")
            self.order_lines[line] = self.order_lines.get(line, ZERO) + q
        elif kind == "lost_sale":
            self.at(key, r.unit).lost_sales += q
        else:
            raise ValueError(f"unknown movement kind {kind!r} in a valid record")
        return "applied"

    def _count(self, key: PositionKey, c: Decimal, r: _Record) -> None:
        p = self.at(key, r.unit)
        t = r.occurred_at
        if p.counted_at is not None and p.counted_at >= t:
            self.superseded.add(r.event_id)
            return
        later = sum((delta for at, delta in p.effects if at > t), ZERO)
        p.on_hand = c + later
        p.counted_at = t

    def _transfer_out(self, r: _Record, q: Decimal, now: datetime) -> Outcome:
        assert r.destination is not None, "transfer_out without a destination"
        parts = self._fefo(r, q, now)
        for lot, part in parts:
            self._on_hand((r.sku, r.location, lot), -part, r)
            self.at((r.sku, r.destination, lot), r.unit).in_transit += part
        if r.transfer_ref is not None:
            _add_parts(self.transfers.setdefault((r.sku, r.transfer_ref), []), parts)
            for waiting, wq in self.parked.pop(("transfer", r.sku, r.transfer_ref), []):
                self._transfer_in(waiting, wq)
        return "applied"

    def _transfer_in(self, r: _Record, q: Decimal) -> None:
        assert r.transfer_ref is not None
        remaining = q
        for part in self.transfers[(r.sku, r.transfer_ref)]:
            if remaining <= 0:
                break
            take = min(remaining, part[1])
            if take <= 0:
                continue
            here = (r.sku, r.location, part[0])
            self._on_hand(here, take, r)
            self.at(here, r.unit).in_transit -= take
            part[1] -= take
            remaining -= take
        if remaining > 0:
            own = (r.sku, r.location, r.lot)
            self._on_hand(own, remaining, r)
            self.at(own, r.unit).in_transit -= remaining

    def _reservation(self, r: _Record, q: Decimal, now: datetime) -> Outcome:
        parts = self._fefo(r, q, now)
        for lot, part in parts:
            self.at((r.sku, r.location, lot), r.unit).reserved += part
        if r.reservation_id is not None:
            held = self.reservations.setdefault((r.sku, r.reservation_id), [])
            _add_parts(held, [((r.sku, r.location, lot), part) for lot, part in parts])
            for waiting, wq in self.parked.pop(("reservation", r.sku, r.reservation_id), []):
                self._release_reservation(waiting, wq)
        return "applied"

    def _release_reservation(self, r: _Record, q: Decimal) -> None:
        assert r.reservation_id is not None
        remaining = q
        # The sheet: a release meets the reservation's lots last taken first.
        for part in reversed(self.reservations[(r.sku, r.reservation_id)]):
            if remaining <= 0:
                break
            take = min(remaining, part[1])
            if take <= 0:
                continue
            self.at(part[0]).reserved -= take
            part[1] -= take
            remaining -= take

    # ------------------------------------------------------------------ reading out

    def expected(self, now: datetime) -> dict[PositionKey, ExpectedPosition]:
        """Every position's buckets and counters as of ``now``, by key."""
        places: dict[Place, Decimal] = {}
        out: dict[PositionKey, ExpectedPosition] = {}
        for key in sorted(self.positions):
            p = self.positions[key]
            place = key[:2]
            if place not in places:
                places[place] = self.location_available_to_promise(place, now)
            expired = self.expired(key, now)
            sellable = p.on_hand - p.quality_hold - expired
            anomalies = []
            if p.in_transit < 0:
                anomalies.append("negative_in_transit")
            if p.on_hand < 0:
                anomalies.append("negative_on_hand")
            if p.reserved > max(sellable, ZERO):
                anomalies.append("oversold")
            out[key] = ExpectedPosition(
                sku=key[0],
                location=key[1],
                lot=key[2],
                on_hand=p.on_hand,
                reserved=p.reserved,
                in_transit=p.in_transit,
                quality_hold=p.quality_hold,
                expired=expired,
                incoming=self.incoming(key),
                location_available_to_promise=places[place],
                received=p.received,
                shipped=p.shipped,
                returned=p.returned,
                scrapped=p.scrapped,
                lost_sales=p.lost_sales,
                expires_on=self.expires_on(key),
                counted_at=p.counted_at,
                unit=p.unit,
                anomalies=tuple(anomalies),
            )
        return out


@dataclass
class Oracle:
    """Expected positions and record counts of one stream of deliveries."""

    positions: dict[PositionKey, ExpectedPosition] = field(default_factory=dict)
    expected_counts: dict[str, int] = field(
        default_factory=lambda: {"valid": 0, "duplicate": 0, "malformed": 0}
    )
    """How many records of each kind were delivered (what the consumer should count)."""
    applied: int = 0
    """Movements journaled and not refused (valid records after de-duplication)."""
    refused: int = 0
    """Valid records the ledger must refuse (not facts: unit, lot, expires_on)."""
    parked: int = 0
    """Records still waiting for their reservation or transfer-out at the end."""

    @classmethod
    def from_deliveries(
        cls,
        deliveries: Iterable[Delivery],
        catalog: Mapping[str, StockFacts] | None = None,
        now: datetime | None = None,
    ) -> Oracle:
        """The stream applied in delivery order at ``now`` (default: the wall clock), with
        the SKUs' stock facts in ``catalog`` (undescribed SKUs: see docs/stock.md)."""
        when = now if now is not None else datetime.now(UTC)
        model = StockModel(catalog)
        counts = {"valid": 0, "duplicate": 0, "malformed": 0}
        for delivery in deliveries:
            counts[delivery.kind] = counts.get(delivery.kind, 0) + 1
            model.deliver(delivery, when)
        return cls(
            positions=model.expected(when),
            expected_counts=counts,
            applied=model.applied,
            refused=len(model.refused),
            parked=sum(len(v) for v in model.parked.values()),
        )

    def network_available_to_promise(self, sku: str) -> Decimal:
        """Σ over locations of the SKU's location ATP."""
        by_place = {
            p.location: p.location_available_to_promise
            for p in self.positions.values()
            if p.sku == sku
        }
        return sum(by_place.values(), ZERO)

    # ------------------------------------------------------------------ comparison

    def compare(
        self,
        actual: Mapping[PositionKey, tuple[Decimal, Decimal, Decimal] | Mapping[str, Any]],
    ) -> list[str]:
        """Every difference between the expected positions and ``actual``.

        ``actual`` maps (sku, location, lot) to (on_hand, reserved, in_transit), or to a
        mapping of bucket name to value: then every bucket of :data:`BUCKETS` it names is
        compared. A position that is missing on one side compares as all zeros (whether
        an untouched lot-less position exists is not the sheet's business); an empty list
        means the system converged to exactly the expected state.
        """
        problems: list[str] = []
        for key in sorted(set(self.positions) | set(actual)):
            want = self.positions.get(key)
            raw = actual.get(key)
            got = _buckets(raw) if raw is not None else None
            place = where(key)
            if got is None:
                if want is not None and not _zero(want):
                    problems.append(f"missing position {place}")
                continue
            if want is None:
                if any(Decimal(v) != 0 for v in got.values()):
                    shown = ", ".join(f"{k}={v}" for k, v in got.items())
                    problems.append(f"extra position {place}: {shown}")
                continue
            for name, value in got.items():
                expected = getattr(want, name)
                if Decimal(value) != expected:
                    problems.append(f"{place}: {name} is {value}, expected {expected}")
        return problems

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, Any]:
        return {
            "expected_counts": dict(self.expected_counts),
            "applied": self.applied,
            "refused": self.refused,
            "parked": self.parked,
            "positions": [_position_to_json(p) for p in self.positions.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Oracle:
        positions: dict[PositionKey, ExpectedPosition] = {}
        for row in data["positions"]:
            position = _position_from_json(row)
            positions[(position.sku, position.location, position.lot)] = position
        return cls(
            positions=positions,
            expected_counts={str(k): int(v) for k, v in data["expected_counts"].items()},
            applied=int(data.get("applied", 0)),
            refused=int(data.get("refused", 0)),
            parked=int(data.get("parked", 0)),
        )

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path) -> Oracle:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def _buckets(raw: tuple[Decimal, Decimal, Decimal] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(raw, tuple):
        return dict(zip(("on_hand", "reserved", "in_transit"), raw, strict=True))
    return {name: raw[name] for name in BUCKETS if name in raw}


def _zero(p: ExpectedPosition) -> bool:
    return all(getattr(p, name) == 0 for name in BUCKETS)


def _position_to_json(p: ExpectedPosition) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(p):
        value = getattr(p, f.name)
        if isinstance(value, Decimal):
            out[f.name] = str(value)
        elif isinstance(value, date | datetime):
            out[f.name] = value.isoformat()
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def _position_from_json(row: Mapping[str, Any]) -> ExpectedPosition:
    counted = row.get("counted_at")
    expires = row.get("expires_on")
    quantities = {name: Decimal(row.get(name, "0")) for name in BUCKETS}
    return ExpectedPosition(
        sku=row["sku"],
        location=row["location"],
        lot=row.get("lot") or "",
        **quantities,
        expires_on=date.fromisoformat(expires) if expires else None,
        counted_at=_timestamp(counted) if counted else None,
        unit=str(row.get("unit", "")),
        anomalies=tuple(row.get("anomalies", ())),
    )


def where(key: PositionKey) -> str:
    """A position as problems name it: ``SKU at GLN lot L``."""
    sku, location, lot = key
    return f"{sku} at {location}" + (f" lot {lot}" if lot else "")


def _add_parts(held: list[list[Any]], parts: Iterable[tuple[Any, Decimal]]) -> None:
    """Add quantities taken to a reservation's or transfer's entries, one per lot (or
    position), kept in the order each was first taken."""
    for where, part in parts:
        for entry in held:
            if entry[0] == where:
                entry[1] += part
                break
        else:
            held.append([where, part])
