"""API tokens as plain rules: their format, their secret's hash, scopes and channels."""

from __future__ import annotations

import re

import pytest

from skuhub_runtime.access_http import document_scopes
from skuhub_runtime.access_tokens import (
    MalformedToken,
    Principal,
    Scope,
    checked_actor,
    hash_secret,
    issue,
    parse,
    scopes_from,
    secret_matches,
)


def test_a_token_reads_back_as_its_id_and_secret() -> None:
    issued = issue()

    assert re.fullmatch(r"skh_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", issued.value)
    assert parse(issued.value) == (issued.token_id, issued.secret)
    assert issue().value != issued.value


@pytest.mark.parametrize(
    "presented",
    ["", "Bearer x", "skh_", "skh_0123456789abcdef", "skh_0123456789ABCDEF_" + "a" * 43,
     "skh_0123456789abcdef_" + "a" * 42, "skh_0123456789abcdef_" + "a" * 43 + "!"],
)  # fmt: skip
def test_anything_else_is_malformed_and_says_how_to_get_one(presented: str) -> None:
    with pytest.raises(MalformedToken, match="skuhub token create"):
        parse(presented)


def test_only_the_secret_a_hash_was_made_from_matches_it() -> None:
    issued = issue()
    stored = hash_secret(issued.secret)

    assert stored.startswith("$argon2id$")
    assert issued.secret not in stored
    assert secret_matches(stored, issued.secret)
    assert not secret_matches(stored, issue().secret)
    assert not secret_matches("not a hash", issued.secret)


def test_a_principal_names_the_scope_it_lacks_and_what_it_has() -> None:
    upstream = Principal("0123456789abcdef", "wms", frozenset({Scope.INGEST}))

    assert upstream.lacks(Scope.INGEST) is None
    assert upstream.lacks(Scope.OPERATE) == (
        "this route needs a token with the 'operate' scope; token 0123456789abcdef has ingest"
    )
    assert "has no scope" in (Principal("f" * 16, "reader", frozenset()).lacks(Scope.CHANNEL) or "")


def test_a_channel_token_serves_its_channels_and_operators_every_one() -> None:
    web = Principal("a" * 16, "shop", frozenset({Scope.CHANNEL}), frozenset({"web"}))
    operator = Principal("b" * 16, "ops", frozenset({Scope.OPERATE}), frozenset({"web"}))
    unbound = Principal("c" * 16, "erp", frozenset({Scope.CHANNEL}))

    assert web.refuses_channel("web") is None
    assert (
        web.refuses_channel("market")
        == "token aaaaaaaaaaaaaaaa serves channel(s) web, not 'market'"
    )
    assert operator.refuses_channel("market") is None
    assert unbound.refuses_channel("market") is None
    assert (web.every_channel, operator.every_channel, unbound.every_channel) == (False, True, True)


def test_scopes_by_name_and_an_unknown_one_lists_the_known() -> None:
    assert scopes_from(["ingest", "catalog:write"]) == {Scope.INGEST, Scope.CATALOG_WRITE}
    with pytest.raises(ValueError, match="use one of ingest, catalog:write, channel, operate"):
        scopes_from(["admin"])


@pytest.mark.parametrize("actor", ["", " ", "a\tb", "x" * 201, "bell\x07"])
def test_an_actor_must_be_printable_and_short(actor: str) -> None:
    with pytest.raises(ValueError, match="without control characters"):
        checked_actor(actor)
    assert checked_actor("ana@shop.example") == "ana@shop.example"


def test_the_document_says_401_on_every_guarded_operation_and_403_where_one_can_refuse() -> None:
    document = {
        "paths": {
            "/health/live": {"get": {"responses": {"200": {}}}},
            "/v1/movements": {
                "post": {"security": [{"apiToken": ["ingest"]}], "responses": {"202": {}}}
            },
            "/v1/positions/{sku}": {
                "get": {"security": [{"apiToken": []}], "responses": {"200": {}}}
            },
            "/v1/channels/{channel}/feed": {
                "get": {"security": [{"apiToken": []}], "responses": {"200": {}}}
            },
        }
    }

    document_scopes(document)

    statuses = {
        (path, method): sorted(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert statuses == {
        ("/health/live", "get"): ["200"],
        ("/v1/movements", "post"): ["202", "401", "403"],
        ("/v1/positions/{sku}", "get"): ["200", "401"],
        ("/v1/channels/{channel}/feed", "get"): ["200", "401", "403"],
    }
