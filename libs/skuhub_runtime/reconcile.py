"""Data accuracy: a projection of stock positions compared with the stock service's ledger.

Pure Python (standard library only), shared by every service that keeps a projection of
stock-level-changed (docs/kpis.md). A position is compared at the same version: stock's
``position_version`` is the version its event carried, so a projection holding that
version must hold the same figures.

- **match**: the same version on both sides and the same figures;
- **mismatch**: the same version with different figures, or a projection ahead of the
  ledger (a version stock never had, a position stock does not have): a real error;
- **in flight**: stock is ahead (a newer version, or a position the projection has not
  seen yet), which the event on its way will fix. An in-flight check becomes a mismatch
  when the projection has still not reached the versions stock had when it was first
  seen in flight, ``grace`` later (:func:`settle`).

Accuracy is ``matches / (matches + mismatches)``: in-flight checks are not comparable yet
and are counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

PositionKey = tuple[str, str]
"""(location, lot), the lot "" for a position without one."""


class Verdict(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    IN_FLIGHT = "in_flight"


@dataclass(frozen=True, slots=True)
class Figures:
    """One position of a SKU as one side holds it: its version and quantities by name."""

    location: str
    lot: str
    version: int
    quantities: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def key(self) -> PositionKey:
        return (self.location, self.lot)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one comparison found, before the grace of in-flight checks."""

    verdict: Verdict
    reason: str = ""
    """Why it is not a match, in words (empty for a match)."""
    awaited: Mapping[PositionKey, int] = field(default_factory=dict)
    """In flight: the versions stock has where it is ahead of the projection."""


MATCHED = Observation(Verdict.MATCH)


def _label(key: PositionKey) -> str:
    location, lot = key
    return f"{location} lot {lot}" if lot else location


def compare_versions(
    local: Mapping[PositionKey, int], stock: Mapping[PositionKey, int]
) -> Observation | None:
    """Compare a SKU's position versions on both sides: a mismatch where the projection
    is ahead of stock, else in flight where stock is ahead, else None (the same versions:
    compare the figures)."""
    ahead = [
        f"{_label(k)}: version {v} here, {stock.get(k, 'none')} at stock"
        for k, v in sorted(local.items())
        if v > stock.get(k, 0)
    ]
    if ahead:
        return Observation(Verdict.MISMATCH, "projection ahead of stock at " + "; ".join(ahead))
    behind = {k: v for k, v in sorted(stock.items()) if v > local.get(k, 0)}
    if behind:
        reason = "stock is ahead at " + "; ".join(
            f"{_label(k)}: version {local.get(k, 'none')} here, {v} at stock"
            for k, v in behind.items()
        )
        return Observation(Verdict.IN_FLIGHT, reason, behind)
    return None


def compare_figures(local: Figures, stock: Figures) -> Observation:
    """Two positions of the same version: a match when every quantity both sides have is
    equal (5 and 5.000 are equal), else a mismatch naming each difference."""
    differences = [
        f"{name} {local.quantities[name]} here, {stock.quantities[name]} at stock"
        for name in sorted(local.quantities)
        if name in stock.quantities and local.quantities[name] != stock.quantities[name]
    ]
    if differences:
        where = _label(local.key)
        return Observation(
            Verdict.MISMATCH, f"{where} at version {local.version}: " + "; ".join(differences)
        )
    return MATCHED


@dataclass(frozen=True, slots=True)
class PositionCheck:
    """One position of a SKU compared (either side may lack it)."""

    location: str
    lot: str
    local: Figures | None
    stock: Figures | None
    observed: Observation

    @property
    def key(self) -> PositionKey:
        return (self.location, self.lot)


def check_positions(local: Iterable[Figures], stock: Iterable[Figures]) -> list[PositionCheck]:
    """Every position of one SKU that either side has, compared, by location and lot."""
    mine = {f.key: f for f in local}
    theirs = {f.key: f for f in stock}
    checks: list[PositionCheck] = []
    for key in sorted(mine.keys() | theirs.keys()):
        here, there = mine.get(key), theirs.get(key)
        versions = compare_versions(
            {key: here.version} if here else {}, {key: there.version} if there else {}
        )
        if versions is None and here is not None and there is not None:
            observed = compare_figures(here, there)
        else:
            observed = versions or MATCHED
        checks.append(PositionCheck(key[0], key[1], here, there, observed))
    return checks


@dataclass(frozen=True, slots=True)
class Standing:
    """A check's verdict as stored, with the time its episode began."""

    verdict: Verdict
    since: datetime
    """A match: when it was first seen matching. Otherwise when the discrepancy was first
    seen: the age of a mismatch counts from there, also when it began in flight."""
    reason: str = ""
    awaited: Mapping[PositionKey, int] = field(default_factory=dict)
    """In flight (or a mismatch that began in flight): the versions stock had when it was
    first seen; the projection reaching them ends the episode."""


