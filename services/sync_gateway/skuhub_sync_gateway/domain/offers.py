"""Channel offers: what one channel shows and sells for one SKU, from the projected facts.

Pure Python. An offer is sellable when the product is enabled, published and complete
for the channel, its lifecycle stage allows selling, and the channel's allocation of its
locations' stock is above zero (or the channel takes back-orders). A pre-launch SKU the
lifecycle opened for pre-order sells without stock (a pre-order offer); a discontinued or
retired one never sells, and its offer names the SKU that replaces it. The rules are in
docs/sync-gateway.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from hashlib import blake2b
from typing import Any

from skuhub_sync_gateway.domain.channels import Channel, available_for, localized

SELLABLE_STAGES = frozenset({"active", "mature", "phase-out"})
"""Stages that sell from stock."""
PRE_ORDER_STAGE = "pre-launch"
"""The one stage whose ``pre_order`` flag counts: it sells before stock, nothing else."""
SUCCEEDED_STAGES = frozenset({"discontinued", "retired"})
"""Stages whose ``successor`` an offer names (the contract carries one from discontinued on)."""


@dataclass(frozen=True, slots=True)
class Completeness:
    """How complete the published content is for one catalog channel in one locale."""

    scope: str
    locale: str
    complete: bool
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProductFacts:
    sku: str
    version: int
    status: str
    deleted: bool
    unit: str
    gtin: str | None
    title: dict[str, str]
    """Title, description, attributes, categories and GTIN are the published content's."""
    published_version: int | None = None
    """The catalog version whose content the channel shows; None: never published."""
    description: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    completeness: tuple[Completeness, ...] = ()
    """As of the last published version (a draft's gaps do not stop what is published)."""
    kit: bool = False


@dataclass(frozen=True, slots=True)
class PositionFacts:
    location: str
    lot: str
    version: int
    unit: str
    available_to_promise: Decimal
    location_available_to_promise: Decimal | None = None
    """The location's ATP over all lots when this report was made (None: as position's)."""
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StageFacts:
    stage: str
    version: int
    pre_order: bool = False
    """As lifecycle-stage-changed carried it; only a pre-launch stage's counts."""
    successor: str | None = None
    """The SKU that replaces this one, as carried; offers name it from discontinued on."""


def location_atp(positions: Iterable[PositionFacts]) -> dict[str, Decimal]:
    """ATP per location from its newest report.

    Stock reports one lot at a time, each with the location's ATP over all its lots as of
    that report, so the most recent report of a location has the current figure. Summing
    the lots' own ATP would count a lot-less deficit as zero (docs/stock.md).
    """
    newest: dict[str, PositionFacts] = {}
    for p in positions:
        seen = newest.get(p.location)
        if seen is None or _newer(p, seen):
            newest[p.location] = p
    return {
        location: (
            p.location_available_to_promise
            if p.location_available_to_promise is not None
            else p.available_to_promise
        )
        for location, p in newest.items()
    }


def _newer(a: PositionFacts, b: PositionFacts) -> bool:
    if a.changed_at is not None and b.changed_at is not None and a.changed_at != b.changed_at:
        return a.changed_at > b.changed_at
    return (a.version, a.lot) > (b.version, b.lot)


