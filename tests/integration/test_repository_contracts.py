"""One contract per repository port, run against the in-memory fake and the SQL adapter alike.

Every port fixture is parametrized over ``["fake", "sql"]``: the fake from
``tests/fakes``, or the SQL adapter in one transaction on a freshly migrated
schema of the real PostgreSQL. The same test functions run against both, so a
unit test on a fake sees what the service sees in production. Expected values
come from the ports' docstrings and docs/decisions.md, never from either
implementation. Locks are only observable between two transactions, so those
cases run against PostgreSQL alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from skuhub_catalog.adapters.attribute_repository import SqlAttributeRepository
from skuhub_catalog.adapters.category_repository import SqlCategoryRepository
from skuhub_catalog.adapters.family_repository import SqlFamilyRepository
from skuhub_catalog.adapters.history_repository import SqlHistoryRepository
from skuhub_catalog.adapters.product_model_repository import SqlProductModelRepository
from skuhub_catalog.adapters.product_repository import SqlProductRepository, sql_unit_of_work
from skuhub_catalog.adapters.projection_repository import (
    SqlProjectionRepository as SqlCatalogProjectionRepository,
)
from skuhub_catalog.domain.attributes import (
    Attribute,
    AttributeType,
    Column,
    ColumnType,
    Option,
)
from skuhub_catalog.domain.availability import PositionFact, StageFact
from skuhub_catalog.domain.category import Category
from skuhub_catalog.domain.completeness import Condition, Family
from skuhub_catalog.domain.history import FieldChange, HistoryEntry
from skuhub_catalog.domain.product import (
    GtinInUseError,
    KitComponent,
    Product,
    ProductStatus,
    RelationKind,
)
from skuhub_catalog.domain.product_model import ProductModel
from skuhub_catalog.entrypoints.app import MIGRATIONS as CATALOG_MIGRATIONS
from skuhub_catalog.service_layer.ports import (
    AttributeRepository,
    CategoryRepository,
    FamilyRepository,
    HistoryRepository,
    ProductModelRepository,
    ProductRepository,
)
from skuhub_catalog.service_layer.ports import (
    ProjectionRepository as CatalogProjectionRepository,
)
from skuhub_catalog.settings import CatalogSettings
from skuhub_contracts.events import (
    LifecycleStage,
    LifecycleStageChanged,
    ProductChanged,
    PublishedContent,
    StockLevelChanged,
    WorkflowState,
)
from skuhub_contracts.events import ProductStatus as WireProductStatus
from skuhub_lifecycle.adapters.stage_repository import SqlStageRepository
from skuhub_lifecycle.domain import stages as lifecycle
from skuhub_lifecycle.domain.stages import ChannelReadiness, Move, SkuStage, Stage
from skuhub_lifecycle.entrypoints.app import MIGRATIONS as LIFECYCLE_MIGRATIONS
from skuhub_lifecycle.service_layer.ports import StageRepository
from skuhub_lifecycle.settings import LifecycleSettings
from skuhub_runtime.settings import ServiceSettings
from skuhub_stock.adapters.ledger_repository import SqlLedgerRepository
from skuhub_stock.domain.kits import KitPosition
from skuhub_stock.domain.ledger import (
    AnomalyRecord,
    Ledger,
    Parked,
    Reservation,
    SkuFacts,
    Transfer,
    Variance,
)
from skuhub_stock.domain.movements import Movement, MovementKind, Place, PositionKey
from skuhub_stock.domain.positions import Position
from skuhub_stock.entrypoints.app import MIGRATIONS as STOCK_MIGRATIONS
from skuhub_stock.service_layer.ports import (
    LedgerRepository,
    LedgerState,
    ReportedMovement,
    Scope,
)
from skuhub_stock.settings import StockSettings
from skuhub_sync_gateway.adapters.projection_repository import SqlProjectionRepository
from skuhub_sync_gateway.domain.offers import PositionFacts, ProductFacts, StageFacts
from skuhub_sync_gateway.entrypoints.app import MIGRATIONS as GATEWAY_MIGRATIONS
from skuhub_sync_gateway.service_layer.projection import Fact, ProjectionRepository
from skuhub_sync_gateway.settings import SyncGatewaySettings
from tests.fakes.catalog import (
    FakeAttributeRepository,
    FakeCategoryRepository,
    FakeFamilyRepository,
    FakeHistoryRepository,
    FakeProductModelRepository,
    FakeProductRepository,
)
from tests.fakes.catalog import FakeProjectionRepository as FakeCatalogProjectionRepository
from tests.fakes.stock import FakeLedgerRepository
from tests.harness import migrated_schema, wait_until_async

pytestmark = pytest.mark.integration

T = TypeVar("T")
IMPLEMENTATIONS = ["fake", "sql"]
CEST = timezone(timedelta(hours=2))
T0 = datetime(2025, 3, 30, 3, 0, 0, 123_456, tzinfo=CEST)
"""Not UTC on purpose: every port returns times in UTC, as PostgreSQL does."""
T1 = T0 + timedelta(minutes=1)
MAX_VERSION = 2**63 - 1
GLN_A = "0614141000012"
GLN_B = "4012345000009"
GLN_C = "4012345000023"


# ---------------------------------------------------------------------------------------------
# Building each implementation


def fresh_schema(
    request: pytest.FixtureRequest, settings_type: type[ServiceSettings], revisions: Path
) -> AbstractAsyncContextManager[AsyncEngine]:
    """An engine on a newly migrated schema of the service, dropped afterwards."""
    return migrated_schema(request.getfixturevalue("infra"), settings_type, revisions)


@asynccontextmanager
async def transaction(
    request: pytest.FixtureRequest,
    settings_type: type[ServiceSettings],
    revisions: Path,
    repository: Callable[[AsyncConnection], T],
) -> AsyncIterator[T]:
    """The SQL repository on one open transaction of a fresh schema (rolled back afterwards)."""
    async with fresh_schema(request, settings_type, revisions) as engine, engine.connect() as conn:
        await conn.begin()
        yield repository(conn)


@pytest.fixture(params=IMPLEMENTATIONS)
async def products(request: pytest.FixtureRequest) -> AsyncIterator[ProductRepository]:
    if request.param == "fake":
        yield FakeProductRepository()
        return
    async with transaction(request, CatalogSettings, CATALOG_MIGRATIONS, sql_unit_of_work) as uow:
        # The model EVERY_PRODUCT_FIELD names (products.product_model is a foreign key).
        await uow.models.add(a_model("MUG"))
        yield uow.products


@pytest.fixture(params=IMPLEMENTATIONS)
async def history(request: pytest.FixtureRequest) -> AsyncIterator[HistoryRepository]:
    if request.param == "fake":
        yield FakeHistoryRepository()
        return
    async with transaction(
        request, CatalogSettings, CATALOG_MIGRATIONS, SqlHistoryRepository
    ) as repo:
        yield repo


@pytest.fixture(params=IMPLEMENTATIONS)
async def catalog_projection(
    request: pytest.FixtureRequest,
) -> AsyncIterator[CatalogProjectionRepository]:
    if request.param == "fake":
        yield FakeCatalogProjectionRepository()
        return
    async with transaction(
        request, CatalogSettings, CATALOG_MIGRATIONS, SqlCatalogProjectionRepository
    ) as repo:
        yield repo


@pytest.fixture(params=IMPLEMENTATIONS)
async def categories(request: pytest.FixtureRequest) -> AsyncIterator[CategoryRepository]:
    if request.param == "fake":
        yield FakeCategoryRepository()
        return
    async with transaction(
        request, CatalogSettings, CATALOG_MIGRATIONS, SqlCategoryRepository
    ) as repo:
        yield repo


@pytest.fixture(params=IMPLEMENTATIONS)
async def families(request: pytest.FixtureRequest) -> AsyncIterator[FamilyRepository]:
    if request.param == "fake":
        yield FakeFamilyRepository()
        return
    async with transaction(
        request, CatalogSettings, CATALOG_MIGRATIONS, SqlFamilyRepository
    ) as repo:
        yield repo


@pytest.fixture(params=IMPLEMENTATIONS)
async def attribute_definitions(
    request: pytest.FixtureRequest,
) -> AsyncIterator[AttributeRepository]:
    if request.param == "fake":
        yield FakeAttributeRepository()
        return
    async with transaction(
        request, CatalogSettings, CATALOG_MIGRATIONS, SqlAttributeRepository
    ) as repo:
        yield repo


@pytest.fixture(params=IMPLEMENTATIONS)
async def models(request: pytest.FixtureRequest) -> AsyncIterator[ProductModelRepository]:
    if request.param == "fake":
        yield FakeProductModelRepository()
        return
    async with transaction(
        request, CatalogSettings, CATALOG_MIGRATIONS, SqlProductModelRepository
    ) as repo:
        yield repo


@pytest.fixture(params=IMPLEMENTATIONS)
async def ledger(request: pytest.FixtureRequest) -> AsyncIterator[LedgerRepository]:
    if request.param == "fake":
        yield FakeLedgerRepository()
        return
    async with transaction(request, StockSettings, STOCK_MIGRATIONS, SqlLedgerRepository) as repo:
        yield repo


@pytest.fixture
async def stages(request: pytest.FixtureRequest) -> AsyncIterator[StageRepository]:
    async with transaction(
        request, LifecycleSettings, LIFECYCLE_MIGRATIONS, SqlStageRepository
    ) as repo:
        yield repo


@pytest.fixture(params=["sql"])
async def projection(request: pytest.FixtureRequest) -> AsyncIterator[ProjectionRepository]:
    async with transaction(
        request, SyncGatewaySettings, GATEWAY_MIGRATIONS, SqlProjectionRepository
    ) as repo:
        yield repo


@pytest.fixture
async def catalog_db(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    async with fresh_schema(request, CatalogSettings, CATALOG_MIGRATIONS) as engine:
        yield engine


@pytest.fixture
async def stock_db(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    async with fresh_schema(request, StockSettings, STOCK_MIGRATIONS) as engine:
        yield engine


@pytest.fixture
async def lifecycle_db(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    async with fresh_schema(request, LifecycleSettings, LIFECYCLE_MIGRATIONS) as engine:
        yield engine


async def committed(
    engine: AsyncEngine, write: Callable[[AsyncConnection], Awaitable[Any]]
) -> None:
    async with engine.begin() as conn:
        await write(conn)


Race = Literal["waits", "goes ahead"]


async def second_transaction(
    engine: AsyncEngine,
    first: Callable[[AsyncConnection], Awaitable[Any]],
    second: Callable[[AsyncConnection], Awaitable[T]],
) -> tuple[Race, T | BaseException]:
    """Run ``first`` in a transaction left open, then ``second`` in another one.

    Returns whether ``second`` waited for the first transaction (PostgreSQL shows it
    waiting on a lock) or went ahead (it finished while the first was still open),
    and what it returned or raised once the first had committed.
    """
    async with engine.connect() as one, engine.connect() as two:
        await one.begin()
        await first(one)
        await two.begin()
        pid = (await two.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        attempt = asyncio.ensure_future(second(two))

        async def waits_or_goes_ahead() -> Race | None:
            if attempt.done():
                return "goes ahead"
            async with engine.connect() as observer:
                state = await observer.execute(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": pid},
                )
                return "waits" if state.scalar() == "Lock" else None

        race: Race = await wait_until_async(
            waits_or_goes_ahead, what="the second transaction to finish or wait on a lock"
        )
        await one.commit()
        [outcome] = await asyncio.gather(attempt, return_exceptions=True)
    return race, outcome


# ---------------------------------------------------------------------------------------------
# ProductRepository (catalog)


def a_product(sku: str = "MUG-1", **fields: Any) -> Product:
    values: dict[str, Any] = {
        "status": ProductStatus.DRAFT,
        "title": {"en_US": f"Mug {sku}"},
        "version": 1,
        "updated_at": T0,
    }
    return Product(sku=sku, **(values | fields))


def a_model(code: str = "MUG", **fields: Any) -> ProductModel:
    values: dict[str, Any] = {"axes": ("colour",), "version": 1, "updated_at": T0}
    return ProductModel(code=code, **(values | fields))


EVERY_PRODUCT_FIELD = a_product(
    "MUG-RED/350",
    status=ProductStatus.ENABLED,
    title={"en_US": "Mug", "de_DE": "Becher ☕"},
    version=MAX_VERSION,
    gtin="4006381333931",
    family="mugs",
    product_model="MUG",
    unit="PCE",
    description={"en_US": "Stoneware.\nDishwasher safe."},
    attributes={
        "color": "red",
        "capacity_ml": 350,
        "ratio": 0.1,
        "dishwasher_safe": True,
        "discontinued_on": None,
        "sizes": ["S", "M", {"code": "L", "extra": 1.5}],
        "price": {"EUR": 9.99, "USD": 10, "note": None},
    },
    packs={"CS": Decimal("12"), "PF": Decimal("123456789012.123456"), "KGM": Decimal("0.000001")},
    lot_tracked=True,
    shelf_life_days=36_500,
    kit_components=(
        KitComponent("MUG-BLUE/350", Decimal("2")),
        KitComponent("SPOON-1", Decimal("0.5")),
        KitComponent("SAUCER.1", Decimal("999999999999.999999")),
    ),
    categories=("kitchen", "mugs"),
    relations={
        RelationKind.ACCESSORY: ("SAUCER.1", "SPOON-1"),
        RelationKind.REPLACEMENT: ("MUG-RED/400",),
    },
)


class TestProductRepository:
    async def test_the_products_of_a_family_are_its_live_ones_by_sku(
        self, products: ProductRepository
    ) -> None:
        await products.add(a_product("B-1", family="mugs"))
        await products.add(a_product("A-1", family="mugs"))
        await products.add(a_product("C-1", family="mugs", deleted=True))
        await products.add(a_product("D-1", family="cups"))

        assert [p.sku for p in await products.in_family("mugs")] == ["A-1", "B-1"]
        assert await products.in_family("pans") == []

    async def test_the_skus_in_a_category_are_its_live_products_by_sku(
        self, products: ProductRepository
    ) -> None:
        await products.add(a_product("B-1", categories=("mugs", "gifts")))
        await products.add(a_product("A-1", categories=("mugs",)))
        await products.add(a_product("C-1", categories=("mugs",), deleted=True))
        await products.add(a_product("D-1", categories=("mugs-large",)))

        assert await products.skus_in_category("mugs", 10) == ["A-1", "B-1"]
        assert await products.skus_in_category("mugs", 1) == ["A-1"]
        assert await products.skus_in_category("gifts", 10) == ["B-1"]
        assert await products.skus_in_category("mug", 10) == []

    async def test_variants_of_a_model_are_its_live_products_by_sku(
        self, products: ProductRepository
    ) -> None:
        for sku in ("MUG-B", "MUG-A", "MUG-C"):
            await products.add(a_product(sku, product_model="MUG"))
        await products.add(a_product("CUP-1"))
        await products.update(a_product("MUG-C", product_model="MUG", deleted=True, version=2))

        assert [p.sku for p in await products.variants_of("MUG")] == ["MUG-A", "MUG-B"]
        assert await products.variants_of("CUP") == []

    async def test_an_unknown_sku_is_none(self, products: ProductRepository) -> None:
        assert await products.get("NOPE") is None
        assert await products.get("NOPE", for_update=True) is None

    @pytest.mark.parametrize(
        "product",
        [EVERY_PRODUCT_FIELD, a_product(), a_product(deleted=True, status=ProductStatus.DISABLED)],
        ids=["every-field", "only-required", "deleted"],
    )
    async def test_an_added_product_reads_back_field_for_field_in_utc(
        self, products: ProductRepository, product: Product
    ) -> None:
        assert await products.add(product) is True

        for read in (
            await products.get(product.sku),
            await products.get(product.sku, for_update=True),
        ):
            assert read == product
            assert read is not None
            assert read.updated_at.utcoffset() == timedelta(0)

    async def test_stock_facts_read_back_exactly_as_written(
        self, products: ProductRepository
    ) -> None:
        kit = tuple(KitComponent(f"PART-{n:03d}", Decimal(n + 1) / 4) for n in range(100))
        product = a_product(
            packs={"CS": Decimal("12.50"), "PF": Decimal("1000")},
            shelf_life_days=1,
            kit_components=kit,
        )
        await products.add(product)

        read = await products.get("MUG-1")

        assert read == product
        assert read.packs == {"CS": Decimal("12.5"), "PF": Decimal(1000)}
        assert [c.sku for c in read.kit_components] == [f"PART-{n:03d}" for n in range(100)]
        assert read.kit_components[0] == KitComponent("PART-000", Decimal("0.25"))
        assert read.kit_components[99] == KitComponent("PART-099", Decimal(25))
        assert (read.lot_tracked, read.shelf_life_days) == (False, 1)

    async def test_an_update_overwrites_and_clears_the_stock_facts(
        self, products: ProductRepository
    ) -> None:
        await products.add(
            dataclasses.replace(EVERY_PRODUCT_FIELD, sku="MUG-1", product_model=None)
        )
        cleared = a_product(version=2, updated_at=T1)

        await products.update(cleared)

        assert await products.get("MUG-1") == cleared

    async def test_a_taken_sku_is_not_added_again_and_keeps_the_first(
        self, products: ProductRepository
    ) -> None:
        first = a_product(title={"en_US": "first"})
        await products.add(first)

        assert await products.add(a_product(title={"en_US": "second"}, version=7)) is False
        assert await products.get("MUG-1") == first

    async def test_a_deleted_products_sku_stays_taken(self, products: ProductRepository) -> None:
        await products.add(a_product(deleted=True))

        assert await products.add(a_product()) is False

    async def test_a_taken_sku_is_refused_before_its_gtin_is_checked(
        self, products: ProductRepository
    ) -> None:
        await products.add(a_product("MUG-1", gtin="4006381333931"))
        await products.add(a_product("MUG-2", gtin="4012345000009"))

        assert await products.add(a_product("MUG-1", gtin="4012345000009")) is False

    async def test_adding_a_gtin_another_product_carries_is_gtin_in_use(
        self, products: ProductRepository
    ) -> None:
        await products.add(a_product("MUG-1", gtin="4006381333931"))

        with pytest.raises(GtinInUseError) as refused:
            await products.add(a_product("MUG-2", gtin="4006381333931"))
        assert refused.value.field == "gtin"

    async def test_a_deleted_product_keeps_its_gtin(self, products: ProductRepository) -> None:
        await products.add(a_product("MUG-1", gtin="4006381333931", deleted=True))

        assert await products.sku_with_gtin("4006381333931") == "MUG-1"
        with pytest.raises(GtinInUseError):
            await products.add(a_product("MUG-2", gtin="4006381333931"))

    async def test_products_without_a_gtin_never_collide(self, products: ProductRepository) -> None:
        assert await products.add(a_product("MUG-1"))
        assert await products.add(a_product("MUG-2"))

        assert [p.sku for p in await products.list_after(None, 10)] == ["MUG-1", "MUG-2"]

    async def test_an_update_replaces_every_field(self, products: ProductRepository) -> None:
        await products.add(a_product("MUG-RED/350", gtin="4012345000009", attributes={"a": 1}))

        await products.update(EVERY_PRODUCT_FIELD)

        assert await products.get("MUG-RED/350") == EVERY_PRODUCT_FIELD

    async def test_an_update_stores_whatever_version_it_is_given(
        self, products: ProductRepository
    ) -> None:
        await products.add(a_product(version=5))

        await products.update(a_product(version=3, deleted=True))

        assert await products.get("MUG-1") == a_product(version=3, deleted=True)

    async def test_updating_an_unknown_sku_stores_nothing(
        self, products: ProductRepository
    ) -> None:
        await products.update(a_product("GHOST"))

        assert await products.get("GHOST") is None
        assert await products.list_after(None, 10, include_deleted=True) == []

    async def test_an_update_to_a_gtin_another_product_carries_is_gtin_in_use(
        self, products: ProductRepository
    ) -> None:
        await products.add(a_product("MUG-1", gtin="4006381333931"))
        await products.add(a_product("MUG-2"))

        with pytest.raises(GtinInUseError) as refused:
            await products.update(a_product("MUG-2", gtin="4006381333931", version=2))
        assert refused.value.field == "gtin"

    async def test_a_product_keeps_or_gives_up_its_own_gtin(
        self, products: ProductRepository
    ) -> None:
        await products.add(a_product("MUG-1", gtin="4006381333931"))

        await products.update(a_product("MUG-1", gtin="4006381333931", version=2, unit="PCE"))
        assert await products.sku_with_gtin("4006381333931") == "MUG-1"
        await products.update(a_product("MUG-1", gtin=None, version=3))

        assert await products.sku_with_gtin("4006381333931") is None
        assert await products.add(a_product("MUG-2", gtin="4006381333931"))
        assert await products.sku_with_gtin("4006381333931") == "MUG-2"

    @pytest.mark.parametrize(
        ("stored", "other_form"),
        [
            ("4006381333931", "04006381333931"),
            ("04006381333931", "4006381333931"),
            ("96385074", "00000096385074"),
            ("036000291452", "0036000291452"),
        ],
    )
    async def test_a_gtin_is_one_item_in_any_of_its_forms(
        self, products: ProductRepository, stored: str, other_form: str
    ) -> None:
        # GS1: GTIN-8, -12 and -13 are GTIN-14s with leading zeros.
        await products.add(a_product("MUG-1", gtin=stored))

        assert await products.sku_with_gtin(other_form) == "MUG-1"
        with pytest.raises(GtinInUseError):  # the transaction is spoiled after this
            await products.add(a_product("MUG-2", gtin=other_form))

    async def test_an_update_to_another_form_of_a_carried_gtin_is_gtin_in_use(
        self, products: ProductRepository
    ) -> None:
        await products.add(a_product("MUG-1", gtin="4006381333931"))
        await products.add(a_product("MUG-2"))

        with pytest.raises(GtinInUseError):
            await products.update(a_product("MUG-2", gtin="04006381333931", version=2))

    async def test_a_gtin_nobody_carries_has_no_sku(self, products: ProductRepository) -> None:
        await products.add(a_product("MUG-1", gtin="4006381333931"))

        assert await products.sku_with_gtin("4012345000009") is None

    async def test_a_list_is_in_sku_order_as_text(self, products: ProductRepository) -> None:
        for sku in ("B-1", "A-2", "C-1", "A-10"):
            await products.add(a_product(sku))

        listed = await products.list_after(None, 100)

        assert [p.sku for p in listed] == ["A-10", "A-2", "B-1", "C-1"]
        assert listed[0] == a_product("A-10")

    async def test_a_list_since_an_instant_holds_the_products_changed_then_or_later(
        self, products: ProductRepository
    ) -> None:
        for minutes, sku in enumerate(("A-1", "A-2", "A-3", "A-4")):
            await products.add(a_product(sku, updated_at=T0 + timedelta(minutes=minutes)))

        since = T0 + timedelta(minutes=2)
        assert [p.sku for p in await products.list_after(None, 10, updated_since=since)] == [
            "A-3",
            "A-4",
        ]
        in_another_zone = since.astimezone(timezone(timedelta(hours=-5)))
        listed = await products.list_after("A-3", 10, updated_since=in_another_zone)
        assert [p.sku for p in listed] == ["A-4"]

    async def test_a_list_starts_after_the_cursor_and_stops_at_the_limit(
        self, products: ProductRepository
    ) -> None:
        for sku in ("A-1", "A-2", "A-3", "A-4", "A-5"):
            await products.add(a_product(sku))

        assert [p.sku for p in await products.list_after(None, 2)] == ["A-1", "A-2"]
        assert [p.sku for p in await products.list_after("A-2", 2)] == ["A-3", "A-4"]
        assert [p.sku for p in await products.list_after("A-4", 2)] == ["A-5"]
        assert await products.list_after("A-5", 2) == []
        assert [p.sku for p in await products.list_after("A-2x", 2)] == ["A-3", "A-4"]
        assert [p.sku for p in await products.list_after("0", 1)] == ["A-1"]
        assert await products.list_after(None, 0) == []

    async def test_a_list_skips_deleted_products_unless_asked(
        self, products: ProductRepository
    ) -> None:
        await products.add(a_product("A-1"))
        await products.add(a_product("A-2", deleted=True))
        await products.add(a_product("A-3"))

        assert [p.sku for p in await products.list_after(None, 2)] == ["A-1", "A-3"]
        assert [p.sku for p in await products.list_after("A-1", 1)] == ["A-3"]
        everything = await products.list_after(None, 10, include_deleted=True)
        assert [(p.sku, p.deleted) for p in everything] == [
            ("A-1", False),
            ("A-2", True),
            ("A-3", False),
        ]
        assert await products.list_after("A-1", 1, include_deleted=True) == [
            a_product("A-2", deleted=True)
        ]

    async def test_an_empty_catalog_lists_nothing(self, products: ProductRepository) -> None:
        assert await products.list_after(None, 100, include_deleted=True) == []

    async def test_what_goes_in_and_comes_out_are_copies(self, products: ProductRepository) -> None:
        product = a_product(attributes={"sizes": ["S"]})
        await products.add(product)
        product.attributes["sizes"].append("M")

        read = await products.get("MUG-1")
        assert read is not None
        read.attributes["sizes"].append("L")

        assert await products.get("MUG-1") == a_product(attributes={"sizes": ["S"]})


class TestProductModelRepository:
    async def test_the_models_of_a_family_are_its_live_ones_by_code(
        self, models: ProductModelRepository
    ) -> None:
        await models.add(a_model("MUG", family="mugs"))
        await models.add(a_model("CUP", family="cups"))
        await models.add(a_model("BOWL", family="mugs", deleted=True))

        assert [m.code for m in await models.in_family("mugs")] == ["MUG"]

    async def test_an_added_model_reads_back_field_for_field(
        self, models: ProductModelRepository
    ) -> None:
        root = a_model(
            "MUG",
            axes=("colour", "size"),
            family="mugs",
            title={"en_US": "Mug", "de_DE": "Becher"},
            description={"en_US": "Stoneware."},
            attributes={"brand": "Acme", "capacity_ml": 350, "tags": ["a", {"b": None}]},
            version=MAX_VERSION,
        )
        assert await models.add(root) is True
        assert await models.add(a_model("MUG-RED", parent="MUG", attributes={"colour": "red"}))

        assert await models.get("MUG") == root
        assert await models.get("MUG", for_update=True) == root
        assert await models.get("NOPE") is None
        assert await models.add(a_model("MUG")) is False

    async def test_children_are_the_live_sub_models_by_code(
        self, models: ProductModelRepository
    ) -> None:
        await models.add(a_model("MUG"))
        for code in ("MUG-RED", "MUG-BLUE", "MUG-GREEN"):
            await models.add(a_model(code, parent="MUG"))
        await models.update(a_model("MUG-GREEN", parent="MUG", deleted=True, version=2))
        await models.add(a_model("CUP"))

        assert [m.code for m in await models.children("MUG")] == ["MUG-BLUE", "MUG-RED"]
        assert await models.children("CUP") == []

    async def test_a_list_is_in_code_order_a_page_at_a_time(
        self, models: ProductModelRepository
    ) -> None:
        for code in ("B", "A", "C"):
            await models.add(a_model(code))
        await models.update(a_model("C", deleted=True, version=2))

        assert [m.code for m in await models.list_after(None, 10)] == ["A", "B"]
        assert [m.code for m in await models.list_after("A", 1)] == ["B"]
        listed = await models.list_after(None, 10, include_deleted=True)
        assert [m.code for m in listed] == ["A", "B", "C"]


class TestHistoryRepository:
    async def test_entries_read_back_newest_first_a_page_at_a_time(
        self, history: HistoryRepository
    ) -> None:
        odd = {"nested": [1, {"x": None}], "text": "Becher ☕", "big": 2**53 - 1}
        entries = [
            HistoryEntry(
                sku="MUG-1",
                version=version,
                actor=f"actor-{version}",
                changed_at=T0 + timedelta(minutes=version),
                changes=(FieldChange("attributes.odd", None, odd), FieldChange("gtin", "1", None)),
                via="MUG" if version == 2 else None,
            )
            for version in (1, 2, 3)
        ]
        for entry in entries:
            await history.record(entry)
        await history.record(dataclasses.replace(entries[0], sku="CUP-1"))

        assert await history.of("MUG-1", before=None, limit=10) == entries[::-1]
        assert await history.of("MUG-1", before=3, limit=1) == [entries[1]]
        assert await history.of("NOPE", before=None, limit=10) == []


class TestCatalogProjectionRepository:
    async def test_each_position_and_stage_is_kept_at_its_newest_version(
        self, catalog_projection: CatalogProjectionRepository
    ) -> None:
        def fact(location: str, lot: str, version: int, on_hand: str) -> PositionFact:
            return PositionFact(
                sku="MUG-1",
                location=location,
                lot=lot,
                unit="KGM",
                on_hand=Decimal(on_hand),
                quality_hold=Decimal("0.5"),
                expired=Decimal(0),
                reserved=Decimal("123456789012.123456"),
                available_to_promise=Decimal(0),
                kit=False,
                position_version=version,
                changed_at=T0 + timedelta(seconds=version),
            )

        newest = fact("4012345000009", "L1", 5, "12.25")
        await catalog_projection.keep_positions([newest, fact("4012345000009", "", 1, "1")])
        await catalog_projection.keep_positions([fact("4012345000009", "L1", 4, "99")])
        await catalog_projection.keep_stages([StageFact("MUG-1", "active", 3, T0)])
        await catalog_projection.keep_stages([StageFact("MUG-1", "concept", 2, T0)])

        await catalog_projection.keep_stages([StageFact("BOWL-1", "concept", 1, T0)])
        assert await catalog_projection.shown_of(["MUG-1", "CUP-1", "BOWL-1"]) == (
            {"MUG-1": [fact("4012345000009", "", 1, "1"), newest]},
            {
                "MUG-1": StageFact("MUG-1", "active", 3, T0),
                "BOWL-1": StageFact("BOWL-1", "concept", 1, T0),
            },
        ), "both in one read: a stage without positions, positions in order, nothing for CUP-1"


class TestCategoryRepository:
    async def test_a_category_reads_back_and_its_children_are_listed(
        self, categories: CategoryRepository
    ) -> None:
        root = Category("kitchen", version=MAX_VERSION, updated_at=T0, labels={"de_DE": "Küche"})
        assert await categories.add(root) is True
        for code in ("mugs", "cups", "pans"):
            await categories.add(Category(code, version=1, updated_at=T0, parent="kitchen"))
        await categories.update(
            Category("pans", version=2, updated_at=T0, parent="kitchen", deleted=True)
        )

        assert await categories.get("kitchen") == root
        assert await categories.get("kitchen", for_update=True) == root
        assert await categories.add(Category("kitchen", version=1, updated_at=T0)) is False
        assert [c.code for c in await categories.children("kitchen")] == ["cups", "mugs"]
        assert [c.code for c in await categories.list_after("kitchen", 10)] == ["mugs"]
        listed = await categories.list_after(None, 10, include_deleted=True)
        assert [c.code for c in listed] == ["cups", "kitchen", "mugs", "pans"]


class TestFamilyRepository:
    async def test_a_family_reads_back_and_lists_by_code(self, families: FamilyRepository) -> None:
        mugs = Family(
            "mugs",
            version=MAX_VERSION,
            updated_at=T0,
            labels={"de_DE": "Becher"},
            attributes=("brand", "capacity_ml"),
            requirements={"web": ("title", "brand"), "pos": ("title",)},
            conditions=(
                Condition("hazardous", True, ("un_number",)),
                Condition("sizes", ["S", {"x": None}], ("chart",)),
            ),
        )
        assert await families.add(mugs) is True
        await families.add(Family("cups", version=1, updated_at=T0))
        await families.update(dataclasses.replace(mugs, attributes=("brand",), version=1))

        assert await families.get("mugs") == dataclasses.replace(
            mugs, attributes=("brand",), version=1
        )
        assert await families.add(Family("mugs", version=1, updated_at=T0)) is False
        assert [f.code for f in await families.list_after(None, 10)] == ["cups", "mugs"]
        assert [f.code for f in await families.list_after("cups", 1)] == ["mugs"]
        assert await families.get("pans", for_update=True) is None


class TestAttributeRepository:
    async def test_a_definition_reads_back_with_every_rule(
        self, attribute_definitions: AttributeRepository
    ) -> None:
        capacity = Attribute(
            "capacity",
            AttributeType.MEASUREMENT,
            version=MAX_VERSION,
            updated_at=T0,
            labels={"de_DE": "Inhalt"},
            group="technical",
            minimum=Decimal("0.000001"),
            maximum=Decimal("123456789012.5"),
            decimals=False,
            unit_family="volume",
        )
        material = Attribute(
            "material",
            AttributeType.SIMPLE_SELECT,
            version=1,
            updated_at=T0,
            options=(Option("stone", {"en_US": "Stoneware"}), Option("glass")),
        )
        nutrition = Attribute(
            "nutrition",
            AttributeType.TABLE,
            version=1,
            updated_at=T0,
            max_length=10,
            pattern="[a-z]+",
            columns=(Column("nutrient", ColumnType.TEXT), Column("g", ColumnType.NUMBER)),
        )
        for definition in (capacity, material, nutrition):
            assert await attribute_definitions.add(definition) is True
        assert await attribute_definitions.add(material) is False

        assert await attribute_definitions.get("capacity", for_update=True) == capacity
        assert await attribute_definitions.get_many(["nutrition", "material", "nope"]) == {
            "nutrition": nutrition,
            "material": material,
        }
        listed = await attribute_definitions.list_after("capacity", 1)
        assert [a.code for a in listed] == ["material"]


class TestProductRepositoryLocks:
    """PostgreSQL alone: what one transaction's locks do to another."""

    async def test_reading_for_update_holds_the_product_until_commit(
        self, catalog_db: AsyncEngine
    ) -> None:
        await committed(catalog_db, lambda conn: SqlProductRepository(conn).add(a_product()))

        def read(for_update: bool) -> Callable[[AsyncConnection], Awaitable[Product | None]]:
            return lambda conn: SqlProductRepository(conn).get("MUG-1", for_update=for_update)

        assert await second_transaction(catalog_db, read(True), read(True)) == (
            "waits",
            a_product(),
        )
        assert await second_transaction(catalog_db, read(True), read(False)) == (
            "goes ahead",
            a_product(),
        )

    async def test_a_sku_added_meanwhile_is_taken(self, catalog_db: AsyncEngine) -> None:
        race = await second_transaction(
            catalog_db,
            lambda conn: SqlProductRepository(conn).add(a_product(title={"en_US": "first"})),
            lambda conn: SqlProductRepository(conn).add(a_product(title={"en_US": "second"})),
        )

        assert race == ("waits", False)

    async def test_a_gtin_added_meanwhile_is_in_use(self, catalog_db: AsyncEngine) -> None:
        race, outcome = await second_transaction(
            catalog_db,
            lambda conn: SqlProductRepository(conn).add(a_product("A", gtin="4006381333931")),
            lambda conn: SqlProductRepository(conn).add(a_product("B", gtin="4006381333931")),
        )

        assert race == "waits"
        assert isinstance(outcome, GtinInUseError)
        assert outcome.field == "gtin"


