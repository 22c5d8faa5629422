"""JSON Schema as skuhub publishes it: every map states the keys it takes.

pydantic writes a map whose keys have a pattern as ``patternProperties``, which
leaves keys that miss the pattern unconstrained: a reader of the schema would
take ``{"xx-bad": …}`` as valid while skuhub refuses it. :func:`exact_maps`
rewrites such maps as ``propertyNames`` (the key rules) plus
``additionalProperties`` (the value rule), which says exactly what is accepted.
Used for the event schemas, the AsyncAPI document and every OpenAPI document.
"""

from __future__ import annotations

from typing import Any, TypeVar

J = TypeVar("J")


def exact_maps(schema: J) -> J:
    """``schema`` (any JSON value) with every single-pattern map made exact; a new value."""
    if isinstance(schema, list):
        return [exact_maps(item) for item in schema]  # type: ignore[return-value]
    if not isinstance(schema, dict):
        return schema
    result: dict[str, Any] = {key: exact_maps(value) for key, value in schema.items()}
    patterns = result.get("patternProperties")
    if (
        isinstance(patterns, dict)
        and len(patterns) == 1
        and "additionalProperties" not in result
        and "properties" not in result
    ):
        [(pattern, values)] = patterns.items()
        del result["patternProperties"]
        result["propertyNames"] = {**result.get("propertyNames", {}), "pattern": pattern}
        result["additionalProperties"] = values
    return result  # type: ignore[return-value]
