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
    assert d.resume_index() == 2  # the lowest not committed
    d.commit(2)
    d.hand_over(3)
    d.commit(3)
    assert d.resume_index() == 4  # past the highest when all are committed


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


def test_prune_keeps_what_a_resumed_connection_can_push() -> None:
    d = Delivery(0)
    for i in range(1, 11):
        d.receive(i)
        d.hand_over(i)
        if i != 7:
            d.commit(i)
    assert d.resume_index() == 7
    d.prune(d.resume_index(), keep={2})
    assert d.committed == {2, 8, 9, 10}
    assert not d.receive(9)
    d.prune(0)
    assert d.committed == {2, 8, 9, 10}


def test_auto_commit_counts_a_received_record_committed() -> None:
    d = Delivery(-1, auto_commit=True)
    assert d.resume_index() == -1
    assert d.receive(4)
    assert d.in_hand == 0
    assert not d.receive(4)
    assert d.resume_index() == 5


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
