"""Wire contracts shared by every skuhub service and upstream client."""

from skuhub_contracts.codec import DecodeError, Envelope, KafkaRecord, decode, encode
from skuhub_contracts.events import (
    ChannelOfferChanged,
    EventPayload,
    InventoryPolicyChanged,
    LifecycleStage,
    LifecycleStageChanged,
    MovementKind,
    ProductChanged,
    ProductStatus,
    ReplenishmentProposed,
    StockLevelChanged,
    StockMoved,
    WorkflowState,
)

__all__ = [
    "ChannelOfferChanged",
    "DecodeError",
    "Envelope",
    "EventPayload",
    "InventoryPolicyChanged",
    "KafkaRecord",
    "LifecycleStage",
    "LifecycleStageChanged",
    "MovementKind",
    "ProductChanged",
    "ProductStatus",
    "ReplenishmentProposed",
    "StockLevelChanged",
    "StockMoved",
    "WorkflowState",
    "decode",
    "encode",
]
