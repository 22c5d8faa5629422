"""What a dead letter adds to the record it keeps: the ``skuhub_dlq_*`` headers.

Defined once here; the runtime writes them and the AsyncAPI document describes them.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "skuhub_dlq_"
REASON: Final = "skuhub_dlq_reason"
TOPIC: Final = "skuhub_dlq_topic"
PARTITION: Final = "skuhub_dlq_partition"
OFFSET: Final = "skuhub_dlq_offset"
SERVICE: Final = "skuhub_dlq_service"
AT: Final = "skuhub_dlq_at"

HEADERS: Final[dict[str, str]] = {
    REASON: "Why the record was refused: the header or payload field and the rule it breaks "
    "(e.g. 'invalid skuhub.stock-moved.v1 payload: location: 4012345000008 is not a valid GLN: "
    "wrong check digit'), a domain refusal, or 'internal error (reference …)' for a failure "
    "the record did not cause, whose detail the service logged under that reference.",
    TOPIC: "Topic the record was read from (with deployment prefix).",
    PARTITION: "Partition the record was read from (decimal).",
    OFFSET: "Offset of the record in that partition (decimal).",
    SERVICE: "Service that refused the record.",
    AT: "When it was dead-lettered (RFC 3339, UTC).",
}
"""Each header a dead letter carries, with what it means."""

REPLAY_OF: Final = "skuhub_replay_of"
"""Header of a record re-published from a dead letter: the id of that dead letter.

Not a ``skuhub_dlq_*`` header: a replay that is refused again keeps it in its new dead
letter, which so tells where it came from (a replay of it replaces it)."""
