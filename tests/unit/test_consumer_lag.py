"""Consumer lag arithmetic: records behind the log end and the age of the oldest of them.

The oracle is a simulated partition: a list of records, each with its offset and
timestamp; the unprocessed ones are counted and searched directly.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from skuhub_runtime.lag import GroupLag, PartitionOffsets, lag_seconds, partition_lags

NOW_MS = 1_800_000_000_000


@st.composite
def partitions(draw: st.DrawFn) -> tuple[list[tuple[int, int]], PartitionOffsets]:
    """A partition log (offset, timestamp) after retention and a group's committed offset."""
    start = draw(st.integers(0, 50))
    count = draw(st.integers(0, 40))
    ages = draw(st.lists(st.integers(0, 10_000_000), min_size=count, max_size=count))
    log = [(start + i, NOW_MS - age) for i, age in enumerate(ages)]
    committed = draw(st.none() | st.integers(0, start + count))
    return log, PartitionOffsets("t", 0, start, start + count, committed)


@given(partitions())
def test_lag_counts_the_records_the_group_has_not_processed(
    case: tuple[list[tuple[int, int]], PartitionOffsets],
) -> None:
    log, offsets = case
    first_unread = 0 if offsets.committed is None else offsets.committed
    unprocessed = [ts for offset, ts in log if offset >= first_unread]

    [lag] = partition_lags(
        "g",
        [offsets],
        {("t", 0): unprocessed[0]} if unprocessed else {},
        NOW_MS,
    )

    assert lag.records == len(unprocessed)
    assert lag.seconds == ((NOW_MS - unprocessed[0]) / 1000 if unprocessed else 0.0)


def test_a_group_without_commits_is_behind_by_everything_retained() -> None:
    offsets = PartitionOffsets("t", 2, log_start=100, log_end=130, committed=None)

    assert (offsets.position, offsets.records_behind) == (100, 30)


def test_an_offset_lost_to_retention_counts_from_the_log_start() -> None:
    offsets = PartitionOffsets("t", 0, log_start=500, log_end=520, committed=10)

    assert (offsets.position, offsets.records_behind) == (500, 20)


def test_a_caught_up_group_has_no_lag_in_seconds_whatever_the_last_record() -> None:
    assert lag_seconds(0, NOW_MS - 60_000, NOW_MS) == 0.0


def test_lag_seconds_grows_with_the_oldest_records_age() -> None:
    oldest = NOW_MS - 5_000

    assert lag_seconds(3, oldest, NOW_MS) == 5.0
    assert lag_seconds(3, oldest, NOW_MS + 7_500) == 12.5


def test_an_unknown_or_future_timestamp_is_no_age() -> None:
    assert lag_seconds(4, None, NOW_MS) == 0.0
    assert lag_seconds(4, NOW_MS + 1_000, NOW_MS) == 0.0


def test_group_max_and_sum_over_partitions() -> None:
    offsets = [
        PartitionOffsets("a", 0, 0, 10, 7),  # 3 behind, oldest 4 s
        PartitionOffsets("a", 1, 0, 10, 10),  # caught up
        PartitionOffsets("b", 0, 0, 25, 5),  # 20 behind, oldest 2 s
    ]
    ages = {("a", 0): NOW_MS - 4_000, ("a", 1): NOW_MS - 99_000, ("b", 0): NOW_MS - 2_000}

    group = GroupLag("g", tuple(partition_lags("g", offsets, ages, NOW_MS)))

    assert (group.sum_records, group.max_records, group.max_seconds) == (23, 20, 4.0)


def test_a_group_without_partitions_has_no_lag() -> None:
    group = GroupLag("g", ())

    assert (group.sum_records, group.max_records, group.max_seconds) == (0, 0, 0.0)
