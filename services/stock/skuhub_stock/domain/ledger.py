"""The stock ledger: movements applied to positions as docs/stock.md writes them down.

Pure Python: no I/O. A :class:`Ledger` holds what one batch needs (the positions of
the places it touches, the SKUs' catalog facts, the lots, reservations, transfers and
order lines it names) and records everything it changes, for the caller to save.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from skuhub_stock.domain.movements import (
    INBOUND,
    NO_LOT,
    OUTBOUND,
    Movement,
    MovementKind,
    MovementRejected,
    Place,
    PositionKey,
)
from skuhub_stock.domain.positions import ZERO, Anomaly, Position, location_available_to_promise
from skuhub_stock.domain.units import same_unit, to_stock_unit

LotKey = tuple[str, str]
"""(sku, lot)."""
OrderLineKey = tuple[str, str, str]
"""(sku, location, order_ref)."""
_At = Callable[[PositionKey], Position]
"""The position at a key, noted as touched by the movement being applied."""
Reference = tuple[str, str, str]
"""(kind, sku, reference): a reservation, transfer or order line of one SKU, or its product
("product", sku, ""). References are per SKU: an order's lines share its id."""
WaitingFor = Reference
RefKey = tuple[str, str]
"""(sku, reservation id or transfer reference)."""
"""("reservation", reservation_id) or ("transfer", transfer_ref)."""


@dataclass(frozen=True, slots=True)
class SkuFacts:
    """What the catalog says about a SKU's stock (product-changed)."""

    unit: str
    packs: Mapping[str, Decimal] = field(default_factory=dict)
    lot_tracked: bool = False
    shelf_life_days: int | None = None
    components: tuple[tuple[str, Decimal], ...] = ()
    """A kit's components and units of each per kit; empty for a product that is no kit."""


@dataclass(slots=True)
class Reservation:
    """A reservation by id and the quantity it still holds per lot, in the order taken.

    One reported by upstream (a fact) is open as long as it holds something; one made
    over HTTP (a command) also has a status, a time to live and its idempotency key.
    """

    reservation_id: str
    sku: str
    location: str
    lots: dict[str, Decimal] = field(default_factory=dict)
    status: str = "open"
    expires_at: datetime | None = None
    idempotency_key: str | None = None
    created_at: datetime | None = None

    @property
    def quantity(self) -> Decimal:
        return sum(self.lots.values(), ZERO)


@dataclass(slots=True)
class Transfer:
    """A transfer by reference and what it still has in transit per lot, in the order taken."""

    transfer_ref: str
    sku: str
    source: str
    destination: str
    lots: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Effect:
    """What one movement did to one position's on hand; ``absorbed`` when a cycle count
    that happened later had already counted it (it then changed nothing)."""

    key: PositionKey
    occurred_at: datetime
    on_hand: Decimal
    absorbed: bool
    cause: str


@dataclass(frozen=True, slots=True)
class Variance:
    """A cycle count's difference from what the ledger had as of the count's time."""

    key: PositionKey
    occurred_at: datetime
    counted: Decimal
    expected: Decimal
    cause: str

    @property
    def difference(self) -> Decimal:
        return self.counted - self.expected


@dataclass(frozen=True, slots=True)
class AnomalyRecord:
    """A position entered an anomalous state (or a release found too little reserved)."""

    key: PositionKey
    anomaly: str
    quantity: Decimal
    cause: str


RELEASE_EXCEEDS_RESERVED = "release_exceeds_reserved"
ACCEPT, QUARANTINE, REJECT = "accept", "quarantine", "reject"
UNKNOWN_SKU_POLICIES = (ACCEPT, QUARANTINE, REJECT)


@dataclass(frozen=True, slots=True)
class Demand:
    """Units shipped or lost (demand not served) at a place on the day they happened."""

    place: Place
    day: date
    shipped: Decimal = ZERO
    lost_sales: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Parked:
    """A movement waiting for the movement it refers to."""

    cause: str
    waiting_for: WaitingFor
    movement: Movement


