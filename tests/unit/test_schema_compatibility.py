"""The compatibility checker, rule by rule, on small hand-written schema pairs.

Each pair is what a released schema and an edited one could look like; the expected
findings are read off the pair by hand (docs/contracts.md, "Releasing and v2").
"""

from __future__ import annotations

from typing import Any

import pytest

from skuhub_contracts.compatibility import NARROWED, WIDENED, breaking_changes

Schema = dict[str, Any]

NULLABLE_TEXT: Schema = {"anyOf": [{"type": "string", "maxLength": 64}, {"type": "null"}]}
MOVEMENT: Schema = {
    "type": "object",
    "$defs": {"Kind": {"type": "string", "enum": ["receipt", "shipment"]}},
    "properties": {
        "sku": {"type": "string", "minLength": 1, "maxLength": 64},
        "kind": {"$ref": "#/$defs/Kind"},
        "quantity": {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": -1000, "maximum": 1000},
                {"type": "string", "pattern": "^[0-9]+$"},
            ]
        },
        "sequence": {"type": "integer", "minimum": 0},
        "lot": {**NULLABLE_TEXT, "default": None},
        "unit": {"type": "string", "default": "EA"},
        "tags": {"type": "array", "items": {"type": "string"}, "default": []},
        "packs": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Z]{2}$"},
            "additionalProperties": {"type": "integer", "minimum": 1},
        },
    },
    "required": ["sku", "kind", "quantity", "sequence"],
}


def edited(**changes: Any) -> Schema:
    """MOVEMENT with some properties replaced (None removes one), and other top-level keys."""
    properties = dict(MOVEMENT["properties"])
    for name, schema in changes.pop("properties", {}).items():
        if schema is None:
            del properties[name]
        else:
            properties[name] = schema
    return {**MOVEMENT, "properties": properties, **changes}


def found(old: Schema, new: Schema) -> list[tuple[str, str]]:
    return [(change.path, change.rule) for change in breaking_changes(old, new)]


def test_an_unchanged_schema_has_no_breaking_change() -> None:
    assert breaking_changes(MOVEMENT, edited()) == []


def test_a_new_optional_field_and_new_documentation_are_compatible() -> None:
    new = edited(
        properties={
            "reason": {**NULLABLE_TEXT, "default": None, "description": "Free text."},
            "sku": {**MOVEMENT["properties"]["sku"], "title": "Sku", "examples": ["MUG-1"]},
        },
        description="A movement.",
    )
    assert breaking_changes(MOVEMENT, new) == []


def test_a_removed_field_is_breaking_and_says_whether_it_was_required() -> None:
    changes = breaking_changes(MOVEMENT, edited(properties={"lot": None, "sequence": None}))
    assert [(c.path, c.rule) for c in changes] == [
        ("$.lot", "field-removed"),
        ("$.sequence", "field-removed"),
    ]
    assert "required" not in changes[0].detail
    assert "refuse the event (it was required)" in changes[1].detail


def test_a_new_required_field_is_breaking() -> None:
    new = edited(
        properties={"reason": {"type": "string"}}, required=[*MOVEMENT["required"], "reason"]
    )
    assert found(MOVEMENT, new) == [("$.reason", "new-required-field")]


def test_an_optional_field_made_required_and_a_required_one_made_optional_both_break() -> None:
    new = edited(required=["sku", "kind", "quantity", "lot"])
    changes = breaking_changes(MOVEMENT, new)
    assert [(c.path, c.rule) for c in changes] == [
        ("$.lot", "field-made-required"),
        ("$.sequence", "field-made-optional"),
    ]
    assert NARROWED in changes[0].detail
    assert WIDENED in changes[1].detail


def test_a_type_removed_from_a_union_narrows_and_one_added_widens() -> None:
    only_number = {"anyOf": [MOVEMENT["properties"]["quantity"]["anyOf"][0]]}
    assert found(MOVEMENT, edited(properties={"quantity": only_number})) == [
        ("$.quantity", "type-removed")
    ]
    assert found(MOVEMENT, edited(properties={"unit": {**NULLABLE_TEXT, "default": "EA"}})) == [
        ("$.unit", "maxLength-lowered"),
        ("$.unit", "type-added"),
    ]


def test_integer_to_string_is_a_changed_type() -> None:
    assert found(MOVEMENT, edited(properties={"sequence": {"type": "string"}})) == [
        ("$.sequence", "type-added"),
        ("$.sequence", "type-removed"),
    ]


def test_integer_to_number_widens_and_number_to_integer_narrows() -> None:
    to_number = edited(properties={"sequence": {"type": "number", "minimum": 0}})
    assert found(MOVEMENT, to_number) == [("$.sequence", "type-widened")]
    assert found(to_number, MOVEMENT) == [("$.sequence", "type-narrowed")]


