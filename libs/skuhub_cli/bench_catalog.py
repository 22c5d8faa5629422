"""The catalog importing a supplier file of realistic size.

The catalog service alone, on a fresh schema: a family of 20 attributes (five of them typed
numbers) required for the ``web`` channel's completeness, 20 categories in two trees, and
product models for the variants are created over HTTP first. Then a generated CSV file of
``products`` SKUs (three locales of titles and descriptions, 20 attribute values, one or
two categories each, a fifth of them variants of four per model) is imported as a job
(``POST /v1/imports``), timed from the upload's start until the job is done and every
product-changed snapshot is on Kafka. The same file again is timed too: it must change
nothing and publish nothing. Then, on the 100,000 (or ``products``) stored products, one
client on one keep-alive connection reads random products and saves one attribute of
random products (completeness measured against the family), one request at a time.
"""

from __future__ import annotations

import asyncio
import csv
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx

from skuhub_cli import endpoints
from skuhub_cli.bench_http import LeanConnection
from skuhub_cli.bench_probes import BenchError, LatencySummary, record_count
from skuhub_cli.bench_report import Row
from skuhub_cli.bench_session import BenchSession, Update, blocking
from skuhub_contracts.topics import PRODUCT_CHANGED

TARGET_PER_S: Final = 1_700
ATTRIBUTES: Final = 20
NUMBERS: Final = 5
LOCALES: Final = ("en_US", "de_DE", "fr_FR")
VARIANTS_PER_MODEL: Final = 4
VARIANT_SHARE: Final = 5
"""One product in this many is a variant."""
CATEGORIES: Final = 20
COLOURS: Final = ("red", "blue", "green", "black")
HTTP_IN_FLIGHT: Final = 8
POLL_S: Final = 0.2
FAMILY: Final = "bench"
READS: Final = 2_000
SAVES: Final = 500


def _gtin(index: int) -> str:
    digits = [int(d) for d in f"{(500_000_000_000 + index) % 10**12:012d}"]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return "".join(map(str, digits)) + str(-total % 10)


def _codes() -> list[str]:
    return [f"attr_{k:02d}" for k in range(ATTRIBUTES)]


def _mapping() -> dict[str, Any]:
    columns = [
        {"column": "Article", "to": "sku"},
        {"column": "EAN", "to": "gtin"},
        {"column": "Model", "to": "product_model"},
        {"column": "Colour", "to": "attributes.colour"},
        {"column": "Shop", "to": "categories"},
    ]
    for locale in LOCALES:
        columns.append({"column": f"Name {locale}", "to": f"title.{locale}"})
        columns.append({"column": f"Text {locale}", "to": f"description.{locale}"})
    columns += [{"column": code, "to": f"attributes.{code}"} for code in _codes()]
    return {"columns": columns, "defaults": {"family": FAMILY, "status": "enabled"}}