# ---------------------------------------------------------------------------------------------
# LedgerRepository (stock)
#
# Ledgers are built by applying movements with the stock service's own domain code, then
# saved; what loads back is compared with values worked out by hand from docs/stock.md.

K = MovementKind
NOW = datetime(2025, 3, 30, 12, 0, tzinfo=UTC)
"""The ledgers' clock: after T0 and T1."""
SEQUENCES = itertools.count(1)
KEY_A: PositionKey = ("MUG-1", GLN_A, "")


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def mv(
    kind: MovementKind,
    quantity: int | str,
    *,
    sku: str = "MUG-1",
    location: str = GLN_A,
    at: datetime = T0,
    unit: str = "EA",
    lot: str | None = None,
    destination: str | None = None,
    expires_on: date | None = None,
    reservation_id: str | None = None,
    transfer_ref: str | None = None,
    order_ref: str | None = None,
    expected_on: date | None = None,
) -> Movement:
    return Movement(
        kind,
        sku,
        location,
        Decimal(quantity),
        unit,
        at,
        lot=lot,
        destination=destination,
        expires_on=expires_on,
        reservation_id=reservation_id,
        transfer_ref=transfer_ref,
        order_ref=order_ref,
        expected_on=expected_on,
    )


def reported(
    event_id: str, source_system: str = "wms", sequence: int = 1, movement: Movement | None = None
) -> ReportedMovement:
    return ReportedMovement(event_id, source_system, sequence, movement or mv(K.RECEIPT, 1))


