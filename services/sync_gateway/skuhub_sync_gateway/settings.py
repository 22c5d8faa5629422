"""Settings of the sync gateway (env prefix ``SKUHUB_``), and the shape of a channel."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    AliasChoices,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from skuhub_contracts.identifiers import ChannelCode, Gln, Locale
from skuhub_runtime.settings import ServiceSettings
from skuhub_sync_gateway.domain.channels import (
    Allocation,
    AllocationRule,
    Channel,
    MerchantFeed,
)

_CURRENCIES = frozenset(list_currencies())


def _currency(code: str) -> str:
    if code not in _CURRENCIES:
        raise ValueError(f"{code} is not an ISO 4217 currency code (EUR, USD, GBP…)")
    return code


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"]), AfterValidator(_currency)]
Units = Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), allow_inf_nan=False)]


class AllocationConfig(BaseModel):
    """How the channel takes its part of each location's available-to-promise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: AllocationRule = Field(
        default=AllocationRule.SHARE,
        description="share: floor(share * ATP) of each location; exclusive: all of its "
        "locations, which no other allocated channel may sell from; priority: what the shares "
        "leave, lowest rank first, each up to its cap; shared-pool: all ATP, outside the "
        "allocation (may promise units another channel promises too: docs/sync-gateway.md).",
    )
    share: Decimal = Field(default=Decimal(1), gt=0, le=1, description="share only.")
    priority: int = Field(default=0, ge=0, le=1000, description="priority only: 0 first.")
    cap: Units | None = Field(default=None, description="priority only: most per location.")


class MerchantFeedConfig(BaseModel):
    """A Google Merchant Center product-data feed (TSV) of the channel's offers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    link_template: AnyHttpUrl = Field(
        description="The product page; {sku} is replaced by the SKU.",
        examples=["https://shop.example.com/p/{sku}"],
    )
    price_attribute: str | None = Field(
        default=None, description="Price collection attribute giving the feed's price."
    )
    brand_attribute: str | None = Field(default=None, description="Attribute giving the brand.")


class ChannelConfig(BaseModel):
    """A sales channel: who it sells to, in which locales, from which stock, and how much."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    code: ChannelCode = Field(validation_alias=AliasChoices("code", "id"))
    name: str = Field(default="", max_length=200, description="For people (default: code).")
    locale: Locale = Field(default="en_US", description="The channel's language.")
    fallback_locales: list[Locale] = Field(
        default_factory=list,
        max_length=10,
        description="Where content comes from, in order, when the channel's locale has none; "
        "never any other locale.",
        validation_alias=AliasChoices("fallback_locales", "locales"),
    )
    scope: ChannelCode | None = Field(
        default=None, description="Catalog channel whose completeness counts (default: code)."
    )
    currency: Currency = "EUR"
    locations: list[Gln] = Field(
        default_factory=list,
        max_length=10_000,
        description="GLNs feeding this channel; empty means every location.",
    )
    allocation: AllocationConfig = Field(default_factory=AllocationConfig)
    safety_buffer: Units = Field(default=Decimal(0), description="Units held back from the total.")
    low_stock_threshold: Units = Decimal(5)
    back_orders: bool = Field(default=False, description="Sell at 0 available (back-order).")
    merchant_feed: MerchantFeedConfig | None = None

    @model_validator(mode="after")
    def _distinct(self) -> ChannelConfig:
        if len(set(self.locations)) != len(self.locations):
            raise ValueError("locations names a GLN twice")
        return self

    def to_channel(self, version: int = 1) -> Channel:
        """The domain's channel."""
        a = self.allocation
        feed = self.merchant_feed
        return Channel(
            code=self.code,
            name=self.name or self.code,
            locales=tuple(dict.fromkeys([self.locale, *self.fallback_locales])),
            scope=self.scope or "",
            currency=self.currency,
            locations=frozenset(self.locations),
            allocation=Allocation(rule=a.rule, share=a.share, priority=a.priority, cap=a.cap),
            safety_buffer=self.safety_buffer,
            low_stock_threshold=self.low_stock_threshold,
            back_orders=self.back_orders,
            merchant_feed=MerchantFeed(
                link_template=str(feed.link_template),
                price_attribute=feed.price_attribute,
                brand_attribute=feed.brand_attribute,
            )
            if feed
            else None,
            version=version,
        )

    @classmethod
    def of(cls, channel: Channel) -> ChannelConfig:
        """The definition of a domain channel (its inverse)."""
        a = channel.allocation
        feed = channel.merchant_feed
        return cls(
            code=channel.code,
            name=channel.name,
            locale=channel.locale,
            fallback_locales=list(channel.locales[1:]),
            scope=channel.scope or None,
            currency=channel.currency,
            locations=sorted(channel.locations),
            allocation=AllocationConfig(rule=a.rule, share=a.share, priority=a.priority, cap=a.cap),
            safety_buffer=channel.safety_buffer,
            low_stock_threshold=channel.low_stock_threshold,
            back_orders=channel.back_orders,
            merchant_feed=MerchantFeedConfig(
                link_template=AnyHttpUrl(feed.link_template),
                price_attribute=feed.price_attribute,
                brand_attribute=feed.brand_attribute,
            )
            if feed
            else None,
        )


class SyncGatewaySettings(ServiceSettings):
    service_name: str = "sync_gateway"
    http_port: int = 8104
    channels: list[ChannelConfig] = Field(
        default_factory=lambda: [ChannelConfig(code="web", name="Web shop", locale="en_US")],
        description="JSON list of channels (SKUHUB_CHANNELS) created at start when no channel "
        "of that code exists yet; afterwards channels are data (/v1/channels).",
    )
    rebuild_batch: int = Field(
        default=500, gt=0, le=10_000, description="SKUs per step when offers are rebuilt."
    )
    offer_rebuild_interval_s: float = Field(default=1.0, gt=0)
