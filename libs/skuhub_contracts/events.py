"""Version 1 event payloads exchanged between upstream systems and skuhub services.

Payload models carry domain facts only. Envelope attributes (event id, source,
origin time, trace context) live in the CloudEvents envelope; see
:mod:`skuhub_contracts.codec`.

Derived events carry state, not deltas: a consumer can apply them in any order
and any number of times by keeping the highest version it has seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from skuhub_contracts.identifiers import ChannelCode, Gln, Gtin, Locale, Sku, UnitCode
from skuhub_contracts.values import (
    LINE_PATTERN,
    LINE_SCHEMA,
    ONE_LINE,
    PARAGRAPHS_PATTERN,
    PARAGRAPHS_SCHEMA,
    SEVERAL_LINES,
    TIMESTAMP_DESCRIPTION,
    WHOLE_NUMBER,
    CalendarDate,
    Flag,
    PositiveQuantity,
    Quantity,
    Sequence,
    Timestamp,
    Version,
    check_paragraphs,
)

Lot = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra=LINE_SCHEMA), ONE_LINE]
Reason = Annotated[str, Field(max_length=200, json_schema_extra=LINE_SCHEMA), ONE_LINE]
Title = Annotated[str, Field(max_length=10_000, json_schema_extra=LINE_SCHEMA), ONE_LINE]
Description = Annotated[
    str, Field(max_length=10_000, json_schema_extra=PARAGRAPHS_SCHEMA), SEVERAL_LINES
]
EventId = Annotated[
    str, Field(min_length=1, max_length=200, json_schema_extra=LINE_SCHEMA), ONE_LINE
]
SystemName = Annotated[
    str, Field(min_length=1, max_length=64, json_schema_extra=LINE_SCHEMA), ONE_LINE
]
Family = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra=LINE_SCHEMA), ONE_LINE]
CategoryCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="A category's code: letters, digits, _ . - (no slash).",
        examples=["kitchen-mugs"],
    ),
]


class EventPayload(BaseModel):
    """Base of every event payload: immutable, keyed by SKU.

    Tolerant reader: unknown fields are ignored, so a producer may add an
    optional field within a major version before every consumer knows it.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    event_type: ClassVar[str]
    """CloudEvents ``type``; carries the major version."""

    sku: Sku

    @property
    def key(self) -> str:
        """Kafka record key: every event about one SKU lands on one partition, in order."""
        return self.sku


class MovementKind(StrEnum):
    """What physically or logically happened to stock at a location."""

    RECEIPT = "receipt"
    SHIPMENT = "shipment"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUSTMENT = "adjustment"
    RETURN = "return"
    SCRAP = "scrap"
    RESERVATION = "reservation"
    RESERVATION_RELEASE = "reservation_release"
    CYCLE_COUNT = "cycle_count"
    QUALITY_HOLD = "quality_hold"
    QUALITY_RELEASE = "quality_release"
    EXPECTED_RECEIPT = "expected_receipt"
    LOST_SALE = "lost_sale"


Reference = Annotated[
    str, Field(min_length=1, max_length=100, json_schema_extra=LINE_SCHEMA), ONE_LINE
]
"""An upstream identifier tying movements together (a reservation, a transfer, an order)."""

_REFERENCE_KINDS: dict[str, frozenset[MovementKind]] = {
    "reservation_id": frozenset({MovementKind.RESERVATION, MovementKind.RESERVATION_RELEASE}),
    "transfer_ref": frozenset({MovementKind.TRANSFER_OUT, MovementKind.TRANSFER_IN}),
    "order_ref": frozenset({MovementKind.EXPECTED_RECEIPT, MovementKind.RECEIPT}),
    "expected_on": frozenset({MovementKind.EXPECTED_RECEIPT}),
}
"""The kinds each reference field belongs to; on any other kind it is refused."""
_REQUIRED_ON_EXPECTED_RECEIPT = ("order_ref", "expected_on")


def _only_on(field: str) -> dict[str, Any]:
    kinds = sorted(k.value for k in _REFERENCE_KINDS[field])
    return {
        "if": {"properties": {"kind": {"not": {"enum": kinds}}}, "required": ["kind"]},
        "then": {"properties": {field: {"type": "null"}}},
    }