def a_position(sku: str = "MUG-1", location: str = GLN_A, lot: str = "", **fields: Any) -> Position:
    return Position(sku=sku, location=location, lot=lot, unit=fields.pop("unit", "EA"), **fields)


def place(sku: str = "MUG-1", location: str = GLN_A) -> frozenset[Place]:
    return frozenset({(sku, location)})


async def applied(
    repo: LedgerRepository, *movements: tuple[str, Movement], now: datetime = NOW
) -> Ledger:
    """Journal ``(event id, movement)`` pairs, load their scope, apply them in order with the
    domain code and save the ledger: what the record-movements use case does."""
    batch = [ReportedMovement(e, "wms", next(SEQUENCES), m) for e, m in movements]
    assert await repo.record_movements(batch) == {e for e, _ in movements}
    ledger = (await repo.load(Scope.of(m for _, m in movements))).ledger(now)
    for event_id, movement in movements:
        ledger.apply(movement, event_id)
    await repo.save(ledger)
    return ledger


async def outcomes(repo: LedgerRepository, sku: str = "MUG-1") -> dict[str, str | None]:
    return {
        e.reported.event_id: e.outcome for e in await repo.journal_of(sku, after=None, limit=100)
    }


class TestLedgerJournal:
    async def test_an_empty_batch_records_nothing(self, ledger: LedgerRepository) -> None:
        assert await ledger.record_movements([]) == set()

    async def test_movements_never_seen_are_new(self, ledger: LedgerRepository) -> None:
        batch = [reported("e1", "wms", 1), reported("e2", "wms", 2), reported("e3", "erp", 1)]

        assert await ledger.record_movements(batch) == {"e1", "e2", "e3"}

    async def test_a_movement_from_the_same_source_and_sequence_is_not_new(
        self, ledger: LedgerRepository
    ) -> None:
        await ledger.record_movements([reported("e1", "wms", 7)])

        assert await ledger.record_movements([reported("e2", "wms", 7)]) == set()
        assert await ledger.record_movements([reported("e3", "wms", 8)]) == {"e3"}
        assert await ledger.record_movements([reported("e4", "pos", 7)]) == {"e4"}

    async def test_within_a_batch_the_first_of_a_source_and_sequence_is_new(
        self, ledger: LedgerRepository
    ) -> None:
        batch = [reported("e1", "wms", 7), reported("e2", "wms", 7), reported("e3", "wms", 8)]

        assert await ledger.record_movements(batch) == {"e1", "e3"}

    async def test_an_event_id_journaled_before_is_not_new(self, ledger: LedgerRepository) -> None:
        await ledger.record_movements([reported("e1", "wms", 1)])

        assert await ledger.record_movements([reported("e1", "wms", 2)]) == set()
        assert await ledger.record_movements([reported("e2", "wms", 2)]) == {"e2"}

    async def test_a_rejected_movement_stays_journaled(self, ledger: LedgerRepository) -> None:
        await ledger.record_movements([reported("e1", "wms", 1)])

        await ledger.mark_rejected({"e1": "unit KGM cannot be converted to the stock unit EA"})

        assert await ledger.record_movements([reported("e2", "wms", 1)]) == set()
        assert await ledger.positions_of("MUG-1") == []
        [entry] = await ledger.journal_of("MUG-1", after=None, limit=10)
        assert entry.rejected_reason == "unit KGM cannot be converted to the stock unit EA"

    async def test_a_refusal_forgotten_lets_the_movement_be_journaled_again(
        self, ledger: LedgerRepository
    ) -> None:
        await ledger.record_movements([reported("e1", "wms", 1), reported("e2", "wms", 2)])
        await ledger.mark_rejected({"e1": "unit KGM cannot be converted to the stock unit EA"})

        await ledger.forget_refusals(["e1", "e2", "never-seen"])

        assert await ledger.record_movements([reported("e1", "wms", 1)]) == {"e1"}
        assert await ledger.record_movements([reported("e2", "wms", 2)]) == set(), "not refused"
        entries = await ledger.journal_of("MUG-1", after=None, limit=10)
        assert [(e.reported.event_id, e.rejected_reason) for e in entries] == [
            ("e2", None),
            ("e1", None),
        ]

    async def test_the_journal_keeps_every_field_as_reported_in_the_order_journaled(
        self, ledger: LedgerRepository
    ) -> None:
        full = reported(
            "e1",
            "wms",
            1,
            Movement(
                MovementKind.TRANSFER_OUT,
                "MUG-1",
                GLN_A,
                Decimal("12.500"),
                "KGM",
                T0,
                lot="L-2025/03",
                destination=GLN_B,
                expires_on=date(2027, 5, 1),
                reservation_id="R-1",
                transfer_ref="T-1",
                order_ref="PO-1/10",
                expected_on=date(2025, 4, 1),
            ),
        )
        full = dataclasses.replace(full, reason="rebalancing stores before the sale")
        await ledger.record_movements([full, reported("e2", "wms", 2)])
        await ledger.record_movements([reported("e3", "wms", 3), reported("x", "wms", 3)])
        await ledger.mark_rejected({"e2": "refused for a test"})

        entries = await ledger.journal_of("MUG-1", after=None, limit=10)

        assert [e.reported for e in entries] == [
            full,
            reported("e2", "wms", 2),
            reported("e3", "wms", 3),
        ]
        assert [e.rejected_reason for e in entries] == [None, "refused for a test", None]
        assert [e.outcome for e in entries] == [None, None, None]
        assert entries[0].seq < entries[1].seq < entries[2].seq
        assert await ledger.journal_of("OTHER-1", after=None, limit=10) == []

    async def test_the_journal_pages_after_a_cursor(self, ledger: LedgerRepository) -> None:
        await ledger.record_movements([reported(f"e{n}", "wms", n) for n in range(1, 6)])

        first = await ledger.journal_of("MUG-1", after=None, limit=2)
        second = await ledger.journal_of("MUG-1", after=first[-1].seq, limit=2)
        last = await ledger.journal_of("MUG-1", after=second[-1].seq, limit=2)

        pages = [[e.reported.event_id for e in page] for page in (first, second, last)]
        assert pages == [["e1", "e2"], ["e3", "e4"], ["e5"]]
        assert await ledger.journal_of("MUG-1", after=last[-1].seq, limit=2) == []

    async def test_rejecting_an_unknown_event_journals_nothing(
        self, ledger: LedgerRepository
    ) -> None:
        await ledger.mark_rejected({"e1": "never recorded"})

        assert await ledger.record_movements([reported("e1", "wms", 1)]) == {"e1"}

    async def test_the_outcome_says_what_the_ledger_made_of_each_movement(
        self, ledger: LedgerRepository
    ) -> None:
        await applied(
            ledger,
            ("count", mv(K.CYCLE_COUNT, 7, at=minutes(20))),
            ("older-count", mv(K.CYCLE_COUNT, 99, at=minutes(10))),
            ("seen-by-count", mv(K.RECEIPT, 4, at=minutes(5))),
            ("release", mv(K.RESERVATION_RELEASE, 3, reservation_id="R1")),
            ("after-count", mv(K.RECEIPT, 1, at=minutes(30))),
        )

        assert await outcomes(ledger) == {
            "count": None,
            "older-count": "superseded",
            "seen-by-count": "absorbed",
            "release": "parked",
            "after-count": None,
        }
        # on hand 7 counted at 08:20 + 1 after it; the receipt the count saw is not added
        assert await ledger.positions_of("MUG-1") == [
            a_position(on_hand=Decimal(8), received=Decimal(5), version=3, counted_at=minutes(20))
        ]

        await applied(ledger, ("reservation", mv(K.RESERVATION, 5, reservation_id="R1")))

        assert (await outcomes(ledger))["release"] is None
        assert (await outcomes(ledger))["reservation"] is None


