"""A batch consumer without a database, for tests of what it does around its batches."""

from __future__ import annotations

from typing import Any

from skuhub_runtime.consumer import BatchConsumer
from skuhub_runtime.handling import ConsumerSpec
from skuhub_runtime.settings import ServiceSettings
from skuhub_runtime.transactions import Transactions


def consumer_without_database(
    spec: ConsumerSpec[Any, Any], settings: ServiceSettings
) -> BatchConsumer[Any, Any]:
    """``spec``'s consumer with transactions that have no engine (never opened)."""
    return BatchConsumer(
        spec,
        settings=settings,
        transactions=Transactions(
            None,  # type: ignore[arg-type]
            lambda conn: conn,
            settings=settings,
            after_commit=lambda _: None,
        ),
    )
