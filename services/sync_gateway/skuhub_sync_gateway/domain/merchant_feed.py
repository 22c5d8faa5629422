"""A channel's offers as a Google Merchant Center product-data feed (TSV), pure.

One row per published offer (one with a title), columns as Google's product data
specification names them. Values come from the offer as the change feed carries it
(the channel-offer-changed payload as JSON) and from the channel's ``merchant_feed``:

- ``link``: ``link_template`` with ``{sku}`` replaced by the SKU (percent-encoded);
- ``availability``: ``preorder`` / ``backorder`` when the offer takes them, ``in_stock``
  when it sells with units available, else ``out_of_stock``;
- ``availability_date``: pre- and back-orders only, from the offer's ``availability_date``
  attribute (a date or a date-time) when it has one;
- ``price``: ``"12.99 EUR"`` from the ``price_attribute`` (a price collection,
  ``{"EUR": "12.99"}``, or one per channel or locale) in the channel's currency; empty
  when the offer has none;
- ``brand``: the ``brand_attribute`` (text, or one per channel or locale);
- ``condition``: ``new``.

Google's text feeds have no quoting or escapes: a tab, line feed or carriage return in a
value becomes a space.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from skuhub_sync_gateway.domain.channels import Channel, MerchantFeed

COLUMNS: tuple[str, ...] = (
    "id",
    "title",
    "description",
    "link",
    "availability",
    "availability_date",
    "price",
    "gtin",
    "brand",
    "condition",
)
AVAILABILITY_DATE_ATTRIBUTE = "availability_date"
"""The attribute a pre- or back-order's shipping date comes from."""
TITLE_MAX = 150
DESCRIPTION_MAX = 5000
"""Google's limits; longer text is cut rather than the product refused."""

_SKU_PLACEHOLDER = re.compile(r"\{sku\}")
"""``{sku}`` as written, or as a URL parser percent-encodes it in a path."""
_BREAKS = re.compile(r"[\t\r\n]")
_CENT = Decimal("0.01")


def header() -> str:
    """The header row."""
    return tsv_line(COLUMNS)


def merchant_row(offer: Mapping[str, Any], channel: Channel, feed: MerchantFeed) -> str | None:
    """The TSV row of one offer, None when it is not published (no title)."""
    title = offer.get("title")
    if not title:
        return None
    sku = str(offer["sku"])
    attributes: Mapping[str, Any] = offer.get("attributes") or {}
    availability = _availability(offer)
    when = ""
    if availability in ("preorder", "backorder"):
        when = _date_time(attributes.get(AVAILABILITY_DATE_ATTRIBUTE))
    price = ""
    if feed.price_attribute:
        price = _price(attributes.get(feed.price_attribute), channel)
    brand = ""
    if feed.brand_attribute:
        brand = _text(_for_channel(attributes.get(feed.brand_attribute), channel))
    values = {
        "id": sku,
        "title": str(title)[:TITLE_MAX],
        "description": str(offer.get("description") or "")[:DESCRIPTION_MAX],
        "link": _SKU_PLACEHOLDER.sub(lambda _: quote(sku, safe=""), feed.link_template),
        "availability": availability,
        "availability_date": when,
        "price": price,
        "gtin": str(offer.get("gtin") or ""),
        "brand": brand,
        "condition": "new",
    }
    return tsv_line([values[column] for column in COLUMNS])


def tsv_line(values: Sequence[str]) -> str:
    """One line: values joined by tabs, breaks in them made spaces, ending in a line feed."""
    return "\t".join(_BREAKS.sub(" ", value) for value in values) + "\n"


def _availability(offer: Mapping[str, Any]) -> str:
    if not offer.get("sellable"):
        return "out_of_stock"
    if offer.get("pre_order"):
        return "preorder"
    if offer.get("back_order"):
        return "backorder"
    return "in_stock" if _decimal(offer.get("available")) > 0 else "out_of_stock"


def _for_channel(value: Any, channel: Channel) -> Any:
    """A value as the channel sees it: one per channel (its scope) or per locale (its chain)
    is narrowed to the channel's; anything else is the value itself."""
    if isinstance(value, Mapping):
        for key in (channel.completeness_scope, *channel.locales):
            if key in value:
                return value[key]
    return value


def _price(value: Any, channel: Channel) -> str:
    collection = value
    if isinstance(value, Mapping) and channel.currency not in value:
        collection = _for_channel(value, channel)
    if not isinstance(collection, Mapping):
        return ""
    amount = _decimal(collection.get(channel.currency))
    if not amount.is_finite() or amount < 0:
        return ""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:  # cents at least: 12.9 -> 12.90
        amount = amount.quantize(_CENT)
    return f"{amount:f} {channel.currency}"


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return Decimal("NaN")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal("NaN")


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (Mapping, list)):
        return ""
    return str(value)


def _date_time(value: Any) -> str:
    """ISO 8601 as Google takes it (``2016-12-25T13:00-0800``); a date is its midnight UTC."""
    if not isinstance(value, str):
        return ""
    try:
        if len(value) == 10:
            return f"{date.fromisoformat(value).isoformat()}T00:00Z"
        moment = datetime.fromisoformat(value)
    except ValueError:
        return ""
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%MZ")
    return moment.strftime("%Y-%m-%dT%H:%M%z")
