"""Each service's OpenAPI document is true: schemathesis, every check, against the running stack.

The schemathesis CLI loads the document from the service's ``/openapi.json`` and runs all
its phases (examples, coverage, fuzzing, stateful through the documented links) with every
check it has. The CLI, not its pytest plugin: the plugin's fixture-loaded schemas break on
pytest 9 (they set ``Node._nodeid``, which pytest 9 no longer has), and only the CLI runs
the stateful phase with links learned from ``Location`` headers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from skuhub_contracts.identifiers import Sku
from skuhub_contracts.topics import SERVICES
from tests import api
from tests.e2e.observe import offer_where
from tests.harness import Infrastructure, Stack
from tests.upstream import movement

pytestmark = pytest.mark.e2e

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MAX_EXAMPLES = 50
"""Cases per operation in the fuzzing phase (the coverage phase adds its own)."""

ACCEPTED = ("2xx", "3xx", "401", "403", "404", "409", "429", "5xx")
"""schemathesis' own list of statuses that show a schema-valid request was accepted."""

REFUSED_BY_RULES_OPENAPI_CANNOT_STATE: Mapping[str, Mapping[str, tuple[int, ...]]] = {
    "catalog": {
        # 422: a GTIN's GS1 check digit (mod 10 over all digits), a product as its own kit
        # component, a pack in the stock unit (two fields of one body), a kit component
        # listed twice, an enabled product with only blank titles; a product model or a
        # category that does not exist, an axis value missing or a sibling's, a value against
        # its attribute's definition or outside its family (state).
        "POST /v1/products": (422,),
        # 422: the GS1 check digit of the gtin looked up.
        "GET /v1/products": (422,),
        # 410: whether the product was deleted is state, not syntax.
        "GET /v1/products/{sku}": (410,),
        # 412: whether If-Match names the current version is state (a weak ETag never does,
        # RFC 9110). 400: If-Match and expected_version disagree (a header against a body
        # field). 422: the rules of POST, on the stored product merged with the change.
        "PATCH /v1/products/{sku}": (400, 412, 422),
        "DELETE /v1/products/{sku}": (412,),
        # 422: a model as its own parent, a parent that does not exist or is a sub-model,
        # a value on its own axis or its parent's (state and two fields of one body).
        "POST /v1/product-models": (422,),
        "GET /v1/product-models/{code}": (410,),
        # 412: If-Match against the current version (state). 422: a value a variant sets,
        # or on the model's own axis (state).
        "PATCH /v1/product-models/{code}": (412, 422),
        "DELETE /v1/product-models/{code}": (412,),
        # 422: a parent that does not exist, or a tree too deep (state). 410: deleted (state).
        "POST /v1/categories": (422,),
        "GET /v1/categories/{code}": (410,),
        # 412: If-Match against the current version. 422: a move under itself or one of its
        # descendants, a missing parent, a tree too deep (state).
        "PATCH /v1/categories/{code}": (412, 422),
        "DELETE /v1/categories/{code}": (412,),
        # 422: a requirement not among the family's attributes, a channel not configured
        # (state: settings), an attribute listed twice. 412: If-Match (state).
        "POST /v1/families": (422,),
        "PATCH /v1/families/{code}": (412, 422),
        # 422: a definition inconsistent for its type (a measurement without unit_family, a
        # select without options, a pattern that does not compile: fields of one body).
        "POST /v1/attributes": (422,),
        "PATCH /v1/attributes/{code}": (412, 422),
        # 412: If-Match (state). 422: approval of a product that misses required values
        # (state: its family and the channels).
        "POST /v1/product-workflow/{sku}": (412, 422),
        # 422: two columns filling one field, no column to sku, a unit or currency on a
        # field that is not an attribute (across the items of one list).
        "PUT /v1/import-mappings/{code}": (422,),
    },
    "stock": {
        # 422: GLN check digits, destination equal to location (two fields), the ledger's
        # rules against the current positions (state), and the sign of quantity per kind,
        # which the StockMoved contract could state but does not yet.
        "POST /v1/movements": (422,),
        # 400: the CSV's header row (the content of a text body).
        "POST /v1/cycle-counts": (400,),
        # 422: GLN check digits; a unit that does not convert to the SKU's stock unit (state:
        # the catalog's facts); a quantity of "0" as text, which the positive-quantity
        # pattern of the contracts does not exclude (docs: left open).
        "POST /v1/reservations": (422,),
        "POST /v1/on-hand": (422,),
        # 422: GLN check digits; min_quantity and max_quantity together, min >= 0, max > min
        # (fields of one body).
        "GET /v1/proposals": (422,),
        "GET /v1/policies/{sku}/{location}": (422,),
        "PUT /v1/policies/{sku}/{location}": (422,),
    },
    "lifecycle": {
        # 400: pre_order, successor or no_successor with a target they do not fit (fields of
        # one body: docs/lifecycle.md).
        "POST /v1/stages/{sku}/transitions": (400,),
        "POST /v1/products/{product_model}/transitions": (400,),
    },
    "sync_gateway": {
        # 400: a feed cursor's checksum (content of a string). 410: the change log no longer
        # reaches back to the cursor (state: retention).
        "GET /v1/channels/{channel}/feed": (400, 410),
        "GET /v1/channels/{channel}/feed/stream": (400, 410),
        # 422: a subscription for a channel that does not exist (state: the channels).
        "POST /v1/subscriptions": (422,),
        # 422: a GLN's check digit, a locale CLDR does not know, a currency outside ISO 4217
        # (content rules a pattern cannot state).
        "POST /v1/channels": (422,),
        # 412: whether If-Match names the channel's current version is state.
        "PUT /v1/channels/{channel}": (412, 422),
    },
}
"""Statuses besides ACCEPTED that a schema-valid request may get, per service and operation."""

