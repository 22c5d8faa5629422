"""The stock service's positions of many SKUs over HTTP (``POST /v1/positions/query``).

The one read of another service's state outside Kafka: reconcilers ask the ledger what it
holds now to measure the accuracy of their own projections (docs/kpis.md). The figures
come back as :class:`~skuhub_runtime.reconcile.Figures`, keyed by location and lot ("" for
none), every quantity exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx

from skuhub_runtime.access_tokens import bearer
from skuhub_runtime.reconcile import Figures
from skuhub_runtime.reconcile_settings import MAX_SKUS_PER_QUERY

QUANTITIES = (
    "on_hand",
    "reserved",
    "quality_hold",
    "expired",
    "in_transit",
    "incoming",
    "available_to_promise",
    "received",
    "shipped",
    "returned",
    "scrapped",
    "lost_sales",
)
"""The figures of a position in the stock API, by the names stock-level-changed uses."""


class StockUnavailableError(RuntimeError):
    """The stock service did not answer the query (down, timed out, or an error)."""


@dataclass(frozen=True, slots=True)
class StockPositions:
    """One SKU as the ledger holds it now."""

    sku: str
    kit: bool = False
    positions: tuple[Figures, ...] = ()
    location_atp: Mapping[str, Decimal] = field(default_factory=dict)
    """Each location's available-to-promise over its lots (a kit's: its availability)."""


class StockPositionsClient:
    """Asks the stock service for positions, at most 500 SKUs a request."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout_s,
            transport=transport,
            headers=bearer(token),
        )

    async def __aenter__(self) -> StockPositionsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def positions(self, skus: Sequence[str]) -> dict[str, StockPositions]:
        """Each SKU's positions now (an unknown SKU: none).

        Raises:
            StockUnavailableError: the stock service did not answer with positions.
        """
        found: dict[str, StockPositions] = {}
        unique = list(dict.fromkeys(skus))
        for start in range(0, len(unique), MAX_SKUS_PER_QUERY):
            chunk = unique[start : start + MAX_SKUS_PER_QUERY]
            try:
                response = await self._client.post("/v1/positions/query", json={"skus": chunk})
            except httpx.HTTPError as exc:
                raise StockUnavailableError(
                    f"the stock service at {self.base_url} did not answer "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
            if response.status_code != 200:
                raise StockUnavailableError(
                    f"the stock service at {self.base_url} answered {response.status_code} "
                    f"to a positions query: {response.text[:300]}"
                )
            for answer in response.json()["skus"]:
                found[answer["sku"]] = parse(answer)
        return found


def parse(answer: Mapping[str, Any]) -> StockPositions:
    """One SKU of the stock API's answer (JSON) as figures."""
    return StockPositions(
        sku=answer["sku"],
        kit=bool(answer.get("kit", False)),
        positions=tuple(
            Figures(
                location=p["location"],
                lot=p["lot"] or "",
                version=int(p["version"]),
                quantities={name: Decimal(str(p[name])) for name in QUANTITIES if name in p},
            )
            for p in answer["positions"]
        ),
        location_atp={
            loc["location"]: Decimal(str(loc["available_to_promise"]))
            for loc in answer["locations"]
        },
    )
