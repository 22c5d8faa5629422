"""HTTP behaviour a client relies on: preconditions, clear 4xx errors, SKUs with slashes, and
refusals where the OpenAPI document says them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from skuhub_contracts.topics import PRODUCT_CHANGED, STOCK_MOVED
from skuhub_runtime.access_tokens import Scope
from tests import api
from tests.e2e.observe import new_gtin13, new_sku, offer_where, publish_product
from tests.harness import Stack, wait_until
from tests.upstream import Upstream, body_of, find_records, movement

pytestmark = pytest.mark.e2e


@pytest.fixture
def product(stack: Stack) -> str:
    sku = new_sku("PRECOND")
    created = api.post(
        f"{stack.url('catalog')}/v1/products", json={"sku": sku, "title": {"en_US": "Mug"}}
    )
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"'
    return sku


def test_a_stale_if_match_is_a_failed_precondition(stack: Stack, product: str) -> None:
    url = f"{stack.url('catalog')}/v1/products/{product}"
    changed = api.patch(url, json={"family": "kitchen"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'

    stale = api.patch(url, json={"family": "garden"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    assert "version" in stale.json()["detail"]
    stale_delete = api.delete(url, headers={"If-Match": '"1"'})
    assert stale_delete.status_code == 412, stale_delete.text
    assert api.get(url).json()["family"] == "kitchen"


def test_a_weak_etag_never_matches(stack: Stack, product: str) -> None:
    url = f"{stack.url('catalog')}/v1/products/{product}"
    weak = api.patch(url, json={"family": "garden"}, headers={"If-Match": 'W/"1"'})
    assert weak.status_code == 412, weak.text
    assert "weak ETag" in weak.json()["detail"]


def test_a_stale_expected_version_in_the_body_is_a_conflict(stack: Stack, product: str) -> None:
    url = f"{stack.url('catalog')}/v1/products/{product}"
    assert api.patch(url, json={"family": "kitchen"}).status_code == 200
    stale = api.patch(url, json={"family": "garden", "expected_version": 1})
    assert stale.status_code == 409, stale.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": {"en_US": "Mug\u0000"}}, ["body", "title", "en_US"]),  # text column
        (  # JSONB column
            {"title": {"en_US": "Mug"}, "attributes": {"colour": "red\u0000"}},
            ["body", "attributes", "colour"],
        ),
    ],
)
def test_a_nul_character_is_a_422_that_names_the_field(
    stack: Stack, body: dict[str, object], field: list[str]
) -> None:
    response = api.post(f"{stack.url('catalog')}/v1/products", json={"sku": new_sku(), **body})
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["loc"][: len(field)] for e in errors] == [field] * len(errors)
    assert "control characters" in errors[0]["msg"]


def test_skus_with_a_slash_reach_positions_and_offers(stack: Stack) -> None:
    sku = f"{new_sku('KIT')}/RED"
    posted = api.post(
        f"{stack.url('stock')}/v1/movements",
        json={"movements": [movement(sku, quantity="4").model_dump(mode="json")]},
    )
    assert posted.status_code == 202, posted.text
    offer_where(stack, sku, lambda o: Decimal(o["available"]) == 4, "the offer of a SKU with /")
    positions = api.get(f"{stack.url('stock')}/v1/positions/{sku}").json()
    assert positions["sku"] == sku
    assert Decimal(positions["available_to_promise"]) == 4


def test_the_journal_lists_applied_and_refused_movements_a_page_at_a_time(stack: Stack) -> None:
    sku = new_sku("JRNL")
    upstream = Upstream(stack.infra.kafka_bootstrap)
    topic = stack.topic(STOCK_MOVED.name)
    sent = [
        movement(sku, quantity="5", reason="purchase order 4711", source_sequence=1),
        movement(sku, "shipment", "2", reason="order 88", source_sequence=2),
        movement(sku, quantity="1.5", unit="KGM", source_sequence=3),  # not the position's unit
    ]
    for payload in sent:
        upstream.publish_movement(topic, payload)
    url = f"{stack.url('stock')}/v1/journal/{sku}"

    def whole() -> list[dict[str, Any]] | None:
        entries: list[dict[str, Any]] = api.get(url).json()["entries"]
        return entries if len(entries) == 3 and entries[2]["rejected_reason"] else None

    entries = wait_until(whole, timeout=30, what="three movements journaled, one refused")
    assert [(e["kind"], Decimal(e["quantity"]), e["reason"]) for e in entries] == [
        ("receipt", 5, "purchase order 4711"),
        ("shipment", 2, "order 88"),
        ("receipt", Decimal("1.5"), None),
    ]
    assert [e["rejected_reason"] is None for e in entries] == [True, True, False]
    assert "unit KGM" in entries[2]["rejected_reason"]

    first = api.get(url, params={"limit": 2}).json()
    second = api.get(url, params={"limit": 2, "after": first["next_after"]}).json()
    assert [e["source_sequence"] for e in first["entries"]] == [1, 2]
    assert [e["source_sequence"] for e in second["entries"]] == [3]
    assert second["next_after"] is None
    assert api.get(url, params={"limit": 0}).status_code == 422


@pytest.mark.parametrize(
    ("service", "method", "path", "allow"),
    [
        ("catalog", "OPTIONS", "/v1/products", "GET, POST"),
        ("catalog", "PUT", "/v1/products/A/B", "DELETE, GET, PATCH"),
        # A SKU may hold a /, so GET /v1/stages/{sku} matches this path too.
        ("lifecycle", "OPTIONS", "/v1/stages/A/transitions", "POST"),
    ],
)
def test_a_405_allows_every_documented_method_of_the_resource(
    stack: Stack, service: str, method: str, path: str, allow: str
) -> None:
    response = api.request(method, f"{stack.url(service)}{path}")
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allow
    assert allow in response.json()["detail"]


def test_location_names_the_new_product_by_a_sku_in_one_path_segment(stack: Stack) -> None:
    sku = f"{new_sku('KIT')}/RED"
    created = api.post(
        f"{stack.url('catalog')}/v1/products", json={"sku": sku, "title": {"en_US": "Kit"}}
    )
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/v1/products/{sku.replace('/', '%2F')}"
    assert api.get(f"{stack.url('catalog')}{created.headers['Location']}").json()["sku"] == sku


def test_a_deleted_product_is_gone_and_listed_only_with_include_deleted(
    stack: Stack, product: str
) -> None:
    url = f"{stack.url('catalog')}/v1/products/{product}"
    assert api.delete(url).status_code == 200
    gone = api.get(url)
    assert gone.status_code == 410, gone.text
    assert "deleted" in gone.json()["detail"]

    def first_listed(include_deleted: bool) -> list[tuple[str, bool]]:
        """The first product after the SKU less its last character: the product, if listed."""
        page = api.get(
            f"{stack.url('catalog')}/v1/products",
            params={"after": product[:-1], "include_deleted": include_deleted, "limit": 1},
        )
        return [(p["sku"], p["deleted"]) for p in page.json()["items"]]

    assert first_listed(include_deleted=True) == [(product, True)]
    assert product not in {sku for sku, _ in first_listed(include_deleted=False)}


@pytest.mark.parametrize(
    ("if_match", "status"),
    [
        ('"1"', 200),
        ("1", 200),
        ("*", 200),
        ('"99999999999999999999"', 412),  # no product reaches this version
        ("", 422),
        ("version 1", 422),
    ],
)
def test_if_match_is_refused_for_its_syntax_by_the_documented_pattern(
    stack: Stack, product: str, if_match: str, status: int
) -> None:
    url = f"{stack.url('catalog')}/v1/products/{product}"
    pattern = documented(stack, "catalog", "/v1/products/{sku}", "patch").header("if-match")
    assert (re.fullmatch(pattern, if_match) is not None) == (status != 422)
    response = api.patch(url, json={"family": "kitchen"}, headers={"If-Match": if_match})
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"family": "kitchen"}, id="a-field"),
        pytest.param({"title": {"de_DE": "Becher"}, "expected_version": 1}, id="a-title"),
        pytest.param({"gtin": None}, id="gtin-cleared"),
        pytest.param({}, id="nothing"),
        pytest.param({"expected_version": 1}, id="only-a-version"),
        pytest.param({"title": {}}, id="no-title-key"),
        pytest.param({"status": None}, id="status-null"),  # kept by leaving it out, not cleared
        pytest.param({"unit": None}, id="unit-null"),
        pytest.param({"packs": {"CS": "12", "PF": None}}, id="packs-merged"),
        pytest.param({"packs": {}}, id="no-pack-key"),
        pytest.param({"lot_tracked": None}, id="lot-tracked-null"),
        pytest.param({"shelf_life_days": None}, id="shelf-life-cleared"),
        pytest.param({"shelf_life_days": 36_501}, id="shelf-life-past-100-years"),
        pytest.param({"kit_components": []}, id="no-longer-a-kit"),
        pytest.param({"kit_components": None}, id="kit-components-null"),
        pytest.param(
            {"kit_components": [{"sku": "MUG-1", "quantity": "1", "note": "x"}]},
            id="kit-component-unknown-field",
        ),
        pytest.param({"family": "kitchen", "expected_version": "1"}, id="version-as-string"),
        pytest.param({"family": "kitchen", "expected_version": 2**53}, id="version-past-2^53"),
    ],
)
def test_a_change_is_refused_exactly_when_the_document_refuses_it(
    stack: Stack, product: str, body: dict[str, object]
) -> None:
    valid = documented(stack, "catalog", "/v1/products/{sku}", "patch").body().is_valid(body)
    response = api.patch(f"{stack.url('catalog')}/v1/products/{product}", json=body)
    assert response.status_code == (200 if valid else 422), response.text


def test_a_gtin_is_one_item_in_any_of_its_forms(stack: Stack) -> None:
    products = f"{stack.url('catalog')}/v1/products"
    gtin = new_gtin13()
    owner = new_sku("GTIN")
    created = api.post(products, json={"sku": owner, "title": {"en_US": "Mug"}, "gtin": gtin})
    assert created.status_code == 201, created.text

    twin = api.post(
        products, json={"sku": new_sku("GTIN"), "title": {"en_US": "Mug"}, "gtin": "0" + gtin}
    )
    assert twin.status_code == 409, twin.text
    assert owner in twin.json()["detail"]

    for form in (gtin, "0" + gtin):
        found = api.get(products, params={"gtin": form})
        assert found.status_code == 200, found.text
        assert [p["sku"] for p in found.json()["items"]] == [owner]
        assert found.json()["items"][0]["gtin"] == gtin  # kept as sent
    assert api.get(products, params={"gtin": new_gtin13()}).json()["items"] == []


def test_a_product_keeps_and_publishes_its_stock_facts(stack: Stack) -> None:
    sku, part = new_sku("KIT"), new_sku("PART")
    facts = {
        "unit": "EA",
        "packs": {"CS": "6", "PF": "240"},
        "lot_tracked": True,
        "shelf_life_days": 730,
        "kit_components": [{"sku": part, "quantity": "2"}, {"sku": "SPOON-1", "quantity": "0.5"}],
    }
    created = api.post(
        f"{stack.url('catalog')}/v1/products",
        json={"sku": sku, "title": {"en_US": "Gift set"}, "status": "enabled", **facts},
    )
    assert created.status_code == 201, created.text
    assert {name: created.json()[name] for name in facts} == facts
    url = f"{stack.url('catalog')}/v1/products/{sku}"

    same = api.patch(url, json={"packs": {"CS": "6.0"}, "lot_tracked": True})
    changed = api.patch(url, json={"packs": {"PF": None}, "kit_components": []})

    assert same.headers["ETag"] == '"1"', "the same facts written otherwise change nothing"
    assert changed.headers["ETag"] == '"2"', changed.text
    stored = api.get(url).json()
    assert (stored["packs"], stored["kit_components"]) == ({"CS": "6"}, [])
    assert (stored["lot_tracked"], stored["shelf_life_days"]) == (True, 730)
    # The gateway still reads the snapshot that carries them (a tolerant reader).
    publish_product(stack, sku)
    offer_where(stack, sku, lambda o: o["title"] == "Gift set", "the offer of a product with facts")


def one(sku: str, quantity: str = "1") -> dict[str, str]:
    return {"sku": sku, "quantity": quantity}


@pytest.mark.parametrize(
    ("facts", "field", "words"),
    [
        (lambda _: {"unit": "CS", "packs": {"CS": "12"}}, "packs", "CS is the stock unit"),
        (lambda sku: {"kit_components": [one("A"), one(sku)]}, "kit_components", "itself"),
        (lambda _: {"kit_components": [one("A"), one("A", "2")]}, "kit_components", "twice"),
    ],
    ids=["pack-in-the-stock-unit", "kit-lists-itself", "component-twice"],
)
def test_a_stock_fact_against_the_rules_is_a_422_naming_the_field(
    stack: Stack, facts: Callable[[str], dict[str, Any]], field: str, words: str
) -> None:
    sku = new_sku()
    response = api.post(
        f"{stack.url('catalog')}/v1/products",
        json={"sku": sku, "title": {"en_US": "x"}, **facts(sku)},
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", field]
    assert words in error["msg"]
    assert api.get(f"{stack.url('catalog')}/v1/products/{sku}").status_code == 404


def test_an_unreadable_body_is_a_documented_400(stack: Stack) -> None:
    response = api.post(
        f"{stack.url('catalog')}/v1/products",
        content=b'{"sku": "\xff"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "400" in documented(stack, "catalog", "/v1/products", "post").operation["responses"]


def test_metrics_are_the_text_format_the_document_names(stack: Stack) -> None:
    response = api.get(f"{stack.url('stock')}/metrics")
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    content = documented(stack, "stock", "/metrics", "get").operation["responses"]["200"]["content"]
    assert list(content) == [response.headers["content-type"]]


@dataclass(frozen=True)
class Documented:
    """One operation as a service's live OpenAPI document describes it."""

    document: dict[str, Any]
    operation: dict[str, Any]

    def body(self) -> Draft202012Validator:
        """A validator of the JSON request body, with the document's components to refer to."""
        schema = self.operation["requestBody"]["content"]["application/json"]["schema"]
        return Draft202012Validator({**schema, "components": self.document["components"]})

    def header(self, name: str) -> str:
        """The pattern of a header parameter."""
        [parameter] = [p for p in self.operation["parameters"] if p["name"] == name]
        pattern: str = parameter["schema"]["pattern"]
        return pattern