@pytest.mark.parametrize(
    ("keyword", "value", "rule"),
    [
        ("pattern", "^[A-Z]+$", "pattern-added"),
        ("format", "date", "format-added"),
        ("maxLength", 32, "maxLength-lowered"),
        ("minLength", 2, "minLength-raised"),
    ],
)
def test_a_string_that_gets_a_new_restriction_narrows(keyword: str, value: Any, rule: str) -> None:
    sku = {**MOVEMENT["properties"]["sku"], keyword: value}
    changes = breaking_changes(MOVEMENT, edited(properties={"sku": sku}))
    assert [(c.path, c.rule) for c in changes] == [("$.sku", rule)]
    assert NARROWED in changes[0].detail


@pytest.mark.parametrize(
    ("keyword", "value", "rule"),
    [("maxLength", 128, "maxLength-raised"), ("minLength", 0, "minLength-lowered")],
)
def test_a_string_that_loses_a_restriction_widens(keyword: str, value: Any, rule: str) -> None:
    sku = {**MOVEMENT["properties"]["sku"], keyword: value}
    changes = breaking_changes(MOVEMENT, edited(properties={"sku": sku}))
    assert [(c.path, c.rule) for c in changes] == [("$.sku", rule)]
    assert WIDENED in changes[0].detail


