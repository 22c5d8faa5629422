"""Change-feed cursors and the Google Merchant Center rows, alone (docs/change-feed.md).

Expected values are written by hand from the documented rules.
"""

from __future__ import annotations

import base64
import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from skuhub_sync_gateway.domain.channels import Channel, MerchantFeed
from skuhub_sync_gateway.domain.feed import Cursor, CursorError, decode_cursor, encode_cursor
from skuhub_sync_gateway.domain.merchant_feed import header, merchant_row
from skuhub_sync_gateway.settings import MerchantFeedConfig


def test_a_cursor_comes_back_as_it_was_given() -> None:
    for cursor in (Cursor("web", 0), Cursor("market-fr_2", 9_223_372_036_854_775_807)):
        token = encode_cursor(cursor)
        assert decode_cursor(token, cursor.channel) == cursor
        assert token.replace("-", "").replace("_", "").isalnum(), "URL-safe, no padding"


def test_a_cursor_is_opaque_text_of_the_channel_and_position() -> None:
    token = encode_cursor(Cursor("web", 42))
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    assert raw.startswith("v1.web.42.")
    assert len(raw.rsplit(".", 1)[1]) == 16  # an 8-byte checksum in hex


def altered(token: str) -> list[str]:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    body, _, checksum = raw.rpartition(".")

    def b64(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    return [
        b64(body.replace(".42", ".43") + "." + checksum),  # another position, same checksum
        b64(body + "." + checksum[:-1] + ("0" if checksum[-1] != "0" else "1")),
        b64(body.replace("v1.", "v2.") + "." + checksum),
        b64("v1.web.-1." + checksum),
        token[:-3],  # cut short
        token + "A",
        "not base64 at all!",
        "now-or-never",
        "x" * 201,
    ]


@pytest.mark.parametrize("bad", altered(encode_cursor(Cursor("web", 42))))
def test_an_altered_or_made_up_cursor_is_refused_with_what_to_do(bad: str) -> None:
    with pytest.raises(CursorError) as refused:
        decode_cursor(bad, "web")
    assert "malformed or was altered" in str(refused.value)
    assert "pass next_cursor exactly as the feed returned it" in str(refused.value)


def test_another_channels_cursor_is_refused_naming_its_channel() -> None:
    with pytest.raises(CursorError) as refused:
        decode_cursor(encode_cursor(Cursor("market", 7)), "web")
    assert str(refused.value).startswith("cursor ")
    assert "belongs to channel market's feed, not web's" in str(refused.value)


SHOP = Channel(code="web", name="Web", locales=("de_DE", "en_GB"), currency="EUR")
FEED = MerchantFeed(
    link_template="https://shop.example.com/p/{sku}?ref=gmc",
    price_attribute="price",
    brand_attribute="brand",
)


def offer(sku: str, **fields: Any) -> dict[str, Any]:
    """An offer as the feed carries it (JSON), selling from stock unless ``fields`` say."""
    return {
        "sku": sku,
        "channel": "web",
        "offer_version": 3,
        "title": "Becher",
        "description": "Steingut",
        "gtin": "4006381333931",
        "attributes": {},
        "available": "4",
        "sellable": True,
        "pre_order": False,
        "back_order": False,
        **fields,
    }


def parse(lines: list[str]) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO("".join(lines)), delimiter="\t", quoting=csv.QUOTE_NONE)
    return list(reader)