def documented(stack: Stack, service: str, path: str, method: str) -> Documented:
    document = api.get(f"{stack.url(service)}/openapi.json").json()
    return Documented(document, document["paths"][path][method])


def test_the_running_stock_service_keeps_replenishment_policies_and_proposals(
    stack: Stack,
) -> None:
    stock = stack.url("stock")
    sku = new_sku("REPL")
    policy = f"{stock}/v1/policies/{sku}/4012345000009"
    assert api.get(policy).json()["source"] == "default"

    put = api.put(
        policy, json={"lead_time_days": 5, "review_period_days": 4, "service_level": 0.98}
    )

    assert put.status_code == 200, put.text
    assert put.json()["source"] == "set"
    assert api.get(policy).json() == put.json()
    listed = api.get(f"{stock}/v1/proposals", params={"sku": sku, "status": "open"})
    assert listed.json() == {"proposals": [], "next_after": None}
    unknown = api.post(f"{stock}/v1/proposals/{sku}-none/accept")
    assert unknown.status_code == 404, unknown.text


def test_a_products_history_names_who_changed_which_field(stack: Stack) -> None:
    catalog = stack.url("catalog")
    sku = new_sku("HISTORY")
    created = api.post(
        f"{catalog}/v1/products",
        json={"sku": sku, "title": {"en_US": "Mug"}, "attributes": {"colour": "red"}},
        headers=api.headers_for(stack.wiring, "supplier-feed", [Scope.CATALOG_WRITE]),
    )
    assert created.status_code == 201, created.text
    changed = api.patch(
        f"{catalog}/v1/products/{sku}",
        json={"attributes": {"colour": "blue"}, "title": {"de_DE": "Becher"}},
        headers=api.headers_for(stack.wiring, "ana@shop.example", [Scope.CATALOG_WRITE]),
    )
    assert changed.status_code == 200, changed.text
    anonymous = httpx.patch(f"{catalog}/v1/products/{sku}", json={"family": "x"})
    assert anonymous.status_code == 401, anonymous.text

    page = api.get(f"{catalog}/v1/product-history/{sku}", params={"limit": 1}).json()
    [latest] = page["items"]
    assert (latest["version"], latest["actor"], page["next_before"]) == (2, "ana@shop.example", 2)
    assert latest["changes"] == [
        {"field": "title.de_DE", "old": None, "new": "Becher"},
        {"field": "attributes.colour", "old": "red", "new": "blue"},
    ]
    older = api.get(f"{catalog}/v1/product-history/{sku}", params={"before": 2}).json()
    assert [(e["version"], e["actor"]) for e in older["items"]] == [(1, "supplier-feed")]
    missing = api.get(f"{catalog}/v1/product-history/{new_sku('NOPE')}")
    assert missing.status_code == 404, missing.text


