"""Product models on the running catalog: a variant is checked against its model over HTTP,
and product-changed on Kafka carries the resolved snapshot; a model change publishes a new
version of each variant, once."""

from __future__ import annotations

from typing import Any

import pytest

from skuhub_contracts.topics import PRODUCT_CHANGED
from tests import api
from tests.e2e.observe import new_sku
from tests.harness import Stack
from tests.upstream import body_of, find_records

pytestmark = pytest.mark.e2e


def snapshots(stack: Stack, sku: str, expect: int) -> list[dict[str, Any]]:
    found = find_records(
        stack.infra.kafka_bootstrap,
        stack.topic(PRODUCT_CHANGED.name),
        lambda m: body_of(m)["sku"] == sku,
        expect=expect,
    )
    return [body_of(m) for m in found]


def test_a_variant_publishes_its_model_and_a_model_change_republishes_it(stack: Stack) -> None:
    catalog = stack.url("catalog")
    code, sku = new_sku("MODEL"), new_sku("VARIANT")
    model = {
        "code": code,
        "axes": ["colour"],
        "family": "apparel",
        "title": {"en_US": "Crew T-shirt", "de_DE": "T-Shirt"},
        "attributes": {"brand": "Acme", "material": "cotton"},
    }
    made = api.post(f"{catalog}/v1/product-models", json=model)
    assert made.status_code == 201, made.text
    assert made.headers["ETag"] == '"1"'

    orphan = api.post(
        f"{catalog}/v1/products",
        json={"sku": new_sku("ORPHAN"), "title": {"en_US": "x"}, "product_model": "NOPE-X"},
    )
    assert orphan.status_code == 422, orphan.text
    assert orphan.json()["detail"][0]["loc"][-1] == "product_model"
    no_axis = api.post(
        f"{catalog}/v1/products",
        json={"sku": sku, "title": {"en_US": "Red T-shirt"}, "product_model": code},
    )
    assert no_axis.status_code == 422, no_axis.text
    assert "colour" in no_axis.text
    created = api.post(
        f"{catalog}/v1/products",
        json={
            "sku": sku,
            "title": {"en_US": "Red T-shirt"},
            "product_model": code,
            "attributes": {"colour": "red"},
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["attributes"] == {"colour": "red"}  # its own values

    [first] = snapshots(stack, sku, expect=1)
    assert first["attributes"] == {"brand": "Acme", "material": "cotton", "colour": "red"}
    assert first["title"] == {"en_US": "Red T-shirt", "de_DE": "T-Shirt"}
    assert (first["product_model"], first["variant_axes"]) == (code, ["colour"])

    changed = api.patch(
        f"{catalog}/v1/product-models/{code}",
        json={"attributes": {"material": "linen"}},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    stale = api.patch(
        f"{catalog}/v1/product-models/{code}",
        json={"attributes": {"material": "wool"}},
        headers={"If-Match": '"1"'},
    )
    assert stale.status_code == 412, stale.text

    published = snapshots(stack, sku, expect=2)
    assert [s["product_version"] for s in published] == [1, 2]
    assert published[1]["attributes"]["material"] == "linen"
    in_use = api.delete(f"{catalog}/v1/product-models/{code}")
    assert in_use.status_code == 409, in_use.text
    assert sku in in_use.json()["detail"]
