"""The lifecycle service's inventory policy in replenishment (docs/stock.md, "Lifecycle policy").

The domain rule, the use cases and the consumer's handler on the in-memory fakes, and the
policy read endpoint. Every expected figure is worked out by hand in the test from the
formulas of docs/replenishment.md, never with the code under test:

    demand 3, 3, 5, 7, 7 -> d = 5, sigma_d = 2; L = 5, R = 4 -> sqrt(L + R) = 3;
    z(0.95) = 1.645; SS = b x 1.645 x 2 x 3 = b x 9.87; ROP = S = 5 x 9 + SS = 45 + b x 9.87;
    on hand 20, in transit 5, incoming 10, reserved 38 -> IP = -3.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from skuhub_contracts.codec import Envelope
from skuhub_contracts.events import InventoryPolicyChanged, StockMoved
from skuhub_contracts.subscriptions import STOCK_POLICIES
from skuhub_runtime.handling import Decision, Incoming
from skuhub_runtime.http import create_app
from skuhub_stock.domain.replenishment import (
    LifecyclePolicy,
    PolicyError,
    PolicyInForce,
    PositionFigures,
    Proposal,
    ReplenishmentPolicy,
    estimate_demand,
    newest_per_sku,
    policy_in_force,
    propose_in_force,
)
from skuhub_stock.entrypoints import replenishment_http
from skuhub_stock.entrypoints.app import CONSUMERS
from skuhub_stock.entrypoints.handlers import StockHandlers
from skuhub_stock.service_layer import replenishment as use_cases
from skuhub_stock.service_layer.replenish import review_changed_places
from skuhub_stock.service_layer.replenishment import ReplenishmentDefaults
from skuhub_stock.settings import StockSettings
from tests import api
from tests.fakes.replenishment import FakeReplenishmentRepository, FakeReplenishmentUnitOfWork
from tests.fakes.stock import FakeStockUnitOfWork

R = TypeVar("R")
SKU = "MUG-1"
GLN = "4012345000009"
GLN_2 = "0614141000012"
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
STEADY = [3.0, 3.0, 5.0, 7.0, 7.0]
"""d = 25 / 5 = 5; squared deviations 4 + 4 + 0 + 4 + 4 = 16; sigma_d = sqrt(16 / 4) = 2."""
TOLERANCE = 0.01
"""z(0.95) is 1.64485, not 1.645: SS differs from b x 9.87 by b x 6 x 0.00015 (< 0.01 for
b up to 10)."""

DEFAULT = ReplenishmentPolicy(lead_time_days=5, review_period_days=10, service_level=0.8)
"""The service's default: its service level and review period are replaced by the lifecycle's."""


def figures(sku: str = SKU, location: str = GLN) -> PositionFigures:
    # IP = 20 + 5 + 10 - 38 = -3
    return PositionFigures(sku, location, "EA", Decimal(20), Decimal(38), Decimal(5), Decimal(10))


def lifecycle(
    version: int = 1,
    *,
    sku: str = SKU,
    replenish: bool = True,
    service_level: float = 0.95,
    review_period_days: int = 4,
    buffer_multiplier: float = 1.0,
    stage: str = "mature",
    reason: str = "mature, class BY",
) -> LifecyclePolicy:
    return LifecyclePolicy(
        sku=sku,
        version=version,
        stage=stage,
        replenish=replenish,
        service_level=service_level,
        review_period_days=review_period_days,
        buffer_multiplier=buffer_multiplier,
        changed_at=NOW,
        velocity_class="B",
        variability_class="Y",
        reason=reason,
    )


def ids() -> str:
    return "p-1"


def proposal_under(
    in_force: PolicyInForce, latest: Proposal | None = None, at: datetime = NOW
) -> Proposal | None:
    return propose_in_force(
        figures(), in_force, estimate_demand(STEADY), latest=latest, now=at, new_id=ids
    )


# ------------------------------------------------------------------------------ the domain rule


@pytest.mark.parametrize(
    ("buffer", "safety", "quantity"),
    [
        # SS = 1 x 9.87; ROP = 45 + 9.87 = 54.87; 54.87 + 3 = 57.87 -> 58
        (1.0, 9.87, 58),
        # SS = 1.5 x 9.87 = 14.805; ROP = 59.805; 62.805 -> 63
        (1.5, 14.805, 63),
        # SS = 0.5 x 9.87 = 4.935; ROP = 49.935; 52.935 -> 53
        (0.5, 4.935, 53),
        # SS = 0; ROP = 45; 48
        (0.0, 0.0, 48),
    ],
)
def test_the_lifecycle_policy_sets_service_level_review_period_and_scales_the_safety_stock(
    buffer: float, safety: float, quantity: int
) -> None:
    in_force = policy_in_force(None, lifecycle(buffer_multiplier=buffer), DEFAULT)

    assert (in_force.policy.service_level, in_force.policy.review_period_days) == (0.95, 4)
    assert in_force.policy.lead_time_days == 5, "the default's lead time stays"
    made = proposal_under(in_force)

    assert made is not None
    assert float(made.safety_stock) == pytest.approx(safety, abs=TOLERANCE)
    assert float(made.reorder_point) == pytest.approx(45 + safety, abs=TOLERANCE)
    assert made.order_up_to == made.reorder_point
    assert made.quantity == Decimal(quantity)


def test_a_planners_policy_keeps_its_service_level_and_review_period_and_takes_the_buffer() -> None:
    planner = ReplenishmentPolicy(lead_time_days=5, review_period_days=4, service_level=0.95)
    strict = lifecycle(service_level=0.99, review_period_days=14, buffer_multiplier=2.0)

    in_force = policy_in_force(planner, strict, DEFAULT)
    made = proposal_under(in_force)

    assert in_force.policy == planner
    assert in_force.set_by_planner
    assert made is not None
    # SS = 2 x 9.87 = 19.74; ROP = 45 + 19.74 = 64.74; 67.74 -> 68
    assert float(made.safety_stock) == pytest.approx(19.74, abs=TOLERANCE)
    assert float(made.reorder_point) == pytest.approx(64.74, abs=TOLERANCE)
    assert made.quantity == Decimal(68)


def test_a_planners_min_max_is_not_moved_by_the_buffer() -> None:
    min_max = ReplenishmentPolicy(
        lead_time_days=5,
        review_period_days=4,
        min_quantity=Decimal(20),
        max_quantity=Decimal(120),
    )

    in_force = policy_in_force(min_max, lifecycle(buffer_multiplier=2.0), DEFAULT)
    made = proposal_under(in_force)

    assert in_force.buffer_multiplier == 1.0
    assert made is not None
    # ROP = min 20, S = max 120; 120 - (-3) = 123; SS shown unbuffered: 9.87
    assert (made.reorder_point, made.order_up_to, made.quantity) == (
        Decimal(20),
        Decimal(120),
        Decimal(123),
    )
    assert float(made.safety_stock) == pytest.approx(9.87, abs=TOLERANCE)


@pytest.mark.parametrize(
    "planner",
    [
        None,
        ReplenishmentPolicy(lead_time_days=5, review_period_days=4),
        ReplenishmentPolicy(min_quantity=Decimal(20), max_quantity=Decimal(120)),
    ],
    ids=["default", "planner", "min-max"],
)
def test_replenish_false_holds_every_new_proposal_whatever_the_planner_set(
    planner: ReplenishmentPolicy | None,
) -> None:
    held = lifecycle(3, replenish=False, stage="phase-out", reason="run down, no new orders")

    in_force = policy_in_force(planner, held, DEFAULT)

    assert not in_force.replenish
    assert proposal_under(in_force) is None, "IP -3 is below every reorder point here"
    assert in_force.hold_reason == (
        "lifecycle policy version 3 (stage phase-out) says not to replenish: "
        "run down, no new orders"
    )


def test_without_a_lifecycle_policy_the_position_policy_or_default_applies_unchanged() -> None:
    plain = policy_in_force(None, None, DEFAULT)

    assert plain == PolicyInForce(DEFAULT)
    assert (plain.replenish, plain.hold_reason, plain.buffer_multiplier) == (True, None, 1.0)


def test_the_lifecycle_review_period_spaces_proposals_after_a_decision() -> None:
    in_force = policy_in_force(None, lifecycle(review_period_days=2), DEFAULT)
    decided = proposal_under(in_force)
    assert decided is not None
    dismissed = decided.dismiss(NOW)

    # R = 2 days (the default's 10 no longer applies)
    assert proposal_under(in_force, dismissed, NOW + timedelta(days=1, hours=23)) is None
    assert proposal_under(in_force, dismissed, NOW + timedelta(days=2)) is not None


def test_only_a_higher_version_supersedes_the_first_of_equals_counts() -> None:
    v1, v2 = lifecycle(1), lifecycle(2)
    other = lifecycle(1, sku="MUG-2")

    newest = newest_per_sku([("e-1", v2), ("e-2", v1), ("e-3", lifecycle(2)), ("e-4", other)])

    assert newest == {SKU: ("e-1", v2), "MUG-2": ("e-4", other)}
    assert v2.supersedes(v1)
    assert v1.supersedes(None)
    assert not v1.supersedes(v2)
    assert not v2.supersedes(lifecycle(2)), "an equal version is a re-delivery"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": 0}, "policy_version"),
        ({"service_level": 0.9995}, "service_level"),
        ({"service_level": 0.4}, "service_level"),
        ({"review_period_days": -1}, "review_period_days"),
        ({"buffer_multiplier": -0.5}, "buffer_multiplier"),
        ({"buffer_multiplier": float("nan")}, "buffer_multiplier"),
    ],
)
def test_a_lifecycle_policy_names_the_field_that_breaks_a_rule(
    change: dict[str, Any], field: str
) -> None:
    values: dict[str, Any] = {
        "sku": SKU,
        "version": 1,
        "stage": "mature",
        "replenish": True,
        "service_level": 0.95,
        "review_period_days": 7,
        "buffer_multiplier": 1.0,
        "changed_at": NOW,
    }
    with pytest.raises(PolicyError) as refused:
        LifecyclePolicy(**(values | change))
    assert refused.value.field == field


# ---------------------------------------------------------------------------------- use cases


async def note_steady_demand(repo: FakeReplenishmentRepository, sku: str = SKU) -> None:
    """Days -5 .. -1 before today: 3, 3, 5, 7, 7."""
    for back, quantity in zip(range(5, 0, -1), STEADY, strict=True):
        await use_cases.note_demand(
            repo, sku, GLN, TODAY - timedelta(days=back), shipped=Decimal(int(quantity))
        )


async def test_review_holds_a_sku_the_lifecycle_holds_and_proposes_once_it_is_released() -> None:
    repo = FakeReplenishmentRepository()
    await note_steady_demand(repo)
    await note_steady_demand(repo, "MUG-2")
    defaults = ReplenishmentDefaults(policy=DEFAULT)
    await use_cases.apply_lifecycle_policies(
        repo, [("e-1", lifecycle(1, replenish=False, stage="pre-launch"))]
    )

    held = await use_cases.review(
        repo, [figures(), figures("MUG-2")], NOW, defaults=defaults, new_id=ids
    )

    # MUG-2 has no lifecycle policy: default L = 5, R = 10, SL 0.8 applies; it is proposed.
    assert [p.sku for p in held] == ["MUG-2"]
    await use_cases.apply_lifecycle_policies(repo, [("e-2", lifecycle(2, buffer_multiplier=1.5))])
    [released] = await use_cases.review(repo, [figures()], NOW, defaults=defaults)
    # SS = 1.5 x 9.87 = 14.805; ROP = 59.805; 62.805 -> 63
    assert released.quantity == Decimal(63)


async def test_applying_policies_keeps_the_newest_and_reports_the_events_applied() -> None:
    repo = FakeReplenishmentRepository()

    first = await use_cases.apply_lifecycle_policies(
        repo, [("e-1", lifecycle(2)), ("e-2", lifecycle(1)), ("e-3", lifecycle(1, sku="MUG-2"))]
    )
    again = await use_cases.apply_lifecycle_policies(
        repo, [("e-4", lifecycle(2)), ("e-5", lifecycle(1, sku="MUG-2")), ("e-6", lifecycle(3))]
    )

    assert (first, again) == ({"e-1", "e-3"}, {"e-6"})
    stored = await repo.lifecycle_policies([SKU, "MUG-2", "MUG-3"])
    assert {sku: p.version for sku, p in stored.items()} == {SKU: 3, "MUG-2": 1}


# ------------------------------------------------------------------------------ the handler


def policy_changed(version: int, **fields: Any) -> Incoming[InventoryPolicyChanged]:
    """An inventory-policy-changed event from the lifecycle service, as the consumer decodes
    it."""
    values: dict[str, Any] = {
        "sku": SKU,
        "policy_version": version,
        "stage": "mature",
        "velocity_class": "A",
        "variability_class": "Z",
        "replenish": True,
        "service_level": 0.98,
        "review_period_days": 7,
        "buffer_multiplier": 1.5,
        "reason": "mature, class AZ",
        "changed_at": NOW,
    } | fields
    payload = InventoryPolicyChanged(**values)
    return Incoming(Envelope(payload, origin_time=NOW), "/skuhub/stock")


def moved(kind: str, quantity: str, sequence: int) -> Incoming[StockMoved]:
    payload = StockMoved(
        sku=SKU,
        location=GLN,
        unit="EA",
        kind=kind,
        quantity=Decimal(quantity),
        source_system="wms",
        source_sequence=sequence,
        occurred_at=NOW,
    )
    return Incoming(Envelope(payload, origin_time=NOW), "/skuhub/stock")


def test_the_stock_service_consumes_the_lifecycle_policies() -> None:
    [spec] = [c for c in CONSUMERS if c.subscription is STOCK_POLICIES]
    assert spec.handle.__name__ == "on_inventory_policy_changed"


async def test_the_handler_keeps_the_newest_policy_and_ignores_older_or_equal_versions() -> None:
    uow = FakeStockUnitOfWork()
    on_policy = StockHandlers().on_inventory_policy_changed
    v2 = policy_changed(2)
    late_v1 = policy_changed(1, replenish=False)
    redelivered_v2 = Incoming(Envelope(v2.payload, origin_time=NOW), "/skuhub/stock")
    other = policy_changed(1, sku="MUG-2", stage="pre-launch", replenish=False)

    outcome = await on_policy(uow, [v2, late_v1, redelivered_v2, other])

    assert list(outcome.emitted) == []
    assert outcome.rejected == {}
    assert outcome.ignored == {late_v1.id, redelivered_v2.id}
    stored = await uow.replenishment.lifecycle_policies([SKU, "MUG-2"])
    assert stored[SKU] == LifecyclePolicy(
        sku=SKU,
        version=2,
        stage="mature",
        replenish=True,
        service_level=0.98,
        review_period_days=7,
        buffer_multiplier=1.5,
        changed_at=NOW,
        velocity_class="A",
        variability_class="Z",
        reason="mature, class AZ",
    )
    assert (stored["MUG-2"].stage, stored["MUG-2"].replenish) == ("pre-launch", False)
    assert sorted(uow.replenishment.queued_for_review) == [SKU, "MUG-2"]

    later = await on_policy(uow, [policy_changed(1), policy_changed(2), policy_changed(3)])

    assert len(later.ignored) == 2, "versions 1 and 2 arrive after 2 was applied"
    assert (await uow.replenishment.lifecycle_policies([SKU]))[SKU].version == 3


async def test_a_held_sku_gets_no_proposal_when_its_place_is_reviewed() -> None:
    uow = FakeStockUnitOfWork()
    await StockHandlers().on_inventory_policy_changed(
        uow, [policy_changed(1, stage="phase-out", replenish=False, buffer_multiplier=0.0)]
    )
    await StockHandlers().on_stock_moved(
        uow, [moved("receipt", "2", 1), moved("reservation", "5", 2)]
    )

    # Inventory position 2 - 5 = -3, below a reorder point of 0: held all the same.
    proposals, reviewed = await review_changed_places(
        uow.ledger, uow.replenishment, NOW, ReplenishmentDefaults(), limit=10
    )

    assert (proposals, reviewed) == ([], 1)


# ------------------------------------------------------------------------------- over HTTP


class FakeRuntime:
    """What the routes use of the service runtime: settings, read and execute."""

    service = "stock"
    engine = None  # the routes never reach it; the token store is trusted away

    def __init__(self) -> None:
        self.settings = StockSettings(
            replenishment_lead_time_days=3, replenishment_review_period_days=10
        )
        self.uow = FakeReplenishmentUnitOfWork()

    async def read(self, query: Callable[[FakeReplenishmentUnitOfWork], Awaitable[R]]) -> R:
        return await query(self.uow)

    async def execute(
        self, decide: Callable[[FakeReplenishmentUnitOfWork], Awaitable[Decision[R]]]
    ) -> R:
        return (await decide(self.uow)).value


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
async def client(runtime: FakeRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        runtime,  # type: ignore[arg-type]
        title="stock",
        description="replenishment routes alone",
        routers=[replenishment_http.router],
        errors=replenishment_http.ERROR_STATUSES,
    )
    api.trust_every_caller(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stock") as c:
        yield c


async def test_the_policy_shows_the_lifecycle_policy_in_force_and_why_nothing_is_proposed(
    client: httpx.AsyncClient, runtime: FakeRuntime
) -> None:
    held = lifecycle(4, replenish=False, stage="phase-out", reason="run down", service_level=0.9)
    await runtime.uow.replenishment.save_lifecycle_policies([held])

    body = (await client.get(f"/v1/policies/{SKU}/{GLN}")).json()

    assert body["source"] == "default"
    # The default's lead time (3); the lifecycle's service level and review period.
    assert (body["lead_time_days"], body["review_period_days"], body["service_level"]) == (
        3,
        4,
        0.9,
    )
    assert (body["replenish"], body["buffer_multiplier"]) == (False, 1.0)
    assert body["hold_reason"] == (
        "lifecycle policy version 4 (stage phase-out) says not to replenish: run down"
    )
    assert body["lifecycle"] == {
        "policy_version": 4,
        "stage": "phase-out",
        "velocity_class": "B",
        "variability_class": "Y",
        "replenish": False,
        "service_level": 0.9,
        "review_period_days": 4,
        "buffer_multiplier": 1.0,
        "reason": "run down",
        "changed_at": "2025-03-10T12:00:00Z",
    }


async def test_a_policy_set_keeps_its_own_service_level_and_shows_the_buffer_it_takes(
    client: httpx.AsyncClient, runtime: FakeRuntime
) -> None:
    await runtime.uow.replenishment.save_lifecycle_policies(
        [lifecycle(2, service_level=0.99, review_period_days=14, buffer_multiplier=1.25)]
    )

    put = await client.put(
        f"/v1/policies/{SKU}/{GLN}",
        json={"lead_time_days": 5, "review_period_days": 4, "service_level": 0.95},
    )

    assert put.status_code == 200, put.text
    body = put.json()
    assert (body["source"], body["review_period_days"], body["service_level"]) == ("set", 4, 0.95)
    assert (body["buffer_multiplier"], body["replenish"], body["hold_reason"]) == (1.25, True, None)
    assert body["lifecycle"]["policy_version"] == 2
    assert (await client.get(f"/v1/policies/{SKU}/{GLN}")).json() == body


async def test_without_a_lifecycle_policy_the_view_says_so(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"/v1/policies/{SKU}/{GLN_2}")).json()

    assert (body["source"], body["review_period_days"], body["lifecycle"]) == ("default", 10, None)
    assert (body["replenish"], body["hold_reason"], body["buffer_multiplier"]) == (True, None, 1.0)


async def test_the_openapi_document_describes_the_lifecycle_policy(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()

    view = document["components"]["schemas"]["PolicyView"]
    assert {"replenish", "hold_reason", "buffer_multiplier", "lifecycle"} <= set(view["properties"])
    assert "LifecyclePolicyView" in document["components"]["schemas"]
    described = document["paths"]["/v1/policies/{sku}/{location}"]["get"]["description"]
    assert "lifecycle policy" in described