class TestLedgerRepositoryLoad:
    async def test_nothing_stored_loads_an_empty_state(self, ledger: LedgerRepository) -> None:
        scope = Scope(
            places=place(),
            lots=frozenset({("MUG-1", "L1")}),
            reservations=frozenset({("MUG-1", "R1")}),
            transfers=frozenset({("MUG-1", "T1")}),
            order_lines=frozenset({("MUG-1", GLN_A, "PO-1")}),
            counts=frozenset({(KEY_A, T0)}),
        )

        for lock in (True, False):
            assert await ledger.load(scope, lock=lock) == LedgerState(
                counted_later={(KEY_A, T0): Decimal(0)}
            )

    async def test_a_place_loads_every_lot_of_the_sku_there_in_key_order(
        self, ledger: LedgerRepository
    ) -> None:
        await applied(
            ledger,
            ("e1", mv(K.RECEIPT, 5, lot="L2", expires_on=date(2026, 1, 1))),
            ("e2", mv(K.RECEIPT, 3)),
            ("e3", mv(K.RECEIPT, 2, lot="L1")),
            ("e4", mv(K.RECEIPT, 1, location=GLN_B)),
            ("e5", mv(K.RECEIPT, 1, sku="MUG-2")),
            ("e6", mv(K.RECEIPT, 1, sku="MUG-10")),
        )

        for lock in (True, False):
            state = await ledger.load(Scope(places=place()), lock=lock)
            assert state.positions == [
                a_position(on_hand=Decimal(3), received=Decimal(3), version=1),
                a_position(lot="L1", on_hand=Decimal(2), received=Decimal(2), version=1),
                a_position(
                    lot="L2",
                    on_hand=Decimal(5),
                    received=Decimal(5),
                    version=1,
                    expires_on=date(2026, 1, 1),
                ),
            ]
            # The lots of the place's positions come along: a transfer from here takes them
            # to another location, where they keep their expiry date.
            assert dataclasses.replace(state, positions=[]) == LedgerState(
                lots={("MUG-1", "L2"): date(2026, 1, 1)}
            )

        both = await ledger.load(Scope(places=place() | place(location=GLN_B)))
        assert [p.key for p in both.positions] == [
            ("MUG-1", GLN_A, ""),
            ("MUG-1", GLN_A, "L1"),
            ("MUG-1", GLN_A, "L2"),
            ("MUG-1", GLN_B, ""),
        ]
        assert (await ledger.load(Scope(places=place(location=GLN_C)))).positions == []

    async def test_the_catalog_facts_of_the_scope_s_skus_load(
        self, ledger: LedgerRepository
    ) -> None:
        facts = SkuFacts(
            "EA",
            packs={"CS": Decimal(12), "PL": Decimal("480.5")},
            lot_tracked=True,
            shelf_life_days=10,
        )
        await ledger.save_facts("MUG-1", facts, 2)
        await ledger.save_facts("MUG-2", SkuFacts("KGM"), 1)

        state = await ledger.load(Scope(places=place() | place(location=GLN_B)))

        assert state.facts == {"MUG-1": facts}

    async def test_lots_named_by_the_scope_load_with_their_first_expiry_date(
        self, ledger: LedgerRepository
    ) -> None:
        first = Ledger(NOW)
        first.apply(mv(K.RECEIPT, 5, lot="L1", expires_on=date(2027, 1, 1)), "e1")
        await ledger.save(first)
        # A ledger that did not know the lot yet (a concurrent batch) names another date.
        second = Ledger(NOW)
        second.apply(mv(K.RECEIPT, 2, lot="L1", location=GLN_B, expires_on=date(2027, 2, 1)), "e2")
        await ledger.save(second)

        lots = frozenset({("MUG-1", "L1"), ("MUG-1", "L9"), ("MUG-2", "L1")})
        state = await ledger.load(Scope(places=place(location=GLN_C), lots=lots))

        assert state.lots == {("MUG-1", "L1"): date(2027, 1, 1)}

    async def test_counted_later_sums_the_on_hand_effects_after_a_count_s_time(
        self, ledger: LedgerRepository
    ) -> None:
        await applied(
            ledger,
            ("e1", mv(K.RECEIPT, 10, at=T0)),
            ("e2", mv(K.SHIPMENT, 2, at=minutes(30))),
            ("e3", mv(K.ADJUSTMENT, 1, at=minutes(40))),
            ("e4", mv(K.RESERVATION, 6, at=minutes(35))),  # no effect on hand
            ("e5", mv(K.SHIPMENT, 5, location=GLN_B, at=minutes(35))),  # another position
            ("e6", mv(K.RECEIPT, 3, lot="L1", at=minutes(35))),  # another lot
        )
        before, at_20, at_40 = T0 - timedelta(seconds=1), minutes(20), minutes(40)
        scope = Scope(
            places=place(),
            counts=frozenset({(KEY_A, before), (KEY_A, at_20), (KEY_A, at_40)}),
        )

        assert (await ledger.load(scope)).counted_later == {
            (KEY_A, before): Decimal(9),  # 10 - 2 + 1
            (KEY_A, at_20): Decimal(-1),  # -2 + 1
            (KEY_A, at_40): Decimal(0),  # strictly after
        }

        # A count at 08:50, then a receipt from 08:45 that it absorbs: no effect on hand.
        await applied(
            ledger,
            ("count", mv(K.CYCLE_COUNT, 8, at=minutes(50))),
            ("absorbed", mv(K.RECEIPT, 4, at=minutes(45))),
        )

        assert (await ledger.load(scope)).counted_later[(KEY_A, at_20)] == Decimal(-1)

    async def test_a_late_count_counts_what_is_stored_after_it(
        self, ledger: LedgerRepository
    ) -> None:
        await applied(
            ledger,
            ("e1", mv(K.RECEIPT, 10, at=T0)),
            ("e2", mv(K.SHIPMENT, 3, at=minutes(30))),
        )

        await applied(ledger, ("count", mv(K.CYCLE_COUNT, 6, at=minutes(20))))

        # counted 6 at 08:20, shipped 3 after it: 3 on hand; expected as of 08:20: 7 - (-3)
        assert await ledger.positions_of("MUG-1") == [
            a_position(
                on_hand=Decimal(3),
                received=Decimal(10),
                shipped=Decimal(3),
                version=3,
                counted_at=minutes(20),
            )
        ]
        [entry] = await ledger.variances_of("MUG-1", limit=10)
        assert entry.variance == Variance(KEY_A, minutes(20), Decimal(6), Decimal(10), "count")

    async def test_a_loaded_state_changes_nothing_stored_until_saved(
        self, ledger: LedgerRepository
    ) -> None:
        saved = await applied(
            ledger,
            ("e1", mv(K.RECEIPT, 5)),
            ("e2", mv(K.RESERVATION, 2, reservation_id="R1")),
        )
        saved.positions[KEY_A].on_hand = Decimal(99)
        scope = Scope(places=place(), reservations=frozenset({("MUG-1", "R1")}))

        state = await ledger.load(scope)
        state.positions[0].on_hand += 1
        state.reservations[("MUG-1", "R1")].lots[""] = Decimal(0)

        stored = a_position(on_hand=Decimal(5), reserved=Decimal(2), received=Decimal(5), version=2)
        assert await ledger.positions_of("MUG-1") == [stored]
        again = await ledger.load(scope)
        assert again.positions == [stored]
        assert again.reservations[("MUG-1", "R1")].lots == {"": Decimal(2)}

    async def test_the_positions_of_a_sku_are_by_location_then_lot(
        self, ledger: LedgerRepository
    ) -> None:
        await applied(
            ledger,
            ("e1", mv(K.RECEIPT, 1, location=GLN_B, lot="C")),
            ("e2", mv(K.RECEIPT, 1, sku="MUG-10")),
            ("e3", mv(K.RECEIPT, 1, location=GLN_B, lot="B")),
            ("e4", mv(K.RECEIPT, 1, location=GLN_C)),
            ("e5", mv(K.RECEIPT, 1, location=GLN_B)),
            ("e6", mv(K.RECEIPT, 1, lot="Z")),
        )

        assert [p.key for p in await ledger.positions_of("MUG-1")] == [
            ("MUG-1", GLN_A, "Z"),
            ("MUG-1", GLN_B, ""),
            ("MUG-1", GLN_B, "B"),
            ("MUG-1", GLN_B, "C"),
            ("MUG-1", GLN_C, ""),
        ]
        assert await ledger.positions_of("MUG-2") == []

    async def test_the_positions_and_kits_of_many_skus_are_read_at_once(
        self, ledger: LedgerRepository
    ) -> None:
        await applied(
            ledger,
            ("e1", mv(K.RECEIPT, 1, location=GLN_B)),
            ("e2", mv(K.RECEIPT, 1, sku="MUG-10")),
            ("e3", mv(K.RECEIPT, 1, sku="MUG-2")),
            ("e4", mv(K.RECEIPT, 1)),
        )
        await ledger.save_kit_positions(
            [
                KitPosition("SET-1", GLN_B, "EA", Decimal(2), 3),
                KitPosition("SET-1", GLN_A, "EA", Decimal(1), 1),
            ]
        )

        found = await ledger.positions_of_skus(["MUG-10", "MUG-1", "SET-1"])
        kits = await ledger.kit_positions_of(["MUG-1", "SET-1"])

        assert [p.key for p in found] == [
            ("MUG-1", GLN_A, ""),
            ("MUG-1", GLN_B, ""),
            ("MUG-10", GLN_A, ""),
        ]
        assert [(k.sku, k.location, k.available, k.version) for k in kits] == [
            ("SET-1", GLN_A, Decimal(1), 1),
            ("SET-1", GLN_B, Decimal(2), 3),
        ]
        assert await ledger.positions_of_skus([]) == []
        assert await ledger.kit_positions_of(["MUG-2"]) == []