_EXPECTED_RECEIPT_NEEDS_ORDER: dict[str, Any] = {
    "if": {
        "properties": {"kind": {"const": MovementKind.EXPECTED_RECEIPT.value}},
        "required": ["kind"],
    },
    "then": {
        "required": list(_REQUIRED_ON_EXPECTED_RECEIPT),
        "properties": {"order_ref": {"type": "string"}, "expected_on": {"type": "string"}},
    },
}


_DESTINATION_ONLY_ON_TRANSFER_OUT: dict[str, Any] = {
    "if": {
        "properties": {"kind": {"const": MovementKind.TRANSFER_OUT.value}},
        "required": ["kind"],
    },
    "then": {"required": ["destination"], "properties": {"destination": {"type": "string"}}},
    "else": {"properties": {"destination": {"type": "null"}}},
}


class StockMoved(EventPayload):
    """A stock movement reported by an upstream system (WMS, ERP, POS, 3PL).

    ``quantity`` is positive for every kind except ``adjustment`` (signed, not
    zero) and ``cycle_count`` (the counted quantity, zero or more).
    ``destination`` is required for ``transfer_out`` and absent (or null) for
    every other kind. ``reservation_id``, ``transfer_ref``, ``order_ref`` and
    ``expected_on`` belong to the kinds they name, and ``expected_receipt`` needs
    ``order_ref`` and ``expected_on``. docs/stock.md says what each kind does.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _DESTINATION_ONLY_ON_TRANSFER_OUT,
                _EXPECTED_RECEIPT_NEEDS_ORDER,
                *(_only_on(f) for f in _REFERENCE_KINDS),
            ]
        }
    )

    event_type: ClassVar[str] = "skuhub.stock-moved.v1"

    kind: MovementKind
    location: Gln = Field(description="Where the movement happened.")
    destination: Gln | None = Field(
        default=None,
        validate_default=True,
        description="Receiving location (not the same as location): required for transfer_out, "
        "absent or null for every other kind.",
    )
    quantity: Quantity
    unit: UnitCode = "EA"
    lot: Lot | None = Field(default=None, description="Lot or batch; each lot is a position.")
    expires_on: CalendarDate | None = Field(default=None, description="Expiry date of the lot.")
    source_system: SystemName = Field(description="Upstream system that reported the movement.")
    source_sequence: Sequence = Field(
        description="Monotonic sequence within source_system; duplicates are ignored."
    )
    occurred_at: Timestamp = Field(
        description=f"When it happened physically. {TIMESTAMP_DESCRIPTION}"
    )
    reason: Reason | None = Field(default=None, description="Free text for people.")
    reservation_id: Reference | None = Field(
        default=None,
        validate_default=True,
        description="Ties a reservation_release to its reservation (which remembers its lots); "
        "a release that arrives first waits for it. Only on reservation and reservation_release.",
    )
    transfer_ref: Reference | None = Field(
        default=None,
        validate_default=True,
        description="Ties a transfer_in to its transfer_out (which remembers its lots); a "
        "transfer_in that arrives first waits for it. Only on transfer_out and transfer_in.",
    )
    order_ref: Reference | None = Field(
        default=None,
        validate_default=True,
        description="Purchase-order line: required on expected_receipt (the line opens or grows); "
        "on a receipt, the line it fills. Only on those two kinds.",
    )
    expected_on: CalendarDate | None = Field(
        default=None,
        validate_default=True,
        description="When an expected_receipt should arrive; required on it, only on it.",
    )

    @field_validator("reservation_id", "transfer_ref", "order_ref", "expected_on")
    @classmethod
    def _reference_fits_kind(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        field = info.field_name
        if kind is None or field is None:
            return value
        required = kind is MovementKind.EXPECTED_RECEIPT and field in _REQUIRED_ON_EXPECTED_RECEIPT
        if value is None and required:
            raise PydanticCustomError("reference_required", "is required for expected_receipt")
        if value is not None and kind not in _REFERENCE_KINDS[field]:
            raise PydanticCustomError(
                "reference_not_allowed",
                "is only for {kinds}; leave it out for {kind}",
                {"kinds": " and ".join(sorted(_REFERENCE_KINDS[field])), "kind": kind.value},
            )
        return value

    @field_validator("destination")
    @classmethod
    def _destination_fits_kind(cls, destination: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind is MovementKind.TRANSFER_OUT:
            if destination is None:
                raise PydanticCustomError(
                    "destination_required", "is required for transfer_out (the receiving GLN)"
                )
            if destination == info.data.get("location"):
                raise PydanticCustomError("destination_is_location", "must differ from location")
        elif kind is not None and destination is not None:
            raise PydanticCustomError(
                "destination_not_allowed",
                "is only for transfer_out; leave it out for {kind}",
                {"kind": kind.value},
            )
        return destination

    @field_validator("quantity")
    @classmethod
    def _quantity_fits_kind(cls, quantity: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if kind is MovementKind.ADJUSTMENT:
            if quantity == 0:
                raise PydanticCustomError(
                    "adjustment_zero", "must not be zero for an adjustment (it is signed)"
                )
        elif kind is MovementKind.CYCLE_COUNT:
            if quantity < 0:
                raise PydanticCustomError(
                    "count_negative", "must be zero or more for a cycle_count"
                )
        elif kind is not None and quantity <= 0:
            raise PydanticCustomError(
                "quantity_not_positive", "must be positive for {kind}", {"kind": kind.value}
            )
        return quantity


class PositionAnomaly(StrEnum):
    """A state upstream's facts put a position in that a person should look at."""

    NEGATIVE_ON_HAND = "negative_on_hand"
    OVERSOLD = "oversold"
    NEGATIVE_IN_TRANSIT = "negative_in_transit"


