"""Dead letters as operators see them: ids, filters, pages and the record a replay publishes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from skuhub_runtime.dead_letter_records import DeadLetter, DeadLetterFilter, Place, page, place_of

AT = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def letter(
    offset: int,
    *,
    reason: str = "unit CS cannot be converted",
    topic: str = "t1.stock.stock-moved.v1",
    at: datetime = AT,
    partition: int = 0,
    extra: list[tuple[str, bytes]] | None = None,
) -> DeadLetter:
    return DeadLetter(
        Place(int(at.timestamp() * 1000), partition, offset),
        b"SKU-1",
        b'{"sku": "SKU-1"}',
        [
            ("ce_id", b"e-1"),
            ("ce_type", b"skuhub.stock-moved.v1"),
            *(extra or []),
            ("skuhub_dlq_reason", reason.encode()),
            ("skuhub_dlq_topic", topic.encode()),
            ("skuhub_dlq_partition", b"2"),
            ("skuhub_dlq_offset", b"41"),
            ("skuhub_dlq_at", at.isoformat().encode()),
        ],
    )


@pytest.mark.parametrize(
    ("place", "written"),
    [
        (Place(0, 0, 0), "0-0-0"),
        # numpy.base_repr(1796237433541, 36), lower-cased.
        (Place(1796237433541, 2, 17), "2-17-mx6he211"),
        (Place(35, 11, 36), "11-36-z"),
        (Place(36, 1, 2), "1-2-10"),
    ],
)
def test_an_id_names_its_place_and_reads_back(place: Place, written: str) -> None:
    assert place.id == written
    assert place_of(written) == place


def test_ids_are_base_36_timestamps() -> None:
    # 36**3 + 2 * 36 + 5 = 46733: digits 1, 0, 2, 5.
    assert Place(46733, 0, 0).id == "0-0-1025"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0-0",
        "0-0-",
        "a-0-0",
        "0-0-0-0",
        "-1-0-0",
        "0-0-Z",
        "0 -0-0",
        "0-0-0\n",
        "00-0-0",
        "0-01-0",
        "0-0-01",
    ],
)
def test_what_is_no_id_names_no_place(text: str) -> None:
    assert place_of(text) is None


def test_headers_say_where_it_came_from_and_why() -> None:
    found = letter(3, reason="bad unit")

    assert (found.topic, found.source_partition, found.source_offset) == (
        "t1.stock.stock-moved.v1",
        2,
        41,
    )
    assert found.reason == "bad unit"
    assert found.at == AT
    assert found.event == ("skuhub.stock-moved.v1", "e-1")
    assert found.replay_of is None


def test_a_structured_event_is_read_from_its_body() -> None:
    body = json.dumps({"specversion": "1.0", "id": "e-9", "type": "skuhub.product-changed.v1"})
    found = DeadLetter(Place(0, 0, 0), None, body.encode(), [])

    assert found.event == ("skuhub.product-changed.v1", "e-9")
    assert DeadLetter(Place(0, 0, 0), None, b"{not json", []).event == (None, None)


def test_a_replay_goes_to_the_original_topic_without_the_dead_letters_headers() -> None:
    found = letter(3, extra=[("skuhub_replay_of", b"0-1-abc"), ("x-hostile", b"\x00\xff")])

    topic, record = found.replay()

    assert topic == "t1.stock.stock-moved.v1"
    assert (record.key, record.value) == (b"SKU-1", b'{"sku": "SKU-1"}')
    assert list(record.headers) == [
        ("ce_id", b"e-1"),
        ("ce_type", b"skuhub.stock-moved.v1"),
        ("x-hostile", b"\x00\xff"),
        ("skuhub_replay_of", found.id.encode()),
    ]


@pytest.mark.parametrize(
    ("wanted", "kept"),
    [
        (DeadLetterFilter(), True),
        (DeadLetterFilter(reason="CANNOT BE"), True),
        (DeadLetterFilter(reason="lot"), False),
        (DeadLetterFilter(since=AT), True),
        (DeadLetterFilter(since=AT + timedelta(microseconds=1)), False),
        (DeadLetterFilter(until=AT), False),
        (DeadLetterFilter(until=AT + timedelta(seconds=1)), True),
        (DeadLetterFilter(since=AT.replace(tzinfo=None)), True),
        (DeadLetterFilter(topic="stock.stock-moved.v1"), True),
        (DeadLetterFilter(topic="t1.stock.stock-moved.v1"), True),
        (DeadLetterFilter(topic="catalog.product-changed.v1"), False),
        (DeadLetterFilter(reason="unit", topic="catalog.product-changed.v1"), False),
    ],
)
def test_a_filter_keeps_what_meets_every_criterion(wanted: DeadLetterFilter, kept: bool) -> None:
    assert wanted.matches(letter(0), prefix="t1.") is kept


def test_pages_run_oldest_first_across_partitions_and_resume_after_the_cursor() -> None:
    letters = [
        letter(0, partition=1, at=AT + timedelta(seconds=2)),
        letter(0, partition=0, at=AT),
        letter(1, partition=0, at=AT + timedelta(seconds=3)),
        letter(1, partition=1, at=AT + timedelta(seconds=1)),
    ]
    expected = [letters[1].id, letters[3].id, letters[0].id, letters[2].id]

    seen: list[str] = []
    after = None
    for _ in range(3):
        found, after = page(letters, after=after, limit=3 if not seen else 2)
        seen += [f.id for f in found]
        if after is None:
            break

    assert seen == expected
    assert after is None


def test_a_page_keeps_only_what_the_predicate_keeps() -> None:
    letters = [letter(offset) for offset in range(5)]

    found, after = page(letters, limit=2, keep=lambda f: f.place.offset % 2 == 0)

    assert [f.place.offset for f in found] == [0, 2]
    assert after == letters[2].place
    assert page(letters, after=after, limit=2, keep=lambda f: f.place.offset % 2 == 0) == (
        [letters[4]],
        None,
    )


def test_a_cursor_need_only_name_a_place() -> None:
    assert place_of("00-01-1", strict=False) == Place(1, 0, 1)
