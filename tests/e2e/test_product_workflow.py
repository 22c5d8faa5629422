"""The approval workflow on the running stack: approval refused while incomplete, one
publication per publish, and only published content at the channels (docs/catalog.md)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from skuhub_contracts.subscriptions import OFFER_PROJECTION
from skuhub_contracts.topics import PRODUCT_CHANGED
from skuhub_runtime.access_tokens import Scope
from tests import api
from tests.e2e.observe import new_sku, offer_where
from tests.harness import Stack, group_progress, wait_until
from tests.upstream import body_of, records_until

pytestmark = pytest.mark.e2e


def step(stack: Stack, sku: str, action: str, **fields: Any) -> httpx.Response:
    return api.post(
        f"{stack.url('catalog')}/v1/product-workflow/{sku}",
        json={"action": action} | fields,
        headers=api.headers_for(stack.wiring, "ana", [Scope.CATALOG_WRITE]),
    )


def test_an_approval_publishes_exactly_once_and_only_published_content_reaches_channels(
    stack: Stack,
) -> None:
    catalog = stack.url("catalog")
    family, sku = new_sku("wf").lower(), new_sku("WF")
    made = api.post(
        f"{catalog}/v1/families",
        json={"code": family, "attributes": ["brand"], "requirements": {"web": ["title", "brand"]}},
    )
    assert made.status_code == 201, made.text
    created = api.post(
        f"{catalog}/v1/products",
        json={"sku": sku, "title": {"en_US": "Mug"}, "family": family, "status": "enabled"},
    )
    assert created.status_code == 201, created.text
    assert (created.json()["workflow"], created.json()["published_version"]) == ("draft", None)

    too_early = step(stack, sku, "approve")
    assert too_early.status_code == 409, too_early.text
    assert "submit it for review" in too_early.text
    assert step(stack, sku, "submit").status_code == 200
    incomplete = step(stack, sku, "approve")
    assert incomplete.status_code == 422, incomplete.text
    assert "web/en_US: brand" in incomplete.text
    rejected = step(stack, sku, "reject", comment="brand is missing")
    assert rejected.json()["workflow"] == "draft"

    filled = api.patch(f"{catalog}/v1/products/{sku}", json={"attributes": {"brand": "Acme"}})
    assert filled.status_code == 200, filled.text
    for action in ("submit", "approve"):
        assert step(stack, sku, action).status_code == 200
    publish = f"{catalog}/v1/product-workflow/{sku}"
    stale = api.post(publish, json={"action": "publish"}, headers={"If-Match": '"5"'})
    assert stale.status_code == 412, "approval made version 6"
    published = api.post(publish, json={"action": "publish"}, headers={"If-Match": '"6"'})
    assert published.status_code == 200, published.text
    assert (published.json()["workflow"], published.json()["published_version"]) == (
        "published",
        7,
    )
    offer_where(stack, sku, lambda o: o["title"] == "Mug", "the published title at the channel")

    # A new draft: the channel keeps the published title.
    draft = api.patch(f"{catalog}/v1/products/{sku}", json={"title": {"en_US": "Mug (new)"}})
    assert (draft.json()["workflow"], draft.json()["version"]) == ("draft", 8)

    sent = [
        body_of(m)
        for m in records_until(
            stack.infra.kafka_bootstrap,
            stack.topic(PRODUCT_CHANGED.name),
            lambda m: body_of(m)["sku"] == sku,
            lambda m: body_of(m)["sku"] == sku and body_of(m)["product_version"] == 8,
        )
    ]
    assert [(s["product_version"], s["workflow"]) for s in sent] == [
        (1, "draft"),
        (2, "in_review"),
        (3, "draft"),
        (4, "draft"),
        (5, "in_review"),
        (6, "approved"),
        (7, "published"),
        (8, "draft"),
    ], "one snapshot per version, exactly one of them the publication"
    assert [s["published"]["version"] if s["published"] else None for s in sent] == [
        *[None] * 6,
        7,
        7,
    ]
    assert sent[-1]["published"]["title"] == {"en_US": "Mug"}
    published_offer = offer_where(
        stack, sku, lambda o: o["sources"]["product"]["version"] == 7, "the publication"
    )
    gateway = stack.settings.consumer_group(OFFER_PROJECTION)
    topics = [stack.topic(t.name) for t in OFFER_PROJECTION.topics]
    wait_until(
        lambda: group_progress(stack.infra.kafka_bootstrap, gateway, topics).lag == 0,
        timeout=30,
        what="the gateway to have read the draft (version 8)",
    )
    shown = offer_where(stack, sku, lambda o: True, "the offer")
    assert shown["title"] == "Mug", "a draft's title never reaches the channel"
    assert shown["offer_version"] == published_offer["offer_version"], (
        "a draft changes nothing a channel sees, so the offer keeps its version"
    )

    history = api.get(f"{catalog}/v1/product-history/{sku}").json()["items"]
    rejection = next(e for e in history if e["version"] == 3)
    assert (rejection["actor"], rejection["comment"]) == ("ana", "brand is missing")
