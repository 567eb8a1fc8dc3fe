"""The watcher's bookkeeping without a socket or a clock: redeliveries, resume index,
commit coalescing (a fake clock)."""

from __future__ import annotations

import pytest

from aioeas.errors import UsageError
from aioeas.queue.accounting import CommitBatcher, Delivery


def test_a_record_moves_buffered_outstanding_committed() -> None:
    d = Delivery(0)
    assert d.resume_index() == 0
    assert all(d.receive(i) for i in (1, 2, 3))
    assert d.in_hand == 3
    d.hand_over(1)
    d.hand_over(2)
    assert d.commit(1)
    assert not d.commit(1)  # once
    assert d.in_hand == 2
    d.commit(2)
    d.hand_over(3)
    d.commit(3)
    assert d.in_hand == 0
    assert d.resume_index() == 0  # always where it started: see below


@pytest.mark.parametrize("start", [0, 1, 7])
def test_resume_is_the_index_first_given_whatever_was_received(start: int) -> None:
    """Records come out of index order: priority record 4 before normal 2 and 3, a dead
    peer's record 2 long after 5. Resuming at the lowest held (4) or past the highest
    received (6) would skip 2 and 3 for good; only the first index cannot."""
    d = Delivery(start)
    for index in (1, 4, 5):
        d.receive(index)
    d.hand_over(1)
    d.commit(1)
    d.hand_over(4)
    assert d.resume_index() == start
    d.commit(4)
    d.hand_over(5)
    d.commit(5)
    assert d.resume_index() == start


def test_a_queue_out_of_index_order_loses_nothing_after_a_reconnect() -> None:
    """A model of the service (one consumer, window 1, priority first) against Delivery:
    the service pushes only records at or above the resume index; every record ends
    committed."""
    queue = {1: 0, 2: 0, 3: 0}  # index -> priority
    d = Delivery(0)
    committed: list[int] = []

    def next_from(start: int) -> int | None:
        ready = [i for i in queue if i >= start]
        return min(ready, key=lambda i: (-queue[i], i)) if ready else None

    first = next_from(d.resume_index())
    assert first == 1
    assert d.receive(first)
    d.hand_over(first)
    d.commit(first)
    committed.append(first)
    del queue[first]
    queue[4] = 1  # a priority record jumps the line
    pushed = next_from(d.resume_index())
    assert pushed == 4
    assert d.receive(pushed)  # and the connection is cut before it is committed
    while (index := next_from(d.resume_index())) is not None:  # reconnected: from the start
        if d.receive(index):
            d.hand_over(index)
        d.commit(index)
        committed.append(index)
        del queue[index]
    assert sorted(committed) == [1, 2, 3, 4]


def test_redeliveries_of_committed_and_buffered_records_are_dropped() -> None:
    d = Delivery(0)
    d.receive(5)
    d.receive(6)
    d.hand_over(5)
    d.commit(5)
    # the connection drops; the service pushes both again
    assert not d.receive(5)  # committed: never again
    assert not d.receive(6)  # still in the buffer: already there
    d.hand_over(6)
    assert d.receive(6)  # handed over, not committed: may come again
    assert d.duplicates == 2


def test_acknowledged_commits_are_remembered_a_while_then_forgotten() -> None:
    d = Delivery(0, memory=3)
    for i in range(1, 7):
        d.receive(i)
        d.hand_over(i)
        d.commit(i)
    assert d.committed == {1, 2, 3, 4, 5, 6}  # none acknowledged: all kept, however many
    d.acknowledged([1, 2, 3, 4])
    assert d.committed == {2, 3, 4, 5, 6}  # the oldest acknowledged one is forgotten
    assert not d.receive(2)  # still remembered: a late copy is dropped
    d.acknowledged([5, 6, 99])  # an index not committed here is ignored
    assert d.committed == {4, 5, 6}
    assert d.receive(1)  # forgotten; the service never pushes an acknowledged commit again


def test_memory_must_be_positive() -> None:
    with pytest.raises(UsageError):
        Delivery(0, memory=0)


def test_auto_commit_counts_a_received_record_committed() -> None:
    d = Delivery(0, auto_commit=True, memory=2)
    assert d.receive(4)
    assert d.in_hand == 0
    assert not d.receive(4)
    assert d.resume_index() == 0
    d.receive(5)
    d.receive(6)
    assert d.committed == {5, 6}  # settled at once: bounded by the memory


def test_minus_one_is_pinned_once_to_a_real_index() -> None:
    d = Delivery(-1)
    assert d.resume_index() == -1
    d.pin(8)
    assert d.resume_index() == 8
    d.pin(12)  # only the first pin counts
    assert d.resume_index() == 8
    e = Delivery(3)
    e.pin(8)  # an index given by the caller is never changed
    assert e.resume_index() == 3


def test_batcher_coalesces_within_the_delay() -> None:
    b = CommitBatcher(max_batch=4, max_delay=0.005)
    assert b.due_at() is None
    assert not b.ready(100.0)
    b.add(3, now=100.0)
    b.add(1, now=100.001)
    b.add(3, now=100.002)  # again: counts once
    assert len(b) == 2
    assert b.due_at() == pytest.approx(100.005)
    assert not b.ready(100.004)
    assert b.ready(100.005)
    assert b.take(100.005) == [1, 3]
    assert b.due_at() is None


def test_batcher_releases_a_full_batch_at_once_and_splits_big_ones() -> None:
    b = CommitBatcher(max_batch=3, max_delay=10.0)
    for i in (9, 8, 7, 6, 5):
        b.add(i, now=1.0)
    assert b.ready(1.0)  # full: no waiting for the delay
    assert b.take(2.0) == [5, 6, 7]
    assert b.waiting() == [9, 8]
    assert b.due_at() == 12.0  # the rest timed from the take
    b.restore([5, 6], now=3.0)
    assert b.ready(3.0)
    assert b.take(3.0) == [5, 6, 8]


def test_batcher_with_no_delay_is_due_at_once() -> None:
    b = CommitBatcher()
    b.add(1, now=5.0)
    assert b.ready(5.0)
    with pytest.raises(UsageError):
        CommitBatcher(max_batch=0)
    with pytest.raises(UsageError):
        CommitBatcher(max_delay=-1)
