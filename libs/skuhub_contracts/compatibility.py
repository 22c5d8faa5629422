"""Whether an event's JSON Schema still fits the one that was released.

Released events are read in both directions at once: services and channel adapters
that are not yet upgraded read what new producers send, and upgraded services read
what is already in the topics (retention, replays of dead letters, old upstream
producers). So within a major version the set of events a schema accepts must not
change in either direction; the one change allowed is a new *optional* field (old
readers ignore it, new readers read old events with its default), plus
documentation (titles, descriptions, examples). docs/contracts.md, "Releasing and
v2", states the rules; :func:`breaking_changes` finds the violations.

The walk is structural, over the shapes pydantic writes: ``$ref``/``$defs``,
``anyOf``/``oneOf`` unions (one branch per JSON type), objects, arrays and the
string and number keywords, and ``allOf`` as a set of rules (a new rule may only
constrain new optional fields). A keyword it has no rule for (``if``/``then``/``else``
outside ``allOf``, ``not``, …) must stay as it was, apart from annotations: a change
there is reported, since the walk cannot tell which way it goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

Schema = Mapping[str, Any]

NARROWED: Final = "old events may be refused"
"""What a narrowing change breaks: new readers refuse events written by the old contract."""
WIDENED: Final = "old consumers may refuse new events"
"""What a widening change breaks: readers of the released contract refuse new events."""
CHANGED: Final = "old events may be refused and old consumers may refuse new events"

ANNOTATIONS: Final = frozenset(
    {"title", "description", "examples", "$comment", "deprecated", "readOnly", "writeOnly"}
)
"""Keywords that document and never change what is accepted."""
_IGNORED: Final = ANNOTATIONS | {"$schema", "$id", "$defs", "definitions"}
_STRING: Final = ("minLength", "maxLength", "pattern", "format")
_NUMBER: Final = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf")
_ARRAY: Final = ("items", "minItems", "maxItems", "uniqueItems")
_OBJECT: Final = (
    "properties",
    "required",
    "additionalProperties",
    "propertyNames",
    "minProperties",
    "maxProperties",
)
_HANDLED: Final = frozenset(
    {"type", "anyOf", "oneOf", "$ref", "enum", "const", "default", "allOf"}
    | set(_STRING + _NUMBER + _ARRAY + _OBJECT)
)
_JSON_TYPES: Final = ("null", "boolean", "integer", "number", "string", "array", "object")
ANY: Final = "any"
"""The branch of a schema that names no type: it accepts every JSON value."""


@dataclass(frozen=True, slots=True)
class BreakingChange:
    """One backward-incompatible difference, at a JSON path into the event (``$.kind``,
    ``$.kit_components[*].quantity``, ``$.packs.*`` for a map's values)."""

    path: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail} [{self.rule}]"


def breaking_changes(released: Schema, current: Schema) -> list[BreakingChange]:
    """Every change from ``released`` to ``current`` that breaks readers or old events,
    ordered by path. Empty means ``current`` may replace ``released`` in the same version."""
    walk = _Walk(released, current)
    walk.node("$", released, current)
    return sorted(walk.changes, key=lambda change: (change.path, change.rule, change.detail))