class TestLedgerRepositorySave:
    async def test_a_saved_position_loads_back_field_for_field(
        self, ledger: LedgerRepository
    ) -> None:
        held = a_position(
            unit="KGM",
            on_hand=Decimal("-123456789012.123456"),
            reserved=Decimal("0.001"),
            quality_hold=Decimal("0.5"),
            in_transit=Decimal("1E+3"),
            incoming=Decimal(7),
            received=Decimal("123456789012.5"),
            shipped=Decimal(3),
            returned=Decimal(4),
            scrapped=Decimal(5),
            lost_sales=Decimal(6),
            version=MAX_VERSION - 1,
            expires_on=date(2025, 3, 1),
            counted_at=T0 - timedelta(days=1),
        )
        built = Ledger(NOW, {held.key: held})
        built.apply(mv(K.RETURN, "0.000001", unit="KGM"), "e1")

        await ledger.save(built)

        expected = dataclasses.replace(
            held,
            on_hand=Decimal("-123456789012.123455"),
            returned=Decimal("4.000001"),
            version=MAX_VERSION,
            expired=True,  # expired on 2025-03-01, before NOW
        )
        assert (await ledger.load(Scope(places=place()))).positions == [expected]
        assert (await ledger.load(Scope(places=place()), lock=False)).positions == [expected]
        assert await ledger.positions_of("MUG-1") == [expected]

    async def test_saving_again_replaces_every_field(self, ledger: LedgerRepository) -> None:
        await applied(
            ledger,
            ("e1", mv(K.EXPECTED_RECEIPT, 20, order_ref="PO-1", expected_on=date(2025, 4, 1))),
            ("e2", mv(K.RECEIPT, 12, order_ref="PO-1")),
            ("e3", mv(K.RETURN, 1)),
            ("e4", mv(K.SHIPMENT, 4)),
            ("e5", mv(K.SCRAP, 1)),
            ("e6", mv(K.LOST_SALE, 6)),
            ("e7", mv(K.QUALITY_HOLD, 2)),
            ("e8", mv(K.RESERVATION, 3)),
            ("e9", mv(K.TRANSFER_OUT, 1, location=GLN_B, destination=GLN_A)),
        )
        first = a_position(
            on_hand=Decimal(8),  # 12 + 1 - 4 - 1
            reserved=Decimal(3),
            quality_hold=Decimal(2),
            in_transit=Decimal(1),
            incoming=Decimal(8),  # 20 ordered, 12 received
            received=Decimal(12),
            shipped=Decimal(4),
            returned=Decimal(1),
            scrapped=Decimal(1),
            lost_sales=Decimal(6),
            version=9,
        )
        assert (await ledger.load(Scope(places=place()))).positions == [first]

        await applied(
            ledger,
            ("e10", mv(K.CYCLE_COUNT, 5, at=T1)),
            ("e11", mv(K.QUALITY_RELEASE, 9, at=T1)),
            ("e12", mv(K.TRANSFER_IN, 1, at=T1 + timedelta(seconds=1))),
        )

        assert await ledger.positions_of("MUG-1") == [
            dataclasses.replace(
                first,
                on_hand=Decimal(6),  # counted 5, then 1 transferred in
                quality_hold=Decimal(0),
                in_transit=Decimal(0),
                version=12,
                counted_at=T1,
            ),
            a_position(location=GLN_B, on_hand=Decimal(-1), version=1),
        ]

    async def test_saving_an_untouched_ledger_changes_nothing(
        self, ledger: LedgerRepository
    ) -> None:
        await ledger.save(Ledger(NOW))

        assert await ledger.positions_of("MUG-1") == []
        assert await ledger.parked(limit=10) == []
        assert await ledger.anomalies_of(None, limit=10) == []
        assert await ledger.variances_of(None, limit=10) == []

    async def test_a_transfer_carries_its_lot_s_expiry_to_the_destination(
        self, ledger: LedgerRepository
    ) -> None:
        await applied(ledger, ("e1", mv(K.RECEIPT, 5, lot="L1", expires_on=date(2026, 1, 1))))

        # No lot named: first expiring first takes L1, which arrives at B as L1.
        await applied(ledger, ("e2", mv(K.TRANSFER_OUT, 2, destination=GLN_B, transfer_ref="T1")))

        in_transit = a_position(
            location=GLN_B, lot="L1", in_transit=Decimal(2), version=1, expires_on=date(2026, 1, 1)
        )
        assert (await ledger.positions_of("MUG-1"))[1:] == [in_transit]

        await applied(ledger, ("e3", mv(K.TRANSFER_IN, 2, location=GLN_B, transfer_ref="T1")))

        assert await ledger.positions_of("MUG-1") == [
            a_position(
                lot="L1",
                on_hand=Decimal(3),
                received=Decimal(5),
                version=2,
                expires_on=date(2026, 1, 1),
            ),
            a_position(
                location=GLN_B,
                lot="L1",
                on_hand=Decimal(2),
                version=2,
                expires_on=date(2026, 1, 1),
            ),
        ]

    async def test_reservations_and_transfers_keep_their_lots_in_the_order_taken(
        self, ledger: LedgerRepository
    ) -> None:
        # First expiring first: Z-EARLY before A-LATE, against their alphabetical order.
        await applied(
            ledger,
            ("e1", mv(K.RECEIPT, 4, lot="A-LATE", expires_on=date(2026, 2, 1))),
            ("e2", mv(K.RECEIPT, 3, lot="Z-EARLY", expires_on=date(2026, 1, 1))),
        )
        await applied(
            ledger,
            ("e3", mv(K.RESERVATION, 5, reservation_id="R1")),
            ("e4", mv(K.TRANSFER_OUT, 4, destination=GLN_B, transfer_ref="T1")),
        )
        scope = Scope(
            places=place(),
            reservations=frozenset({("MUG-1", "R1")}),
            transfers=frozenset({("MUG-1", "T1")}),
        )

        state = await ledger.load(scope)

        assert state.reservations == {
            ("MUG-1", "R1"): Reservation(
                "R1", "MUG-1", GLN_A, {"Z-EARLY": Decimal(3), "A-LATE": Decimal(2)}
            )
        }
        assert list(state.reservations[("MUG-1", "R1")].lots) == ["Z-EARLY", "A-LATE"]
        assert state.transfers == {
            ("MUG-1", "T1"): Transfer(
                "T1", "MUG-1", GLN_A, GLN_B, {"Z-EARLY": Decimal(3), "A-LATE": Decimal(1)}
            )
        }
        assert list(state.transfers[("MUG-1", "T1")].lots) == ["Z-EARLY", "A-LATE"]
        others = Scope(
            places=place(),
            reservations=frozenset({("MUG-1", "R2")}),
            transfers=frozenset({("MUG-1", "T2")}),
        )
        assert (await ledger.load(others)).reservations == {}
        assert (await ledger.load(others)).transfers == {}

        # 2 arrive, into the transfer's lots in order; 3 released, last taken first.
        await applied(
            ledger,
            ("e5", mv(K.TRANSFER_IN, 2, location=GLN_B, transfer_ref="T1")),
            ("e6", mv(K.RESERVATION_RELEASE, 3, reservation_id="R1")),
        )

        state = await ledger.load(scope)
        assert list(state.reservations[("MUG-1", "R1")].lots.items()) == [
            ("Z-EARLY", Decimal(2)),
            ("A-LATE", Decimal(0)),
        ]
        assert list(state.transfers[("MUG-1", "T1")].lots.items()) == [
            ("Z-EARLY", Decimal(1)),
            ("A-LATE", Decimal(1)),
        ]

    async def test_order_lines_keep_their_open_quantity(self, ledger: LedgerRepository) -> None:
        on = date(2025, 4, 1)
        await applied(
            ledger,
            ("e1", mv(K.EXPECTED_RECEIPT, 20, order_ref="PO-1", expected_on=on)),
            ("e2", mv(K.EXPECTED_RECEIPT, 5, location=GLN_B, order_ref="PO-1", expected_on=on)),
            ("e3", mv(K.EXPECTED_RECEIPT, 7, order_ref="PO-2", expected_on=on)),
        )

        await applied(ledger, ("e4", mv(K.RECEIPT, 12, order_ref="PO-1")))

        lines = frozenset({("MUG-1", GLN_A, "PO-1"), ("MUG-1", GLN_B, "PO-1")})
        state = await ledger.load(Scope(places=place(), order_lines=lines))
        assert state.order_lines == {
            ("MUG-1", GLN_A, "PO-1"): Decimal(8),
            ("MUG-1", GLN_B, "PO-1"): Decimal(5),
        }
        # incoming: the open lines here, 8 of PO-1 and 7 of PO-2
        assert state.positions == [
            a_position(on_hand=Decimal(12), incoming=Decimal(15), received=Decimal(12), version=3)
        ]

    async def test_parked_movements_load_with_their_reference_and_leave_once_applied(
        self, ledger: LedgerRepository
    ) -> None:
        release = mv(K.RESERVATION_RELEASE, 3, reservation_id="R1")
        arrival = mv(K.TRANSFER_IN, 2, location=GLN_B, transfer_ref="T1")
        started = datetime.now(UTC)
        await applied(ledger, ("e1", release), ("e2", arrival))
        finished = datetime.now(UTC)

        scope = Scope(
            places=place() | place(location=GLN_B),
            reservations=frozenset({("MUG-1", "R1")}),
            transfers=frozenset({("MUG-1", "T1")}),
        )
        assert (await ledger.load(scope)).parked == {
            ("reservation", "MUG-1", "R1"): [Parked("e1", ("reservation", "MUG-1", "R1"), release)],
            ("transfer", "MUG-1", "T1"): [Parked("e2", ("transfer", "MUG-1", "T1"), arrival)],
        }
        others = Scope(places=place(), reservations=frozenset({("MUG-1", "R2")}))
        assert (await ledger.load(others)).parked == {}
        listed = await ledger.parked(limit=10)
        assert [(p.reported.event_id, p.reported.movement, p.waiting_for) for p in listed] == [
            ("e1", release, ("reservation", "MUG-1", "R1")),
            ("e2", arrival, ("transfer", "MUG-1", "T1")),
        ]
        assert all(started <= p.parked_at <= finished for p in listed)
        assert [p.reported.event_id for p in await ledger.parked(limit=1)] == ["e1"]
        assert await ledger.positions_of("MUG-1") == []

        await applied(ledger, ("e3", mv(K.RESERVATION, 5, reservation_id="R1")))

        assert [p.reported.event_id for p in await ledger.parked(limit=10)] == ["e2"]
        assert (await ledger.load(scope)).parked == {
            ("transfer", "MUG-1", "T1"): [Parked("e2", ("transfer", "MUG-1", "T1"), arrival)]
        }
        assert await outcomes(ledger) == {"e1": None, "e2": "parked", "e3": None}
        # reserved 5, then the release that waited for it: 2
        assert await ledger.positions_of("MUG-1") == [a_position(reserved=Decimal(2), version=2)]


