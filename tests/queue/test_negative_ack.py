"""Giving records back through the watcher (``Watcher.negative_ack``), found by the model
test (test_stateful.py): given back through ``QueueClient.negative_ack`` alone, the record
stayed in the watcher's hand, so its window looked overrun once the service pushed the next
one, and a copy still buffered was handed out although the service had taken it back."""

from __future__ import annotations

import pytest

from aioeas.emulator import Emulator
from aioeas.errors import QueueError
from aioeas.queue.accounting import Delivery
from tests.queue.conftest import MakeClient
from tests.queue.test_watch import until

#: A hang guard only (seconds): records come at once.
GUARD = 10.0


def test_a_record_given_back_is_no_longer_in_hand() -> None:
    d = Delivery(0)
    assert d.receive(1)
    assert d.receive(2)
    d.hand_over(1)
    assert d.give_back(1)  # handed over
    assert d.give_back(2)  # still buffered
    assert d.in_hand == 0
    assert not d.give_back(3)  # never received
    assert d.receive(1)  # pushed again: a delivery of its own, not a copy
    assert d.in_hand == 1
    d.hand_over(1)
    d.commit(1)
    assert not d.give_back(1)  # committed stays committed
    assert not d.receive(1)


async def test_a_record_given_back_frees_the_window_and_comes_again(
    emu: Emulator, make_client: MakeClient
) -> None:
    queue = emu.queue("svc")
    producer = make_client()
    await producer.put(b"normal")  # 1
    async with make_client().watch(window=1) as watcher:
        first = await watcher.next(timeout=GUARD)
        assert first.index == 1
        await producer.put(b"urgent", priority=1)  # 2: goes before 1 once 1 is given back
        await watcher.negative_ack(first, "Timeout", "too slow")
        urgent = await watcher.next(timeout=GUARD)
        assert urgent.index == 2
        assert watcher.in_hand == 1  # record 1 is the service's again
        watcher.commit(urgent)
        again = await watcher.next(timeout=GUARD)
        assert (again.index, again.data, again.message) == (1, b"normal", "Timeout: too slow")
        watcher.commit(again)
        await watcher.flush()
        assert watcher.stats.max_in_hand == 1
    assert await queue.wait_until(lambda: len(queue) == 0)
    assert queue.commits == 2


async def test_a_copy_in_the_buffer_goes_with_the_record_given_back(
    emu: Emulator, make_client: MakeClient
) -> None:
    queue = emu.queue("svc")
    producer = make_client()
    await producer.put(b"one")
    queue.watch_faults.cut_after(1, times=1)
    async with make_client().watch(window=1) as watcher:
        first = await watcher.next(timeout=GUARD)
        # cut after its push; the reconnection pushes record 1 again: a copy in the buffer
        assert await until(lambda: watcher.stats.received == 2)
        assert watcher.pending == 1
        assert first.index == 1
        await watcher.negative_ack(first)
        assert watcher.in_hand <= 1  # the copy went; the service may have pushed it anew
        again = await watcher.next(timeout=GUARD)
        assert (again.index, again.message) == (1, "Shutdown")
        watcher.commit(again)
        await watcher.flush()
        assert watcher.stats.max_in_hand == 1
    assert await queue.wait_until(lambda: len(queue) == 0)


async def test_a_give_back_that_fails_leaves_the_records_in_hand(
    emu: Emulator, make_client: MakeClient
) -> None:
    """The records are forgotten before the request (the service may push them again
    before it answers); should the request fail, they are the consumer's still and count
    in hand again, so the window holds. Several records go in one list."""
    queue = emu.queue("svc")
    producer = make_client()
    for body in (b"a", b"b"):
        await producer.put(body)
    client = make_client()
    async with client.watch(window=2) as watcher:
        records = [await watcher.next(timeout=GUARD) for _ in range(2)]
        assert watcher.in_hand == 2
        real = client.negative_ack

        async def refused(*args: object, **kwargs: object) -> str:
            raise QueueError("refused")

        client.negative_ack = refused  # type: ignore[method-assign]
        with pytest.raises(QueueError, match="refused"):
            await watcher.negative_ack(records)
        assert watcher.in_hand == 2  # still ours
        client.negative_ack = real  # type: ignore[method-assign]
        await watcher.negative_ack(records)
        again = [await watcher.next(timeout=GUARD) for _ in range(2)]
        assert sorted((r.index, r.data) for r in again) == [(1, b"a"), (2, b"b")]
        watcher.commit(again)
        await watcher.flush()
    assert await queue.wait_until(lambda: len(queue) == 0)