class StockLevelChanged(EventPayload):
    """The whole stock position of one SKU at one location (and lot) after a change."""

    event_type: ClassVar[str] = "skuhub.stock-level-changed.v1"

    location: Gln
    lot: Lot | None = None
    unit: UnitCode
    on_hand: Quantity = Field(description="Units physically here, whatever their state.")
    reserved: Quantity = Field(description="Units promised to orders, not yet shipped.")
    quality_hold: Quantity = Field(description="Units held (inspection, damage), not for sale.")
    expired: Quantity = Field(description="On hand of an expired lot (0 before its expiry).")
    in_transit: Quantity = Field(description="Units sent here by a transfer, not yet received.")
    incoming: Quantity = Field(description="Open purchase-order lines to this location.")
    available_to_promise: Quantity = Field(
        description="This position's: on_hand - quality_hold - expired - reserved, never below 0."
    )
    location_available_to_promise: Quantity = Field(
        description="The SKU's at this location, over all its lots: the signed sum of "
        "(on_hand - quality_hold - expired - reserved), never below 0. What a channel may sell "
        "from this location."
    )
    expires_on: CalendarDate | None = None
    counted_at: Timestamp | None = Field(
        default=None, description="When the cycle count that set on_hand happened."
    )
    received: Quantity = Field(description="Cumulative units received here (never decreases).")
    shipped: Quantity = Field(description="Cumulative units shipped from here.")
    returned: Quantity = Field(description="Cumulative units returned here.")
    scrapped: Quantity = Field(description="Cumulative units scrapped here.")
    lost_sales: Quantity = Field(description="Cumulative demand that could not be served here.")
    anomalies: list[PositionAnomaly] = Field(
        default_factory=list,
        description="What the facts imply and should not be (docs/stock.md): the position is "
        "in these states now.",
    )
    kit: Flag = Field(
        default=False,
        description="A kit's availability at the location: how many whole kits its components' "
        "ATP there makes (available_to_promise and location_available_to_promise); a kit holds "
        "no stock, so every other quantity is 0.",
    )
    position_version: Version = Field(description="Increases by one with every change.")
    caused_by: EventId = Field(description="Event id of the movement that caused this change.")
    changed_at: Timestamp


class RelationKind(StrEnum):
    """How a product points at another."""

    ACCESSORY = "accessory"
    REPLACEMENT = "replacement"
    CROSS_SELL = "cross_sell"
    UP_SELL = "up_sell"


class ProductStatus(StrEnum):
    DRAFT = "draft"
    ENABLED = "enabled"
    DISABLED = "disabled"


