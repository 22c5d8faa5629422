"""API tokens on the running services: every route but health and metrics needs one, every
write route its scope (walked from each service's OpenAPI document), a channel token only
its channels; refusals write nothing, and every write is audited with the token's actor."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import httpx
import pytest

from skuhub_cli.tokens import read_audit
from skuhub_contracts.topics import SERVICES
from skuhub_runtime.access_tokens import Scope, bearer, issue
from tests import api
from tests.e2e.observe import new_sku
from tests.harness import Stack, wait_until
from tests.upstream import movement

pytestmark = pytest.mark.e2e

WRITES = ("post", "put", "patch", "delete")
READ_ONLY_POSTS = {("stock", "post", "/v1/positions/query")}
"""POST routes that only read: any token may call them."""


def operations(stack: Stack, service: str) -> list[tuple[str, str, list[str]]]:
    """``(method, path, scopes)`` of every operation the service's document guards."""
    document = httpx.get(f"{stack.url(service)}/openapi.json").json()
    found = []
    for path, by_method in document["paths"].items():
        for method, operation in by_method.items():
            if "security" in operation:
                [requirement] = operation["security"]
                found.append((method, path, requirement["apiToken"]))
    return found


def concrete(path: str) -> str:
    """A path with each parameter filled (the token is refused before any is read)."""
    return re.sub(r"\{[^}]+\}", "x", path)


def call(stack: Stack, service: str, method: str, path: str, headers: dict[str, str]) -> Any:
    return httpx.request(
        method,
        f"{stack.url(service)}{concrete(path)}",
        json={} if method in WRITES else None,
        headers=headers,
        timeout=10,
    )


@pytest.mark.parametrize("service", SERVICES)
def test_every_write_route_names_a_scope_and_refuses_a_token_without_it(
    stack: Stack, service: str
) -> None:
    guarded = operations(stack, service)
    writes = [(m, p, s) for m, p, s in guarded if m in WRITES]
    unscoped = {(service, m, p) for m, p, s in writes if not s}
    assert unscoped <= READ_ONLY_POSTS, f"write routes without a scope: {unscoped}"
    assert writes, f"{service} documents no write route"

    refused = []
    for method, path, scopes in writes:
        if not scopes:
            continue
        [needed] = scopes
        others = [scope for scope in Scope if scope.value != needed]
        headers = api.headers_for(stack.wiring, f"all-but-{needed}", others)
        answer = call(stack, service, method, path, headers)
        if answer.status_code != 403 or f"'{needed}' scope" not in answer.json()["detail"]:
            refused.append(f"{method.upper()} {path}: {answer.status_code} {answer.text[:200]}")
    assert not refused, "answered a token without the scope:\n" + "\n".join(refused)


@pytest.mark.parametrize("service", SERVICES)
def test_every_guarded_route_refuses_a_request_without_a_token_and_health_stays_open(
    stack: Stack, service: str
) -> None:
    not_refused = []
    for method, path, _ in operations(stack, service):
        answer = call(stack, service, method, path, {})
        if answer.status_code != 401 or answer.headers.get("WWW-Authenticate") is None:
            not_refused.append(f"{method.upper()} {path}: {answer.status_code}")
    assert not not_refused, "answered without a token:\n" + "\n".join(not_refused)

    base = stack.url(service)
    assert httpx.get(f"{base}/health/live").status_code == 200
    assert httpx.get(f"{base}/health/ready").status_code == 200
    assert "skuhub_http_auth_refusals_total" in httpx.get(f"{base}/metrics").text


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("not-a-token", "is not a skuhub API token"),
        (issue().value, "does not exist"),
        (f"skh_{api.SESSION_TOKEN.token_id}_{issue().secret}", "secret of token"),
    ],
)
def test_a_bad_token_is_a_401_that_says_what_is_wrong(
    stack: Stack, token: str, reason: str
) -> None:
    answer = httpx.get(f"{stack.url('stock')}/v1/positions/ANY", headers=bearer(token))

    assert answer.status_code == 401
    assert reason in answer.json()["detail"]


def test_a_refused_write_changes_nothing(stack: Stack) -> None:
    sku = new_sku("REFUSED")
    no_catalog = api.headers_for(stack.wiring, "reader", [Scope.INGEST])
    created = httpx.post(
        f"{stack.url('catalog')}/v1/products",
        json={"sku": sku, "title": {"en_US": "Mug"}},
        headers=no_catalog,
    )
    no_ingest = api.headers_for(stack.wiring, "product-team", [Scope.CATALOG_WRITE])
    moved = httpx.post(
        f"{stack.url('stock')}/v1/movements",
        json={"movements": [movement(sku, quantity="5").model_dump(mode="json")]},
        headers=no_ingest,
    )

    assert (created.status_code, moved.status_code) == (403, 403)
    assert api.get(f"{stack.url('catalog')}/v1/products/{sku}").status_code == 404
    position = api.get(f"{stack.url('stock')}/v1/positions/{sku}")
    assert position.status_code == 404 or position.json()["positions"] == [], position.text