class TestLedgerRepositoryRecords:
    async def test_newer_catalog_facts_win_and_older_are_ignored(
        self, ledger: LedgerRepository
    ) -> None:
        v2 = SkuFacts("EA", packs={"CS": Decimal(12)}, lot_tracked=True, shelf_life_days=10)
        v3 = SkuFacts("KGM")

        assert await ledger.save_facts("MUG-1", v2, 2) is True
        assert await ledger.save_facts("MUG-1", v3, 1) is False
        assert await ledger.save_facts("MUG-1", v3, 2) is False
        assert (await ledger.load(Scope(places=place()))).facts == {"MUG-1": v2}

        assert await ledger.save_facts("MUG-1", v3, MAX_VERSION) is True
        assert (await ledger.load(Scope(places=place()))).facts == {"MUG-1": v3}

    async def test_positions_due_to_expire_are_dated_unmarked_and_expired_by_now(
        self, ledger: LedgerRepository
    ) -> None:
        def receipt(lot: str, expires_on: date | None, location: str = GLN_A) -> Movement:
            return mv(K.RECEIPT, 1, lot=lot or None, location=location, expires_on=expires_on)

        await applied(
            ledger,
            ("e1", receipt("DUE-29", date(2025, 3, 29))),
            ("e2", receipt("DUE-28", date(2025, 3, 28))),
            ("e3", receipt("LATER", date(2025, 4, 30))),
            ("e4", receipt("UNDATED", None)),
            ("e5", receipt("", None)),
            ("e6", receipt("ALSO-29", date(2025, 3, 29), GLN_B)),
            now=datetime(2025, 3, 1, tzinfo=UTC),
        )
        # Received after its expiry: marked expired already.
        await applied(
            ledger,
            ("e7", receipt("GONE", date(2025, 3, 10))),
            now=datetime(2025, 3, 20, tzinfo=UTC),
        )
        midnight = datetime(2025, 3, 29, tzinfo=UTC)

        assert await ledger.positions_due_to_expire(midnight, 10) == [
            ("MUG-1", GLN_A, "DUE-28"),
            ("MUG-1", GLN_A, "DUE-29"),
            ("MUG-1", GLN_B, "ALSO-29"),
        ]
        assert await ledger.positions_due_to_expire(midnight, 2) == [
            ("MUG-1", GLN_A, "DUE-28"),
            ("MUG-1", GLN_A, "DUE-29"),
        ]
        # 01:59 in CEST is 23:59 UTC the day before: the 29th has not started in UTC.
        before_midnight = datetime(2025, 3, 29, 1, 59, tzinfo=CEST)
        assert await ledger.positions_due_to_expire(before_midnight, 10) == [
            ("MUG-1", GLN_A, "DUE-28")
        ]
        assert await ledger.positions_due_to_expire(datetime(2025, 3, 27, tzinfo=UTC), 10) == []

        marking = (await ledger.load(Scope(places=place()))).ledger(midnight)
        marking.expire([("MUG-1", GLN_A, "DUE-28"), ("MUG-1", GLN_A, "DUE-29")], "tick")
        await ledger.save(marking)

        assert await ledger.positions_due_to_expire(midnight, 10) == [("MUG-1", GLN_B, "ALSO-29")]

    async def test_anomalies_are_listed_newest_first(self, ledger: LedgerRepository) -> None:
        await applied(
            ledger,
            ("e1", mv(K.SHIPMENT, 2)),
            ("e2", mv(K.RECEIPT, 1, location=GLN_B)),
            ("e3", mv(K.RESERVATION, 4, location=GLN_B)),
            ("e4", mv(K.RESERVATION_RELEASE, 6, location=GLN_B)),
        )
        await applied(ledger, ("e5", mv(K.SCRAP, 1, sku="MUG-2")))
        key_b = ("MUG-1", GLN_B, "")

        everything = await ledger.anomalies_of(None, limit=10)

        assert [a.record for a in everything] == [
            AnomalyRecord(("MUG-2", GLN_A, ""), "negative_on_hand", Decimal(1), "e5"),
            AnomalyRecord(key_b, "release_exceeds_reserved", Decimal(2), "e4"),  # 6 - 4
            AnomalyRecord(key_b, "oversold", Decimal(3), "e3"),  # 4 reserved, 1 sellable
            AnomalyRecord(KEY_A, "negative_on_hand", Decimal(2), "e1"),
        ]
        assert everything[0].recorded_at >= everything[-1].recorded_at
        mug_1 = await ledger.anomalies_of("MUG-1", limit=2)
        assert [a.record.cause for a in mug_1] == ["e4", "e3"]
        assert await ledger.anomalies_of("MUG-3", limit=10) == []

    async def test_variances_are_listed_newest_first(self, ledger: LedgerRepository) -> None:
        await applied(ledger, ("c1", mv(K.CYCLE_COUNT, 5, at=T0)))
        await applied(ledger, ("c2", mv(K.CYCLE_COUNT, 3, sku="MUG-2", at=T0)))
        await applied(ledger, ("c3", mv(K.CYCLE_COUNT, 4, at=T1)))

        everything = await ledger.variances_of(None, limit=10)

        assert [v.variance for v in everything] == [
            Variance(KEY_A, T1, Decimal(4), Decimal(5), "c3"),
            Variance(("MUG-2", GLN_A, ""), T0, Decimal(3), Decimal(0), "c2"),
            Variance(KEY_A, T0, Decimal(5), Decimal(0), "c1"),
        ]
        assert everything[0].recorded_at >= everything[1].recorded_at >= everything[2].recorded_at
        mug_1 = await ledger.variances_of("MUG-1", limit=10)
        assert [v.variance.cause for v in mug_1] == ["c3", "c1"]
        assert [v.variance.cause for v in await ledger.variances_of("MUG-1", limit=1)] == ["c3"]
        assert await ledger.variances_of("MUG-9", limit=10) == []


