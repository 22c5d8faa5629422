"""Change-feed cursors: where a client is in one channel's offer change log (pure).

A cursor names a channel and the ``seq`` of the last change the client has read; the
feed continues with the changes after it. To the client it is opaque: URL-safe base64
of ``v1.<channel>.<seq>.<checksum>``, the checksum a keyed BLAKE2b of the rest, so a cursor
that was cut, altered or made up is refused instead of silently reading from somewhere
else. It is no secret: a forged cursor could only read the same channel's feed, which the
client may read anyway.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from hashlib import blake2b

_VERSION = "v1"
_KEY = b"skuhub change-feed cursor"
_LARGEST_SEQ = 2**63 - 1
_MAX_TOKEN = 200
"""Longer than any cursor this feed gives out (a 64-character channel code and a bigint)."""


class CursorError(ValueError):
    """A cursor this feed cannot continue from; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """After the change ``seq`` of ``channel``'s log (0: before the first)."""

    channel: str
    seq: int


def encode_cursor(cursor: Cursor) -> str:
    """The opaque form of ``cursor`` (URL-safe, no padding)."""
    body = f"{_VERSION}.{cursor.channel}.{cursor.seq}"
    raw = f"{body}.{_checksum(body)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, channel: str) -> Cursor:
    """The cursor ``token`` stands for, which must be one of ``channel``'s feed.

    Raises:
        CursorError: ``token`` is not a cursor this feed gave out (malformed or altered),
            or it is another channel's.
    """
    malformed = CursorError(
        f"cursor {_shown(token)} is malformed or was altered: pass next_cursor exactly as the "
        "feed returned it, or start again without a cursor (from the snapshot export)"
    )
    if not token or len(token) > _MAX_TOKEN:
        raise malformed
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise malformed from None
    body, _, checksum = raw.rpartition(".")
    parts = body.split(".")
    if (
        len(parts) != 3
        or parts[0] != _VERSION
        or not hmac.compare_digest(checksum, _checksum(body))
        or not parts[2].isdigit()
        or not parts[2].isascii()
        or int(parts[2]) > _LARGEST_SEQ
    ):
        raise malformed
    if parts[1] != channel:
        raise CursorError(
            f"cursor {_shown(token)} belongs to channel {parts[1]}'s feed, not {channel}'s; "
            f"read /v1/channels/{parts[1]}/feed with it, or start {channel}'s feed without one"
        )
    return Cursor(channel=parts[1], seq=int(parts[2]))


def _checksum(body: str) -> str:
    return blake2b(body.encode(), key=_KEY, digest_size=8).hexdigest()


def _shown(token: str) -> str:
    return repr(token if len(token) <= 40 else token[:40] + "…")
