"""Dead letters over HTTP: listed with their reason, replayed once their cause is fixed, never
twice (docs/operations.md, "Dead letters").

The refusal the tests fix: a receipt in cases (CS) of a SKU the catalog describes in each
(EA) without a case pack. Stock refuses it; once the catalog gives the pack, its replay is
applied, twelve each per case.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from skuhub_cli.main import app
from skuhub_contracts.subscriptions import STOCK_PRODUCTS
from skuhub_contracts.topics import PRODUCT_CHANGED, STOCK_MOVED
from skuhub_runtime.access_tokens import Scope
from tests import api
from tests.e2e.observe import metric, new_sku
from tests.harness import Stack, group_progress, wait_until
from tests.upstream import Upstream, body_of, find_records, movement

pytestmark = pytest.mark.e2e

runner = CliRunner()
CASE = Decimal(12)
"""Each per case, as the fix tells the catalog: the oracle of the replayed receipt."""


def describe_product(stack: Stack, sku: str, packs: dict[str, str] | None = None) -> None:
    """Create (or give packs to) the product, and return once stock has read its snapshot."""
    products = f"{stack.url('catalog')}/v1/products"
    if packs is None:
        written = api.post(
            products,
            json={"sku": sku, "title": {"en_US": "Tea"}, "status": "enabled", "unit": "EA"},
        )
    else:
        written = api.patch(f"{products}/{sku}", json={"packs": packs})
    assert written.status_code in (200, 201), written.text
    find_records(
        stack.infra.kafka_bootstrap,
        stack.topic(PRODUCT_CHANGED.name),
        lambda m: body_of(m)["sku"] == sku and body_of(m).get("packs", {}) == (packs or {}),
    )
    group = stack.settings.consumer_group(STOCK_PRODUCTS)
    topics = [stack.topic(PRODUCT_CHANGED.name)]
    wait_until(
        lambda: group_progress(stack.infra.kafka_bootstrap, group, topics).lag == 0,
        timeout=30,
        what="stock to read the product's snapshot",
    )


def operator(stack: Stack, actor: str = "ops-alice") -> dict[str, str]:
    """An operator's token: the operate scope, no other."""
    return api.headers_for(stack.wiring, actor, [Scope.OPERATE])


def dead_letters(stack: Stack, **filters: Any) -> list[dict[str, Any]]:
    response = api.get(f"{stack.url('stock')}/v1/dead-letters", params=filters, timeout=30)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def dead_letters_where(
    stack: Stack, condition: Callable[[list[dict[str, Any]]], bool], what: str, **filters: Any
) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]] | None:
        items = dead_letters(stack, **filters)
        return items if items and condition(items) else None

    return wait_until(found, timeout=30, interval=0.3, what=what)


def replay(stack: Stack, dead_letter_id: str) -> httpx.Response:
    return api.post(
        f"{stack.url('stock')}/v1/dead-letters/{dead_letter_id}/replays",
        headers=operator(stack),
        timeout=30,
    )


def on_hand(stack: Stack, sku: str) -> Decimal:
    body = api.get(f"{stack.url('stock')}/v1/positions/{sku}").json()
    return Decimal(body["network"]["on_hand"])