class _Walk:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.changes: list[BreakingChange] = []
        self._open: set[tuple[str, str]] = set()

    def report(self, path: str, rule: str, detail: str) -> None:
        self.changes.append(BreakingChange(path, rule, detail))

    # ------------------------------------------------------------------------ one node

    def node(self, path: str, old: Schema, new: Schema) -> None:
        visit = (str(old.get("$ref")), str(new.get("$ref")))
        if visit in self._open:  # a recursive $ref: this pair is being compared further up
            return
        if "$ref" in old or "$ref" in new:
            self._open.add(visit)
        try:
            old, new = _deref(old, self.old_root), _deref(new, self.new_root)
            self._default(path, old, new)
            if _is_union(old) or _is_union(new):
                self._unhandled(path, old, new)  # keywords beside the union's options
            self._branches(path, _branches(old, self.old_root), _branches(new, self.new_root))
        finally:
            self._open.discard(visit)

    def _default(self, path: str, old: Schema, new: Schema) -> None:
        if "default" not in old:
            return
        if "default" not in new:
            self.report(path, "default-removed", f"default {_show(old['default'])} removed")
        elif new["default"] != old["default"]:
            self.report(
                path,
                "default-changed",
                f"default {_show(old['default'])} became {_show(new['default'])}: an event "
                "that leaves the field out now means something else",
            )

    def _branches(self, path: str, old: dict[str, Schema], new: dict[str, Schema]) -> None:
        for key in old.keys() & new.keys():
            self._same_type(path, _json_type(key), old[key], new[key])
        old_only, new_only = old.keys() - new.keys(), new.keys() - old.keys()
        if ANY in new and old_only:
            self.report(path, "type-widened", f"now accepts any value ({WIDENED})")
            return
        if ANY in old and new_only:
            shown = ", ".join(sorted(new_only))
            self.report(path, "type-narrowed", f"now only accepts {shown} ({NARROWED})")
            return
        # integer is the part of number without a fraction: a change between them is a
        # bound on the same values, compared as such.
        if "integer" in old_only and "number" in new_only:
            self._same_type(path, "number", old["integer"], new["number"])
            self.report(path, "type-widened", f"integer became number ({WIDENED})")
            old_only, new_only = old_only - {"integer"}, new_only - {"number"}
        if "number" in old_only and "integer" in new_only:
            self._same_type(path, "number", old["number"], new["integer"])
            self.report(path, "type-narrowed", f"number became integer ({NARROWED})")
            old_only, new_only = old_only - {"number"}, new_only - {"integer"}
        for key in sorted(old_only):
            self.report(path, "type-removed", f"no longer accepts {key} ({NARROWED})")
        for key in sorted(new_only):
            self.report(path, "type-added", f"now also accepts {key} ({WIDENED})")

    def _same_type(self, path: str, kind: str, old: Schema, new: Schema) -> None:
        self._enum(path, old, new)
        families = (
            (("string",), _STRING, self._string),
            (("integer", "number"), _NUMBER, self._number),
            (("array",), _ARRAY, self._array),
            (("object",), _OBJECT, self._object),
        )
        for kinds, keywords, compare in families:
            # Without a type, each family's keywords still apply to values of its type.
            used = kind == ANY and any(k in old or k in new for k in keywords)
            if kind in kinds or used:
                compare(path, old, new)
        self._unhandled(path, old, new)

    # ------------------------------------------------------------------------ keywords

    def _enum(self, path: str, old: Schema, new: Schema) -> None:
        old_values, new_values = _allowed(old), _allowed(new)
        if old_values is None and new_values is None:
            return
        if old_values is None:
            self.report(path, "enum-added", f"now limited to {_show_all(new_values)} ({NARROWED})")
            return
        if new_values is None:
            self.report(path, "enum-dropped", f"no longer limited to listed values ({WIDENED})")
            return
        for value in old_values:
            if value not in new_values:
                self.report(
                    path, "enum-value-removed", f"value {_show(value)} removed ({NARROWED})"
                )
        for value in new_values:
            if value not in old_values:
                self.report(path, "enum-value-added", f"value {_show(value)} added ({WIDENED})")

    def _string(self, path: str, old: Schema, new: Schema) -> None:
        self._least(path, "minLength", old, new)
        self._most(path, "maxLength", old, new)
        for keyword in ("pattern", "format"):
            before, after = old.get(keyword), new.get(keyword)
            if before == after:
                continue
            if before is None:
                self.report(path, f"{keyword}-added", f"{keyword} {_show(after)} ({NARROWED})")
            elif after is None:
                self.report(path, f"{keyword}-removed", f"{keyword} {_show(before)} ({WIDENED})")
            else:
                self.report(
                    path,
                    f"{keyword}-changed",
                    f"{keyword} {_show(before)} became {_show(after)} ({CHANGED})",
                )

    def _number(self, path: str, old: Schema, new: Schema) -> None:
        for side, bound, stricter in (("lower", _lower, _higher), ("upper", _upper, _lower_of)):
            before, after = bound(old), bound(new)
            if before == after:
                continue
            if after is not None and (before is None or stricter(after, before)):
                rule, effect = "bound-tightened", NARROWED
            else:
                rule, effect = "bound-relaxed", WIDENED
            self.report(
                path,
                rule,
                f"{side} bound {_show_bound(before)} became {_show_bound(after)} ({effect})",
            )
        if old.get("multipleOf") != new.get("multipleOf"):
            self.report(
                path,
                "multipleOf-changed",
                f"multipleOf {_show(old.get('multipleOf'))} became "
                f"{_show(new.get('multipleOf'))} ({CHANGED})",
            )

    def _array(self, path: str, old: Schema, new: Schema) -> None:
        self._least(path, "minItems", old, new)
        self._most(path, "maxItems", old, new)
        before, after = bool(old.get("uniqueItems")), bool(new.get("uniqueItems"))
        if before != after:
            effect = NARROWED if after else WIDENED
            self.report(path, "uniqueItems-changed", f"uniqueItems became {after} ({effect})")
        self.node(f"{path}[*]", _sub(old, "items"), _sub(new, "items"))

    def _object(self, path: str, old: Schema, new: Schema) -> None:
        self._least(path, "minProperties", old, new)
        self._most(path, "maxProperties", old, new)
        self._properties(path, old, new)
        before, after = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if before is not False and after is False:
            self.report(
                path, "closed", f"additionalProperties became false: unknown fields ({NARROWED})"
            )
        elif before is False and after is not False:
            self.report(path, "opened", f"additionalProperties no longer false ({WIDENED})")
        elif before is not False:
            self.node(
                f"{path}.*", _sub(old, "additionalProperties"), _sub(new, "additionalProperties")
            )
        self.node(f"{path} (keys)", _sub(old, "propertyNames"), _sub(new, "propertyNames"))

    def _properties(self, path: str, old: Schema, new: Schema) -> None:
        old_fields: Schema = old.get("properties", {})
        new_fields: Schema = new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for name, schema in old_fields.items():
            at = f"{path}.{name}"
            if name not in new_fields:
                self.report(
                    at,
                    "field-removed",
                    "field removed: old consumers read it as missing"
                    + (" and refuse the event (it was required)" if name in old_required else ""),
                )
                continue
            if name in old_required and name not in new_required:
                self.report(at, "field-made-optional", f"no longer required ({WIDENED})")
            elif name not in old_required and name in new_required:
                self.report(at, "field-made-required", f"now required ({NARROWED})")
            self.node(at, schema, new_fields[name])
        for name in new_fields:
            if name not in old_fields and name in new_required:
                self.report(
                    f"{path}.{name}", "new-required-field", f"new required field ({NARROWED})"
                )

    def _least(self, path: str, keyword: str, old: Schema, new: Schema) -> None:
        before, after = old.get(keyword, 0), new.get(keyword, 0)
        if after > before:
            self.report(path, f"{keyword}-raised", f"{keyword} {before} → {after} ({NARROWED})")
        elif after < before:
            self.report(path, f"{keyword}-lowered", f"{keyword} {before} → {after} ({WIDENED})")

    def _most(self, path: str, keyword: str, old: Schema, new: Schema) -> None:
        before, after = old.get(keyword), new.get(keyword)
        if before == after:
            return
        if before is None or (after is not None and after < before):
            self.report(
                path, f"{keyword}-lowered", f"{keyword} {_show(before)} → {after} ({NARROWED})"
            )
        else:
            self.report(
                path, f"{keyword}-raised", f"{keyword} {before} → {_show(after)} ({WIDENED})"
            )

    def _all_of(self, path: str, old: Schema, new: Schema) -> None:
        """``allOf`` as a set of rules: each released rule stays, and a new one may only
        constrain fields that are new too (``if kind is not reservation then reservation_id:
        null``): absent from old events, they pass it, and old readers ignore them."""
        before = [_canonical(rule) for rule in old.get("allOf", [])]
        after = [_canonical(rule) for rule in new.get("allOf", [])]
        new_fields = set(new.get("properties", {})) - set(old.get("properties", {}))
        for index, rule in enumerate(before):
            if rule not in after:
                self.report(
                    f"{path}.allOf[{index}]",
                    "rule-removed",
                    f"rule {_show(rule)} removed or changed ({WIDENED})",
                )
        for index, rule in enumerate(after):
            if rule not in before and not _constrains_only(rule, new_fields):
                self.report(
                    f"{path}.allOf[{index}]",
                    "rule-added",
                    f"rule {_show(rule)} added or changed ({NARROWED})",
                )

    def _unhandled(self, path: str, old: Schema, new: Schema) -> None:
        """Keywords without a rule of their own (allOf, if/then/else, not, …) stay as they were."""
        self._all_of(path, old, new)
        for keyword in sorted((old.keys() | new.keys()) - _HANDLED - _IGNORED):
            if _canonical(old.get(keyword)) != _canonical(new.get(keyword)):
                self.report(path, f"{keyword}-changed", f"{keyword} changed ({CHANGED})")


