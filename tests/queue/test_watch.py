"""The watcher against the emulator: groups, windows, backpressure, commits that do not
wait, reconnection without skipping, closing. No sleeps: tests wait on events and on the
emulator's ``wait_until``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from aioeas.emulator import Emulator
from aioeas.emulator.faults import Fault
from aioeas.errors import (
    AuthError,
    EASTimeoutError,
    QueueError,
    RequestTimeoutError,
    ServiceError,
    UsageError,
)
from aioeas.queue import QueueClient, QueueRecord, ReconnectPolicy, WatchLostError
from aioeas.queue.accounting import SETTLED_MEMORY
from tests.queue.conftest import MakeClient, record_watcher_sleeps


async def until(predicate: Callable[[], bool], limit: float = 10.0) -> bool:
    """Yield to the loop until ``predicate()`` holds (client-side state the emulator
    cannot wait on); a turn at a time, no timed sleep. False past ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0)
    return True


async def put_many(client: QueueClient, n: int, tags: dict[str, str] | None = None) -> None:
    await asyncio.gather(*(client.put(f"r{i}".encode(), tags) for i in range(n)))


async def test_four_consumers_of_one_group_each_record_seen_once(
    emu: Emulator, make_client: MakeClient
) -> None:
    total = 1000
    await put_many(make_client(), total)
    seen: list[list[int]] = [[] for _ in range(4)]
    all_in = asyncio.Event()

    async def consume(k: int) -> None:
        async with make_client(gid="workers").watch(window=8) as watcher:
            async for record in watcher:
                seen[k].append(record.index)
                watcher.commit(record)
                if sum(map(len, seen)) == total:
                    all_in.set()

    tasks = [asyncio.create_task(consume(k)) for k in range(4)]
    await all_in.wait()
    queue = emu.queue("svc")
    assert await queue.wait_until(lambda: len(queue) == 0)  # every commit arrived
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    flat = [i for s in seen for i in s]
    assert sorted(flat) == list(range(1, total + 1))  # each exactly once
    assert all(seen), "records are spread over every consumer"


async def test_two_groups_each_see_every_record(emu: Emulator, make_client: MakeClient) -> None:
    total = 200
    await put_many(make_client(), total)

    async def consume(gid: str) -> list[int]:
        got: list[int] = []
        async with make_client(gid=gid).watch(window=20) as watcher:
            async for record in watcher:
                got.append(record.index)
                watcher.commit(record)
                if len(got) == total:
                    break
        return got

    first, second = await asyncio.gather(consume("g1"), consume("g2"))
    assert first == second == list(range(1, total + 1))  # FIFO, in full, for each


async def test_the_window_is_never_exceeded_and_the_buffer_is_bounded(
    emu: Emulator, make_client: MakeClient
) -> None:
    total, window = 300, 7
    q = make_client(uid="slow", gid="w")
    await put_many(make_client(), total)
    async with q.watch(window=window) as watcher:
        for _ in range(total):
            record = await watcher.next(timeout=10)
            assert watcher.pending <= window
            assert watcher.in_hand <= window
            await asyncio.sleep(0)  # let the reader run ahead as far as it may
            watcher.commit(record)
        assert watcher.stats.max_in_hand <= window
    assert emu.queue("svc").consumer_stats("w.slow").max_outstanding <= window


async def test_auto_commit_still_buffers_at_most_the_window(
    emu: Emulator, make_client: MakeClient
) -> None:
    total, window = 200, 5
    await put_many(make_client(), total)
    async with make_client().watch(window=window, auto_commit=True) as watcher:
        first = await watcher.next(timeout=10)
        # the service ignores the window with auto-commit; the reader stops when full
        assert await until(lambda: watcher.pending == window)
        for _ in range(100):  # loop turns, not a time: the reader could run ahead, and won't
            await asyncio.sleep(0)
            assert watcher.pending == window
        got = [first.index]
        while len(got) < total:
            got.append((await watcher.next(timeout=10)).index)
        assert got == list(range(1, total + 1))
        watcher.commit(first)  # nothing to do with auto-commit
        assert watcher.commits_pending == 0