class TestLedgerRepositoryLocks:
    """PostgreSQL alone: the ledger's per-SKU lock (docs/decisions.md, stock ledger)."""

    @staticmethod
    def load(sku: str, *, lock: bool) -> Callable[[AsyncConnection], Awaitable[list[Position]]]:
        async def positions(conn: AsyncConnection) -> list[Position]:
            state = await SqlLedgerRepository(conn).load(Scope(places=place(sku)), lock=lock)
            return state.positions

        return positions

    async def test_locking_a_sku_holds_even_its_positions_that_do_not_exist_yet(
        self, stock_db: AsyncEngine
    ) -> None:
        async def create_then_lock(conn: AsyncConnection) -> None:
            repo = SqlLedgerRepository(conn)
            built = (await repo.load(Scope(places=place(location=GLN_B)))).ledger(NOW)
            built.apply(mv(K.RECEIPT, 3), "e1")
            await repo.save(built)

        race = await second_transaction(stock_db, create_then_lock, self.load("MUG-1", lock=True))

        assert race == ("waits", [a_position(on_hand=Decimal(3), received=Decimal(3), version=1)])

    async def test_reading_without_the_lock_does_not_wait(self, stock_db: AsyncEngine) -> None:
        race = await second_transaction(
            stock_db, self.load("MUG-1", lock=True), self.load("MUG-1", lock=False)
        )

        assert race == ("goes ahead", [])

    async def test_another_skus_lock_does_not_wait(self, stock_db: AsyncEngine) -> None:
        race = await second_transaction(
            stock_db, self.load("MUG-1", lock=True), self.load("MUG-2", lock=True)
        )

        assert race == ("goes ahead", [])


# ---------------------------------------------------------------------------------------------
# StageRepository (lifecycle)


def a_stage(sku: str = "MUG-1", stage: Stage = Stage.CONCEPT, **fields: Any) -> SkuStage:
    product_version = fields.pop("product_version", 1)
    values: dict[str, Any] = {
        "version": 1,
        "reason": "new in catalog",
        "actor": "lifecycle",
        "changed_at": T0,
        "product": lifecycle.ProductFacts(
            sku,
            product_version,
            approved=True,
            readiness=(ChannelReadiness("web", "de_DE", False, ("title",)),),
            product_model="MUG",
            replacement="MUG-9",
        ),
    }
    return SkuStage(sku=sku, stage=stage, **(values | fields))


class TestStageRepository:
    async def test_nothing_known_loads_nothing(self, stages: StageRepository) -> None:
        assert await stages.load([]) == {}
        assert await stages.load(["MUG-1"]) == {}
        assert await stages.get("MUG-1") is None
        assert await stages.get("MUG-1", for_update=True) is None

    @pytest.mark.parametrize("stage", list(Stage))
    async def test_a_saved_state_reads_back_field_for_field_in_utc(
        self, stages: StageRepository, stage: Stage
    ) -> None:
        state = a_stage(
            "MUG/1.a",
            stage,
            version=MAX_VERSION,
            product_version=MAX_VERSION - 1,
            reason="é ✓",
            pre_order=True,
            successor="MUG-2",
        )

        await stages.save([state])

        assert await stages.load(["MUG/1.a"]) == {"MUG/1.a": state}
        for read in (await stages.get("MUG/1.a"), await stages.get("MUG/1.a", for_update=True)):
            assert read == state
            assert read is not None
            assert read.changed_at.utcoffset() == timedelta(0)

    async def test_saving_again_replaces_every_field(self, stages: StageRepository) -> None:
        await stages.save([a_stage()])
        later = a_stage(stage=Stage.ACTIVE, version=2, product_version=5, reason="x", changed_at=T1)

        await stages.save([later])

        assert await stages.get("MUG-1") == later

    async def test_load_returns_the_known_states_keyed_by_sku(
        self, stages: StageRepository
    ) -> None:
        await stages.save([a_stage("MUG-2", Stage.ACTIVE), a_stage("MUG-1"), a_stage("MUG-3")])

        loaded = await stages.load(["MUG-3", "MUG-1", "MUG-1", "MUG-9"])

        assert loaded == {"MUG-1": a_stage("MUG-1"), "MUG-3": a_stage("MUG-3")}
        assert [s.sku for s in await stages.of_model("MUG")] == ["MUG-1", "MUG-2", "MUG-3"]
        assert [s.sku for s in await stages.in_stage(Stage.CONCEPT, after="MUG-1")] == ["MUG-3"]

    async def test_saving_nothing_changes_nothing(self, stages: StageRepository) -> None:
        await stages.save([])

        assert await stages.load(["MUG-1"]) == {}

    async def test_a_loaded_state_changes_nothing_stored_until_saved(
        self, stages: StageRepository
    ) -> None:
        state = a_stage()
        await stages.save([state])
        state.version = 99

        loaded = (await stages.load(["MUG-1"]))["MUG-1"]
        loaded.move(Move(Stage.DEVELOPMENT, "design started", "maria"), [], now=T1)

        assert await stages.get("MUG-1") == a_stage()
        await stages.save([loaded])
        moved = a_stage(
            stage=Stage.DEVELOPMENT,
            version=2,
            reason="design started",
            actor="maria",
            changed_at=T1,
        )
        assert await stages.get("MUG-1") == moved
        assert [
            (c.version, c.previous, c.stage, c.actor) for c in await stages.history("MUG-1")
        ] == [(2, Stage.CONCEPT, Stage.DEVELOPMENT, "maria")]

    async def test_successor_links_follow_the_chain(self, stages: StageRepository) -> None:
        await stages.save(
            [
                a_stage("A", Stage.DISCONTINUED, successor="B"),
                a_stage("B", Stage.DISCONTINUED, successor="C"),
                a_stage("C", Stage.ACTIVE),
                a_stage("D", Stage.ACTIVE),
            ]
        )

        links = await stages.successor_links("A", depth=10)

        assert {sku: (link.stage, link.successor) for sku, link in links.items()} == {
            "A": (Stage.DISCONTINUED, "B"),
            "B": (Stage.DISCONTINUED, "C"),
            "C": (Stage.ACTIVE, None),
        }


class TestStageRepositoryLocks:
    """PostgreSQL alone: ``load`` and ``get(for_update=True)`` lock the states they read."""

    @pytest.mark.parametrize(
        ("first", "second", "expected"),
        [
            ("load", "load", "waits"),
            ("load", "get for update", "waits"),
            ("get for update", "load", "waits"),
            ("load", "get", "goes ahead"),
        ],
    )
    async def test_a_locked_state_holds_other_lockers_until_commit(
        self, lifecycle_db: AsyncEngine, first: str, second: str, expected: Race
    ) -> None:
        await committed(lifecycle_db, lambda conn: SqlStageRepository(conn).save([a_stage()]))

        async def read(conn: AsyncConnection, how: str) -> SkuStage | None:
            repo = SqlStageRepository(conn)
            if how == "load":
                return (await repo.load(["MUG-1"])).get("MUG-1")
            return await repo.get("MUG-1", for_update=how == "get for update")

        race = await second_transaction(
            lifecycle_db, lambda conn: read(conn, first), lambda conn: read(conn, second)
        )

        assert race == (expected, a_stage())


# ---------------------------------------------------------------------------------------------
# ProjectionRepository (sync gateway)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
Kind = Literal["product", "position", "stage"]
KINDS: list[Kind] = ["product", "position", "stage"]


