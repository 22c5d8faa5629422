"""Wire values every contract shares, with the bounds skuhub can keep.

Each type here validates exactly what its JSON Schema states, so a record the
published schema accepts is either taken or refused for a rule the schema
names, and never fails later where it is stored: PostgreSQL ``text`` cannot
hold NUL, ``bigint`` ends at 2^63 - 1, a time must convert to UTC within the
calendar Python and PostgreSQL share, and JSONB has no NaN.

Validation runs on parsed JSON (Python's own types), the same way for Kafka
records (the codec) and HTTP bodies (FastAPI): where pydantic's lax mode would
take more than the schema says (``"1"`` for an integer, ``1`` for a boolean,
a number for a time), these types refuse it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Final

from pydantic import AfterValidator, BeforeValidator, Field, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError

INT64_MAX: Final = 2**63 - 1
"""Largest integer skuhub keeps (PostgreSQL ``bigint``)."""

# ---------------------------------------------------------------------------------------- text

_NOT_IN_A_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_NOT_IN_PARAGRAPHS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
LINE_PATTERN: Final = "^[^\\u0000-\\u001F\\u007F]*$"
"""JSON Schema pattern of one-line text: no control characters at all."""
PARAGRAPHS_PATTERN: Final = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F]*$"
"""JSON Schema pattern of multi-line text: tab, line feed and carriage return allowed."""
LINE_SCHEMA: Final = {"pattern": LINE_PATTERN}
PARAGRAPHS_SCHEMA: Final = {"pattern": PARAGRAPHS_PATTERN}


def _refuse(found: str, control: str) -> PydanticCustomError:
    if "\ud800" <= found <= "\udfff":
        return PydanticCustomError(
            "surrogate", "must be Unicode text (a lone surrogate escape such as \\ud800 is not)"
        )
    return PydanticCustomError("control_character", control)


def _line(value: str) -> str:
    found = _NOT_IN_A_LINE.search(value)
    if found is not None:
        raise _refuse(
            found.group(), "must not contain control characters (U+0000 to U+001F, U+007F)"
        )
    return value


def check_paragraphs(value: str) -> str:
    """``value`` if it is text that may span lines; else raise the contract's refusal."""
    found = _NOT_IN_PARAGRAPHS.search(value)
    if found is not None:
        raise _refuse(
            found.group(),
            "must not contain control characters other than tab, line feed and carriage return",
        )
    return value


ONE_LINE: Final = AfterValidator(_line)
"""The rule of one-line text. Place it after the ``Field`` with the text's length (and
``json_schema_extra=LINE_SCHEMA``), so pydantic-core checks the length natively:
``Annotated[str, Field(max_length=64, json_schema_extra=LINE_SCHEMA), ONE_LINE]``."""
SEVERAL_LINES: Final = AfterValidator(check_paragraphs)
"""The rule of text that may span lines (tab, line feed, carriage return allowed), with
``json_schema_extra=PARAGRAPHS_SCHEMA``."""


# ------------------------------------------------------------------------------- numbers


def _integral(value: object) -> object:
    """JSON's integers: a number without a fraction (``3`` or ``3.0``), never a string."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PydanticCustomError("int_type", "must be an integer (a JSON number, not a string)")
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError("int_from_float", "must be an integer (no fraction)")
        return int(value)
    return value


Sequence = Annotated[int, Field(ge=0, le=INT64_MAX), BeforeValidator(_integral)]
"""A position in an upstream system's numbering: 0 to 2^63 - 1."""
Version = Annotated[int, Field(ge=1, le=INT64_MAX), BeforeValidator(_integral)]
"""A per-key version: 1 for the first state, one more for every change (up to 2^63 - 1)."""

WHOLE_NUMBER: Final = BeforeValidator(_integral)
"""The rule of a JSON integer (``3`` or ``3.0``, never ``"3"``); place it after the ``Field``
with the integer's bounds: ``Annotated[int, Field(ge=1, le=9), WHOLE_NUMBER]``."""

Flag = Annotated[bool, Strict()]
"""``true`` or ``false``; not ``1``, not ``"yes"``."""

QUANTITY_WHOLE_DIGITS: Final = 12
QUANTITY_DECIMAL_PLACES: Final = 6
QUANTITY_PATTERN: Final = r"^[+-]?[0-9]{1,12}(\.[0-9]{1,6})?$"
_QUANTITY_TEXT = re.compile(QUANTITY_PATTERN)
_QUANTITY_LIMIT: Final = 10**QUANTITY_WHOLE_DIGITS