class WorkflowState(StrEnum):
    """Where a product's content stands: draft, in review, approved, published."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    PUBLISHED = "published"


AttributeCode = Annotated[
    str, Field(min_length=1, max_length=100, json_schema_extra=LINE_SCHEMA), ONE_LINE
]
ATTRIBUTE_TEXT_MAX = 10_000
_LARGEST_DOUBLE = 1.7976931348623157e308
_ATTRIBUTE_CODE_SCHEMA: dict[str, Any] = {
    "minLength": 1,
    "maxLength": 100,
    "pattern": LINE_PATTERN,
}
_SCALAR_SCHEMAS: list[dict[str, Any]] = [
    {"type": "boolean"},
    {"type": "number", "minimum": -_LARGEST_DOUBLE, "maximum": _LARGEST_DOUBLE},
    {"type": "string", "maxLength": ATTRIBUTE_TEXT_MAX, "pattern": PARAGRAPHS_PATTERN},
    {"type": "null"},
]


def _object_of(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "propertyNames": _ATTRIBUTE_CODE_SCHEMA,
        "additionalProperties": values,
    }


ATTRIBUTE_VALUE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        *_SCALAR_SCHEMAS,
        {
            "type": "array",
            "items": {"anyOf": [*_SCALAR_SCHEMAS, _object_of({"anyOf": _SCALAR_SCHEMAS})]},
        },
        _object_of(
            {"anyOf": [*_SCALAR_SCHEMAS, {"type": "array", "items": {"anyOf": _SCALAR_SCHEMAS}}]}
        ),
    ],
    "description": "Text (no control characters but tab, line feed and carriage return; at "
    "most 10,000 characters), a number a double can hold, true/false, null, or a list or "
    "object of those, two levels deep (a table's rows, a price per currency).",
}
_ATTRIBUTE_CODE = TypeAdapter(AttributeCode)


def _attribute_value(value: Any) -> Any:
    """Check one attribute value as :data:`ATTRIBUTE_VALUE_SCHEMA` states, with one message."""
    _check_attribute(value, depth=0, path="")
    return value


def _check_attribute(value: Any, *, depth: int, path: str) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > _LARGEST_DOUBLE:
            raise _attribute_error(path, "is a number larger than a double can hold")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _attribute_error(path, "must be a finite number")
        return
    if isinstance(value, str):
        if len(value) > ATTRIBUTE_TEXT_MAX:
            raise _attribute_error(
                path, f"String should have at most {ATTRIBUTE_TEXT_MAX} characters"
            )
        try:
            check_paragraphs(value)
        except PydanticCustomError as exc:
            raise _attribute_error(path, exc.message()) from None
        return
    if depth >= 2 or not isinstance(value, (list, dict)):
        raise _attribute_error(
            path,
            "must be text, a number, true/false, null, or a list or object of those, two "
            "levels deep",
        )
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, list):
                raise _attribute_error(f"{path}[{index}]", "a list may not hold lists")
            _check_attribute(item, depth=depth + 1, path=f"{path}[{index}]")
        return
    for key, item in value.items():
        _valid(_ATTRIBUTE_CODE, key, f"{path}.{key}" if path else str(key))
        if isinstance(item, dict):
            raise _attribute_error(f"{path}.{key}", "an object may not hold objects")
        _check_attribute(item, depth=depth + 1, path=f"{path}.{key}")


def _valid(adapter: TypeAdapter[Any], value: Any, path: str) -> None:
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        raise _attribute_error(path, exc.errors(include_url=False)[0]["msg"]) from None


def _attribute_error(path: str, message: str) -> PydanticCustomError:
    where = f"{path.lstrip('.')}: " if path else ""
    return PydanticCustomError(
        "attribute_value", "{where}{message}", {"where": where, "message": message}
    )


AttributeValue = Annotated[
    Any, AfterValidator(_attribute_value), WithJsonSchema(ATTRIBUTE_VALUE_SCHEMA)
]
"""A JSON value: text, a finite number, true/false, null, or a list or object of those
(two levels: a table's rows, a price per currency)."""


SHELF_LIFE_DAYS_MAX = 36_500
"""A hundred years: the longest shelf life the catalog takes."""
MAX_KIT_COMPONENTS = 100

ShelfLifeDays = Annotated[int, Field(ge=1, le=SHELF_LIFE_DAYS_MAX), WHOLE_NUMBER]


class KitComponent(BaseModel):
    """One component of a kit (bundle): which SKU, and how many of it one kit holds."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: Sku = Field(description="SKU of the component (a product of its own).")
    quantity: PositiveQuantity = Field(
        description="Units of the component in one kit, in the component's stock unit."
    )


class ChannelCompleteness(BaseModel):
    """How complete a product is for one channel in one locale, against its family."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    channel: ChannelCode
    locale: Locale
    ratio: Quantity = Field(description="Share of the requirements met, 0 to 1.")
    complete: Flag
    missing: list[AttributeCode] = Field(
        default_factory=list, description="What is required and not set (title, brand, …)."
    )


class PublishedContent(BaseModel):
    """A product's content as the channels get it, as of the version last published
    (resolved through its product models, like the snapshot's own content). Stock facts,
    status and relations are not content under review: they take effect at once."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: Version = Field(description="The product_version that was published.")
    gtin: Gtin | None = None
    title: dict[Locale, Title] = Field(description="Title per locale.")
    description: dict[Locale, Description] = Field(default_factory=dict)
    attributes: dict[AttributeCode, AttributeValue] = Field(default_factory=dict)
    categories: list[CategoryCode] = Field(default_factory=list)


class ProductChanged(EventPayload):
    """Full snapshot of one product (SKU) after any change in the catalog.

    Besides content, it carries the product's stock facts, which the stock service
    keeps positions by: ``unit``, ``packs``, ``lot_tracked``, ``shelf_life_days`` and
    ``kit_components``. The content is resolved: a variant's ``family``, ``title``,
    ``description`` and ``attributes`` include what it inherits from its product models,
    and a model change that alters them publishes a new ``product_version``.
    """

    event_type: ClassVar[str] = "skuhub.product-changed.v1"

    product_version: Version
    gtin: Gtin | None = None
    status: ProductStatus
    workflow: WorkflowState = Field(
        default=WorkflowState.DRAFT,
        description="Approval state of this version's content (title, description, "
        "attributes…): draft, in_review, approved or published.",
    )
    published: PublishedContent | None = Field(
        default=None,
        description="What channels show: the content as of the version last published "
        "(equal to this snapshot's own content while workflow is published); null if the "
        "product was never published. Channels sell from this, never from the draft fields.",
    )
    family: Family | None = None
    product_model: Sku | None = Field(
        default=None,
        description="Code of the product model this SKU is a variant of (the sub-model, "
        "where the model has two levels); null for a product without variants.",
    )
    variant_axes: list[AttributeCode] = Field(
        default_factory=list,
        description="The attributes that tell this variant apart from its siblings, the "
        "root model's first (e.g. colour, then size); their values are in attributes.",
    )
    unit: UnitCode = Field(
        default="EA",
        description="Stock unit: the unit stock positions of this SKU are kept in (UN/ECE "
        "Recommendation 20 code, e.g. EA, KGM, LTR).",
    )
    packs: dict[UnitCode, PositiveQuantity] = Field(
        default_factory=dict,
        description="How many stock units one pack holds, per pack unit code (UN/ECE "
        'Recommendation 20, e.g. {"CS": 12, "PF": 480}). A pack unit differs from unit.',
        examples=[{"CS": "12", "PF": "480"}],
    )
    lot_tracked: Flag = Field(default=False, description="Inbound stock must name a lot.")
    shelf_life_days: ShelfLifeDays | None = Field(
        default=None,
        description="Days from receipt to expiry (1 to 36500), for lots received without an "
        "expiry date.",
    )
    kit_components: list[KitComponent] = Field(
        default_factory=list,
        max_length=MAX_KIT_COMPONENTS,
        description="What one kit (bundle) is made of, at most 100 components; empty when the "
        "product is not a kit. A kit does not list itself, and lists each component SKU once.",
    )
    categories: list[CategoryCode] = Field(
        default_factory=list,
        description="Codes of the categories the product is in, sorted (any tree; the "
        "catalog's GET /v1/categories gives their paths and labels).",
    )
    completeness: list[ChannelCompleteness] = Field(
        default_factory=list,
        description="Per channel and locale its family requires something for: the share met "
        "and what is missing; empty without a family.",
    )
    relations: dict[RelationKind, list[Sku]] = Field(
        default_factory=dict,
        description="Other products this one points at, per kind, SKUs sorted: accessory, "
        "replacement (its successor: at most one), cross_sell, up_sell.",
    )
    title: dict[Locale, Title] = Field(description="Title per locale.")
    description: dict[Locale, Description] = Field(default_factory=dict)
    attributes: dict[AttributeCode, AttributeValue] = Field(default_factory=dict)
    deleted: Flag = False
    changed_at: Timestamp

    @field_validator("packs")
    @classmethod
    def _packs_are_not_the_stock_unit(
        cls, packs: dict[str, Any], info: ValidationInfo
    ) -> dict[str, Any]:
        unit = info.data.get("unit")
        if unit is not None and unit in packs:
            raise PydanticCustomError(
                "pack_is_stock_unit",
                "{unit} is the stock unit (unit) and cannot also be a pack unit: remove {unit} "
                "from packs (a pack holds a number of stock units), or change unit",
                {"unit": unit},
            )
        return packs

    @field_validator("kit_components")
    @classmethod
    def _components_are_other_skus_once(
        cls, components: list[KitComponent], info: ValidationInfo
    ) -> list[KitComponent]:
        _check_kit_components(info.data.get("sku"), [c.sku for c in components])
        return components


def _check_kit_components(kit: str | None, components: Iterable[str]) -> None:
    """Raise the contract's refusal unless ``components`` are SKUs other than ``kit``, once each.

    Raises:
        PydanticCustomError: a component is the kit itself, or is listed twice.
    """
    seen: dict[str, int] = {}
    for index, sku in enumerate(components):
        if sku == kit:
            raise PydanticCustomError(
                "kit_lists_itself",
                "a kit cannot be a component of itself: remove {sku} (item {index})",
                {"sku": sku, "index": index},
            )
        if sku in seen:
            raise PydanticCustomError(
                "kit_component_repeated",
                "{sku} is listed twice (items {first} and {index}): list each component SKU "
                "once, with the total quantity",
                {"sku": sku, "first": seen[sku], "index": index},
            )
        seen[sku] = index


class LifecycleStage(StrEnum):
    """Where a SKU is in its life; the allowed moves are in docs/lifecycle.md."""

    CONCEPT = "concept"
    DEVELOPMENT = "development"
    PRE_LAUNCH = "pre-launch"
    ACTIVE = "active"
    MATURE = "mature"
    PHASE_OUT = "phase-out"
    DISCONTINUED = "discontinued"
    RETIRED = "retired"


Actor = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=LINE_SCHEMA), ONE_LINE]


class LifecycleStageChanged(EventPayload):
    """A product (SKU) entered a lifecycle stage."""

    event_type: ClassVar[str] = "skuhub.lifecycle-stage-changed.v1"

    stage: LifecycleStage
    previous_stage: LifecycleStage | None = None
    stage_version: Version
    reason: Reason
    actor: Actor = Field(
        default="lifecycle",
        description="Who moved it: an operator's name, or `lifecycle` (a rule or a catalog fact).",
    )
    product_model: Sku | None = Field(
        default=None, description="The product model (product) the SKU is a variant of."
    )
    pre_order: Flag = Field(
        default=False, description="Pre-launch only: channels may take orders before stock."
    )
    successor: Sku | None = Field(
        default=None,
        description="From discontinued on: the SKU that replaces this one (channels switch to "
        "it); null when there is none.",
    )
    changed_at: Timestamp


class VelocityClass(StrEnum):
    """ABC class of a SKU by units sold in the last 28 days (A: the top 80 %)."""

    A = "A"
    B = "B"
    C = "C"


class VariabilityClass(StrEnum):
    """XYZ class of a SKU by the variability of its weekly demand (X: steady)."""

    X = "X"
    Y = "Y"
    Z = "Z"


class InventoryPolicyChanged(EventPayload):
    """How the stock service should replenish a SKU, decided from its stage and classes."""

    event_type: ClassVar[str] = "skuhub.inventory-policy-changed.v1"

    policy_version: Version = Field(description="Increases by one with every change.")
    stage: LifecycleStage
    velocity_class: VelocityClass | None = Field(
        default=None, description="None until the SKU has been classified."
    )
    variability_class: VariabilityClass | None = None
    replenish: Flag = Field(
        description="False: propose no new orders (hold before launch, run down after)."
    )
    service_level: Annotated[float, Strict(), Field(ge=0.5, le=0.999)] = Field(
        description="Target share of demand served from stock (cycle service level)."
    )
    review_period_days: Annotated[int, Strict(), Field(ge=0, le=365)]
    buffer_multiplier: Annotated[float, Strict(), Field(ge=0, le=10)] = Field(
        description="Multiplies the safety stock computed from demand variability."
    )
    reason: Reason
    changed_at: Timestamp


class OfferCause(StrEnum):
    """Which kind of fact changed an offer (data latency is measured per cause)."""

    STOCK = "stock"
    PRODUCT = "product"
    LIFECYCLE = "lifecycle"
    CHANNEL = "channel"


class ChannelOfferChanged(EventPayload):
    """What one sales channel should show and sell for one SKU, whole (docs/sync-gateway.md).

    Published only when something in the offer changed; ``offer_version`` then grows by one,
    so a receiver keeps the highest version it has seen and drops older ones.
    """

    event_type: ClassVar[str] = "skuhub.channel-offer-changed.v1"

    channel: ChannelCode
    offer_version: Version = Field(description="Grows by one with every change of the offer.")
    locale: Locale = Field(description="The channel's locale (first of its fallback chain).")
    content_locale: Locale | None = Field(
        default=None,
        description="The locale of the chain the title came from; null when no locale of the "
        "chain has one (never another language).",
    )
    title: Title | None
    description: Description | None = Field(
        default=None, description="In content_locale, when the product has one there."
    )
    gtin: Gtin | None = None
    attributes: dict[AttributeCode, AttributeValue] = Field(
        default_factory=dict, description="The published attributes (brand, price…)."
    )
    categories: list[CategoryCode] = Field(default_factory=list)
    published_version: Version | None = Field(
        default=None, description="The catalog's product_version whose content this is."
    )
    available: Quantity = Field(
        description="Units this channel may promise: its allocation of the ATP of the "
        "locations feeding it, less its safety buffer."
    )
    unit: UnitCode
    kit: Flag = Field(default=False, description="The SKU is a kit: available counts whole kits.")
    stage: LifecycleStage | None
    sellable: Flag
    low_stock: Flag
    back_order: Flag = Field(
        default=False,
        description="Sellable with nothing available: the channel takes back-orders.",
    )
    pre_order: Flag = Field(
        default=False, description="Sellable before stock arrives (pre-launch with pre-order)."
    )
    successor: Sku | None = Field(
        default=None, description="The SKU that replaces this one once it is discontinued."
    )
    successor_title: Title | None = Field(
        default=None, description="The successor's published title in this offer's chain."
    )
    not_sellable_because: list[Reason] = Field(
        default_factory=list, description="Every reason the offer does not sell (empty if it does)."
    )
    cause: OfferCause = Field(
        default=OfferCause.STOCK, description="Which kind of fact changed the offer this time."
    )
    changed_at: Timestamp


class ReplenishmentProposed(EventPayload):
    """A proposal to reorder a SKU at a location that fell to its reorder point."""

    event_type: ClassVar[str] = "skuhub.replenishment-proposed.v1"

    location: Gln
    unit: UnitCode
    available_to_promise: Quantity
    reorder_point: Quantity
    safety_stock: Quantity
    proposed_quantity: PositiveQuantity
    proposed_at: Timestamp
    proposal_id: EventId | None = Field(
        default=None,
        description="The proposal's id in the stock service: POST "
        "/v1/proposals/{proposal_id}/accept or /dismiss decides it.",
    )
    inventory_position: Quantity | None = Field(
        default=None,
        description="on_hand + in_transit + incoming - reserved when proposed (may be negative).",
    )
    order_up_to: Quantity | None = Field(
        default=None,
        description="The level the proposed quantity brings the inventory position up to "
        "(before rounding to the order multiple).",
    )


ALL_EVENTS: tuple[type[EventPayload], ...] = (
    StockMoved,
    StockLevelChanged,
    ProductChanged,
    LifecycleStageChanged,
    ChannelOfferChanged,
    ReplenishmentProposed,
    InventoryPolicyChanged,
)
EVENTS_BY_TYPE: dict[str, type[EventPayload]] = {e.event_type: e for e in ALL_EVENTS}

__all__ = [
    "ALL_EVENTS",
    "EVENTS_BY_TYPE",
    "ChannelOfferChanged",
    "EventPayload",
    "InventoryPolicyChanged",
    "LifecycleStage",
    "LifecycleStageChanged",
    "MovementKind",
    "ProductChanged",
    "ProductStatus",
    "ReplenishmentProposed",
    "StockLevelChanged",
    "StockMoved",
    "VariabilityClass",
    "VelocityClass",
]