def test_every_write_is_audited_with_the_tokens_actor(stack: Stack) -> None:
    sku = new_sku("AUDITED")
    headers = api.headers_for(stack.wiring, "supplier-feed", [Scope.CATALOG_WRITE])
    created = httpx.post(
        f"{stack.url('catalog')}/v1/products",
        json={"sku": sku, "title": {"en_US": "Mug"}},
        headers=headers,
    )
    refused = httpx.post(
        f"{stack.url('stock')}/v1/movements", json={"movements": []}, headers=headers
    )
    assert (created.status_code, refused.status_code) == (201, 403)

    entries = read_audit(
        stack.infra.database_url, stack.wiring.schema_prefix, token_id=None, limit=200
    )
    mine = {
        (e.service, e.method, e.path, e.status)
        for e in entries
        if e.actor == "supplier-feed"
        and (sku in e.path or e.path.endswith(("/products", "/movements")))
    }
    assert ("catalog", "POST", "/v1/products", 201) in mine
    assert ("stock", "POST", "/v1/movements", 403) in mine
    history = api.get(f"{stack.url('catalog')}/v1/product-history/{sku}").json()["items"]
    assert [entry["actor"] for entry in history] == ["supplier-feed"]


def test_a_channel_token_sees_and_subscribes_only_its_channels(stack: Stack) -> None:
    gateway = stack.url("sync_gateway")
    # The other channel need not exist: the token is refused before the channel is looked up,
    # so the session's stack keeps its one channel for the other tests.
    mine, other = "web", "marketplace"
    token = stack.wiring.issue_token("shop-adapter", [Scope.CHANNEL], channels=[mine])
    headers = bearer(token.value)

    own = httpx.get(f"{gateway}/v1/channels/{mine}/feed", params={"wait": 0}, headers=headers)
    foreign = httpx.get(f"{gateway}/v1/channels/{other}/feed", params={"wait": 0}, headers=headers)
    subscribe = httpx.post(
        f"{gateway}/v1/subscriptions",
        json={"url": "http://127.0.0.1:9/hook", "channel": other},
        headers=headers,
    )

    assert own.status_code == 200, own.text
    assert (foreign.status_code, subscribe.status_code) == (403, 403)
    assert f"not '{other}'" in foreign.json()["detail"]
    own_subscription = httpx.post(
        f"{gateway}/v1/subscriptions",
        json={"url": "http://127.0.0.1:9/hook", "channel": mine},
        headers=headers,
    )
    assert own_subscription.status_code == 201, own_subscription.text
    created = own_subscription.json()["id"]
    listed = httpx.get(f"{gateway}/v1/subscriptions", headers=headers).json()
    assert created in [s["id"] for s in listed]
    assert {s["channel"] for s in listed} == {mine}
    removed = httpx.delete(f"{gateway}/v1/subscriptions/{created}", headers=headers)
    assert removed.status_code == 204, removed.text


def test_the_cli_creates_a_token_that_works_and_revokes_it(stack: Stack) -> None:
    env = os.environ | {
        "SKUHUB_DATABASE_URL": stack.infra.database_url,
        "SKUHUB_SCHEMA_PREFIX": stack.wiring.schema_prefix,
        "COLUMNS": "200",
    }

    def skuhub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "skuhub_cli.main", "token", *args],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    created = skuhub("create", "--actor", "wms-berlin", "--scope", "ingest", "--note", "WMS")
    assert created.returncode == 0, created.stderr
    value = created.stdout.strip().splitlines()[-1]
    token_id = value.split("_")[1]
    headers = bearer(value)
    url = f"{stack.url('stock')}/v1/movements"
    body = {"movements": [movement(new_sku("CLI"), quantity="1").model_dump(mode="json")]}
    assert httpx.post(url, json=body, headers=headers).status_code == 202

    listed = skuhub("list")
    assert token_id in listed.stdout, listed.stdout
    assert "wms-berlin" in listed.stdout
    assert skuhub("revoke", token_id).returncode == 0
    assert skuhub("revoke", "0000000000000000").returncode == 1
    bad_actor = skuhub("create", "--actor", "a\tb")
    assert bad_actor.returncode == 2
    assert "control characters" in bad_actor.stderr

    def refused() -> bool:
        answer = httpx.post(url, json=body, headers=headers)
        return answer.status_code == 401 and "revoked" in answer.json()["detail"]

    # Services read a token's row again every SKUHUB_TOKEN_RECHECK_S (5 s by default).
    wait_until(refused, timeout=15, what="every request with the revoked token refused")