def test_the_catalog_shows_stock_and_stage_beside_content(stack: Stack, upstream: Upstream) -> None:
    catalog = stack.url("catalog")
    sku = new_sku("BESIDE")
    created = api.post(
        f"{catalog}/v1/products",
        json={"sku": sku, "title": {"en_US": "Mug"}, "status": "enabled"},
    )
    assert created.status_code == 201, created.text
    assert (created.json()["availability"], created.json()["lifecycle"]) == (None, None)

    upstream.publish_movement(stack.topic(STOCK_MOVED.name), movement(sku, quantity="12"))

    def shown() -> dict[str, Any] | None:
        product = api.get(f"{catalog}/v1/products/{sku}").json()
        stock, stage = product["availability"], product["lifecycle"]
        return product if stock and stage and Decimal(stock["available_to_promise"]) else None

    product = wait_until(shown, timeout=30, what="availability and stage in the catalog")
    assert Decimal(product["availability"]["available_to_promise"]) == 12
    assert Decimal(product["availability"]["on_hand"]) == 12
    assert product["lifecycle"]["stage"] == "concept"  # enabling alone launches nothing
    [listed] = api.get(f"{catalog}/v1/products", params={"after": sku[:-1], "limit": 1}).json()[
        "items"
    ]
    assert listed["availability"] == product["availability"]


