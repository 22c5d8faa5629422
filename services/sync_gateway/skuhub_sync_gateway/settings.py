"""Settings of the sync gateway (env prefix ``SKUHUB_``)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from skuhub_runtime.settings import ServiceSettings


class ChannelConfig(BaseModel):
    """A sales channel: its locale and the locations (GLNs) whose stock it may sell."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str
    locale: str = "en_US"
    locations: list[str] = Field(
        default_factory=list, description="GLNs feeding this channel; empty means every location."
    )
    low_stock_threshold: Decimal = Field(default=Decimal(5), ge=0)


class SyncGatewaySettings(ServiceSettings):
    service_name: str = "sync_gateway"
    http_port: int = 8104
    channels: list[ChannelConfig] = Field(
        default_factory=lambda: [ChannelConfig(id="web", name="Web shop", locale="en_US")],
        description="JSON list of channels (SKUHUB_CHANNELS).",
    )