@dataclass(frozen=True, slots=True)
class Offer:
    channel: str
    sku: str
    locale: str
    content_locale: str | None
    title: str | None
    description: str | None
    gtin: str | None
    available: Decimal
    unit: str
    stage: str | None
    sellable: bool
    low_stock: bool
    pre_order: bool = False
    """Sellable before stock: pre-launch with pre-order (then ``sellable`` is true too)."""
    back_order: bool = False
    """Sellable with nothing available, because the channel takes back-orders."""
    successor: str | None = None
    """Discontinued or retired: the SKU channels switch to (None when there is none)."""
    successor_title: str | None = None
    """The successor's published title in the channel's chain, when the gateway knows it."""
    reasons: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    published_version: int | None = None
    kit: bool = False

    def fingerprint(self) -> str:
        """Identical for two offers a channel cannot tell apart (versions and times aside).

        Attributes and categories are the published content's, so ``published_version``
        stands for them (serialising them for every stock change would cost more than the
        rest of the offer).
        """
        parts = (
            self.channel,
            self.sku,
            self.locale,
            self.content_locale,
            self.title,
            self.description,
            self.gtin,
            _number(self.available),
            self.unit,
            self.stage,
            self.sellable,
            self.low_stock,
            self.pre_order,
            self.back_order,
            self.successor,
            self.successor_title,
            self.reasons,
            self.published_version,
            self.kit,
        )
        return blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def build_offer(
    channel: Channel,
    sku: str,
    product: ProductFacts | None,
    allocated: Decimal,
    stage: StageFacts | None,
    successor: ProductFacts | None = None,
    *,
    unit: str = "EA",
) -> Offer:
    """Combine product content, the channel's allocation and lifecycle stage into an offer.

    ``allocated`` is the channel's part of the SKU's stock (:func:`channels.allocate`);
    ``successor`` is what the gateway knows of the SKU ``stage.successor`` names, if
    anything; only its published title is shown. ``unit`` counts when the product is
    not known yet.
    """
    available = available_for(channel, allocated)
    reasons: list[str] = []
    content = localized(product.title, channel.locales) if product else None
    if product is None:
        reasons.append("product not yet known to the channel")
    elif product.deleted:
        reasons.append("product deleted")
    elif product.status != "enabled":
        reasons.append(f"product is {product.status}")
    elif product.published_version is None:
        reasons.append("product content not published yet")
    else:
        if content is None:
            reasons.append(f"no published title in {', '.join(channel.locales)}")
        reasons.extend(_incomplete(product, channel))
    pre_order = stage is not None and stage.stage == PRE_ORDER_STAGE and stage.pre_order
    if stage is None:
        reasons.append("no lifecycle stage yet")
    elif stage.stage == PRE_ORDER_STAGE:
        if not stage.pre_order:
            reasons.append(f"lifecycle stage {stage.stage} does not sell without pre-order")
    elif stage.stage not in SELLABLE_STAGES:
        reasons.append(f"lifecycle stage {stage.stage} does not sell")
    # A pre-order is taken before the stock exists, a back-order after it ran out.
    back_order = available <= 0 and not pre_order and channel.back_orders
    if available <= 0 and not pre_order and not back_order:
        reasons.append("no stock available to promise")
    successor_sku = stage.successor if stage and stage.stage in SUCCEEDED_STAGES else None
    successor_content = (
        localized(successor.title, channel.locales)
        if successor_sku and successor and successor.sku == successor_sku and not successor.deleted
        else None
    )
    description = None
    if product is not None and content is not None:
        description = product.description.get(content[1])
    return Offer(
        channel=channel.code,
        sku=sku,
        locale=channel.locale,
        content_locale=content[1] if content else None,
        title=content[0] if content else None,
        description=description,
        gtin=product.gtin if product else None,
        available=available,
        unit=product.unit if product else unit,
        stage=stage.stage if stage else None,
        sellable=not reasons,
        low_stock=Decimal(0) < available <= channel.low_stock_threshold,
        # Only a sellable offer takes pre-orders or back-orders.
        pre_order=pre_order and not reasons,
        back_order=back_order and not reasons,
        successor=successor_sku,
        successor_title=successor_content[0] if successor_content else None,
        reasons=tuple(reasons),
        attributes=product.attributes if product else {},
        categories=product.categories if product else (),
        published_version=product.published_version if product else None,
        kit=product.kit if product else False,
    )


def _incomplete(product: ProductFacts, channel: Channel) -> list[str]:
    """A reason when the published content is incomplete for the channel's scope and locale."""
    for c in product.completeness:
        if c.scope == channel.completeness_scope and c.locale == channel.locale and not c.complete:
            missing = ", ".join(c.missing) or "requirements"
            return [f"incomplete for {c.scope}/{c.locale}: {missing} missing"]
    return []


def _number(value: Decimal) -> str:
    # 5 and 5.000 are one quantity.
    return format(value.normalize(), "f") if value else "0"