async def test_commits_do_not_wait_for_the_consumer(emu: Emulator, make_client: MakeClient) -> None:
    await put_many(make_client(), 3)
    queue = emu.queue("svc")
    async with make_client(uid="u", gid="g").watch(window=1) as watcher:
        record = await watcher.next(timeout=5)
        watcher.commit(record)
        # the consumer now stops; the commit still goes, and the window moves on
        assert await queue.wait_until(lambda: queue.consumer_stats("g.u").committed == 1)
        assert (await watcher.next(timeout=5)).index == 2  # window 1: only after the commit


async def test_commits_are_coalesced(emu: Emulator, make_client: MakeClient) -> None:
    total = 400
    await put_many(make_client(), total)
    async with make_client().watch(window=100) as watcher:
        for _ in range(total):
            watcher.commit(await watcher.next(timeout=10))
        await watcher.flush()
        assert watcher.stats.commits_sent == total
        assert watcher.stats.commit_requests < total / 4  # many indexes per PUT
    assert len(emu.queue("svc")) == 0


async def test_cut_fifty_times_every_record_committed_once_none_skipped(
    emu: Emulator, make_client: MakeClient
) -> None:
    # 50 connections cut after 100 pushes each take 5,000 pushes, copies pushed again after
    # a cut among them: with 5,100 records the 51st connection always has records to fetch,
    # so each of the 50 cuts lands before the last record and is followed by a reconnect.
    # (With 5,000 and no copy pushed again the last cut came after the last record.)
    cuts, pushes = 50, 100
    total = pushes * (cuts + 1)
    queue = emu.queue("svc")
    await put_many(make_client(), total)
    queue.watch_faults.cut_after(pushes, times=cuts)
    delivered: list[int] = []
    committed: list[int] = []
    q = make_client(uid="resumer", gid="g", reconnect=ReconnectPolicy(backoff_base=0.0))
    async with q.watch(window=32) as watcher:
        while len(set(delivered)) < total:
            record = await watcher.next(timeout=10)
            delivered.append(record.index)
            watcher.commit(record)
            committed.append(record.index)
        await watcher.flush()
        stats = watcher.stats
    assert queue.watch_faults.cuts == cuts
    assert stats.reconnects == cuts
    assert sorted(committed) == list(range(1, total + 1))  # exactly once each, none skipped
    assert stats.commits_sent == total
    assert await queue.wait_until(lambda: len(queue) == 0)  # the service has them all
    assert queue.commits == total  # the service saw each record committed exactly once
    assert queue.consumer_stats("g.resumer").committed == total


async def test_uncommitted_records_come_again_after_a_cut(
    emu: Emulator, make_client: MakeClient
) -> None:
    await put_many(make_client(), 4)
    queue = emu.queue("svc")
    queue.watch_faults.cut_after(4, times=1)
    q = make_client(uid="u", gid="g", reconnect=ReconnectPolicy(backoff_base=0.0))
    async with q.watch(window=4) as watcher:
        got = [await watcher.next(timeout=5) for _ in range(4)]
        watcher.commit(got[0])
        watcher.commit(got[2])
        # records 2 and 4 were taken and not committed: after the cut they come again
        again = [await watcher.next(timeout=5) for _ in range(2)]
        assert sorted(r.index for r in again) == [2, 4]
        watcher.commit(again)
        await watcher.flush()
        assert watcher.stats.reconnects == 1
    assert await queue.wait_until(lambda: len(queue) == 0)


