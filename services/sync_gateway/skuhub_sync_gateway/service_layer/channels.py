"""Use cases: channels as data. Every change keeps the set of channels safe (no unit
promised twice, unless a channel is shared-pool) and builds every offer again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from skuhub_sync_gateway.domain.channels import Channel, check_channels
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork


class ChannelError(Exception):
    """A channel change the gateway refuses; the message says why."""


class UnknownChannelError(ChannelError):
    pass


class ChannelExistsError(ChannelError):
    pass


class ChannelVersionError(ChannelError):
    pass


class UnsafeChannelsError(ChannelError):
    """The channels would promise a unit twice or cannot work; ``problems`` says where."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


async def channel_named(uow: GatewayUnitOfWork, code: str) -> Channel:
    """The channel of that code.

    Raises:
        UnknownChannelError: there is none.
    """
    found = await uow.channels.get(code)
    if found is None:
        raise UnknownChannelError(f"unknown channel {code!r}; GET /v1/channels lists them")
    return found


async def _check(uow: GatewayUnitOfWork, changed: Channel | None, removed: str | None) -> None:
    others = [
        c for c in await uow.channels.all() if c.code not in {removed, changed and changed.code}
    ]
    problems = check_channels([*others, *([changed] if changed else [])])
    if problems:
        raise UnsafeChannelsError(problems)


async def create_channel(uow: GatewayUnitOfWork, channel: Channel, now: datetime) -> Channel:
    """Add a channel; its offers are built in the background."""
    await _check(uow, channel, None)
    stored = replace(channel, version=1)
    if not await uow.channels.add(stored, now):
        raise ChannelExistsError(f"channel {channel.code} exists; PUT /v1/channels/{channel.code}")
    await uow.offers.request_rebuild(now)
    return stored


async def replace_channel(
    uow: GatewayUnitOfWork, channel: Channel, expected_version: int | None, now: datetime
) -> Channel:
    """Change a channel at the version the caller read (any, when None)."""
    current = await uow.channels.get(channel.code)
    if current is None:
        raise UnknownChannelError(f"unknown channel {channel.code!r}; POST /v1/channels adds one")
    if expected_version is not None and expected_version != current.version:
        raise ChannelVersionError(
            f"channel {channel.code} is at version {current.version}, not {expected_version}; "
            "read it again and repeat the change"
        )
    await _check(uow, channel, None)
    stored = await uow.channels.replace(replace(channel, version=current.version + 1), now)
    if stored is None:
        raise ChannelVersionError(f"channel {channel.code} changed meanwhile; read it again")
    await uow.offers.request_rebuild(now)
    return stored


async def delete_channel(uow: GatewayUnitOfWork, code: str, now: datetime) -> None:
    """Remove a channel with its offers and feed; the others' allocations are rebuilt."""
    if not await uow.channels.remove(code):
        raise UnknownChannelError(f"unknown channel {code!r}; GET /v1/channels lists them")
    await uow.offers.request_rebuild(now)


async def seed_channels(
    uow: GatewayUnitOfWork, seeds: Sequence[Channel], now: datetime
) -> list[str]:
    """Create the configured channels whose code is not stored yet; the codes created.

    A configuration that would make the stored set unsafe is refused as a whole.
    """
    stored = {c.code for c in await uow.channels.all()}
    new = [c for c in seeds if c.code not in stored]
    if not new:
        return []
    problems = check_channels([*await uow.channels.all(), *new])
    if problems:
        raise UnsafeChannelsError(problems)
    for channel in new:
        await uow.channels.add(replace(channel, version=1), now)
    await uow.offers.request_rebuild(now)
    return [c.code for c in new]
