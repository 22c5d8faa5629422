"""Use cases: a channel's change feed (pages, long poll), its snapshot export, and the
retention of the offer change log (docs/change-feed.md).

The feed reads the offer change log in ``seq`` order, which is commit order (offer writers
hold one lock to commit), so a reader after ``seq`` N never misses a change below N that
commits later. Retention deletes the log's oldest changes; a cursor is gone (410) only
when that cost its holder an offer version: a deleted change after the cursor that is
still the current version of its SKU. A deleted change that a later one replaced is no
loss, offers being whole state.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol, TypeVar

from skuhub_sync_gateway.domain.channels import Channel, MerchantFeed
from skuhub_sync_gateway.domain.feed import Cursor
from skuhub_sync_gateway.domain.merchant_feed import header, merchant_row
from skuhub_sync_gateway.service_layer.channels import channel_named
from skuhub_sync_gateway.service_layer.projection import GatewayUnitOfWork

R = TypeVar("R")

MAX_LIMIT = 1000
MAX_WAIT_S = 30.0
SNAPSHOT_PAGE = 500


class CursorGoneError(Exception):
    """The log no longer holds changes the cursor's holder has not read (410)."""


class MerchantFeedNotConfiguredError(Exception):
    """The channel has no ``merchant_feed`` (409)."""


class Start(Enum):
    """Where a feed without a cursor starts."""

    OLDEST = "oldest"
    """The oldest change the log retains (not every offer, once retention deleted some)."""
    LATEST = "latest"
    """After the newest change: only what changes from now on."""


@dataclass(frozen=True, slots=True)
class FeedChange:
    """One entry of the log: an offer version as published, as JSON text."""

    seq: int
    sku: str
    offer_version: int
    offer: str