async def test_reconnection_gives_up_within_its_policy(
    emu: Emulator, make_client: MakeClient
) -> None:
    await put_many(make_client(), 2)
    queue = emu.queue("svc")
    queue.watch_faults.cut_after(1, times=1)
    policy = ReconnectPolicy(max_attempts=3, backoff_base=0.0)
    async with make_client(reconnect=policy).watch(window=1) as watcher:
        record = await watcher.next(timeout=5)
        queue.faults.add(Fault.error(503, "down"))
        watcher.commit(record)
        with pytest.raises(WatchLostError, match="3 reconnection tries"):
            await watcher.next(timeout=5)
        assert isinstance(watcher.error, WatchLostError)
        queue.faults.clear()


async def test_a_refused_credential_on_reconnection_is_not_retried(
    emu: Emulator, make_client: MakeClient
) -> None:
    queue = emu.queue("svc")
    queue.watch_faults.cut_after(1, times=1)
    q = make_client(reconnect=ReconnectPolicy(max_attempts=None, backoff_base=0.0))
    async with q.watch(window=1) as watcher:
        q.set_token("revoked")  # the open connection stays; a new one is refused
        await make_client().put(b"x")
        assert (await watcher.next(timeout=5)).data == b"x"
        with pytest.raises(AuthError):
            await watcher.next(timeout=5)


def _log_connections(client: QueueClient) -> list[str]:
    """Wrap the connector the client's watchers use; return what happens to the connections
    in order: ``"open N"`` when the N-th is asked for, ``"close N"`` when the client closes
    it."""
    log: list[str] = []
    real_target = client._watch_target

    class Logged:
        def __init__(self, conn: Any, n: int) -> None:
            self.conn, self.n = conn, n

        async def receive(self) -> bytes | None:
            data: bytes | None = await self.conn.receive()
            return data

        async def close(self) -> None:
            log.append(f"close {self.n}")
            await self.conn.close()

    class Logging:
        def __init__(self, connector: Any) -> None:
            self.connector = connector

        async def connect(self, url: str, headers: Any, **kwargs: Any) -> Any:
            n = sum(entry.startswith("open") for entry in log) + 1
            log.append(f"open {n}")
            return Logged(await self.connector.connect(url, headers, **kwargs), n)

    async def target() -> Any:
        connector, url, headers = await real_target()
        return Logging(connector), url, headers

    client._watch_target = target  # type: ignore[method-assign]
    return log


async def _cut_once_refusing_what_follows(emu: Emulator) -> None:
    """The service refuses every request from now on (503), then cuts the open watch."""
    queue = emu.queue("svc")
    assert await queue.wait_until(lambda: len(queue.cutters) == 1)  # the watch is open
    queue.faults.add(Fault.error(503, "down"))
    assert queue.cut_watchers() == 1