def _quantity(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise PydanticCustomError(
            "decimal_type", 'must be a decimal number, as a JSON string ("2.5") or number'
        )
    if isinstance(value, str) and not _QUANTITY_TEXT.match(value):
        raise PydanticCustomError(
            "decimal_text",
            "must be written as digits with an optional sign and at most 12 digits before and "
            '6 after the point, e.g. "-2.5"',
        )
    return value


_QUANTITY_NOTE = (
    "A decimal with at most 12 digits before and 6 after the point. Send it as a string "
    '("2.5"): a JSON number works too, but binary floating point cannot carry every decimal '
    "exactly."
)

# Constraints before the validator: pydantic-core checks digits natively only then.
Quantity = Annotated[
    Decimal,
    Field(max_digits=QUANTITY_WHOLE_DIGITS + QUANTITY_DECIMAL_PLACES, decimal_places=6),
    BeforeValidator(_quantity),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "exclusiveMinimum": -_QUANTITY_LIMIT,
                    "exclusiveMaximum": _QUANTITY_LIMIT,
                },
                {"type": "string", "pattern": QUANTITY_PATTERN},
            ],
            "description": _QUANTITY_NOTE,
        }
    ),
]
"""A quantity of stock: 12 digits before and 6 after the point, signed."""

PositiveQuantity = Annotated[
    Decimal,
    Field(max_digits=QUANTITY_WHOLE_DIGITS + QUANTITY_DECIMAL_PLACES, decimal_places=6, gt=0),
    BeforeValidator(_quantity),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": _QUANTITY_LIMIT},
                {"type": "string", "pattern": QUANTITY_PATTERN.replace("[+-]?", "\\+?")},
            ],
            "description": f"{_QUANTITY_NOTE} Greater than zero.",
        }
    ),
]
"""A quantity above zero."""

NonNegativeQuantity = Annotated[
    Decimal,
    Field(max_digits=QUANTITY_WHOLE_DIGITS + QUANTITY_DECIMAL_PLACES, decimal_places=6, ge=0),
    BeforeValidator(_quantity),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "exclusiveMaximum": _QUANTITY_LIMIT},
                {"type": "string", "pattern": QUANTITY_PATTERN.replace("[+-]?", "\\+?")},
            ],
            "description": f"{_QUANTITY_NOTE} Zero or more.",
        }
    ),
]
"""A quantity of zero or more (a count)."""

# ------------------------------------------------------------------------------- times

EARLIEST_YEAR: Final = 1900
LATEST_YEAR: Final = 2999
TIMESTAMP_PATTERN: Final = (
    "^(19|2[0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?"
    "([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_TIMESTAMP_TEXT = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<hm>\d{2}:\d{2}):(?P<second>\d{2})(?P<fraction>\.\d+)?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})$"
)
TIMESTAMP_DESCRIPTION: Final = (
    "RFC 3339 date-time with a UTC offset (e.g. 2025-03-01T08:00:00Z), years 1900 to 2999 as "
    "written. A leap second (second 60) is read as 59.999999 of that minute; digits beyond "
    "microseconds are dropped."
)


def _rfc3339(value: object) -> object:
    """An RFC 3339 string (second 60 made the last microsecond of 59), or a datetime from code."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "datetime_type", "must be an RFC 3339 date-time string, e.g. 2025-03-01T08:00:00Z"
        )
    matched = _TIMESTAMP_TEXT.match(value)
    if matched is None:
        raise PydanticCustomError(
            "datetime_format",
            "must be an RFC 3339 date-time with seconds and a UTC offset, e.g. "
            "2025-03-01T08:00:00Z or 2025-03-01T09:00:00+01:00",
        )
    if matched["second"] == "60":
        return f"{matched['date']}T{matched['hm']}:59.999999{matched['offset']}"
    return value


def _aware_within_years(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("timezone_aware", "must carry a UTC offset (Z or +hh:mm)")
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise PydanticCustomError(
            "datetime_range", f"must lie in the years {EARLIEST_YEAR} to {LATEST_YEAR}"
        )
    return value


Timestamp = Annotated[
    datetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_aware_within_years),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": TIMESTAMP_PATTERN,
            "description": TIMESTAMP_DESCRIPTION,
        }
    ),
]
"""A point in time with its UTC offset, as written by the producer."""


CALENDAR_DATE_PATTERN: Final = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_CALENDAR_DATE_TEXT = re.compile(CALENDAR_DATE_PATTERN)


def _calendar_date(value: object) -> object:
    """An RFC 3339 full-date string, or a date from code."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _CALENDAR_DATE_TEXT.match(value):
        raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD")
    return value


CalendarDate = Annotated[
    date,
    BeforeValidator(_calendar_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": CALENDAR_DATE_PATTERN}),
]
"""A day of the calendar (RFC 3339 full-date), years 0001 to 9999."""


__all__ = [
    "EARLIEST_YEAR",
    "INT64_MAX",
    "LATEST_YEAR",
    "LINE_PATTERN",
    "LINE_SCHEMA",
    "ONE_LINE",
    "PARAGRAPHS_PATTERN",
    "PARAGRAPHS_SCHEMA",
    "SEVERAL_LINES",
    "TIMESTAMP_PATTERN",
    "WHOLE_NUMBER",
    "CalendarDate",
    "Flag",
    "NonNegativeQuantity",
    "PositiveQuantity",
    "Quantity",
    "Sequence",
    "Timestamp",
    "Version",
    "check_paragraphs",
]
