"""Use case: fold state events into the gateway's projection, newest version wins."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Fact(Generic[T]):
    """A state fact with where it came from (for latency and trace provenance)."""

    value: T
    version: int
    trace_id: str | None
    origin_time: datetime


def newest_per_key(facts: Iterable[Fact[T]], key: Callable[[T], Hashable]) -> list[Fact[T]]:
    """Keep only the highest version of each key within a batch.

    The database upsert guards against older versions across batches; this
    guard keeps one batch from writing the same row twice.
    """
    newest: dict[Hashable, Fact[T]] = {}
    for fact in facts:
        k = key(fact.value)
        if k not in newest or fact.version > newest[k].version:
            newest[k] = fact
    return list(newest.values())