def supplier_rows(products: int, seed: int) -> Iterator[list[str]]:
    """The header, then one row per product; variants come in groups of four per model."""
    rnd = random.Random(seed)
    names = [c["column"] for c in _mapping()["columns"]]
    yield names
    for index in range(products):
        variant = index % VARIANT_SHARE == 0
        model = f"BM-{index // (VARIANT_SHARE * VARIANTS_PER_MODEL):06d}" if variant else ""
        colour = COLOURS[(index // VARIANT_SHARE) % VARIANTS_PER_MODEL] if variant else ""
        cells = {
            "Article": f"BI-{index:07d}",
            "EAN": _gtin(index),
            "Model": model,
            "Colour": colour,
            "Shop": "|".join(
                sorted({f"cat-{rnd.randrange(CATEGORIES):02d}" for _ in range(rnd.randint(1, 2))})
            ),
        }
        for locale in LOCALES:
            cells[f"Name {locale}"] = f"Product {index} ({locale})"
            cells[f"Text {locale}"] = f"A description of product {index} in {locale}."
        for k, code in enumerate(_codes()):
            cells[code] = (
                str(rnd.randint(1, 5000)) if k < NUMBERS else f"value {rnd.randint(0, 999)}"
            )
        yield [cells[name] for name in names]


def models_of(products: int) -> list[str]:
    return sorted(
        {
            f"BM-{i // (VARIANT_SHARE * VARIANTS_PER_MODEL):06d}"
            for i in range(0, products, VARIANT_SHARE)
        }
    )


async def catalog_import_case(session: BenchSession, products: int) -> None:
    """Seed the catalog's definitions, import the generated file twice, report the rates."""
    group = await session.new_group()
    with session.step("Starting the catalog"):
        await session.start(group, "catalog")
    url = group.url("catalog")
    topic = group.wiring.settings().topic(PRODUCT_CHANGED.name)
    path = session.workdir / "supplier.csv"
    with session.step(f"Writing a supplier file of {products:,} products"):
        await blocking(_write, path, products, session.options.seed)
    models = models_of(products)
    async with httpx.AsyncClient(
        base_url=url, timeout=60.0, headers=endpoints.auth_headers()
    ) as client:
        with session.step(
            f"Defining the family, categories and {len(models):,} product models",
            total=len(models),
        ) as update:
            await _definitions(client, models, update)
        with session.step(f"Importing {products:,} products", total=products) as update:
            first = await _import(client, path, update)
            seconds = await _published(session, topic, products, first["started"])
        if first["job"]["created"] != products or first["job"]["failed"]:
            raise BenchError(f"the import did not create every product: {first['job']}")
        with session.step(f"Importing the same {products:,} rows again", total=products) as update:
            again = await _import(client, path, update)
        published_again = await record_count(session.bootstrap, topic) - products
    with session.step("Waiting for autovacuum to settle after the import"):
        settled_s = await session.db.wait_autovacuum_idle(within_s=120)
    with session.step(f"Reading {READS:,} random products", total=READS) as update:
        reads = await _timed(url, products, READS, update, save=False)
    with session.step(f"Saving {SAVES:,} random products", total=SAVES) as update:
        saves = await _timed(url, products, SAVES, update, save=True)
    rate = products / seconds
    unchanged = again["job"]["unchanged"]
    session.report.add(
        Row(
            "catalog import",
            "SKUs imported and published",
            round(rate),
            "SKU/s",
            note=f"{products:,} SKUs in {seconds:.1f}s (20 attributes, 3 locales, variants, "
            f"categories), file upload to the last product-changed on Kafka; target "
            f">= {TARGET_PER_S:,}",
        ),
        Row(
            "catalog import",
            "same file again",
            round(products / again["seconds"]),
            "rows/s",
            note=f"{unchanged:,} rows unchanged, {published_again} published (0 expected)",
        ),
        Row("catalog reads", "product read p50", round(reads.p50_ms, 2), "ms"),
        Row(
            "catalog reads",
            "product read p99",
            round(reads.p99_ms, 2),
            "ms",
            note=f"GET /v1/products/{{sku}}, {products:,} stored, one at a time, after "
            f"autovacuum settled ({settled_s:.0f}s); target < 5 ms",
        ),
        Row(
            "catalog saves",
            "product save p50",
            round(saves.p50_ms, 2),
            "ms",
            note="PATCH one attribute: history, completeness, outbox; target median < 20 ms",
        ),
        Row("catalog saves", "product save p99", round(saves.p99_ms, 2), "ms"),
    )
    session.done(
        f"catalog import: {rate:,.0f} SKU/s; the same file again changed {products - unchanged}"
    )
    await session.stop(group)


async def _timed(
    url: str, products: int, count: int, update: Update, *, save: bool
) -> LatencySummary:
    """Read (or save one attribute of) ``count`` random stored products, one at a time."""
    rng = random.Random(11)
    seconds: list[float] = []
    async with LeanConnection(url) as client:
        for n in range(count):
            sku = f"BI-{rng.randrange(products):07d}"
            started = time.perf_counter()
            if save:
                body = {"attributes": {"attr_05": f"saved {n}"}}
                answer = await client.request("PATCH", f"/v1/products/{sku}", json_body=body)
            else:
                answer = await client.request("GET", f"/v1/products/{sku}")
            seconds.append(time.perf_counter() - started)
            if answer.status != 200:
                raise BenchError(f"{sku}: HTTP {answer.status}")
            if n % 100 == 99:  # redrawing the bar per request would show in the timings
                update(n + 1)
    return LatencySummary.of(seconds)


def _write(path: Path, products: int, seed: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(supplier_rows(products, seed))


async def _definitions(client: httpx.AsyncClient, models: list[str], update: Update) -> None:
    codes = _codes()
    for code in codes[:NUMBERS]:
        await _ok(client.post("/v1/attributes", json={"code": code, "type": "number"}))
    for tree in ("shop", "outlet"):
        await _ok(client.post("/v1/categories", json={"code": tree, "labels": {"en_US": tree}}))
    for k in range(CATEGORIES):
        parent = "shop" if k % 2 == 0 else "outlet"
        body = {"code": f"cat-{k:02d}", "parent": parent, "labels": {"en_US": f"Category {k}"}}
        await _ok(client.post("/v1/categories", json=body))
    family = {
        "code": FAMILY,
        "attributes": ["colour", *codes],
        "requirements": {"web": ["title", "description", *codes[:3]]},
    }
    await _ok(client.post("/v1/families", json=family))
    await _ok(client.put("/v1/import-mappings/bench", json=_mapping()))
    limit = asyncio.Semaphore(HTTP_IN_FLIGHT)
    done = 0

    async def model(code: str) -> None:
        nonlocal done
        body = {"code": code, "axes": ["colour"], "family": FAMILY, "title": {"en_US": code}}
        async with limit:
            await _ok(client.post("/v1/product-models", json=body))
        done += 1
        update(done)

    await asyncio.gather(*(model(code) for code in models))


async def _import(client: httpx.AsyncClient, path: Path, update: Update) -> dict[str, Any]:
    """Upload the file and follow its job to the end: the job, its start, its seconds."""

    async def parts() -> Any:
        with path.open("rb") as file:
            while part := await asyncio.to_thread(file.read, 1 << 20):
                yield part

    started = time.monotonic()
    answer = await _ok(
        client.post(
            "/v1/imports",
            params={"mapping": "bench"},
            content=parts(),
            headers={"Content-Type": "text/csv"},
        )
    )
    while True:
        job = await _ok(client.get(f"/v1/imports/{answer['id']}"))
        update(job["rows"], job["rows_total"])
        if job["status"] != "running":
            break
        await asyncio.sleep(POLL_S)
    if job["status"] != "done":
        raise BenchError(f"the import ended {job['status']}: {job['message']}")
    return {"job": job, "started": started, "seconds": time.monotonic() - started}


async def _published(session: BenchSession, topic: str, expected: int, started: float) -> float:
    """Seconds from ``started`` until the topic holds ``expected`` records."""
    deadline = time.monotonic() + 120
    while (count := await record_count(session.bootstrap, topic)) < expected:
        if time.monotonic() > deadline:
            raise BenchError(f"only {count:,} of {expected:,} product-changed on {topic}")
        await asyncio.sleep(POLL_S)
    return time.monotonic() - started


async def _ok(request: Any) -> dict[str, Any]:
    response: httpx.Response = await request
    if response.status_code >= 300:
        raise BenchError(
            f"{response.request.url}: HTTP {response.status_code} {response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return body
