"""The expected final stock positions of a generated stream, computed without skuhub code.

The oracle reads the records as they go on the wire (JSON body, CloudEvents
headers), with the standard library only: it shares no code with the stock
service, so a bug there cannot hide in both. Semantics are the documented
ones (docs/decisions.md, "Stock ledger"). Records apply in delivery order, which
is each SKU's partition order on the wire: a cycle count and a release that
finds less reserved than it releases (reserved stops at zero) depend on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from skuhub_traffic.model import Delivery, ExpectedPosition

PositionKey = tuple[str, str, str]
"""(sku, location GLN, lot; "" when not lot-tracked)."""

ZERO = Decimal(0)
_ADD_ON_HAND = frozenset({"receipt", "return", "adjustment"})
_REMOVE_ON_HAND = frozenset({"shipment", "scrap"})


@dataclass
class _Mutable:
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    in_transit: Decimal = ZERO


@dataclass
class Oracle:
    """Expected positions and record counts of one stream of deliveries."""

    positions: dict[PositionKey, ExpectedPosition] = field(default_factory=dict)
    expected_counts: dict[str, int] = field(
        default_factory=lambda: {"valid": 0, "duplicate": 0, "malformed": 0}
    )
    """How many records of each kind were delivered (what the consumer should count)."""
    applied: int = 0
    """Movements applied (valid records after de-duplication)."""

    @classmethod
    def from_deliveries(cls, deliveries: Iterable[Delivery]) -> Oracle:
        counts = {"valid": 0, "duplicate": 0, "malformed": 0}
        seen_ids: set[str] = set()
        seen_sequences: set[tuple[str, int]] = set()
        state: dict[PositionKey, _Mutable] = {}
        applied = 0

        def at(key: PositionKey) -> _Mutable:
            found = state.get(key)
            if found is None:
                found = state[key] = _Mutable()
            return found

        for delivery in deliveries:
            counts[delivery.kind] = counts.get(delivery.kind, 0) + 1
            if delivery.kind == "malformed":
                continue
            headers = dict(delivery.headers)
            raw_id = headers.get("ce_id")
            event_id = raw_id.decode() if raw_id is not None else delivery.event_id
            body: dict[str, Any] = json.loads(delivery.value)
            sequence = (str(body["source_system"]), int(body["source_sequence"]))
            if (event_id is not None and event_id in seen_ids) or sequence in seen_sequences:
                continue
            if event_id is not None:
                seen_ids.add(event_id)
            seen_sequences.add(sequence)
            applied += 1

            kind = body["kind"]
            sku = body["sku"]
            lot = body.get("lot") or ""
            q = Decimal(str(body["quantity"]))
            here = at((sku, body["location"], lot))
            if kind in _ADD_ON_HAND:
                here.on_hand += q
            elif kind in _REMOVE_ON_HAND:
                here.on_hand -= q
            elif kind == "transfer_out":
                here.on_hand -= q
                at((sku, body["destination"], lot)).in_transit += q
            elif kind == "transfer_in":
                here.on_hand += q
                here.in_transit -= q
            elif kind == "reservation":
                here.reserved += q
            elif kind == "reservation_release":
                # docs/decisions.md: reserved never goes below zero.
                here.reserved = max(here.reserved - q, ZERO)
            elif kind == "cycle_count":
                here.on_hand = q
            else:
                raise ValueError(f"unknown movement kind {kind!r} in a valid record")

        positions = {
            key: ExpectedPosition(key[0], key[1], key[2], p.on_hand, p.reserved, p.in_transit)
            for key, p in sorted(state.items())
        }
        return cls(positions=positions, expected_counts=counts, applied=applied)

    # ------------------------------------------------------------------ comparison

    def compare(self, actual: Mapping[PositionKey, tuple[Decimal, Decimal, Decimal]]) -> list[str]:
        """Every difference between the expected positions and ``actual``.

        ``actual`` maps (sku, location, lot) to (on_hand, reserved, in_transit).
        An empty list means the system converged to exactly the expected state.
        """
        problems: list[str] = []
        for key, want in self.positions.items():
            got = actual.get(key)
            where = _where(key)
            if got is None:
                problems.append(f"missing position {where}")
                continue
            for name, expected, value in (
                ("on_hand", want.on_hand, got[0]),
                ("reserved", want.reserved, got[1]),
                ("in_transit", want.in_transit, got[2]),
            ):
                if Decimal(value) != expected:
                    problems.append(f"{where}: {name} is {value}, expected {expected}")
        for key in sorted(set(actual) - set(self.positions)):
            problems.append(f"extra position {_where(key)}: {tuple(map(str, actual[key]))}")
        return problems

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, Any]:
        return {
            "expected_counts": dict(self.expected_counts),
            "applied": self.applied,
            "positions": [
                {
                    "sku": p.sku,
                    "location": p.location,
                    "lot": p.lot,
                    "on_hand": str(p.on_hand),
                    "reserved": str(p.reserved),
                    "in_transit": str(p.in_transit),
                }
                for p in self.positions.values()
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Oracle:
        positions: dict[PositionKey, ExpectedPosition] = {}
        for row in data["positions"]:
            position = ExpectedPosition(
                sku=row["sku"],
                location=row["location"],
                lot=row.get("lot") or "",
                on_hand=Decimal(row["on_hand"]),
                reserved=Decimal(row["reserved"]),
                in_transit=Decimal(row["in_transit"]),
            )
            positions[(position.sku, position.location, position.lot)] = position
        return cls(
            positions=positions,
            expected_counts={str(k): int(v) for k, v in data["expected_counts"].items()},
            applied=int(data.get("applied", 0)),
        )

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path) -> Oracle:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def _where(key: PositionKey) -> str:
    sku, location, lot = key
    return f"{sku} at {location}" + (f" lot {lot}" if lot else "")
