"""Dead letters as operators see them: ids, what the headers say, filters, pages, replays.

Pure: no I/O. The records come from :mod:`skuhub_runtime.dead_letter_log` (the service's
dead-letter topic); :mod:`skuhub_runtime.dead_letters_http` serves them.

A dead letter's id is its place on the dead-letter topic and its broker timestamp,
``<partition>-<offset>-<timestamp in base 36>``: stable for as long as the record is
kept, and never the id of another record, even on a topic deleted and created again
(the offsets start over, the timestamps do not). Clients treat it as opaque.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from skuhub_contracts import dead_letters
from skuhub_contracts.codec import Headers, KafkaRecord

_ID = re.compile(r"^([0-9]{1,9})-([0-9]{1,19})-([0-9a-z]{1,13})$")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

ID_PATTERN = _ID.pattern
"""What an id looks like (OpenAPI ``pattern`` of a cursor)."""


@dataclass(frozen=True, slots=True, order=True)
class Place:
    """Where a dead letter is kept, in the order pages list them: oldest first."""

    timestamp_ms: int
    partition: int
    offset: int

    @property
    def id(self) -> str:
        return f"{self.partition}-{self.offset}-{_base36(self.timestamp_ms)}"


def place_of(dead_letter_id: str, *, strict: bool = True) -> Place | None:
    """The place an id names, or None when it is no id of a dead letter (``strict``: or not
    spelt as :attr:`Place.id` spells it; a cursor need only name a place)."""
    match = _ID.fullmatch(dead_letter_id)
    if match is None:
        return None
    partition, offset, timestamp = match.groups()
    place = Place(int(timestamp, 36), int(partition), int(offset))
    # One spelling per dead letter (no leading zeros): an id is a key of its replay.
    return place if place.id == dead_letter_id or not strict else None


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
        if number == 0:
            return digits


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of a service's dead-letter topic, and what its headers say about it."""

    place: Place
    key: bytes | None
    value: bytes | None
    headers: Headers

    @property
    def id(self) -> str:
        return self.place.id

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` as text (None when absent or not UTF-8)."""
        found = None
        for header, value in self.headers:
            if header == name:
                found = value
        if found is None:
            return None
        try:
            return found.decode("utf-8")
        except UnicodeDecodeError:
            return None

    @property
    def reason(self) -> str:
        return self.header(dead_letters.REASON) or ""

    @property
    def topic(self) -> str:
        """The topic the refused record was read from (with the deployment prefix)."""
        return self.header(dead_letters.TOPIC) or ""

    @property
    def source_partition(self) -> int | None:
        return _int(self.header(dead_letters.PARTITION))

    @property
    def source_offset(self) -> int | None:
        return _int(self.header(dead_letters.OFFSET))

    @property
    def at(self) -> datetime:
        """When it was dead-lettered: its header, else the broker's timestamp."""
        stated = self.header(dead_letters.AT)
        if stated is not None:
            try:
                return _utc(datetime.fromisoformat(stated))
            except ValueError:
                pass
        return datetime.fromtimestamp(self.place.timestamp_ms / 1000, UTC)

    @property
    def replay_of(self) -> str | None:
        """The dead letter this record was a replay of, when a replay was refused again."""
        return self.header(dead_letters.REPLAY_OF)

    @property
    def event(self) -> tuple[str | None, str | None]:
        """The CloudEvents type and id, from binary-mode headers or a structured body."""
        kind, event_id = self.header("ce_type"), self.header("ce_id")
        if kind is None and event_id is None and self.value:
            try:
                body = json.loads(self.value)
            except ValueError:
                return None, None
            if isinstance(body, dict):
                kind, event_id = _text(body.get("type")), _text(body.get("id"))
        return kind, event_id

    def replay(self) -> tuple[str, KafkaRecord]:
        """The record to publish again: to its original topic, with its key, value and
        headers, less the dead letter's own and any earlier replay's, plus which dead letter
        it is a replay of (so its consumer judges it again instead of skipping it)."""
        headers = [
            (name, value)
            for name, value in self.headers
            if not name.startswith(dead_letters.PREFIX) and name != dead_letters.REPLAY_OF
        ]
        headers.append((dead_letters.REPLAY_OF, self.id.encode()))
        return self.topic, KafkaRecord(self.key or b"", self.value or b"", headers)


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which dead letters an operator asks for; every criterion given must hold."""

    reason: str | None = None
    """A part of the reason, in any case."""
    since: datetime | None = None
    """Dead-lettered at or after."""
    until: datetime | None = None
    """Dead-lettered before."""
    topic: str | None = None
    """The original topic, with or without the deployment prefix."""

    def matches(self, letter: DeadLetter, prefix: str = "") -> bool:
        if self.reason is not None and self.reason.casefold() not in letter.reason.casefold():
            return False
        at = letter.at
        if self.since is not None and at < _utc(self.since):
            return False
        if self.until is not None and at >= _utc(self.until):
            return False
        return self.topic is None or letter.topic in (self.topic, f"{prefix}{self.topic}")


def page(
    letters: Iterable[DeadLetter],
    *,
    after: Place | None = None,
    limit: int,
    keep: Callable[[DeadLetter], bool] | None = None,
) -> tuple[list[DeadLetter], Place | None]:
    """Up to ``limit`` letters after ``after``, oldest first, for which ``keep`` holds (all
    without it); and the place to continue after, when more may follow."""
    ordered = sorted(
        (
            letter
            for letter in letters
            if (after is None or letter.place > after) and (keep is None or keep(letter))
        ),
        key=lambda letter: letter.place,
    )
    found = ordered[:limit]
    more = len(ordered) > limit
    return found, (found[-1].place if more and found else None)


def text_or_none(value: bytes | None) -> str | None:
    """``value`` as UTF-8 text, or None when it is none or not UTF-8."""
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdecimal() and len(text) < 20 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _utc(moment: datetime) -> datetime:
    """Aware in UTC; a naive time is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


__all__ = [
    "ID_PATTERN",
    "DeadLetter",
    "DeadLetterFilter",
    "Place",
    "page",
    "place_of",
    "text_or_none",
]
