"""Settings of the sync gateway (env prefix ``SKUHUB_``), and the shape of a channel."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from skuhub_contracts.identifiers import ChannelCode, Gln, Locale
from skuhub_contracts.values import Flag
from skuhub_runtime.reconcile_settings import ReconcilingSettings
from skuhub_sync_gateway.domain.channels import (
    Allocation,
    AllocationRule,
    Channel,
    MerchantFeed,
    check_channels,
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
    priority: int = Field(
        default=0, ge=0, le=1000, strict=True, description="priority only: 0 first."
    )
    cap: Units | None = Field(default=None, description="priority only: most per location.")


class MerchantFeedConfig(BaseModel):
    """A Google Merchant Center product-data feed (TSV) of the channel's offers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    link_template: str = Field(
        pattern=r"^https?://[^\s{}]*\{sku\}[^\s{}]*$",
        max_length=2000,
        description="The product page: an http(s) URL with {sku} where the SKU goes "
        "(percent-encoded).",
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
    back_orders: Flag = Field(default=False, description="Sell at 0 available (back-order).")
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
                link_template=feed.link_template,
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
                link_template=feed.link_template,
                price_attribute=feed.price_attribute,
                brand_attribute=feed.brand_attribute,
            )
            if feed
            else None,
        )


class SyncGatewaySettings(ReconcilingSettings):
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

    @model_validator(mode="after")
    def _safe_channels(self) -> SyncGatewaySettings:
        # A configuration that could promise a unit twice stops the start, with the reason.
        codes = [c.code for c in self.channels]
        if len(set(codes)) != len(codes):
            raise ValueError(f"SKUHUB_CHANNELS names a channel code twice: {codes}")
        problems = check_channels([c.to_channel() for c in self.channels])
        if problems:
            raise ValueError("SKUHUB_CHANNELS: " + "; ".join(problems))
        return self

    offer_rebuild_interval_s: float = Field(default=1.0, gt=0)
    feed_retention_days: float = Field(
        default=7,
        gt=0,
        description="The offer change log keeps changes this long; a feed cursor that "
        "missed a deleted one gets 410 and re-syncs from the snapshot export.",
    )
    feed_retention_interval_s: float = Field(
        default=60.0, gt=0, description="How often the log's old changes are deleted."
    )
    feed_retention_batch: int = Field(
        default=10_000, gt=0, le=100_000, description="Changes deleted per transaction."
    )
    feed_recheck_s: float = Field(
        default=0.5,
        gt=0,
        le=5,
        description="A long poll or stream reads the log again this often while it waits "
        "(another instance's commits do not wake it).",
    )
    feed_stream_ping_s: float = Field(
        default=15.0, gt=0, le=300, description="Heartbeat comment interval of the SSE stream."
    )
    webhook_retry_base_s: float = Field(
        default=1.0, gt=0, le=3600, description="The first retry of a delivery waits up to this."
    )
    webhook_retry_max_delay_s: float = Field(
        default=600.0, gt=0, le=86_400, description="No retry of a delivery waits longer."
    )
    webhook_max_attempts: int = Field(
        default=15, ge=1, le=100, description="Attempts of a delivery before it is dead."
    )
    webhook_pause_after_failures: int = Field(
        default=20,
        ge=1,
        le=1_000_000,
        description="Failed attempts in a row that pause a subscription.",
    )
    webhook_probe_interval_s: float = Field(
        default=30.0, gt=0, le=86_400, description="A paused subscription is probed this often."
    )
    webhook_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="An attempt's bound, from connecting to the last byte of the answer.",
    )
    webhook_concurrency: int = Field(
        default=64, ge=1, le=1000, description="Requests in flight per subscription."
    )
    webhook_batch: int = Field(
        default=256, ge=1, le=10_000, description="Deliveries a subscription claims at once."
    )
    webhook_fan_out_batch: int = Field(
        default=2000,
        ge=1,
        le=100_000,
        description="Logged changes per channel turned into deliveries per transaction.",
    )
    webhook_poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Webhook workers look again at least this often "
        "(other instances' changes, due retries).",
    )