# ---------------------------------------------------------------------------- helpers


def _deref(schema: Schema, root: Schema) -> Schema:
    """``schema`` with a local ``$ref`` replaced by its target (sibling keywords kept)."""
    seen: set[str] = set()
    while isinstance(schema.get("$ref"), str):
        ref: str = schema["$ref"]
        if ref in seen or not ref.startswith("#"):
            raise ValueError(f"cannot resolve $ref {ref!r} (only local, acyclic references)")
        seen.add(ref)
        target: Any = root
        for part in ref.removeprefix("#").strip("/").split("/"):
            if part:
                target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        schema = {**target, **siblings}
    return schema


def _branches(schema: Schema, root: Schema) -> dict[str, Schema]:
    """The schema split by the JSON type each part accepts: a union's options, or one
    branch per listed type. A type that appears twice is told apart by a number."""
    options = schema.get("anyOf", schema.get("oneOf"))
    found: dict[str, Schema] = {}
    if options is not None:
        for option in options:
            for key, branch in _branches(_deref(option, root), root).items():
                found[_unique(found, _json_type(key))] = branch
        return found
    body = {key: value for key, value in schema.items() if key != "type"}
    types = schema.get("type")
    if types is None:
        values = _allowed(schema)
        types = sorted({_type_of(v) for v in values}) if values else [ANY]
    for kind in [types] if isinstance(types, str) else types:
        branch = dict(body)
        values = _allowed(schema)
        if values is not None:
            branch.pop("const", None)
            branch["enum"] = [v for v in values if _fits(v, kind)]
        found[_unique(found, kind)] = branch
    return found


