"""A queue hands records out of index order; a watcher that reconnects must still get every
record it may be given. The two cases a review found (a priority record overtaking older
ones; a dead peer's record coming back to the group) and ``watch(index=-1)`` losing its
connection before the first record, each against the emulator. No sleeps: the tests wait on
the emulator's ``wait_until`` and on the watcher's own records."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aioeas.emulator import Emulator
from aioeas.errors import AuthError, QueueError
from aioeas.queue import QueueRecord, Watcher
from tests.queue.conftest import MakeClient

LIMIT = 30.0  # a hang guard only: every wait below ends on an event long before it


async def take(watcher: Watcher, n: int) -> list[QueueRecord]:
    return [await watcher.next(timeout=LIMIT) for _ in range(n)]


async def test_a_priority_record_pushed_before_older_ones_then_a_cut_skips_nothing(
    emu: Emulator, make_client: MakeClient
) -> None:
    """Normal records 1-3, window 1; priority record 4 is pushed before 2 and 3 and the
    connection is cut right after it. Resuming at the lowest index held (4), or past the
    highest seen, would leave 2 and 3 in the queue for ever."""
    queue = emu.queue("svc")
    producer = make_client()
    for i in (1, 2, 3):
        await producer.put(f"normal {i}".encode())
    watcher = await make_client(uid="u", gid="g").watch(window=1)
    try:
        (first,) = await take(watcher, 1)
        assert first.index == 1
        await producer.put(b"urgent", priority=1)  # index 4, the front of the line
        queue.watch_faults.cut_after(2)  # this connection's second push: record 4
        watcher.commit(first)
        got = [first.index]
        while len(got) < 4:
            record = await watcher.next(timeout=LIMIT)
            got.append(record.index)
            watcher.commit(record)
        assert got[1] == 4  # the priority record did overtake
        assert sorted(got) == [1, 2, 3, 4]
        assert queue.watch_faults.cuts == 1
        assert await queue.wait_until(lambda: len(queue) == 0, LIMIT)
        assert watcher.stats.reconnects == 1
    finally:
        await watcher.close()


async def test_a_dead_peers_record_reaches_a_consumer_that_was_cut_before(
    emu: Emulator, make_client: MakeClient
) -> None:
    """Two consumers of one group, window 1. A gets 1, B gets 2, A gets 3; A's connection is
    cut once; then B dies holding 2. Record 2 goes back to the group and A must get it,
    although A had seen (and committed) higher indexes before its reconnection."""
    queue = emu.queue("svc")
    producer = make_client()
    for i in (1, 2, 3):
        await producer.put(f"r{i}".encode())
    a = await make_client(uid="a", gid="g").watch(window=1)
    b = await make_client(uid="b", gid="g").watch(window=1)
    try:
        (one,) = await take(a, 1)
        (two,) = await take(b, 1)
        assert (one.index, two.index) == (1, 2)
        a.commit(one)
        (three,) = await take(a, 1)
        assert three.index == 3
        a.commit(three)
        await a.flush()
        reconnects = a.stats.reconnects
        assert queue.cut_watchers("g.a") == 1
        # B dies holding record 2: closed without committing it
        await b.close()
        (again,) = await take(a, 1)
        assert again.index == 2
        assert a.stats.reconnects == reconnects + 1
        a.commit(again)
        assert await queue.wait_until(lambda: len(queue) == 0, LIMIT)
        assert queue.consumer_stats("g.a").committed + queue.consumer_stats("g.b").committed == 3
    finally:
        await a.close()
        await b.close()


async def test_watch_from_the_newest_cut_before_the_first_record_misses_nothing(
    emu: Emulator, make_client: MakeClient
) -> None:
    """``watch(index=-1)``: only records put after it starts. Its connection is cut before
    any record came and a record is put while it is down: asking for -1 again on the
    reconnection would skip it. The watcher pins -1 to a real index when it starts."""
    queue = emu.queue("svc")
    producer = make_client()
    for i in (1, 2):
        await producer.put(f"old {i}".encode())
    watcher = await make_client(uid="late", gid="g").watch(index=-1, window=4)
    try:
        assert queue.cut_watchers("g.late") == 1
        # put while the watcher is (most likely) still reconnecting; either way, it counts
        index, _ = await producer.put(b"while away")
        assert index == 3
        record = await watcher.next(timeout=LIMIT)
        assert record.index == 3
        assert record.data == b"while away"
        watcher.commit(record)
        await producer.put(b"after")
        assert (await watcher.next(timeout=LIMIT)).index == 4
        await watcher.flush()  # the commit of 3 acknowledged: it is gone from the queue
        assert sorted(r.index for r in queue.records) == [1, 2, 4]  # the old ones never sent
        assert watcher.stats.delivered == 2
    finally:
        await watcher.close()


async def test_minus_one_is_asked_as_a_real_index_on_every_connection(
    emu: Emulator, make_client: MakeClient
) -> None:
    """The first connection already asks for the pinned index (the queue's last + 1), and
    each reconnection for the same, so no gap can open between them."""
    queue = emu.queue("svc")
    producer = make_client()
    for _ in range(5):
        await producer.put(b"old")
    watcher = await make_client(uid="p", gid="g").watch(index=-1, window=2)
    try:
        consumer = queue.consumers.find("g", "p")
        assert consumer is not None
        assert consumer.start == 6
        queue.cut_watchers("g.p")
        for _ in range(3):
            await producer.put(b"new")
        got = []
        for _ in range(3):
            got.append(await watcher.next(timeout=LIMIT))
            watcher.commit(got[-1])
        assert [r.index for r in got] == [6, 7, 8]
        assert queue.consumers.find("g", "p") is not None
        assert queue.consumers.find("g", "p").start == 6  # type: ignore[union-attr]
    finally:
        await watcher.close()


async def test_a_long_watch_remembers_a_bounded_number_of_commits(
    emu: Emulator, make_client: MakeClient
) -> None:
    """Resuming at the first index means nothing is pruned by index any more: acknowledged
    commits are forgotten past a bound instead, so memory does not grow with the stream."""
    producer = make_client()
    total = 600
    await asyncio.gather(*(producer.put(b"x") for _ in range(total)))
    async with make_client(uid="long", gid="g").watch(window=8) as watcher:
        watcher._delivery.memory = 50  # a small bound, to see it hold
        for _ in range(total):
            watcher.commit(await watcher.next(timeout=LIMIT))
        await watcher.flush()
        assert len(watcher._delivery.committed) <= 50
    queue = emu.queue("svc")
    assert await queue.wait_until(lambda: len(queue) == 0, LIMIT)


async def test_watch_from_the_newest_of_an_empty_queue_cut_before_any_record(
    emu: Emulator, make_client: MakeClient
) -> None:
    """The same on a queue that never held a record (its last index is 0): -1 is pinned
    to 1, so the record put while the connection is down is the first delivered. The
    record is put in the emulator directly, in the same step as the cut, so it is surely
    there before the watcher reconnects (asking for -1 again would skip it)."""
    queue = emu.queue("svc")
    watcher = await make_client(uid="late", gid="g").watch(index=-1, window=4)
    try:
        assert queue.cut_watchers("g.late") == 1
        assert queue.put(b"while away").index == 1
        record = await watcher.next(timeout=LIMIT)
        assert (record.index, record.data) == (1, b"while away")
    finally:
        await watcher.close()


async def test_a_copy_pushed_again_is_dropped_when_the_first_is_committed(
    emu: Emulator, make_client: MakeClient
) -> None:
    """The consumer holds record 1 (not committed) when the connection is cut; the service
    pushes it again and the copy waits in the buffer. Committing the first one drops the
    copy: the next record handed out is 2, and the copy is counted as a duplicate. Then
    the same with record 2: two duplicates."""
    queue = emu.queue("svc")
    producer = make_client()
    await producer.put(b"one")
    watcher = await make_client(uid="u", gid="g").watch(window=4)
    try:
        (held,) = await take(watcher, 1)
        assert held.index == 1
        for n in (1, 2):  # twice: each dropped copy adds to the count
            assert queue.cut_watchers("g.u") == 1
            # until the copy of the held record is back in the buffer (checked at every
            # loop turn; LIMIT only guards against a hang)

            async def copy_back(index: int = held.index) -> None:
                while index not in watcher._delivery.buffered:  # noqa: ASYNC110
                    await asyncio.sleep(0)

            await asyncio.wait_for(copy_back(), LIMIT)
            watcher.commit(held)
            await watcher.flush()  # sent: the next reconnection pushes only the new one
            await producer.put(f"after {n}".encode())
            following = await watcher.next(timeout=LIMIT)
            assert (following.index, following.data) == (n + 1, f"after {n}".encode())
            assert watcher.stats.duplicates == n
            held = following
    finally:
        await watcher.close()


async def test_a_record_committed_here_and_pushed_again_is_dropped_as_it_arrives(
    emu: Emulator, make_client: MakeClient
) -> None:
    """Record n is committed while its commit still waits (``commit_delay``) when the
    connection is cut; the service, which has no commit for it, pushes it again: the copy
    is dropped as it arrives (never buffered, never handed out) and counted. Twice: two
    duplicates."""
    queue = emu.queue("svc")
    producer = make_client()
    await producer.put(b"r1")
    watcher = await make_client(uid="u", gid="g").watch(window=4, commit_delay=3600)
    try:
        for n in (1, 2):
            held = await watcher.next(timeout=LIMIT)
            assert held.index == n
            watcher.commit(held)  # waits for commit_delay: not sent
            received = watcher.stats.received
            assert queue.cut_watchers("g.u") == 1

            async def copy_came(received: int = received) -> None:  # LIMIT: a hang guard
                while watcher.stats.received == received:  # noqa: ASYNC110
                    await asyncio.sleep(0)

            await asyncio.wait_for(copy_came(), LIMIT)
            assert watcher.stats.duplicates == n
            assert watcher.pending == 0
            await watcher.flush()
            await producer.put(f"r{n + 1}".encode())
        last = await watcher.next(timeout=LIMIT)
        assert (last.index, last.data) == (3, b"r3")
    finally:
        await watcher.close()


async def test_minus_one_left_unpinned_when_the_queue_does_not_say_its_last_index(
    emu: Emulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    """When the queue's attributes lack ``stream.lastEntry`` (or hold no number, or cannot
    be read), the watcher still starts at -1 and says, naming the queue and the cause, that
    a reconnection may miss what is put meanwhile. A refused token is not such a case: it
    fails the watch."""
    queue = emu.queue("svc")
    producer = make_client()
    await producer.put(b"old")
    causes: list[tuple[dict[str, str] | Exception, str]] = [
        ({}, "KeyError('stream.lastEntry')"),
        (
            {"stream.lastEntry": "many"},
            "ValueError(\"invalid literal for int() with base 10: 'many'\")",
        ),
        (QueueError("no attributes"), "QueueError('no attributes')"),
    ]
    for n, (answer, cause) in enumerate(causes):
        client = make_client(uid=f"c{n}", gid=f"g{n}")

        async def attributes(answer: dict[str, str] | Exception = answer) -> dict[str, str]:
            if isinstance(answer, Exception):
                raise answer
            return answer

        client.attributes = attributes  # type: ignore[method-assign]
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aioeas.queue.watcher"):
            watcher = await client.watch(index=-1, window=2)
        try:
            assert [r.getMessage() for r in caplog.records] == [
                f"watch(index=-1) on {client.url}: the queue's last index is unknown "
                f"({cause}); a reconnection asks for -1 again and may miss records put "
                "meanwhile"
            ]
            consumer = queue.consumers.find(f"g{n}", f"c{n}")
            assert consumer is not None
            index, _ = await producer.put(f"new {n}".encode())
            record = await watcher.next(timeout=LIMIT)
            assert (record.index, record.data) == (index, f"new {n}".encode())
        finally:
            await watcher.close()

    refused = make_client(uid="r", gid="gr")

    async def refuse() -> dict[str, str]:
        raise AuthError(403, b"denied")

    refused.attributes = refuse  # type: ignore[method-assign]
    with pytest.raises(AuthError):
        await refused.watch(index=-1, window=2)


async def test_only_an_index_zero_frame_ends_the_stream(
    emu: Emulator, make_client: MakeClient
) -> None:
    """The end of the stream is the frame of index 0 tagged ``_eos_=true``; a record of
    its own (put by another client straight into the queue) carrying that tag is a record."""
    queue = emu.queue("svc")
    queue.put(b"odd", {"_eos_": "true"})
    watcher = await make_client(uid="u", gid="g").watch(window=1)
    try:
        record = await watcher.next(timeout=LIMIT)
        assert (record.index, record.data) == (1, b"odd")
        assert not watcher.end_of_stream
        watcher.commit(record)
    finally:
        await watcher.close()