OPERATION_SETTINGS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "sync_gateway": {
        # A long poll waits up to `wait` seconds for a change; the integration tests time it.
        "GET /v1/channels/{channel}/feed": ('parameters = { "query.wait" = 0 }',),
        # An endless Server-Sent Events stream: one event, or a second of silence, is enough.
        "GET /v1/channels/{channel}/feed/stream": ("request-timeout = 1", "max-stream-events = 1"),
    },
}
"""More schemathesis settings per service and operation."""


def config(service: str) -> str:
    """The schemathesis configuration (TOML) for ``service``: the same cases on every run."""
    lines = [
        "workers = 1",
        "[generation]",
        "deterministic = true",  # no randomness, hence no example database either
        f"max-examples = {MAX_EXAMPLES}",
        "[cache]",
        "enabled = false",  # learn nothing across runs: each run starts from the document alone
        # Links from Location headers only: dependency analysis guesses that a channel's
        # `name` ("Marketplace") fills a `{channel}` path, which the code pattern refuses.
        "[phases.stateful.inference]",
        'algorithms = ["location-headers"]',
        # Every operation as the documents' security scheme says, with the session's token.
        "[auth.openapi.apiToken]",
        'bearer = "${SKUHUB_TOKEN}"',
    ]
    refused = REFUSED_BY_RULES_OPENAPI_CANNOT_STATE.get(service, {})
    settings = OPERATION_SETTINGS.get(service, {})
    for operation in dict.fromkeys([*refused, *settings]):
        lines += ["[[operations]]", f'include-name = "{operation}"', *settings.get(operation, ())]
        if operation in refused:
            statuses = (*ACCEPTED, *map(str, refused[operation]))
            expected = ", ".join(f'"{status}"' for status in statuses)
            lines.append(f"checks.positive_data_acceptance.expected-statuses = [{expected}]")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def stack(infra: Infrastructure, workdir: Path) -> Iterator[Stack]:
    """This module's own stack, not the session's: schemathesis creates products with the
    documents' example values (GTIN 4006381333931), which other tests use for theirs. A service
    that dies meanwhile fails the run as unreachable."""
    running = Stack(infra, workdir)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def example_sku(stack: Stack) -> str:
    """The SKU the documents give as example, known to every service: the examples phase then
    reaches real stages and offers instead of 404s."""
    sku: str = TypeAdapter(Sku).json_schema()["examples"][0]
    created = api.post(
        f"{stack.url('catalog')}/v1/products",
        json={"sku": sku, "title": {"en_US": "T-shirt red M"}, "status": "enabled"},
    )
    assert created.status_code == 201, created.text
    received = api.post(
        f"{stack.url('stock')}/v1/movements",
        json={"movements": [movement(sku, quantity="5").model_dump(mode="json")]},
    )
    assert received.status_code == 202, received.text
    offer_where(
        stack,
        sku,
        lambda o: o["stage"] is not None and Decimal(o["available"]) == 5,
        "the example SKU's product, stage and stock in the gateway",
    )
    return sku


@pytest.mark.usefixtures("example_sku")
@pytest.mark.parametrize("service", SERVICES)
def test_every_response_is_what_the_openapi_document_says(
    stack: Stack, service: str, tmp_path: Path
) -> None:
    settings = tmp_path / "schemathesis.toml"
    settings.write_text(config(service))
    command = [
        str(SCHEMATHESIS), "--config-file", str(settings),
        "run", f"{stack.url(service)}/openapi.json", "--checks", "all", "--no-color",
    ]  # fmt: skip
    # cwd: where hypothesis keeps its working files.
    run = subprocess.run(
        command,
        cwd=tmp_path,
        env=os.environ | {"SKUHUB_TOKEN": api.SESSION_TOKEN.value},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