def _constrains_only(rule: Any, fields: set[str]) -> bool:
    """Whether ``rule`` (an ``allOf`` entry) only states ``properties`` of ``fields``, in
    itself or in ``then``/``else`` (its ``if`` may read any field). A ``required`` is never
    only that: old events of the kind it names lack the field."""
    if not isinstance(rule, Mapping) or not rule.keys() <= {"if", "then", "else", "properties"}:
        return False
    own = {key: value for key, value in rule.items() if key == "properties"}
    parts = [own, *(rule[key] for key in ("then", "else") if key in rule)]
    return all(
        isinstance(part, Mapping)
        and part.keys() <= {"properties"}
        and set(part.get("properties", {})) <= fields
        for part in parts
    )


def _is_union(schema: Schema) -> bool:
    return "anyOf" in schema or "oneOf" in schema


def _unique(found: Mapping[str, Any], key: str) -> str:
    if key not in found:
        return key
    number = 2
    while f"{key}#{number}" in found:
        number += 1
    return f"{key}#{number}"


def _json_type(key: str) -> str:
    return key.partition("#")[0]


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _fits(value: Any, kind: str) -> bool:
    found = _type_of(value)
    return kind == ANY or found == kind or (kind == "number" and found == "integer")


def _allowed(schema: Schema) -> list[Any] | None:
    """The values ``enum``/``const`` allow, or None when they say nothing."""
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if enum is not None else None


def _sub(schema: Schema, keyword: str) -> Schema:
    """A subschema keyword; absent (or ``true``) accepts anything."""
    value = schema.get(keyword, {})
    return {} if value is True else value


Bound = tuple[float, bool]
"""A numeric bound: its value, and whether it is exclusive."""


def _higher(one: Bound, other: Bound) -> bool:
    """Whether lower bound ``one`` is stricter than ``other``."""
    return one[0] > other[0] or (one[0] == other[0] and one[1] and not other[1])


def _lower_of(one: Bound, other: Bound) -> bool:
    """Whether upper bound ``one`` is stricter than ``other``."""
    return one[0] < other[0] or (one[0] == other[0] and one[1] and not other[1])


def _lower(schema: Schema) -> Bound | None:
    """The lower bound in force (the stricter of minimum and exclusiveMinimum)."""
    return _strictest(schema, "minimum", "exclusiveMinimum", _higher)


def _upper(schema: Schema) -> Bound | None:
    """The upper bound in force (the stricter of maximum and exclusiveMaximum)."""
    return _strictest(schema, "maximum", "exclusiveMaximum", _lower_of)


def _strictest(
    schema: Schema, inclusive: str, exclusive: str, stricter: Callable[[Bound, Bound], bool]
) -> Bound | None:
    bounds = [(schema[key], key == exclusive) for key in (inclusive, exclusive) if key in schema]
    if not bounds:
        return None
    best = bounds[0]
    for bound in bounds[1:]:
        if stricter(bound, best):
            best = bound
    return best


def _show_bound(bound: Bound | None) -> str:
    if bound is None:
        return "none"
    value, exclusive = bound
    return f"{value!r} ({'exclusive' if exclusive else 'inclusive'})"


def _canonical(value: Any) -> Any:
    """``value`` without annotations, for comparing keywords that have no rule of their own."""
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items() if k not in ANNOTATIONS}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def _show(value: Any) -> str:
    return "none" if value is None else json.dumps(value, ensure_ascii=False)


def _show_all(values: list[Any] | None) -> str:
    return ", ".join(_show(value) for value in values or [])


__all__ = ["ANY", "CHANGED", "NARROWED", "WIDENED", "BreakingChange", "breaking_changes"]