async def test_a_reconnection_closes_the_old_connection_tries_at_once_then_backs_off(
    emu: Emulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    """After a cut the watcher closes the dead connection, then tries again at once (try 1
    waits nothing); try 2 would wait ``backoff_base`` (here a million seconds), which the
    deadline forbids, so it gives up after exactly one try, saying so, with the refusal of
    that try as the cause. No clock decides it: no try waits, and the deadline is far."""
    policy = ReconnectPolicy(
        max_attempts=None, deadline=1000.0, backoff_base=1e6, backoff_max=1e6, jitter=0.0
    )
    client = make_client(uid="u", reconnect=policy)
    log = _log_connections(client)
    caplog.set_level(logging.INFO, logger="aioeas.queue.watcher")
    watcher = await client.watch(window=1)
    try:
        await _cut_once_refusing_what_follows(emu)
        with pytest.raises(WatchLostError) as info:
            await watcher.next(timeout=30)  # a hang guard: the loss comes without waiting
        cause = info.value.cause
        assert isinstance(cause, ServiceError)
        assert cause.status == 503
        assert str(info.value) == (
            f"the watch on {client.url} was lost and 1 reconnection tries failed (last: {cause})"
        )
        assert watcher.error is info.value
        assert log == ["open 1", "close 1", "open 2"]  # closed before the try, one try
        # each failed try is logged (INFO), numbered, with its reason
        tries = [
            r.getMessage()
            for r in caplog.records
            if r.name == "aioeas.queue.watcher" and "reconnection try" in r.getMessage()
        ]
        assert tries == [f"watch reconnection try 1 failed: {cause}"]
    finally:
        await watcher.close()


async def test_a_second_reconnection_try_waits_its_backoff_then_the_watch_goes_on(
    emu: Emulator,
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a cut, try 1 (at once) is refused; try 2 waits ``backoff_base`` (no jitter)
    and succeeds; the watch goes on with the next record, and the reconnection is logged
    (DEBUG) with the number of tries. The watcher's sleeps are recorded, not timed."""
    slept = record_watcher_sleeps(monkeypatch)
    policy = ReconnectPolicy(
        max_attempts=None, deadline=None, backoff_base=0.0125, backoff_max=1.0, jitter=0.0
    )
    client = make_client(uid="u", reconnect=policy)
    log = _log_connections(client)
    caplog.set_level(logging.DEBUG, logger="aioeas.queue.watcher")
    watcher = await client.watch(window=1)
    try:
        queue = emu.queue("svc")
        assert await queue.wait_until(lambda: len(queue.cutters) == 1)  # the watch is open
        queue.faults.add(Fault.error(503, "down"), times=1)  # try 1 is refused
        assert queue.cut_watchers() == 1
        queue.put(b"after the cut")
        record = await watcher.next(timeout=30)  # a hang guard
        assert record.data == b"after the cut"
        assert log == ["open 1", "close 1", "open 2", "open 3"]
        assert slept == [0.0125]  # try 2's wait, and no other
        assert watcher.stats.reconnects == 1
        reconnected = [
            r for r in caplog.records if r.name == "aioeas.queue.watcher" and "reconnected" in r.msg
        ]
        assert [(r.levelno, r.getMessage()) for r in reconnected] == [
            (logging.DEBUG, f"watch on {client.url} reconnected after 2 tries")
        ]
    finally:
        await watcher.close()


async def test_next_says_which_wait_ran_out_and_that_a_closed_watcher_is_closed(
    emu: Emulator, make_client: MakeClient
) -> None:
    """``next(timeout=)`` running out is the library's own ``EASTimeoutError`` naming the
    wait; a timeout from inside (the first ``next`` connects, and the queue never answers
    the WebSocket) is raised as it is, not relabelled as the wait's; ``next`` on a closed
    watcher says so."""
    async with make_client(uid="u") as client:
        watcher = await client.watch(window=1)
        with pytest.raises(EASTimeoutError) as info:
            await watcher.next(timeout=0.05)  # the queue is empty: nothing can come
        assert str(info.value) == "no record within 0.05 s"
        await watcher.close()
        with pytest.raises(QueueError) as closed:
            await watcher.next(timeout=5)
        assert str(closed.value) == "the watcher is closed"
        with pytest.raises(UsageError) as again:
            await watcher.start()
        assert str(again.value) == "this watcher is closed; make a new one with watch()"
    emu.queue("svc").faults.add(Fault.latency(3600.0))  # no request is answered any more
    async with make_client(uid="u", timeout=0.2) as client:
        watcher = client.watch(window=1)  # not started: next() connects
        with pytest.raises(RequestTimeoutError) as inner:
            await watcher.next(timeout=3600)  # the connect's 0.2 s runs out first
        assert str(inner.value).startswith("no WebSocket from ")
        await watcher.close()


async def test_a_committer_stopped_by_a_fault_of_ours_fails_the_watcher_instead_of_hanging(
    emu: Emulator, make_client: MakeClient
) -> None:
    """Something other than the service's answer ends the committer (here the commit
    request raises a ``RuntimeError``, as a broken instrumentation hook would): the watcher
    fails with it, ``flush()`` returns and ``next()`` raises it. Before, ``flush()`` waited
    for ever on a committer that was gone."""
    emu.queue("svc").put(b"r")
    async with make_client(uid="u") as client:
        watcher = await client.watch(window=1)
        record = await watcher.next(timeout=30)  # a hang guard

        async def broken(batch: list[int]) -> None:
            raise RuntimeError("a fault of ours")

        watcher._commit_request = broken  # type: ignore[method-assign]
        watcher.commit(record)
        await asyncio.wait_for(watcher.flush(), 60)  # a hang guard: it hung before
        assert isinstance(watcher.error, RuntimeError)
        with pytest.raises(RuntimeError, match="a fault of ours"):
            await watcher.next(timeout=30)
        await watcher.close()


async def test_commit_delay_holds_commits_back_until_flush_or_close_sends_them(
    emu: Emulator, make_client: MakeClient
) -> None:
    """``commit_delay=3600``: commits wait to be batched (after a round trip to the service,
    none was sent); ``flush()`` sends them at once rather than in an hour; the ones still
    waiting when the watcher closes are sent then, not dropped."""
    queue = emu.queue("svc")
    for i in range(4):
        queue.put(f"r{i}".encode())
    async with make_client(uid="u") as client:
        watcher = await client.watch(window=4, commit_delay=3600)
        records = [await watcher.next(timeout=30) for _ in range(4)]  # a hang guard
        watcher.commit(records[:2])
        await client.attributes()  # a round trip: the committer had its turns
        assert (watcher.commits_pending, watcher.stats.commit_requests, len(queue)) == (2, 0, 4)
        await asyncio.wait_for(watcher.flush(), 60)  # a hang guard: not an hour
        assert (watcher.commits_pending, watcher.stats.commit_requests, len(queue)) == (0, 1, 2)
        watcher.commit(records[2:])
        await client.attributes()
        assert watcher.commits_pending == 2
        await watcher.close()
        assert (watcher.commits_pending, watcher.stats.commit_requests, len(queue)) == (0, 2, 0)


async def test_a_flush_cancelled_beside_another_leaves_the_other_sending_at_once(
    emu: Emulator, make_client: MakeClient
) -> None:
    """Two ``flush()`` calls wait on the same commit (``commit_delay=3600``); the first is
    cancelled before the committer runs. The second still has the commit sent at once: each
    flush holds its own claim to hurry the committer, not one shared flag."""
    emu.queue("svc").put(b"r")
    async with make_client(uid="u") as client:
        watcher = await client.watch(window=1, commit_delay=3600)
        record = await watcher.next(timeout=30)  # a hang guard
        watcher.commit(record)
        first = asyncio.ensure_future(watcher.flush())
        second = asyncio.ensure_future(watcher.flush())
        await asyncio.sleep(0)  # one loop turn: both flushes started, waiting
        assert not first.done()
        assert not second.done()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.wait_for(second, 60)  # a hang guard: not the hour of commit_delay
        assert (watcher.commits_pending, watcher.stats.commit_requests) == (0, 1)
        await watcher.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"index": "1"}, "index must be an int, got str"),
        ({"index": -2}, "index must be >= -1, got -2"),
        ({"window": 2.0}, "window must be an int, got float"),
        ({"window": 0}, "window must be >= 1, got 0"),
        ({"reconnect": 3}, "reconnect must be a ReconnectPolicy"),
    ],
)
async def test_bad_watch_arguments_are_refused_before_any_io_naming_the_argument(
    emu: Emulator, make_client: MakeClient, kwargs: dict[str, Any], message: str
) -> None:
    client = make_client(uid="u")
    with pytest.raises(UsageError) as info:
        client.watch(**kwargs)
    assert str(info.value) == message
    assert not emu.queue("svc").cutters  # no watch was opened


