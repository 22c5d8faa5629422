"""Helpers for end-to-end tests that read the sync gateway's offers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.harness import Stack, wait_until


def new_sku(prefix: str = "SKU") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def offer(stack: Stack, sku: str, channel: str = "web") -> dict[str, Any] | None:
    response = httpx.get(f"{stack.url('sync_gateway')}/v1/channels/{channel}/offers/{sku}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def offer_where(stack: Stack, sku: str, condition: Any, what: str) -> dict[str, Any]:
    result: dict[str, Any] = wait_until(
        lambda: (o := offer(stack, sku)) is not None and condition(o) and o, timeout=30, what=what
    )
    return result