def test_a_refused_movement_is_replayed_once_its_cause_is_fixed_and_never_twice(
    stack: Stack, upstream: Upstream
) -> None:
    sku = new_sku("DLQ")
    describe_product(stack, sku)
    replays_before = metric(stack, "stock", "skuhub_dead_letter_replays_total")
    sent = upstream.publish_movement(
        stack.topic(STOCK_MOVED.name), movement(sku, quantity="2", unit="CS")
    )

    [first] = dead_letters_where(stack, lambda items: True, "the refused receipt", reason=sku)
    assert (first["topic"], first["key"]) == (stack.topic(STOCK_MOVED.name), sku)
    assert (first["event_type"], first["event_id"]) == ("skuhub.stock-moved.v1", sent.id)
    assert "CS" in first["reason"], first["reason"]
    assert first["replayed"] is None
    assert first["replay_of"] is None

    # Replayed before the fix: refused again, as a new dead letter that names the first.
    early = replay(stack, first["id"])
    assert early.status_code == 201, early.text
    assert early.headers["Location"] == f"/v1/dead-letters/{first['id']}"
    letters = dead_letters_where(
        stack, lambda items: len(items) == 2, "the replay refused again", reason=sku
    )
    second = next(item for item in letters if item["id"] != first["id"])
    assert second["replay_of"] == first["id"]
    assert second["event_id"] == sent.id, "the same event, judged again"
    [replayed_first] = [item for item in letters if item["id"] == first["id"]]
    assert replayed_first["replayed"]["actor"] == "ops-alice"
    again = replay(stack, first["id"])
    assert again.status_code == 409, again.text
    assert "ops-alice" in again.json()["detail"]

    describe_product(stack, sku, packs={"CS": "12"})
    barrier = threading.Barrier(2)

    def racing_replay() -> int:
        barrier.wait(timeout=10)
        return replay(stack, second["id"]).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda _: racing_replay(), range(2)))

    assert statuses == [201, 409], "two racing replays: exactly one goes through"
    wait_until(
        lambda: on_hand(stack, sku) == 2 * CASE, what="the replayed receipt applied, 2 cases"
    )
    letters = dead_letters(stack, reason=sku)
    assert len(letters) == 2, "applied, not refused a third time"
    assert all(item["replayed"] is not None for item in letters)
    after = metric(stack, "stock", "skuhub_dead_letter_replays_total")
    assert after - replays_before == 2


def test_a_dead_letter_shows_its_headers_and_value(stack: Stack, upstream: Upstream) -> None:
    sku = new_sku("DLQ")
    describe_product(stack, sku)
    upstream.publish_movement(stack.topic(STOCK_MOVED.name), movement(sku, unit="CS"))
    [listed] = dead_letters_where(stack, lambda items: True, "the refused receipt", reason=sku)

    shown = api.get(f"{stack.url('stock')}/v1/dead-letters/{listed['id']}")

    assert shown.status_code == 200, shown.text
    body = shown.json()
    headers = {h["name"]: h["value"] for h in body["headers"]}
    assert headers["skuhub_dlq_reason"] == listed["reason"]
    assert headers["skuhub_dlq_service"] == "stock"
    assert headers["ce_type"] == "skuhub.stock-moved.v1"
    assert body["value_json"]["sku"] == sku
    assert body["value_json"]["unit"] == "CS"


def test_filters_and_pages_of_dead_letters(stack: Stack, upstream: Upstream) -> None:
    sku = new_sku("DLQ")
    describe_product(stack, sku)
    for quantity in ("1", "2", "3"):
        upstream.publish_movement(
            stack.topic(STOCK_MOVED.name), movement(sku, quantity=quantity, unit="CS")
        )
    letters = dead_letters_where(
        stack, lambda items: len(items) == 3, "three refused receipts", reason=sku.lower()
    )
    ids = [item["id"] for item in letters]
    oldest = letters[0]["dead_lettered_at"]

    assert [i["id"] for i in dead_letters(stack, reason=sku, topic=STOCK_MOVED.name)] == ids
    assert [
        i["id"] for i in dead_letters(stack, reason=sku, topic=stack.topic(STOCK_MOVED.name))
    ] == ids
    assert dead_letters(stack, reason=sku, topic=PRODUCT_CHANGED.name) == []
    assert dead_letters(stack, reason=sku, since="2999-01-01T00:00:00Z") == []
    assert dead_letters(stack, reason=sku, until=oldest) == []
    assert [i["id"] for i in dead_letters(stack, reason=sku, since=oldest)] == ids
    paged: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"reason": sku, "limit": 1, "topic": STOCK_MOVED.name}
        if cursor:
            params["cursor"] = cursor
        response = api.get(f"{stack.url('stock')}/v1/dead-letters", params=params, timeout=30)
        page = response.json()
        paged += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == ids

    assert replay(stack, ids[1]).status_code == 201  # the cause is not fixed: refused again
    letters = dead_letters_where(
        stack, lambda items: len(items) == 4, "the replay refused again", reason=sku
    )
    [again] = [item for item in letters if item["id"] not in ids]
    assert again["replay_of"] == ids[1]
    assert [i["id"] for i in dead_letters(stack, reason=sku, replayed="true")] == [ids[1]]
    unreplayed = dead_letters(stack, reason=sku, replayed="false")
    assert [i["id"] for i in unreplayed] == [ids[0], ids[2], again["id"]]