def test_a_changed_pattern_is_breaking_both_ways() -> None:
    quantity = {
        "anyOf": [
            MOVEMENT["properties"]["quantity"]["anyOf"][0],
            {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"},
        ]
    }
    assert found(MOVEMENT, edited(properties={"quantity": quantity})) == [
        ("$.quantity", "pattern-changed")
    ]


def test_a_raised_minimum_or_lowered_maximum_narrows_and_the_reverse_widens() -> None:
    raised = edited(properties={"sequence": {"type": "integer", "minimum": 1}})
    assert found(MOVEMENT, raised) == [("$.sequence", "bound-tightened")]
    assert found(raised, MOVEMENT) == [("$.sequence", "bound-relaxed")]
    lowered = {"anyOf": [{"type": "number", "exclusiveMinimum": -1000, "maximum": 999}]}
    lowered["anyOf"].append(MOVEMENT["properties"]["quantity"]["anyOf"][1])
    assert found(MOVEMENT, edited(properties={"quantity": lowered})) == [
        ("$.quantity", "bound-tightened")
    ]


def test_an_inclusive_bound_made_exclusive_at_the_same_value_narrows() -> None:
    exclusive = {"anyOf": [{"type": "number", "exclusiveMinimum": -1000, "exclusiveMaximum": 1000}]}
    exclusive["anyOf"].append(MOVEMENT["properties"]["quantity"]["anyOf"][1])
    changes = breaking_changes(MOVEMENT, edited(properties={"quantity": exclusive}))
    assert [(c.path, c.rule) for c in changes] == [("$.quantity", "bound-tightened")]
    assert "upper bound 1000 (inclusive) became 1000 (exclusive)" in changes[0].detail


def test_a_removed_enum_value_narrows_and_an_added_one_widens_through_the_ref() -> None:
    new = edited(**{"$defs": {"Kind": {"type": "string", "enum": ["receipt", "scrap"]}}})
    changes = breaking_changes(MOVEMENT, new)
    assert [(c.path, c.rule) for c in changes] == [
        ("$.kind", "enum-value-added"),
        ("$.kind", "enum-value-removed"),
    ]
    assert '"scrap" added' in changes[0].detail
    assert '"shipment" removed' in changes[1].detail


def test_a_const_is_an_enum_of_one() -> None:
    old = {"type": "object", "properties": {"v": {"const": "1.0"}}}
    new = {"type": "object", "properties": {"v": {"enum": ["1.0", "1.1"]}}}
    assert found(old, new) == [("$.v", "enum-value-added")]


def test_closing_an_object_to_unknown_fields_narrows() -> None:
    assert found(MOVEMENT, edited(additionalProperties=False)) == [("$", "closed")]
    assert found(edited(additionalProperties=False), MOVEMENT) == [("$", "opened")]


def test_map_values_and_map_keys_are_compared() -> None:
    packs = {
        "type": "object",
        "propertyNames": {"pattern": "^[A-Z]{3}$"},
        "additionalProperties": {"type": "integer", "minimum": 2},
    }
    assert found(MOVEMENT, edited(properties={"packs": packs})) == [
        ("$.packs (keys)", "pattern-changed"),
        ("$.packs.*", "bound-tightened"),
    ]


def test_array_items_are_compared() -> None:
    tags = {"type": "array", "items": {"type": "string", "maxLength": 10}, "default": []}
    assert found(MOVEMENT, edited(properties={"tags": tags})) == [
        ("$.tags[*]", "maxLength-lowered")
    ]


def test_a_changed_or_removed_default_is_breaking() -> None:
    assert found(MOVEMENT, edited(properties={"unit": {"type": "string", "default": "KGM"}})) == [
        ("$.unit", "default-changed")
    ]
    assert found(MOVEMENT, edited(properties={"unit": {"type": "string"}})) == [
        ("$.unit", "default-removed")
    ]


SHIPMENT_NEEDS_LOT: Schema = {
    "if": {"properties": {"kind": {"const": "shipment"}}, "required": ["kind"]},
    "then": {"required": ["lot"]},
}


def test_an_added_all_of_rule_narrows_and_a_removed_one_widens() -> None:
    with_rule = edited(allOf=[SHIPMENT_NEEDS_LOT])
    changes = breaking_changes(MOVEMENT, with_rule)
    assert [(c.path, c.rule) for c in changes] == [("$.allOf[0]", "rule-added")]
    assert NARROWED in changes[0].detail
    assert found(with_rule, MOVEMENT) == [("$.allOf[0]", "rule-removed")]
    described = edited(allOf=[{**SHIPMENT_NEEDS_LOT, "description": "A shipment names its lot."}])
    assert breaking_changes(with_rule, described) == [], "annotations in a rule do not count"


def test_an_edited_all_of_rule_is_a_removed_and_an_added_one() -> None:
    receipt = {**SHIPMENT_NEEDS_LOT, "if": {"properties": {"kind": {"const": "receipt"}}}}
    assert found(edited(allOf=[SHIPMENT_NEEDS_LOT]), edited(allOf=[receipt])) == [
        ("$.allOf[0]", "rule-added"),
        ("$.allOf[0]", "rule-removed"),
    ]


def test_a_new_rule_that_only_bounds_a_new_optional_field_is_compatible() -> None:
    """How stock-moved grew reservation_id within v1: null unless the kind is a reservation."""
    only_on_reservations = {
        "if": {"properties": {"kind": {"not": {"enum": ["reservation"]}}}, "required": ["kind"]},
        "then": {"properties": {"reservation_id": {"type": "null"}}},
    }
    new = edited(
        properties={"reservation_id": {**NULLABLE_TEXT, "default": None}},
        allOf=[only_on_reservations],
    )
    assert breaking_changes(MOVEMENT, new) == []


def test_a_new_rule_that_requires_a_new_field_or_bounds_an_old_one_is_breaking() -> None:
    requires_new = {
        "if": {"properties": {"kind": {"const": "shipment"}}},
        "then": {"required": ["carrier"]},
    }
    new = edited(properties={"carrier": {**NULLABLE_TEXT, "default": None}}, allOf=[requires_new])
    assert found(MOVEMENT, new) == [("$.allOf[0]", "rule-added")]
    bounds_old = {
        "if": {"properties": {"kind": {"const": "shipment"}}},
        "then": {"properties": {"lot": {"type": "null"}}},
    }
    assert found(MOVEMENT, edited(allOf=[bounds_old])) == [("$.allOf[0]", "rule-added")]


def test_a_keyword_without_a_rule_must_stay_apart_from_annotations() -> None:
    positive = {"not": {"type": "string", "pattern": "^-"}}
    assert found(MOVEMENT, edited(**positive)) == [("$", "not-changed")]
    described = {"not": {**positive["not"], "description": "No negative text."}}
    assert breaking_changes(edited(**positive), edited(**described)) == []


def test_a_schema_without_a_type_compares_the_keywords_it_has() -> None:
    old = {"type": "object", "properties": {"v": {}}}
    assert found(old, {"type": "object", "properties": {"v": {"type": "string"}}}) == [
        ("$.v", "type-narrowed")
    ]
    assert found({"type": "object", "properties": {"v": {"type": "string"}}}, old) == [
        ("$.v", "type-widened")
    ]


def test_a_recursive_schema_is_walked_once_per_level() -> None:
    def tree(limit: int) -> Schema:
        return {
            "$defs": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "maxLength": limit},
                        "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                    },
                }
            },
            "$ref": "#/$defs/Node",
        }

    assert breaking_changes(tree(10), tree(10)) == []
    assert found(tree(10), tree(5)) == [("$.name", "maxLength-lowered")]


def test_a_reference_outside_the_document_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot resolve"):
        breaking_changes({"$ref": "other.json#/x"}, {"$ref": "other.json#/x"})
