"""API tokens and their scopes: what a caller may do, as plain rules (docs/access.md).

A token reads ``skh_<id>_<secret>``: the id finds the token's row, the secret proves the
caller holds it. Only an argon2id hash of the secret is stored.
"""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Scope(enum.StrEnum):
    """What a token may change. Every token may read; writes need their scope."""

    INGEST = "ingest"
    """Upstream systems: movements, cycle counts, reservations, set quantity."""
    CATALOG_WRITE = "catalog:write"
    """Product teams: products, families, attributes, categories, imports, stage moves."""
    CHANNEL = "channel"
    """Channel adapters: offers, feeds and their own webhook subscriptions."""
    OPERATE = "operate"
    """Operators: channels, rules and policies, dead-letter replay, accuracy passes."""


TOKEN_PREFIX = "skh_"
_TOKEN = re.compile(r"^skh_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_ACTOR = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


def checked_actor(actor: str) -> str:
    """``actor`` if it can name who writes (1 to 200 characters, no control character)."""
    if not _ACTOR.match(actor) or not actor.strip():
        raise ValueError(
            f"the actor {actor!r} must be 1 to 200 characters without control characters"
        )
    return actor


class MalformedToken(ValueError):
    """The presented value is not a skuhub token at all."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: ``value`` is shown once and never stored."""

    token_id: str
    secret: str

    @property
    def value(self) -> str:
        return f"{TOKEN_PREFIX}{self.token_id}_{self.secret}"


def issue() -> IssuedToken:
    """A fresh token id and a 256-bit secret."""
    return IssuedToken(secrets.token_hex(8), secrets.token_urlsafe(32))


def bearer(token: str | None) -> dict[str, str]:
    """The ``Authorization`` header that sends ``token`` (none without one)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


HASHER = PasswordHasher()
"""argon2id with the library's defaults (RFC 9106's second recommended option)."""


def hash_secret(secret: str) -> str:
    """The argon2id hash stored for a token's secret (tens of milliseconds on purpose)."""
    return HASHER.hash(secret)


def secret_matches(secret_hash: str, secret: str) -> bool:
    """Whether ``secret`` is the one ``secret_hash`` was made from."""
    try:
        return HASHER.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def parse(value: str) -> tuple[str, str]:
    """``(token_id, secret)`` of a presented token, or :class:`MalformedToken`."""
    match = _TOKEN.match(value)
    if match is None:
        raise MalformedToken(
            "the bearer token is not a skuhub API token (skh_<16 hex>_<43 characters>); "
            "create one with `skuhub token create`"
        )
    return match.group(1), match.group(2)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: the token's id, its actor (recorded with every write), what it may do."""

    token_id: str
    actor: str
    scopes: frozenset[Scope]
    channels: frozenset[str] | None = None
    """The channels a channel token serves; None: every channel."""

    def lacks(self, scope: Scope) -> str | None:
        """Why this principal may not use ``scope``, or None when it may."""
        if scope in self.scopes:
            return None
        held = ", ".join(sorted(self.scopes)) or "no scope"
        return (
            f"this route needs a token with the {scope.value!r} scope; "
            f"token {self.token_id} has {held}"
        )

    @property
    def every_channel(self) -> bool:
        """True for a token bound to no channel, and for operators."""
        return self.channels is None or Scope.OPERATE in self.scopes

    def refuses_channel(self, channel: str) -> str | None:
        """Why this principal may not see or change ``channel``'s offers, feed or
        subscriptions, or None when it may."""
        if self.every_channel or channel in (self.channels or ()):
            return None
        return (
            f"token {self.token_id} serves channel(s) {', '.join(sorted(self.channels or ()))}, "
            f"not {channel!r}"
        )


def scopes_from(names: Iterable[str]) -> frozenset[Scope]:
    """Scopes by name; an unknown name is a ValueError that lists the known ones."""
    known = {scope.value: scope for scope in Scope}
    chosen = set()
    for name in names:
        if name not in known:
            raise ValueError(f"unknown scope {name!r}; use one of {', '.join(known)}")
        chosen.add(known[name])
    return frozenset(chosen)
