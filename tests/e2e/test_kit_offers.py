"""A kit's offer on the real stack: the catalog describes the kit, stock makes its
availability from the components' stock, and the gateway's offer sells whole kits.

Expected: min over components of floor(component ATP / quantity per kit) (docs/stock.md,
"Kits"): MUG 7 / 2 = 3, LID 5 / 1 = 5, so 3 kits.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from skuhub_contracts.topics import STOCK_MOVED
from tests import api
from tests.e2e.observe import new_sku, offer_where
from tests.harness import Stack
from tests.upstream import GLN_A, Upstream, movement

pytestmark = pytest.mark.e2e


def create(stack: Stack, sku: str, **fields: object) -> None:
    body = {"sku": sku, "status": "enabled", "title": {"en_US": sku}, "unit": "EA", **fields}
    created = api.post(f"{stack.url('catalog')}/v1/products", json=body)
    assert created.status_code == 201, created.text


def test_a_kit_offer_sells_the_whole_kits_its_components_make(
    stack: Stack, upstream: Upstream
) -> None:
    mug, lid, kit = new_sku("MUG"), new_sku("LID"), new_sku("KIT")
    create(stack, mug)
    create(stack, lid)
    create(
        stack,
        kit,
        kit_components=[{"sku": mug, "quantity": "2"}, {"sku": lid, "quantity": "1"}],
    )
    topic = stack.topic(STOCK_MOVED.name)
    upstream.publish_movement(topic, movement(mug, quantity="7", location=GLN_A))
    upstream.publish_movement(topic, movement(lid, quantity="5", location=GLN_A))

    found = offer_where(
        stack,
        kit,
        lambda o: Decimal(o["available"]) == 3,
        "3 kits in the offer, whichever stock learns first: the kit or its stock",
    )

    assert found["kit"] is True