def product_fact(
    version: int, sku: str = "MUG-1", *, trace_id: str | None = TRACE_ID, **fields: Any
) -> Fact[ProductChanged]:
    """A product-changed snapshot of ``sku``, published as it is."""
    values: dict[str, Any] = {
        "status": WireProductStatus.ENABLED,
        "title": {"en_US": f"Mug v{version}"},
        "workflow": WorkflowState.PUBLISHED,
        "changed_at": T0,
    } | fields
    content = PublishedContent(version=version, gtin=values.get("gtin"), title=values["title"])
    payload = ProductChanged(sku=sku, product_version=version, published=content, **values)
    return Fact(payload, version, trace_id, T0, f"product-{sku}-{version}")


def position_fact(
    version: int, sku: str = "MUG-1", location: str = GLN_A, lot: str | None = None, **fields: Any
) -> Fact[StockLevelChanged]:
    values: dict[str, Any] = {
        "unit": "EA",
        "on_hand": Decimal(version),
        "reserved": Decimal(0),
        "quality_hold": Decimal(0),
        "expired": Decimal(0),
        "in_transit": Decimal(0),
        "incoming": Decimal(0),
        "available_to_promise": Decimal(version),
        "location_available_to_promise": Decimal(version),
        "received": Decimal(version),
        "shipped": Decimal(0),
        "returned": Decimal(0),
        "scrapped": Decimal(0),
        "lost_sales": Decimal(0),
        "caused_by": f"movement-{version}",
        "changed_at": T0,
    }
    payload = StockLevelChanged(
        sku=sku, location=location, lot=lot, position_version=version, **(values | fields)
    )
    return Fact(payload, version, TRACE_ID, T0, f"position-{sku}-{location}-{lot}-{version}")


def stage_fact(version: int, sku: str = "MUG-1", **fields: Any) -> Fact[LifecycleStageChanged]:
    """A stage of ``sku`` at ``version``; the stage cycles with the version unless given."""
    values: dict[str, Any] = {"stage": list(LifecycleStage)[version % len(LifecycleStage)]}
    payload = LifecycleStageChanged(
        sku=sku, stage_version=version, reason="r", changed_at=T0, **(values | fields)
    )
    return Fact(payload, version, TRACE_ID, T0, f"stage-{sku}-{version}")


async def upsert(projection: ProjectionRepository, kind: Kind, *versions: int) -> list[int]:
    """Upsert one call's facts of ``kind`` about MUG-1 (at GLN_A, no lot), one per version;
    the versions of the facts it reports stored."""
    stored: Sequence[Fact[Any]]
    match kind:
        case "product":
            stored = await projection.upsert_products([product_fact(v) for v in versions])
        case "position":
            stored = await projection.upsert_positions([position_fact(v) for v in versions])
        case "stage":
            stored = await projection.upsert_stages([stage_fact(v) for v in versions])
    return [fact.version for fact in stored]


async def facts_of(projection: ProjectionRepository, sku: str) -> tuple[Any, Any, Any, Any]:
    """A SKU's facts as a tuple, with nothing and empty provenance for an unknown SKU."""
    found = (await projection.facts_for([sku])).get(sku)
    if found is None:
        return None, [], None, {"product": None, "stage": None, "positions": []}
    return found.product, found.positions, found.stage, found.sources


async def stored(projection: ProjectionRepository, kind: Kind) -> tuple[Any, dict[str, Any]]:
    """MUG-1's stored fact of ``kind`` and its provenance."""
    product, positions, stage, provenance = await facts_of(projection, "MUG-1")
    match kind:
        case "product":
            return product, provenance["product"]
        case "position":
            [position] = positions
            [source] = provenance["positions"]
            return position, source
        case "stage":
            return stage, provenance["stage"]


def expected_fact(kind: Kind, version: int) -> ProductFacts | PositionFacts | StageFacts:
    """What ``facts_of`` shows of the fact :func:`upsert` stored at ``version``."""
    match kind:
        case "product":
            return ProductFacts(
                "MUG-1",
                version,
                "enabled",
                False,
                "EA",
                None,
                {"en_US": f"Mug v{version}"},
                version,
            )
        case "position":
            return PositionFacts(GLN_A, "", version, "EA", Decimal(version), Decimal(version), T0)
        case "stage":
            return StageFacts(list(LifecycleStage)[version % len(LifecycleStage)].value, version)


class TestProjectionRepository:
    async def test_an_unknown_sku_has_no_facts(self, projection: ProjectionRepository) -> None:
        assert await facts_of(projection, "MUG-1") == (
            None,
            [],
            None,
            {"product": None, "stage": None, "positions": []},
        )

    async def test_a_product_reads_back_with_its_provenance(
        self, projection: ProjectionRepository
    ) -> None:
        fact = product_fact(
            MAX_VERSION,
            status=WireProductStatus.DISABLED,
            deleted=True,
            unit="PCE",
            gtin="4006381333931",
            title={"en_US": "Mug", "de_DE": "Becher ☕"},
        )
        before = datetime.now(UTC)
        await projection.upsert_products([fact])
        after = datetime.now(UTC)

        product, positions, stage, provenance = await facts_of(projection, "MUG-1")

        assert product == ProductFacts(
            "MUG-1", MAX_VERSION, "disabled", True, "PCE", "4006381333931",
            {"en_US": "Mug", "de_DE": "Becher ☕"}, MAX_VERSION,
        )  # fmt: skip
        assert (positions, stage) == ([], None)
        source = provenance["product"]
        assert before <= datetime.fromisoformat(source.pop("applied_at")) <= after
        assert source == {
            "version": MAX_VERSION,
            "trace_id": TRACE_ID,
            "origin_time": "2025-03-30T01:00:00.123456+00:00",
        }

    async def test_positions_read_back_by_location_then_lot_with_their_provenance(
        self, projection: ProjectionRepository
    ) -> None:
        atp = Decimal("123456789012.123450")
        await projection.upsert_positions(
            [
                position_fact(3, location=GLN_B, lot="C"),
                position_fact(4, location=GLN_B, available_to_promise=atp, unit="KGM"),
                position_fact(5, location=GLN_B, lot="B"),
                position_fact(6, location=GLN_A, lot="Z"),
                position_fact(7, sku="MUG-10"),
            ]
        )

        _, positions, _, provenance = await facts_of(projection, "MUG-1")

        assert positions == [
            PositionFacts(GLN_A, "Z", 6, "EA", Decimal(6), Decimal(6), T0),
            PositionFacts(GLN_B, "", 4, "KGM", atp, Decimal(4), T0),
            PositionFacts(GLN_B, "B", 5, "EA", Decimal(5), Decimal(5), T0),
            PositionFacts(GLN_B, "C", 3, "EA", Decimal(3), Decimal(3), T0),
        ]
        assert [(s["location"], s["lot"], s["version"]) for s in provenance["positions"]] == [
            (GLN_A, "Z", 6),
            (GLN_B, None, 4),
            (GLN_B, "B", 5),
            (GLN_B, "C", 3),
        ]
        assert {s["trace_id"] for s in provenance["positions"]} == {TRACE_ID}

    async def test_a_stage_reads_back_with_its_provenance(
        self, projection: ProjectionRepository
    ) -> None:
        await projection.upsert_stages([stage_fact(3)])

        _, _, stage, provenance = await facts_of(projection, "MUG-1")

        assert stage == StageFacts("active", 3)
        assert provenance["stage"]["version"] == 3
        assert provenance["stage"]["origin_time"] == "2025-03-30T01:00:00.123456+00:00"

    async def test_a_stage_keeps_its_pre_order_flag_and_successor_at_its_version(
        self, projection: ProjectionRepository
    ) -> None:
        await projection.upsert_stages(
            [stage_fact(2, stage=LifecycleStage.PRE_LAUNCH, pre_order=True)]
        )

        _, _, stage, _ = await facts_of(projection, "MUG-1")
        assert stage == StageFacts("pre-launch", 2, pre_order=True, successor=None)

        await projection.upsert_stages(
            [stage_fact(7, stage=LifecycleStage.RETIRED, successor="MUG-RED/400")]
        )
        # Older: changes nothing, its successor included.
        await projection.upsert_stages(
            [stage_fact(6, stage=LifecycleStage.DISCONTINUED, successor="MUG-9")]
        )

        _, _, stage, _ = await facts_of(projection, "MUG-1")
        assert stage == StageFacts("retired", 7, pre_order=False, successor="MUG-RED/400")

    async def test_a_fact_without_a_trace_keeps_none(
        self, projection: ProjectionRepository
    ) -> None:
        await projection.upsert_products([product_fact(1, trace_id=None)])

        _, source = await stored(projection, "product")
        assert source["trace_id"] is None

    async def test_each_sku_keeps_its_own_facts(self, projection: ProjectionRepository) -> None:
        await projection.upsert_products([product_fact(2, "MUG-2"), product_fact(1)])
        await projection.upsert_stages([stage_fact(5, "MUG-2")])
        await projection.upsert_positions([position_fact(9, "MUG-2")])

        product, positions, stage, _ = await facts_of(projection, "MUG-1")

        assert product == expected_fact("product", 1)
        assert (positions, stage) == ([], None)

    @pytest.mark.parametrize("kind", KINDS)
    async def test_a_newer_version_replaces_the_stored_one(
        self, projection: ProjectionRepository, kind: Kind
    ) -> None:
        assert await upsert(projection, kind, 2) == [2]
        _, first = await stored(projection, kind)

        assert await upsert(projection, kind, 3) == [3]

        fact, source = await stored(projection, kind)
        assert fact == expected_fact(kind, 3)
        assert source["version"] == 3
        assert source["applied_at"] >= first["applied_at"]

    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("older", [1, 2], ids=["older", "same"])
    async def test_an_older_or_equal_version_changes_nothing(
        self, projection: ProjectionRepository, kind: Kind, older: int
    ) -> None:
        await upsert(projection, kind, 2)
        before = await stored(projection, kind)

        assert await upsert(projection, kind, older) == [], "nothing stored, nothing reported"

        assert await stored(projection, kind) == before
        assert before[0] == expected_fact(kind, 2)

    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("versions", [(4, 5), (5, 4)], ids=["ascending", "descending"])
    async def test_within_one_call_the_newest_of_a_key_wins(
        self, projection: ProjectionRepository, kind: Kind, versions: tuple[int, int]
    ) -> None:
        assert await upsert(projection, kind, *versions) == [5]

        fact, _ = await stored(projection, kind)
        assert fact == expected_fact(kind, 5)

    async def test_a_position_without_a_lot_and_one_with_a_lot_are_two_keys(
        self, projection: ProjectionRepository
    ) -> None:
        await projection.upsert_positions([position_fact(2, lot=None), position_fact(1, lot="L1")])
        await projection.upsert_positions([position_fact(3, lot="L1")])

        _, positions, _, _ = await facts_of(projection, "MUG-1")

        assert [(p.lot, p.version) for p in positions] == [("", 2), ("L1", 3)]

    async def test_upserting_nothing_changes_nothing(
        self, projection: ProjectionRepository
    ) -> None:
        await projection.upsert_products([])
        await projection.upsert_positions([])
        await projection.upsert_stages([])

        assert (await facts_of(projection, "MUG-1"))[:3] == (None, [], None)