def test_the_merchant_feed_rows_read_back_as_google_columns() -> None:
    rows = [
        merchant_row(
            offer(
                "MUG/1 blue",
                attributes={"price": {"EUR": "12.9", "USD": "14.50"}, "brand": "Acme"},
            ),
            SHOP,
            FEED,
        ),
        merchant_row(
            offer(
                "CUP-2",
                title="Tasse\tgroß",
                description="Zeile 1\nZeile 2\r\nZeile 3",
                gtin=None,
                available="0",
                sellable=False,
                attributes={"price": {"USD": "3"}, "brand": {"en_GB": "Acme UK"}},
            ),
            SHOP,
            FEED,
        ),
        merchant_row(
            offer(
                "PRE-3",
                available="0",
                pre_order=True,
                attributes={
                    "price": {"web": {"EUR": 20}},
                    "brand": {"de_DE": "Acme DE", "en_GB": "Acme UK"},
                    "availability_date": "2026-03-01",
                },
            ),
            SHOP,
            FEED,
        ),
        merchant_row(
            offer(
                "BACK-4",
                available="0",
                back_order=True,
                attributes={
                    "price": {"EUR": "0.125"},
                    "availability_date": "2026-03-01T13:00:00-08:00",
                },
            ),
            SHOP,
            FEED,
        ),
        merchant_row(offer("DRAFT-5", title=None), SHOP, FEED),
    ]

    assert rows[-1] is None, "an unpublished offer (no title) is no row"
    parsed = parse([header(), *[r for r in rows if r is not None]])

    assert parsed == [
        {
            "id": "MUG/1 blue",
            "title": "Becher",
            "description": "Steingut",
            "link": "https://shop.example.com/p/MUG%2F1%20blue?ref=gmc",
            "availability": "in_stock",
            "availability_date": "",
            "price": "12.90 EUR",
            "gtin": "4006381333931",
            "brand": "Acme",
            "condition": "new",
        },
        {
            "id": "CUP-2",
            "title": "Tasse groß",
            "description": "Zeile 1 Zeile 2  Zeile 3",
            "link": "https://shop.example.com/p/CUP-2?ref=gmc",
            "availability": "out_of_stock",
            "availability_date": "",
            "price": "",
            "gtin": "",
            "brand": "Acme UK",
            "condition": "new",
        },
        {
            "id": "PRE-3",
            "title": "Becher",
            "description": "Steingut",
            "link": "https://shop.example.com/p/PRE-3?ref=gmc",
            "availability": "preorder",
            "availability_date": "2026-03-01T00:00Z",
            "price": "20.00 EUR",
            "gtin": "4006381333931",
            "brand": "Acme DE",
            "condition": "new",
        },
        {
            "id": "BACK-4",
            "title": "Becher",
            "description": "Steingut",
            "link": "https://shop.example.com/p/BACK-4?ref=gmc",
            "availability": "backorder",
            "availability_date": "2026-03-01T13:00-0800",
            "price": "0.125 EUR",
            "gtin": "4006381333931",
            "brand": "",
            "condition": "new",
        },
    ]


def test_the_header_row_names_the_columns_in_order() -> None:
    assert header() == (
        "id\ttitle\tdescription\tlink\tavailability\tavailability_date\tprice\tgtin\tbrand"
        "\tcondition\n"
    )


@pytest.mark.parametrize(
    "template", ["https://shop.example.com/p/", "ftp://shop.example.com/{sku}", "/p/{sku}"]
)
def test_a_link_template_is_an_http_url_with_a_place_for_the_sku(template: str) -> None:
    with pytest.raises(ValidationError, match="link_template"):
        MerchantFeedConfig(link_template=template)


def test_a_link_template_keeps_its_placeholder_as_written() -> None:
    kept = MerchantFeedConfig(link_template="https://shop.example.com/p/{sku}?ref=gmc")
    assert kept.link_template == "https://shop.example.com/p/{sku}?ref=gmc"


def test_a_sellable_offer_with_nothing_available_and_no_order_kind_is_out_of_stock() -> None:
    row = merchant_row(offer("MUG-1", available=str(Decimal(0))), SHOP, FEED)
    assert row is not None
    assert parse([header(), row])[0]["availability"] == "out_of_stock"


@pytest.mark.parametrize(
    "price",
    [{"EUR": "-1"}, {"EUR": "n/a"}, {"EUR": None}, {"EUR": True}, "12.99", ["12.99"], None],
)
def test_a_price_that_is_no_amount_in_the_channel_currency_is_left_out(price: Any) -> None:
    row = merchant_row(offer("MUG-1", attributes={"price": price}), SHOP, FEED)
    assert row is not None
    assert parse([header(), row])[0]["price"] == ""