async def test_watch_options_reach_the_watcher(emu: Emulator, make_client: MakeClient) -> None:
    """``index`` is kept as given; with ``auto_commit`` a received record is committed by
    its push, so none is ever in hand; the commits remembered (to drop late copies) cover at
    least four windows, and never fewer than the default."""
    queue = emu.queue("svc")
    for i in range(3):
        queue.put(f"r{i}".encode())
    async with make_client(uid="u") as client:
        assert client.watch(index=2).index == 2
        assert client.watch().end_of_stream is False
        assert client.watch(window=2000)._delivery.memory == 8000
        assert client.watch(window=2)._delivery.memory == SETTLED_MEMORY
        async with client.watch(window=3, auto_commit=True) as watcher:
            got = [await watcher.next(timeout=30) for _ in range(3)]  # a hang guard
            assert [r.data for r in got] == [b"r0", b"r1", b"r2"]
            assert (watcher.in_hand, watcher.stats.max_in_hand) == (0, 0)


async def test_a_watcher_that_may_not_reconnect_is_lost_with_no_cause(
    emu: Emulator, make_client: MakeClient
) -> None:
    """``max_attempts=0``: no try at all, so no failure to carry: ``cause`` is ``None``."""
    client = make_client(uid="u", reconnect=ReconnectPolicy(max_attempts=0))
    log = _log_connections(client)
    watcher = await client.watch(window=1)
    try:
        await _cut_once_refusing_what_follows(emu)
        with pytest.raises(WatchLostError) as info:
            await watcher.next(timeout=30)
        assert info.value.cause is None
        assert str(info.value) == (
            f"the watch on {client.url} was lost and 0 reconnection tries failed (last: None)"
        )
        assert log == ["open 1", "close 1"]
    finally:
        await watcher.close()


