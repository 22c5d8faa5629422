"""Kafka entrypoint: product-changed in, lifecycle-stage-changed out (via the outbox)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from skuhub_contracts.topics import LIFECYCLE_STAGE_CHANGED, PRODUCT_CHANGED
from skuhub_lifecycle.adapters.stage_repository import SqlStageRepository
from skuhub_lifecycle.entrypoints.events import to_product_facts, to_stage_changed
from skuhub_lifecycle.service_layer.follow_products import ReportedProduct, follow_products
from skuhub_runtime.consumer import ConsumerSpec, Incoming, Outcome, Rejection
from skuhub_runtime.outbox import enqueue_events
from skuhub_runtime.settings import ServiceSettings

SOURCE = "/skuhub/lifecycle"


def product_changed_consumer(settings: ServiceSettings) -> ConsumerSpec:
    out_topic = settings.topic(LIFECYCLE_STAGE_CHANGED.name)

    async def handle(conn: AsyncConnection, batch: Sequence[Incoming]) -> Outcome:
        by_id = {i.envelope.id: i for i in batch}
        reported = [ReportedProduct(i.envelope.id, to_product_facts(i.payload)) for i in batch]
        followed = await follow_products(SqlStageRepository(conn), reported)
        await enqueue_events(
            conn,
            (
                (out_topic, by_id[cause].derive(to_stage_changed(change), source=SOURCE))
                for change, cause in followed.changes
            ),
        )
        return Outcome(
            rejections=[Rejection(by_id[i], reason) for i, reason in followed.rejected.items()],
            ignored=frozenset(followed.already_seen),
        )

    return ConsumerSpec(name="product-changed", topics=[PRODUCT_CHANGED], handler=handle)
