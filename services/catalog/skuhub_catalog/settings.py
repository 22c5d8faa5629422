"""Settings of the catalog service (env prefix ``SKUHUB_``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from skuhub_contracts.identifiers import Locale
from skuhub_runtime.reconcile_settings import ReconcilingSettings


class CatalogChannel(BaseModel):
    """What the catalog needs of a sales channel: its code and the locales it shows (for
    completeness). The sync gateway reads the rest of the same entry."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    locale: Locale = "en_US"
    locales: list[Locale] = Field(
        default_factory=list, description="More locales the channel shows, besides locale."
    )


class CatalogSettings(ReconcilingSettings):
    service_name: str = "catalog"
    http_port: int = 8101
    channels: list[CatalogChannel] = Field(
        default_factory=lambda: [CatalogChannel(id="web")],
        description="JSON list of channels (SKUHUB_CHANNELS, shared with the sync gateway): "
        "the catalog reads each one's id and locales to measure completeness.",
    )

    import_dir: str | None = Field(
        default=None,
        description="Where uploaded import files wait while their job runs (SKUHUB_IMPORT_DIR; "
        "default: the system's temporary directory). Each is removed when its job ends.",
    )
    import_max_bytes: int = Field(
        default=2 * 1024**3, gt=0, description="Largest import file accepted (413 above)."
    )
    import_chunk_rows: int = Field(
        default=500,
        gt=0,
        le=10_000,
        description="Rows an import puts in per transaction (each row on its own savepoint).",
    )

    def channel_locales(self) -> dict[str, tuple[str, ...]]:
        """Each channel's locales, its main locale first."""
        return {c.id: tuple(dict.fromkeys([c.locale, *c.locales])) for c in self.channels}