@pytest.mark.parametrize("service", ["stock", "catalog", "lifecycle", "sync_gateway"])
@pytest.mark.parametrize("dead_letter_id", ["0-999999999-zzzzzz", "not-an-id"])
def test_an_unknown_dead_letter_is_a_404_naming_it(
    stack: Stack, service: str, dead_letter_id: str
) -> None:
    url = f"{stack.url(service)}/v1/dead-letters/{dead_letter_id}"

    shown = api.get(url, timeout=30)
    replayed = api.post(f"{url}/replays", headers=operator(stack), timeout=30)

    for response in (shown, replayed):
        assert response.status_code == 404, response.text
        assert response.json()["detail"] == f"no dead letter {dead_letter_id} in {service}"
    # Exported from the start (dashboards and alerts name it), and a 404 replays nothing.
    sample = f'skuhub_dead_letter_replays_total{{service="{service}"}}'
    exported = httpx.get(f"{stack.url(service)}/metrics").text.splitlines()
    assert any(line.startswith(sample) for line in exported), sample
    if service != "stock":
        assert f"{sample} 0.0" in exported


def test_the_dlq_command_lists_shows_and_replays_once(stack: Stack, upstream: Upstream) -> None:
    sku = new_sku("DLQ")
    describe_product(stack, sku)
    upstream.publish_movement(stack.topic(STOCK_MOVED.name), movement(sku, unit="CS"))
    [listed] = dead_letters_where(stack, lambda items: True, "the refused receipt", reason=sku)
    where = ["-s", "stock", "--url", stack.url("stock")]
    token = operator(stack, "ops-bob")["Authorization"].removeprefix("Bearer ")
    reader = api.headers_for(stack.wiring, "ops-reader", [Scope.INGEST])
    env = {"SKUHUB_TOKEN": token}

    shown_list = runner.invoke(app, ["dlq", "list", *where, "--reason", sku, "--json"], env=env)
    shown = runner.invoke(app, ["dlq", "show", listed["id"], *where], env=env)
    refused = runner.invoke(
        app,
        ["dlq", "replay", listed["id"], *where],
        env={"SKUHUB_TOKEN": reader["Authorization"].removeprefix("Bearer ")},
    )
    replayed = runner.invoke(app, ["dlq", "replay", listed["id"], *where], env=env)
    again = runner.invoke(app, ["dlq", "replay", listed["id"], *where], env=env)
    unknown = runner.invoke(app, ["dlq", "show", "0-0-0", *where], env=env)

    assert shown_list.exit_code == 0, shown_list.output
    assert [json.loads(line)["id"] for line in shown_list.stdout.splitlines()] == [listed["id"]]
    assert shown.exit_code == 0, shown.output
    assert "skuhub_dlq_reason" in shown.stdout
    assert refused.exit_code == 1, "a token without the operate scope replays nothing"
    assert "403" in refused.stderr
    assert "operate" in refused.stderr
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 1, replayed before 0, not found 0" in replayed.stdout
    assert again.exit_code == 1
    assert "ops-bob" in again.stdout + again.stderr
    assert unknown.exit_code == 1
    assert "no dead letter 0-0-0 in stock" in unknown.stderr
    [after] = dead_letters(stack, reason=sku, replayed="true")
    assert after["replayed"]["actor"] == "ops-bob"