async def test_awaitable_form_run_and_close(emu: Emulator, make_client: MakeClient) -> None:
    q = make_client()
    await put_many(q, 3)
    watcher = await q.watch(window=3)
    got: list[QueueRecord] = []
    async for record in watcher.run():
        got.append(record)
        watcher.commit(record)
        if len(got) == 3:
            break
    await watcher.close()
    await watcher.close()  # idempotent
    assert watcher.closed
    assert [r.data for r in got] == [b"r0", b"r1", b"r2"] or sorted(r.index for r in got) == [
        1,
        2,
        3,
    ]
    with pytest.raises(StopAsyncIteration):
        await watcher.__anext__()
    with pytest.raises(QueueError, match="closed"):
        await watcher.next()
    # the advice names what still works once the watcher is gone
    with pytest.raises(UsageError) as refused:
        watcher.commit(1)
    assert str(refused.value) == "this watcher is closed; commit with QueueClient.commit()"
    with pytest.raises(UsageError) as refused:
        await watcher.negative_ack(1)
    assert str(refused.value) == "this watcher is closed; use QueueClient.negative_ack()"
    assert len(emu.queue("svc")) == 0  # the commits were sent on close


async def test_one_watcher_per_client(make_client: MakeClient) -> None:
    q = make_client()
    async with q.watch(window=1):
        with pytest.raises(UsageError, match="another watcher"):
            await q.watch(window=1)
    async with q.watch(window=1):  # free again once closed
        pass


async def test_close_is_prompt_while_the_consumer_waits(make_client: MakeClient) -> None:
    q = make_client()
    watcher = await q.watch(window=2)
    waiting = asyncio.ensure_future(watcher.next())
    await asyncio.sleep(0)
    await watcher.close()
    with pytest.raises(QueueError, match="closed"):
        await waiting
    await q.close()


async def test_closing_the_client_closes_its_watcher(make_client: MakeClient) -> None:
    q = make_client()
    watcher = await q.watch(window=2)
    await q.close()
    assert watcher.closed


async def test_next_times_out_and_goes_on(make_client: MakeClient) -> None:
    q = make_client()
    async with q.watch(window=2) as watcher:
        with pytest.raises(TimeoutError) as info:
            await watcher.next(timeout=0.05)
        assert isinstance(info.value, asyncio.TimeoutError)  # a class of its own on 3.10
        await q.put(b"now")
        assert (await watcher.next(timeout=5)).data == b"now"