def caught_up(awaited: Mapping[PositionKey, int], local: Mapping[PositionKey, int]) -> bool:
    """Whether the projection holds at least the awaited versions."""
    return all(local.get(key, 0) >= version for key, version in awaited.items())


def settle(
    observed: Observation,
    previous: Standing | None,
    local: Mapping[PositionKey, int],
    now: datetime,
    grace: timedelta,
) -> Standing:
    """The verdict to store, given what a check observed and what was stored before.

    ``local`` holds the projection's versions of the SKU now. In flight stays in flight
    while the projection has not reached what stock had at the first sighting for at
    most ``grace``; after that it is a mismatch aged from the first sighting. Once the
    projection has reached those versions, stock being ahead again is a new episode (a
    SKU that moves all the time is never late as long as each version arrives in time).
    """
    if observed.verdict is Verdict.MATCH:
        kept = previous is not None and previous.verdict is Verdict.MATCH
        return Standing(Verdict.MATCH, previous.since if kept and previous else now)
    ongoing = previous if previous is not None and previous.verdict is not Verdict.MATCH else None
    if observed.verdict is Verdict.MISMATCH:
        return Standing(Verdict.MISMATCH, ongoing.since if ongoing else now, observed.reason)
    if ongoing is not None and ongoing.awaited and not caught_up(ongoing.awaited, local):
        since, awaited = ongoing.since, ongoing.awaited
    else:
        since, awaited = now, observed.awaited
    if now - since > grace:
        reason = (
            f"{observed.reason}; not applied within {grace.total_seconds():g} s of being "
            "seen at stock"
        )
        return Standing(Verdict.MISMATCH, since, reason, awaited)
    return Standing(Verdict.IN_FLIGHT, since, observed.reason, awaited)


@dataclass(frozen=True, slots=True)
class PositionVerdict:
    """The stored verdict of one position of a SKU, with both sides' figures."""

    sku: str
    location: str
    lot: str
    standing: Standing
    local: Figures | None = None
    stock: Figures | None = None
    checked_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.sku, self.location, self.lot)


def reconcile_positions(
    skus: Iterable[str],
    local: Mapping[str, Sequence[Figures]],
    stock: Mapping[str, Sequence[Figures]],
    previous: Mapping[tuple[str, str, str], Standing],
    now: datetime,
    grace: timedelta,
) -> list[PositionVerdict]:
    """The verdict of every position of these SKUs either side has (``previous``: the
    stored verdicts, by SKU, location and lot)."""
    verdicts: list[PositionVerdict] = []
    for sku in skus:
        mine = local.get(sku, ())
        versions = versions_of(mine)
        for check in check_positions(mine, stock.get(sku, ())):
            key = (sku, check.location, check.lot)
            standing = settle(check.observed, previous.get(key), versions, now, grace)
            verdicts.append(
                PositionVerdict(sku, check.location, check.lot, standing, check.local, check.stock)
            )
    return verdicts


@dataclass(frozen=True, slots=True)
class Tally:
    """How many checks of a kind hold each verdict, and the oldest open mismatch."""

    matches: int = 0
    mismatches: int = 0
    in_flight: int = 0
    oldest_mismatch_since: datetime | None = None

    @property
    def accuracy(self) -> Decimal | None:
        """matches / (matches + mismatches) to 6 places; None when nothing was compared."""
        return ratio(self.matches, self.mismatches)

    def oldest_mismatch_age_s(self, now: datetime) -> float | None:
        if self.oldest_mismatch_since is None:
            return None
        return max((now - self.oldest_mismatch_since).total_seconds(), 0.0)


def ratio(matches: int, mismatches: int) -> Decimal | None:
    """matches / (matches + mismatches), 6 decimal places; None for no comparison."""
    compared = matches + mismatches
    if compared == 0:
        return None
    return (Decimal(matches) / Decimal(compared)).quantize(Decimal("0.000001"))


def versions_of(figures: Iterable[Figures]) -> dict[PositionKey, int]:
    return {f.key: f.version for f in figures}


@dataclass(frozen=True, slots=True)
class Sweep:
    """A reconciler sweep's place: the current pass and the last complete one."""

    name: str
    after_sku: str
    started_at: datetime
    checked_skus: int
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_skus: int | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """The SKUs of one reconciler step: those after ``after`` up to the batch, and whether
    taking them ended a pass (then they are the last, and nothing follows them)."""

    skus: list[str]
    sweep: Sweep
    ended: bool
    after: str = ""
