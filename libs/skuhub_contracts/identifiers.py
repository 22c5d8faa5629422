"""Identifiers used on the wire: SKU, GTIN, GLN, locale and unit, validated at the edge.

GTIN and GLN check digits are verified with python-stdnum (GS1 mod-10), so a
mistyped number is refused with a message instead of creating a phantom item
or location. The digits themselves must be as the schema states: no spaces or
hyphens to strip, so what is stored is what was sent.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError
from stdnum import ean


@functools.lru_cache(maxsize=65_536)
def _check_digit_holds(digits: str) -> bool:
    # Cached: the same few locations and items arrive in every batch, and stdnum's digit
    # sum was 4 % of a reservation. Its cleaning is skipped: the caller checked the digits.
    return ean.calc_check_digit(digits[:-1]) == digits[-1]


def _gs1(kind: str, lengths: tuple[int, ...]) -> AfterValidator:
    digits = re.compile("|".join(f"[0-9]{{{n}}}" for n in lengths))
    spelled = " or ".join(map(str, lengths))

    def check(value: str) -> str:
        if not digits.fullmatch(value):
            raise PydanticCustomError(
                "gs1_format", "{kind} must be {spelled} digits", {"kind": kind, "spelled": spelled}
            )
        if not _check_digit_holds(value):
            raise PydanticCustomError(
                "gs1_check_digit",
                "{value} is not a valid {kind}: wrong check digit",
                {"value": value, "kind": kind},
            )
        return value

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


def gtin14(gtin: str) -> str:
    """The GTIN as the 14 digits GS1 compares: a GTIN-8, -12 or -13 is the GTIN-14 that
    starts with zeros (``4006381333931`` and ``04006381333931`` are one item). The check
    digit stays valid: GS1's weights count from the right."""
    return gtin.zfill(14)


Gln = Annotated[
    str,
    Field(
        description="GS1 Global Location Number (13 digits, valid check digit).",
        examples=["4012345000009"],
        json_schema_extra={"pattern": r"^[0-9]{13}$"},
    ),
    _gs1("GLN", (13,)),
]


@functools.lru_cache(maxsize=4_096)
def known_locale(code: str) -> bool:
    """Whether ``code`` (``en_US``, ``fr``) names a language CLDR knows, and a territory it
    knows for it."""
    # babel (CLDR) on first use: most services never read a locale. A territory babel does
    # not know is "resolved" to a likely one (en_ZZ -> en_US), so both parts must survive.
    from babel import Locale as CldrLocale
    from babel import UnknownLocaleError

    language, _, territory = code.partition("_")
    try:
        parsed = CldrLocale.parse(code)
    except (UnknownLocaleError, ValueError):
        return False
    return parsed.language == language and (not territory or parsed.territory == territory)


def _check_locale(value: str) -> str:
    if not known_locale(value):
        raise PydanticCustomError(
            "locale_unknown",
            "{value} is not a locale CLDR knows: a language and, optionally, a territory "
            "(en_US, de_DE, fr)",
            {"value": value},
        )
    return value


Locale = Annotated[
    str,
    Field(
        pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$",
        description="Locale such as en_US: a language CLDR knows and, optionally, a "
        "territory it knows for it.",
        examples=["en_US"],
    ),
    AfterValidator(_check_locale),
]
ChannelCode = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="A sales channel's code: lower-case letters, digits, _ and -.",
        examples=["web"],
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