def test_products_changed_since_an_instant_are_listed_a_page_at_a_time(stack: Stack) -> None:
    catalog = stack.url("catalog")
    sku = new_sku("SINCE")
    created = api.post(f"{catalog}/v1/products", json={"sku": sku, "title": {"en_US": "x"}})
    assert created.status_code == 201, created.text
    changed_at = created.json()["updated_at"]

    def listed(since: str) -> list[str]:
        answer = api.get(
            f"{catalog}/v1/products", params={"updated_since": since, "after": sku[:-1]}
        )
        assert answer.status_code == 200, answer.text
        return [p["sku"] for p in answer.json()["items"]]

    assert sku in listed(changed_at)
    assert sku not in listed("2999-01-01T00:00:00+00:00")
    naive = api.get(f"{catalog}/v1/products", params={"updated_since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422, naive.text


def test_categories_form_trees_that_products_are_in(stack: Stack) -> None:
    catalog = stack.url("catalog")
    root, leaf = new_sku("cat").lower(), new_sku("cat").lower()
    assert api.post(f"{catalog}/v1/categories", json={"code": root}).status_code == 201
    made = api.post(
        f"{catalog}/v1/categories", json={"code": leaf, "parent": root, "labels": {"en_US": "Mugs"}}
    )
    assert made.status_code == 201, made.text
    cycle = api.patch(f"{catalog}/v1/categories/{root}", json={"parent": leaf})
    assert cycle.status_code == 422, cycle.text
    assert cycle.json()["detail"][0]["loc"][-1] == "parent"
    assert api.get(f"{catalog}/v1/categories/{leaf}").json()["path"] == [root, leaf]

    sku = new_sku("CATEGORISED")
    unknown = api.post(
        f"{catalog}/v1/products",
        json={"sku": sku, "title": {"en_US": "Mug"}, "categories": [leaf, "no-such-category"]},
    )
    assert unknown.status_code == 422, unknown.text
    created = api.post(
        f"{catalog}/v1/products", json={"sku": sku, "title": {"en_US": "Mug"}, "categories": [leaf]}
    )
    assert created.status_code == 201, created.text
    assert created.json()["categories"] == [leaf]
    in_use = api.delete(f"{catalog}/v1/categories/{leaf}")
    assert in_use.status_code == 409, in_use.text
    assert sku in in_use.json()["detail"]


def test_relations_point_at_products_that_exist_and_successors_never_loop(stack: Stack) -> None:
    products = f"{stack.url('catalog')}/v1/products"
    old, new = new_sku("OLD"), new_sku("NEW")
    for sku in (new, old):
        made = api.post(products, json={"sku": sku, "title": {"en_US": sku}})
        assert made.status_code == 201, made.text

    succeeded = api.patch(f"{products}/{old}", json={"relations": {"replacement": [new]}})
    assert succeeded.status_code == 200, succeeded.text
    assert succeeded.json()["relations"] == {"replacement": [new]}
    loop = api.patch(f"{products}/{new}", json={"relations": {"replacement": [old]}})
    assert loop.status_code == 422, loop.text
    assert loop.json()["detail"][0]["loc"][-1] == "relations.replacement"
    dangling = api.patch(f"{products}/{new}", json={"relations": {"accessory": ["NO-SUCH"]}})
    assert dangling.status_code == 422, dangling.text
    unknown_kind = api.patch(f"{products}/{new}", json={"relations": {"sibling": [old]}})
    assert unknown_kind.status_code == 422, unknown_kind.text


def test_a_family_decides_completeness_and_its_change_republishes_the_product(
    stack: Stack,
) -> None:
    catalog = stack.url("catalog")
    family, sku = new_sku("fam").lower(), new_sku("COMPLETE")
    made = api.post(
        f"{catalog}/v1/families",
        json={"code": family, "attributes": ["brand"], "requirements": {"web": ["title"]}},
    )
    assert made.status_code == 201, made.text
    unknown = api.post(
        f"{catalog}/v1/families",
        json={"code": new_sku("fam").lower(), "requirements": {"web": ["colour"]}},
    )
    assert unknown.status_code == 422, unknown.text
    created = api.post(
        f"{catalog}/v1/products", json={"sku": sku, "title": {"en_US": "Mug"}, "family": family}
    )
    assert created.status_code == 201, created.text

    stricter = api.patch(
        f"{catalog}/v1/families/{family}", json={"requirements": {"web": ["title", "brand"]}}
    )
    assert stricter.status_code == 200, stricter.text

    product = api.get(f"{catalog}/v1/products/{sku}").json()
    assert product["version"] == 2, "the family's change made a new version"
    [web] = product["completeness"]
    assert (web["channel"], web["locale"], web["missing"]) == ("web", "en_US", ["brand"])
    assert Decimal(web["ratio"]) == Decimal("0.5")
    published = find_records(
        stack.infra.kafka_bootstrap,
        stack.topic(PRODUCT_CHANGED.name),
        lambda m: body_of(m)["sku"] == sku,
        expect=2,
    )
    assert [body_of(m)["completeness"][0]["complete"] for m in published] == [True, False]


def test_typed_attributes_refuse_a_value_against_their_rule(stack: Stack) -> None:
    catalog = stack.url("catalog")
    code = new_sku("capacity").lower().replace("-", "_")
    defined = api.post(
        f"{catalog}/v1/attributes",
        json={"code": code, "type": "measurement", "unit_family": "volume", "minimum": 0},
    )
    assert defined.status_code == 201, defined.text
    missing_family = api.post(
        f"{catalog}/v1/attributes", json={"code": new_sku("x"), "type": "measurement"}
    )
    assert missing_family.status_code == 422, missing_family.text

    def post(value: object) -> httpx.Response:
        return api.post(
            f"{catalog}/v1/products",
            json={"sku": new_sku("TYPED"), "title": {"en_US": "Mug"}, "attributes": {code: value}},
        )

    assert post({"amount": "0.35", "unit": "LTR"}).status_code == 201
    refused = post({"amount": "1", "unit": "KGM"})
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["detail"]
    assert problem["loc"][-1] == f"attributes.{code}"
    assert "not a unit of volume" in problem["msg"]
