"""Identifiers used on the wire: SKU, GTIN and GLN, validated at the edge.

GTIN and GLN check digits are verified with python-stdnum (GS1 mod-10), so a
mistyped number is rejected with a message instead of creating a phantom item
or location.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from stdnum import ean
from stdnum.exceptions import ValidationError as StdnumError


def _gs1(kind: str, lengths: tuple[int, ...]) -> AfterValidator:
    def check(value: str) -> str:
        compact = ean.compact(value)
        if len(compact) not in lengths:
            raise ValueError(f"{kind} must have {' or '.join(map(str, lengths))} digits")
        try:
            return str(ean.validate(compact))
        except StdnumError as exc:
            raise ValueError(f"{kind} {value!r} is not valid: {exc}") from exc

    return AfterValidator(check)


Sku = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$",
        description="Stock keeping unit: the merchant's own item code.",
        examples=["TSHIRT-RED-M"],
    ),
]
Gtin = Annotated[
    str,
    Field(
        description="GS1 Global Trade Item Number (8, 12, 13 or 14 digits, valid check digit).",
        examples=["4006381333931"],
        json_schema_extra={"pattern": r"^([0-9]{8}|[0-9]{12,14})$"},
    ),
    _gs1("GTIN", (8, 12, 13, 14)),
]
Gln = Annotated[
    str,
    Field(
        description="GS1 Global Location Number (13 digits, valid check digit).",
        examples=["4012345000009"],
        json_schema_extra={"pattern": r"^[0-9]{13}$"},
    ),
    _gs1("GLN", (13,)),
]
Locale = Annotated[
    str,
    Field(
        pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$", description="Locale such as en_US.", examples=["en_US"]
    ),
]
UnitCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Z0-9]{2,3}$",
        description="UN/ECE Recommendation 20 unit code, e.g. EA (each), KGM, LTR, MTR.",
        examples=["EA"],
    ),
]