@dataclass
class Ledger:
    """The state one batch touches, and everything it changed.

    ``counted_later`` gives, for a cycle count's (position, time), the stored on-hand
    effects at that position that happened after that time (the caller loads them for
    the counts it is about to apply); effects of this batch are added here.
    """

    now: datetime
    positions: dict[PositionKey, Position] = field(default_factory=dict)
    facts: dict[str, SkuFacts] = field(default_factory=dict)
    lots: dict[LotKey, date] = field(default_factory=dict)
    reservations: dict[RefKey, Reservation] = field(default_factory=dict)
    transfers: dict[RefKey, Transfer] = field(default_factory=dict)
    order_lines: dict[OrderLineKey, Decimal] = field(default_factory=dict)
    parked: dict[WaitingFor, list[Parked]] = field(default_factory=dict)
    counted_later: Mapping[tuple[PositionKey, datetime], Decimal] = field(default_factory=dict)
    unknown_sku: str = ACCEPT
    """What to do with a movement of a SKU the catalog has not described: accept it (its
    unit becomes the stock unit), quarantine it until the catalog does, or reject it."""

    changed: dict[PositionKey, Position] = field(default_factory=dict, init=False)
    causes: dict[PositionKey, list[str]] = field(default_factory=dict, init=False)
    new_lots: dict[LotKey, date] = field(default_factory=dict, init=False)
    effects: list[Effect] = field(default_factory=list, init=False)
    variances: list[Variance] = field(default_factory=list, init=False)
    anomalies: list[AnomalyRecord] = field(default_factory=list, init=False)
    newly_parked: list[Parked] = field(default_factory=list, init=False)
    unparked: list[str] = field(default_factory=list, init=False)
    superseded: list[str] = field(default_factory=list, init=False)
    changed_references: set[Reference] = field(default_factory=set, init=False)
    demand: list[Demand] = field(default_factory=list, init=False)
    """Shipments and lost sales applied, for replenishment's demand history."""
    _lots_at: dict[Place, set[str]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for key in self.positions:
            self._lots_at.setdefault(key[:2], set()).add(key[2])

    # ---- reading -------------------------------------------------------------------

    def at(self, place: Place) -> list[Position]:
        """Every position (lot) of a SKU at one location that the ledger holds."""
        sku, location = place
        return [self.positions[(sku, location, lot)] for lot in self._lots_at.get(place, ())]

    def location_available_to_promise(self, place: Place) -> Decimal:
        return location_available_to_promise(self.at(place))

    # ---- applying ------------------------------------------------------------------

    def apply(self, movement: Movement, cause: str) -> None:
        """Apply one reported movement (``cause`` is its event id), or park it until the
        movement it refers to arrives; then anything that was waiting for it.

        Raises:
            MovementRejected: the movement cannot be read as a fact (unit, lot, expiry, or
                an unknown SKU when those are rejected); nothing has changed.
        """
        if movement.sku not in self.facts and self.unknown_sku != ACCEPT:
            if self.unknown_sku == REJECT:
                raise MovementRejected(
                    f"{movement.sku} is not in the catalog: publish its product first "
                    "(movements of unknown SKUs are rejected by this service's setting)",
                    field="sku",
                )
            self._park(Parked(cause, ("product", movement.sku, ""), movement))
            return
        quantity = self.quantity_in_stock_unit(movement)
        expires_on = self._checked_expiry(movement)
        waiting_for = self._waits_for(movement)
        if movement.kind in INBOUND and movement.lot and expires_on:
            # The lot's date is fixed when a movement naming it arrives, parked or not: the
            # check above holds every later one to it. An applied movement dates its own
            # position as it applies.
            own = movement.key if waiting_for is None else None
            self._date_lot(movement.sku, movement.lot, expires_on, cause, own=own)
        if waiting_for is not None:
            self._park(Parked(cause, waiting_for, movement))
            return
        touched, before = self._apply(movement, quantity, expires_on, cause)
        self._changed(touched.values(), before, cause)
        for waiting in self._released_by(movement):
            self.unparked.append(waiting.cause)
            self.apply(waiting.movement, waiting.cause)

    def _changed(
        self,
        positions: Iterable[Position],
        before: Mapping[PositionKey, frozenset[Anomaly]],
        cause: str,
    ) -> None:
        """Note positions a movement changed: a new version, the cause, anomalies entered."""
        for position in positions:
            position.expired = position.expired_at(self.now)
            position.version += 1
            self.changed[position.key] = position
            self.causes.setdefault(position.key, []).append(cause)
            for anomaly in sorted(position.anomalies - before.get(position.key, frozenset())):
                self.anomalies.append(
                    AnomalyRecord(position.key, anomaly, _anomaly_size(position, anomaly), cause)
                )

    def _date_lot(
        self, sku: str, lot: str, expires_on: date, cause: str, *, own: PositionKey | None
    ) -> None:
        """Fix a new lot's expiry date; its positions that exist already take it (one
        expiry per lot, at every location), but ``own``, which the movement dates as it
        applies."""
        if (sku, lot) in self.lots:
            return
        self.lots[(sku, lot)] = self.new_lots[(sku, lot)] = expires_on
        undated = [p for k, p in self.positions.items() if k[0] == sku and k[2] == lot and k != own]
        before = {p.key: p.anomalies for p in undated}
        for position in undated:
            position.expires_on = expires_on
        self._changed(undated, before, cause)

    def describe(self, sku: str, facts: SkuFacts) -> list[Parked]:
        """Take the catalog's (new) facts of a SKU; return the movements quarantined until
        it was known, in the order they arrived, for the caller to apply."""
        self.facts[sku] = facts
        waiting = self.parked.pop(("product", sku, ""), [])
        self.unparked += [w.cause for w in waiting]
        return waiting

    def _park(self, parked: Parked) -> None:
        self.parked.setdefault(parked.waiting_for, []).append(parked)
        self.newly_parked.append(parked)

    def expire(self, keys: Iterable[PositionKey], cause: str) -> None:
        """Mark positions whose lot has expired by now, as the scheduler finds them."""
        for key in keys:
            position = self.positions.get(key)
            if position is None or position.expired or not position.expired_at(self.now):
                continue
            before = position.anomalies
            position.expired = True
            position.version += 1
            self.changed[key] = position
            self.causes.setdefault(key, []).append(cause)
            for anomaly in sorted(position.anomalies - before):
                self.anomalies.append(
                    AnomalyRecord(key, anomaly, _anomaly_size(position, anomaly), cause)
                )

    # ---- checks (before anything changes) --------------------------------------------

    def stock_unit(self, sku: str, place: Place, fallback: str) -> str:
        facts = self.facts.get(sku)
        if facts is not None:
            return facts.unit
        for position in self.at(place):
            return position.unit
        return fallback

    def quantity_in_stock_unit(self, movement: Movement) -> Decimal:
        """The movement's quantity in its SKU's stock unit.

        Raises:
            MovementRejected: the unit does not convert (or the places keep different units).
        """
        facts = self.facts.get(movement.sku)
        packs = facts.packs if facts is not None else {}
        stock_unit = self.stock_unit(movement.sku, movement.places[0], movement.unit)
        for place in movement.places[1:]:
            other = self.stock_unit(movement.sku, place, stock_unit)
            if not same_unit(other, stock_unit):
                raise MovementRejected(
                    f"{movement.sku} is kept in {stock_unit} at {movement.location} and in "
                    f"{other} at {place[1]}; the catalog's stock unit settles it",
                    field="unit",
                )
        try:
            return to_stock_unit(movement.quantity, movement.unit, stock_unit, packs)
        except MovementRejected as rejected:
            where = f"{movement.sku} at {movement.location}"
            raise MovementRejected(f"{where}: {rejected.reason}", field="unit") from None

    def _checked_expiry(self, movement: Movement) -> date | None:
        """The lot's expiry date after this movement (None when it has none)."""
        facts = self.facts.get(movement.sku)
        if movement.kind in INBOUND and movement.lot is None and facts and facts.lot_tracked:
            raise MovementRejected(
                f"{movement.sku} is lot-tracked: a {movement.kind.value} must name its lot",
                field="lot",
            )
        lot = movement.lot or NO_LOT
        known = (
            self.lots.get((movement.sku, lot))
            if lot
            else (p.expires_on if (p := self.positions.get(movement.key)) else None)
        )
        if movement.kind not in INBOUND:
            return known
        stated = movement.expires_on
        if stated is None and known is None and lot and facts and facts.shelf_life_days:
            stated = movement.occurred_at.date() + timedelta(days=facts.shelf_life_days)
        if stated is not None and known is not None and stated != known:
            where = f"{movement.sku} at {movement.location}"
            if lot:
                where = f"lot {lot} of {movement.sku}"
            raise MovementRejected(
                f"{where} expires on {known}, not {stated}: a lot has one expiry date",
                field="expires_on",
            )
        return known or stated

    def _waits_for(self, movement: Movement) -> WaitingFor | None:
        if (
            movement.kind is MovementKind.RESERVATION_RELEASE
            and movement.reservation_id is not None
            and (movement.sku, movement.reservation_id) not in self.reservations
        ):
            return ("reservation", movement.sku, movement.reservation_id)
        if (
            movement.kind is MovementKind.TRANSFER_IN
            and movement.transfer_ref is not None
            and (movement.sku, movement.transfer_ref) not in self.transfers
        ):
            return ("transfer", movement.sku, movement.transfer_ref)
        return None

    def _released_by(self, movement: Movement) -> list[Parked]:
        if movement.kind is MovementKind.RESERVATION and movement.reservation_id is not None:
            return self.parked.pop(("reservation", movement.sku, movement.reservation_id), [])
        if movement.kind is MovementKind.TRANSFER_OUT and movement.transfer_ref is not None:
            return self.parked.pop(("transfer", movement.sku, movement.transfer_ref), [])
        return []

    # ---- effects -------------------------------------------------------------------

    def position(self, key: PositionKey, unit: str) -> Position:
        found = self.positions.get(key)
        if found is None:
            sku, location, lot = key
            found = Position(sku, location, lot, unit, expires_on=self.lots.get((sku, lot)))
            self.positions[key] = found
            self._lots_at.setdefault((sku, location), set()).add(lot)
        return found

    def _apply(
        self, m: Movement, q: Decimal, expires_on: date | None, cause: str
    ) -> tuple[dict[PositionKey, Position], dict[PositionKey, frozenset[Anomaly]]]:
        """Apply one movement; return the positions it touched and their anomalies before."""
        unit = self.stock_unit(m.sku, m.places[0], m.unit)
        touched: dict[PositionKey, Position] = {}
        before: dict[PositionKey, frozenset[Anomaly]] = {}

        def at(key: PositionKey) -> Position:
            position = self.position(key, unit)
            if key not in touched:
                touched[key] = position
                before[key] = position.anomalies
            return position

        def on_hand(position: Position, delta: Decimal) -> None:
            absorbed = position.counted_at is not None and m.occurred_at <= position.counted_at
            if not absorbed:
                position.on_hand += delta
            self.effects.append(Effect(position.key, m.occurred_at, delta, absorbed, cause))

        match m.kind:
            case MovementKind.RECEIPT | MovementKind.RETURN | MovementKind.ADJUSTMENT:
                here = at(m.key)
                if m.kind is not MovementKind.ADJUSTMENT and expires_on is not None:
                    here.expires_on = expires_on
                on_hand(here, q)
                if m.kind is MovementKind.RECEIPT:
                    here.received += q
                    if m.order_ref is not None:
                        self._fill_order_line((m.sku, m.location, m.order_ref), q, at)
                elif m.kind is MovementKind.RETURN:
                    here.returned += q
            case MovementKind.SHIPMENT | MovementKind.SCRAP:
                for lot, part in self._take(m, q, reserve=False):
                    position = at((m.sku, m.location, lot))
                    on_hand(position, -part)
                    if m.kind is MovementKind.SHIPMENT:
                        position.shipped += part
                    else:
                        position.scrapped += part
                if m.kind is MovementKind.SHIPMENT:
                    self.demand.append(
                        Demand(m.places[0], m.occurred_at.astimezone(UTC).date(), shipped=q)
                    )
            case MovementKind.TRANSFER_OUT:
                taken = self._take(m, q, reserve=False)
                for lot, part in taken:
                    on_hand(at((m.sku, m.location, lot)), -part)
                    if m.destination is not None:
                        at((m.sku, m.destination, lot)).in_transit += part
                if m.transfer_ref is not None and m.destination is not None:
                    transfer = self.transfers.setdefault(
                        (m.sku, m.transfer_ref),
                        Transfer(m.transfer_ref, m.sku, m.location, m.destination),
                    )
                    for lot, part in taken:
                        transfer.lots[lot] = transfer.lots.get(lot, ZERO) + part
                    self.changed_references.add(("transfer", m.sku, m.transfer_ref))
            case MovementKind.TRANSFER_IN:
                for lot, part in self._receive_transfer(m, q):
                    position = at((m.sku, m.location, lot))
                    if expires_on is not None and lot == (m.lot or NO_LOT):
                        position.expires_on = expires_on
                    on_hand(position, part)
                    position.in_transit -= part
            case MovementKind.RESERVATION:
                taken = self._take(m, q, reserve=True)
                for lot, part in taken:
                    at((m.sku, m.location, lot)).reserved += part
                if m.reservation_id is not None:
                    reservation = self.reservations.setdefault(
                        (m.sku, m.reservation_id), Reservation(m.reservation_id, m.sku, m.location)
                    )
                    for lot, part in taken:
                        reservation.lots[lot] = reservation.lots.get(lot, ZERO) + part
                    self.changed_references.add(("reservation", m.sku, m.reservation_id))
            case MovementKind.RESERVATION_RELEASE:
                self._release(m, q, at, cause)
            case MovementKind.CYCLE_COUNT:
                if not self._count(m, q, at(m.key), cause):
                    del touched[m.key]
            case MovementKind.QUALITY_HOLD:
                at(m.key).quality_hold += q
            case MovementKind.QUALITY_RELEASE:
                here = at(m.key)
                here.quality_hold -= min(q, here.quality_hold)
            case MovementKind.EXPECTED_RECEIPT:
                line = (m.sku, m.location, m.order_ref or "")
                self.order_lines[line] = self.order_lines.get(line, ZERO) + q
                self.changed_references.add(("order", m.sku, line[2]))
                at((m.sku, m.location, NO_LOT)).incoming += q
            case MovementKind.LOST_SALE:
                at(m.key).lost_sales += q
                self.demand.append(
                    Demand(m.places[0], m.occurred_at.astimezone(UTC).date(), lost_sales=q)
                )
        for key, position in touched.items():
            if key[2] != NO_LOT and position.expires_on is None:
                position.expires_on = self.lots.get((key[0], key[2]))
        return touched, before

    def _count(self, m: Movement, q: Decimal, here: Position, cause: str) -> bool:
        """A cycle count: on hand as of its time, with what happened later on top; False
        when a count that happened later has set the position already (it is superseded)."""
        if here.counted_at is not None and m.occurred_at <= here.counted_at:
            self.superseded.append(cause)
            return False
        later = self.counted_later.get((here.key, m.occurred_at), ZERO) + sum(
            (
                e.on_hand
                for e in self.effects
                if e.key == here.key and not e.absorbed and e.occurred_at > m.occurred_at
            ),
            ZERO,
        )
        expected = here.on_hand - later
        self.variances.append(Variance(here.key, m.occurred_at, q, expected, cause))
        here.on_hand = q + later
        here.counted_at = m.occurred_at
        return True

    def _splits(self, m: Movement) -> bool:
        """Whether a movement without a lot is split across the location's lots (FEFO)."""
        if m.kind not in OUTBOUND or m.lot is not None:
            return False
        facts = self.facts.get(m.sku)
        lots = self._lots_at.get((m.sku, m.location), set())
        return bool(facts and facts.lot_tracked) or any(lot != NO_LOT for lot in lots)

    def _take(self, m: Movement, q: Decimal, *, reserve: bool) -> list[tuple[str, Decimal]]:
        """Which lots an outbound movement takes from, and how much of each (FEFO)."""
        if not self._splits(m):
            return [(m.lot or NO_LOT, q)]
        taken: dict[str, Decimal] = {}
        remaining = q
        for position in sorted(self.at((m.sku, m.location)), key=lambda p: p.fefo_order):
            if remaining <= 0:
                break
            if position.expired_at(self.now):
                continue
            free = position.free if reserve else position.sellable
            part = min(remaining, max(free, ZERO))
            if part > 0:
                taken[position.lot] = part
                remaining -= part
        if remaining > 0:
            taken[NO_LOT] = taken.get(NO_LOT, ZERO) + remaining
        return list(taken.items())

    def _receive_transfer(self, m: Movement, q: Decimal) -> list[tuple[str, Decimal]]:
        transfer = self.transfers.get((m.sku, m.transfer_ref)) if m.transfer_ref else None
        if transfer is None:
            return [(m.lot or NO_LOT, q)]
        received: dict[str, Decimal] = {}
        remaining = q
        for lot in list(transfer.lots):
            part = min(remaining, transfer.lots.get(lot, ZERO))
            if part > 0:
                received[lot] = part
                transfer.lots[lot] -= part
                remaining -= part
        if remaining > 0:
            lot = m.lot or NO_LOT
            received[lot] = received.get(lot, ZERO) + remaining
        self.changed_references.add(("transfer", m.sku, transfer.transfer_ref))
        return list(received.items())

    def _release(self, m: Movement, q: Decimal, at: _At, cause: str) -> None:
        reservation = self.reservations.get((m.sku, m.reservation_id)) if m.reservation_id else None
        if reservation is None:
            position = at(m.key)
            part = min(q, max(position.reserved, ZERO))
            position.reserved -= part
            excess = q - part
        else:
            excess = q
            for lot in reversed(list(reservation.lots)):
                part = min(excess, reservation.lots[lot])
                if part <= 0:
                    continue
                position = at((m.sku, reservation.location, lot))
                position.reserved -= part
                reservation.lots[lot] -= part
                excess -= part
            self.changed_references.add(("reservation", m.sku, reservation.reservation_id))
        if excess > 0:
            self.anomalies.append(AnomalyRecord(m.key, RELEASE_EXCEEDS_RESERVED, excess, cause))

    def _fill_order_line(self, line: OrderLineKey, q: Decimal, at: _At) -> None:
        open_quantity = self.order_lines.get(line, ZERO)
        part = min(q, open_quantity)
        if part > 0:
            self.order_lines[line] = open_quantity - part
            at((line[0], line[1], NO_LOT)).incoming -= part
            self.changed_references.add(("order", line[0], line[2]))


def _day(movement: Movement) -> date:
    """The UTC day a movement happened on (demand is kept per UTC day)."""
    return movement.occurred_at.astimezone(UTC).date()


def _anomaly_size(position: Position, anomaly: Anomaly) -> Decimal:
    match anomaly:
        case Anomaly.NEGATIVE_ON_HAND:
            return -position.on_hand
        case Anomaly.OVERSOLD:
            return position.reserved - max(position.sellable, ZERO)
        case Anomaly.NEGATIVE_IN_TRANSIT:
            return -position.in_transit