@dataclass(frozen=True, slots=True)
class FeedPage:
    changes: list[FeedChange]
    next: Cursor
    """After the last change of the page (the cursor read from, when it has none)."""
    has_more: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every current offer of a channel, and the feed cursor to continue from after it."""

    cursor: Cursor
    """Taken before the first offer is read: changes meanwhile come again in the feed."""
    lines: AsyncIterator[str]
    """One offer as JSON per line."""


class FeedRepository(Protocol):
    """The offer change log and the current offers, as the feed reads them."""

    async def changes(self, channel: str, after: int, limit: int) -> list[FeedChange]:
        """Up to ``limit`` changes of ``channel`` after ``after``, in ``seq`` order."""

    async def lost(self, channel: str, after: int, before: int | None) -> bool:
        """Whether retention deleted a change of ``channel`` after ``after`` (and before
        ``before``, when given) that is still the current version of its SKU."""

    async def head(self, channel: str) -> int:
        """The ``seq`` of ``channel``'s newest change (0: none)."""

    async def current(self, channel: str, after_sku: str, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` current offers of ``channel`` after ``after_sku``, by SKU: (SKU,
        the offer as JSON text)."""

    async def prune(self, older_than: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the oldest changes, in ``seq`` order, while they were
        made before ``older_than``; how many went."""


class Reader(Protocol):
    """Runs a query on a unit of work (``ServiceRuntime.read``)."""

    async def __call__(self, query: Callable[[GatewayUnitOfWork], Awaitable[R]]) -> R: ...


class CommitWaiter(Protocol):
    """Wakes after a commit of this process (``ServiceRuntime.commits``)."""

    async def wait(self, timeout_s: float) -> bool: ...


async def read_feed(
    read: Reader,
    commits: CommitWaiter,
    channel: str,
    start: Cursor | Start,
    limit: int,
    *,
    wait_s: float = 0.0,
    recheck_s: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
) -> FeedPage:
    """The changes after ``start``; while there are none, wait up to ``wait_s`` for one.

    The wait wakes on every commit of this process and reads the log again at least every
    ``recheck_s`` (another instance's commits wake nothing here). It holds no connection.

    Raises:
        UnknownChannelError: no channel ``channel``.
        CursorGoneError: retention deleted changes the cursor's holder has not read.
    """
    deadline = clock() + wait_s
    page = await read(lambda uow: _first_page(uow, channel, start, limit))
    while not page.changes and (left := deadline - clock()) > 0:
        await commits.wait(min(recheck_s, left))
        page = await read(functools.partial(_page, after=page.next, limit=limit))
    return page


async def _first_page(
    uow: GatewayUnitOfWork, channel: str, start: Cursor | Start, limit: int
) -> FeedPage:
    await channel_named(uow, channel)
    if start is Start.LATEST:
        return FeedPage([], Cursor(channel, await uow.feed.head(channel)), has_more=False)
    after = Cursor(channel, 0) if start is Start.OLDEST else start
    page = await _page(uow, after, limit)
    # Read first, then check: retention deleting more meanwhile only touches what the
    # page holds (or what lies after it, which the next page checks).
    before = page.changes[0].seq if page.changes else None
    if isinstance(start, Cursor) and await uow.feed.lost(channel, start.seq, before):
        raise CursorGoneError(
            "the change log no longer holds changes after this cursor (it keeps "
            "SKUHUB_FEED_RETENTION_DAYS days): read GET /v1/channels/"
            f"{channel}/offers (the snapshot export) again and continue the feed from the "
            "cursor it gives"
        )
    if start is Start.OLDEST and not page.changes:
        # Nothing retained: continue after the newest change, deleted or not, so that the
        # cursor is not taken for one that missed what retention deleted.
        return FeedPage([], Cursor(channel, await uow.feed.head(channel)), has_more=False)
    return page


async def _page(uow: GatewayUnitOfWork, after: Cursor, limit: int) -> FeedPage:
    found = await uow.feed.changes(after.channel, after.seq, limit + 1)
    changes = found[:limit]
    last = Cursor(after.channel, changes[-1].seq) if changes else after
    return FeedPage(changes, last, has_more=len(found) > limit)


async def snapshot(read: Reader, channel: str, *, page: int = SNAPSHOT_PAGE) -> Snapshot:
    """Every current offer of ``channel``, read ``page`` offers at a time by SKU.

    Raises:
        UnknownChannelError: no channel ``channel``.
    """
    cursor = await read(lambda uow: _head(uow, channel))
    return Snapshot(cursor, _current_offers(read, channel, page))


async def _head(uow: GatewayUnitOfWork, channel: str) -> Cursor:
    await channel_named(uow, channel)
    return Cursor(channel, await uow.feed.head(channel))


async def _current_offers(read: Reader, channel: str, page: int) -> AsyncIterator[str]:
    after = ""
    while True:
        rows = await read(functools.partial(_current, channel=channel, after=after, limit=page))
        for _, offer in rows:
            yield offer + "\n"
        if len(rows) < page:
            return
        after = rows[-1][0]


async def _current(
    uow: GatewayUnitOfWork, channel: str, after: str, limit: int
) -> list[tuple[str, str]]:
    return await uow.feed.current(channel, after, limit)


async def merchant_feed(
    read: Reader, channel: str, *, page: int = SNAPSHOT_PAGE
) -> AsyncIterator[str]:
    """The channel's Google Merchant Center feed, line by line (header first).

    Raises (before the first line):
        UnknownChannelError: no channel ``channel``.
        MerchantFeedNotConfiguredError: the channel has no ``merchant_feed``.
    """
    found = await read(lambda uow: channel_named(uow, channel))
    feed = found.merchant_feed
    if feed is None:
        raise MerchantFeedNotConfiguredError(
            f"channel {channel} has no merchant_feed: PUT /v1/channels/{channel} with "
            '"merchant_feed": {"link_template": "https://…/{sku}", "price_attribute": …}'
        )
    return _merchant_lines(read, found, feed, page)


async def _merchant_lines(
    read: Reader, channel: Channel, feed: MerchantFeed, page: int
) -> AsyncIterator[str]:
    yield header()
    async for line in _current_offers(read, channel.code, page):
        row = merchant_row(json.loads(line), channel, feed)
        if row is not None:
            yield row


async def prune_feed(
    uow: GatewayUnitOfWork, now: datetime, *, retention: timedelta, batch: int
) -> bool:
    """Delete the log's changes older than ``retention`` (a batch); True when more are due."""
    return await uow.feed.prune(now - retention, batch) == batch
