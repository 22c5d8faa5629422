"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import pytest

from tests.harness import Stack
from tests.upstream import Upstream


@pytest.fixture(scope="module")
def upstream(stack: Stack) -> Upstream:
    """An outside producer (librdkafka) on the session stack's broker."""
    return Upstream(stack.infra.kafka_bootstrap)
