"""The reference adapter's webhook receiver: Standard Webhooks signatures checked with the
``standardwebhooks`` library, the newest offer per SKU kept (docs/change-feed.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from standardwebhooks import Webhook

from skuhub_cli.adapter import OfferFile, webhook_receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def delivery(
    sku: str, version: int, *, secret: str = SECRET, sent: datetime | None = None
) -> tuple[str, dict[str, str]]:
    """A body and headers as a Standard Webhooks sender makes them."""
    sent = sent or datetime.now(UTC)
    body = json.dumps(
        {
            "type": "offer.changed",
            "timestamp": sent.isoformat(),
            "data": {"sku": sku, "channel": "web", "offer_version": version, "available": "3"},
        }
    )
    message_id = f"msg_{sku}_{version}"
    return body, {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, sent, body),
        "content-type": "application/json",
    }


async def post(out: Path, body: str, headers: dict[str, str]) -> httpx.Response:
    app = webhook_receiver(SECRET, OfferFile(out))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://adapter"
    ) as client:
        return await client.post("/hooks/skuhub", content=body, headers=headers)


def kept(out: Path) -> dict[str, Any]:
    return {o["sku"]: o["offer_version"] for o in map(json.loads, out.read_text().splitlines())}


async def test_a_signed_delivery_is_stored_and_an_older_version_dropped(tmp_path: Path) -> None:
    out = tmp_path / "offers.jsonl"

    assert (await post(out, *delivery("MUG-1", 2))).status_code == 204
    assert (await post(out, *delivery("CUP-1", 1))).status_code == 204
    assert (await post(out, *delivery("MUG-1", 1))).status_code == 204, "taken, not kept"

    assert kept(out) == {"CUP-1": 1, "MUG-1": 2}


@pytest.mark.parametrize(
    "forged",
    [
        delivery("MUG-1", 9, secret="whsec_" + "QUJD" * 8),
        delivery("MUG-1", 9, sent=datetime.now(UTC) - timedelta(minutes=10)),
    ],
    ids=["another secret", "replayed after the tolerance"],
)
async def test_a_delivery_whose_signature_does_not_verify_is_refused(
    tmp_path: Path, forged: tuple[str, dict[str, str]]
) -> None:
    out = tmp_path / "offers.jsonl"
    response = await post(out, *forged)

    assert response.status_code == 401
    assert response.text.startswith("signature not verified")
    assert not out.exists()


async def test_an_altered_body_or_missing_headers_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "offers.jsonl"
    body, headers = delivery("MUG-1", 2)

    altered = await post(out, body.replace('"3"', '"300"'), headers)
    unsigned = await post(out, body, {"content-type": "application/json"})
    garbled = await post(out, body, headers | {"webhook-signature": "v1"})

    assert [r.status_code for r in (altered, unsigned, garbled)] == [401, 401, 401]
    assert not out.exists()


def test_a_secret_that_is_not_one_is_refused_naming_the_option() -> None:
    with pytest.raises(typer.BadParameter) as refused:
        webhook_receiver("whsec_", OfferFile(Path("unused.jsonl")))
    assert "not a webhook secret" in str(refused.value)