async def test_index_only_tags_and_start_index(make_client: MakeClient) -> None:
    q = make_client()
    await q.put(b"a", {"kind": "x"})
    await q.put(b"b", {"kind": "y"})
    await q.put(b"c", {"kind": "x"})
    async with q.watch(index=2, window=5, index_only=True, tags={"kind": "x"}) as watcher:
        record = await watcher.next(timeout=5)
        assert record.index == 3
        assert record.data == b""
        assert record.tags["kind"] == "x"


async def test_end_of_stream_ends_the_iteration(make_client: MakeClient) -> None:
    q = make_client()
    await put_many(q, 2)
    async with q.watch(window=5) as watcher:
        got = []
        await q.end_of_stream()
        async for record in watcher:
            got.append(record.index)
            watcher.commit(record)
        assert sorted(got) == [1, 2]
        assert watcher.end_of_stream


async def test_a_watch_url_follows_the_endpoint_scheme(make_client: MakeClient) -> None:
    q = QueueClient("https://example.invalid", "svc")
    assert q.url.startswith("https://")
    from aioeas.queue.protocol import websocket_url

    assert websocket_url(q.url) == "wss://example.invalid/api/predict/svc"


async def test_commit_and_negative_ack_take_records_or_indexes_and_refuse_index_zero(
    emu: Emulator, make_client: MakeClient
) -> None:
    """Indexes start at 1: 0 or less is refused before any request, naming the value. A
    record, its index as an int, or an iterable of either all commit (and give back)."""
    producer = make_client()
    for i in range(3):
        await producer.put(f"r{i}".encode())
    watcher = await make_client(uid="u", gid="g").watch(window=3)
    try:
        first, second, third = [await watcher.next(timeout=30) for _ in range(3)]
        for bad in (0, -1):
            with pytest.raises(UsageError) as refused:
                watcher.commit(bad)
            assert str(refused.value) == f"index must be >= 1, got {bad}"
            with pytest.raises(UsageError) as refused:
                await watcher.negative_ack(bad)
            assert str(refused.value) == f"index must be >= 1, got {bad}"
        assert watcher.in_hand == 3
        await watcher.negative_ack(third.index)  # an int
        watcher.commit(first.index)  # an int
        watcher.commit([second])  # records in an iterable
        again = await watcher.next(timeout=30)  # the one given back comes again
        assert (again.index, again.data) == (third.index, b"r2")
        watcher.commit(again)
        await watcher.flush()
        assert watcher.in_hand == 0
        assert len(emu.queue("svc")) == 0
    finally:
        await watcher.close()


def _record_connections(client: QueueClient) -> list[tuple[float | None, float]]:
    """Wrap the connector the client's watchers use; return the (heartbeat, timeout) each
    connection asks for."""
    asked: list[tuple[float | None, float]] = []
    real_target = client._watch_target

    class Recording:
        def __init__(self, connector: Any) -> None:
            self.connector = connector

        async def connect(
            self, url: str, headers: Any, *, heartbeat: float | None, timeout: float
        ) -> Any:
            asked.append((heartbeat, timeout))
            return await self.connector.connect(url, headers, heartbeat=heartbeat, timeout=timeout)

    async def target() -> Any:
        connector, url, headers = await real_target()
        return Recording(connector), url, headers

    client._watch_target = target  # type: ignore[method-assign]
    return asked


async def test_each_connection_asks_for_the_clients_heartbeat_and_timeout(
    make_client: MakeClient,
) -> None:
    """The WebSocket gets the client's heartbeat (pings that find a dead peer) and its
    total timeout (for the handshake and the close)."""
    for heartbeat in (0.5, None):
        client = make_client(uid=f"h{heartbeat}", heartbeat=heartbeat, timeout=7.0)
        asked = _record_connections(client)
        async with client.watch(window=1):
            pass
        assert asked == [(heartbeat, 7.0)]
