"""Locale codes (skuhub_contracts.identifiers.Locale): a language CLDR knows and, optionally,
a territory it knows, checked with babel wherever a locale is read (titles, channels)."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from skuhub_contracts.identifiers import Locale

LOCALE: TypeAdapter[str] = TypeAdapter(Locale)


@pytest.mark.parametrize(
    "code", ["en_US", "de_DE", "fr_FR", "pt_BR", "nb_NO", "sr_RS", "en", "fil"]
)
def test_a_known_language_and_territory_is_a_locale(code: str) -> None:
    assert LOCALE.validate_python(code) == code


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("zz_ZZ", "locale_unknown"),  # no such language
        ("xx", "locale_unknown"),
        ("en_ZZ", "locale_unknown"),  # babel would read it as en_US: refused, not guessed
        ("en-US", "string_pattern_mismatch"),  # the contracts spell it with _
        ("EN_us", "string_pattern_mismatch"),
    ],
)
def test_anything_else_is_refused_with_the_rule(code: str, error: str) -> None:
    with pytest.raises(ValidationError) as refused:
        LOCALE.validate_python(code)
    assert refused.value.errors()[0]["type"] == error
