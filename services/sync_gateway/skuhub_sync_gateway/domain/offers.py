"""Channel offers: what one channel shows and sells for one SKU, from the projected facts.

Pure Python. An offer is sellable when the product is enabled and published, its
lifecycle stage allows selling, and the channel's locations have stock available to
promise. A pre-launch SKU the lifecycle opened for pre-order sells without stock (a
pre-order offer); a discontinued or retired one never sells, and its offer names the
SKU that replaces it. The rules are in docs/sync-gateway.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

SELLABLE_STAGES = frozenset({"active", "mature", "phase-out"})
"""Stages that sell from stock."""
PRE_ORDER_STAGE = "pre-launch"
"""The one stage whose ``pre_order`` flag counts: it sells before stock, nothing else."""
SUCCEEDED_STAGES = frozenset({"discontinued", "retired"})
"""Stages whose ``successor`` an offer names (the contract carries one from discontinued on)."""


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    locale: str
    locations: frozenset[str] = frozenset()
    low_stock_threshold: Decimal = Decimal(5)

    def sells_from(self, location: str) -> bool:
        return not self.locations or location in self.locations


@dataclass(frozen=True, slots=True)
class ProductFacts:
    sku: str
    version: int
    status: str
    deleted: bool
    unit: str
    gtin: str | None
    title: dict[str, str]
    """Title and GTIN are the published content's (product-changed ``published``)."""
    published_version: int | None = None
    """The catalog version whose content the channel shows; None: never published."""


@dataclass(frozen=True, slots=True)
class PositionFacts:
    location: str
    lot: str
    version: int
    unit: str
    available_to_promise: Decimal


@dataclass(frozen=True, slots=True)
class StageFacts:
    stage: str
    version: int
    pre_order: bool = False
    """As lifecycle-stage-changed carried it; only a pre-launch stage's counts."""
    successor: str | None = None
    """The SKU that replaces this one, as carried; offers name it from discontinued on."""


@dataclass(frozen=True, slots=True)
class Offer:
    channel: str
    sku: str
    locale: str
    title: str | None
    gtin: str | None
    available: Decimal
    unit: str
    stage: str | None
    sellable: bool
    low_stock: bool
    pre_order: bool = False
    """Sellable before stock: pre-launch with pre-order (then ``sellable`` is true too)."""
    successor: str | None = None
    """Discontinued or retired: the SKU channels switch to (None when there is none)."""
    successor_title: str | None = None
    """The successor's published title in the channel's locale, when the gateway knows it."""
    reasons: tuple[str, ...] = field(default=())


def build_offer(
    channel: Channel,
    sku: str,
    product: ProductFacts | None,
    positions: Iterable[PositionFacts],
    stage: StageFacts | None,
    successor: ProductFacts | None = None,
) -> Offer:
    """Combine product content, allocated availability and lifecycle stage into an offer.

    ``successor`` is what the gateway knows of the SKU ``stage.successor`` names, if
    anything; only its published title is shown.
    """
    selling = [p for p in positions if channel.sells_from(p.location)]
    available = sum((max(p.available_to_promise, Decimal(0)) for p in selling), Decimal(0))
    reasons: list[str] = []
    if product is None:
        reasons.append("product not yet known to the channel")
    elif product.deleted:
        reasons.append("product deleted")
    elif product.status != "enabled":
        reasons.append(f"product is {product.status}")
    elif product.published_version is None:
        reasons.append("product content not published yet")
    pre_order = stage is not None and stage.stage == PRE_ORDER_STAGE and stage.pre_order
    if stage is None:
        reasons.append("no lifecycle stage yet")
    elif stage.stage == PRE_ORDER_STAGE:
        if not stage.pre_order:
            reasons.append(f"lifecycle stage {stage.stage} does not sell without pre-order")
    elif stage.stage not in SELLABLE_STAGES:
        reasons.append(f"lifecycle stage {stage.stage} does not sell")
    # A pre-order is taken before the stock exists (back-order style): no stock is no reason.
    if available <= 0 and not pre_order:
        reasons.append("no stock available to promise")
    successor_sku = stage.successor if stage and stage.stage in SUCCEEDED_STAGES else None
    successor_title = (
        _localized(successor.title, channel.locale)
        if successor_sku and successor and successor.sku == successor_sku and not successor.deleted
        else None
    )
    unit = product.unit if product else (selling[0].unit if selling else "EA")
    return Offer(
        channel=channel.id,
        sku=sku,
        locale=channel.locale,
        title=_localized(product.title, channel.locale) if product else None,
        gtin=product.gtin if product else None,
        available=available,
        unit=unit,
        stage=stage.stage if stage else None,
        sellable=not reasons,
        low_stock=Decimal(0) < available <= channel.low_stock_threshold,
        # Only a sellable offer takes pre-orders: a disabled pre-launch SKU takes none.
        pre_order=pre_order and not reasons,
        successor=successor_sku,
        successor_title=successor_title,
        reasons=tuple(reasons),
    )


def _localized(texts: dict[str, str], locale: str) -> str | None:
    """The text for the locale, else for its language, else any, else None."""
    if locale in texts:
        return texts[locale]
    language = locale.split("_")[0]
    for key in sorted(texts):
        if key.split("_")[0] == language:
            return texts[key]
    return next((texts[k] for k in sorted(texts)), None)


def channels_for(channels: Sequence[Channel], channel_id: str) -> Channel | None:
    return next((c for c in channels if c.id == channel_id), None)
