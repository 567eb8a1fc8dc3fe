"""Watching over WebSocket: windows, groups, redelivery, filters, faults, end of stream.

Synchronisation is by the emulator's own state (``Queue.wait_until``) and by the frames
themselves, never by sleeping: "nothing more was pushed" is checked as "the consumer's
outbox is empty and its pending count is the window".
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import aiohttp
import pytest

from aioeas.emulator import Emulator
from aioeas.emulator.queue import EOS_MESSAGE, EOS_TAG, QueueService
from tests.emulator.queue.conftest import (
    PROTOBUF,
    call,
    commit,
    decode,
    ident,
    put,
    receive,
    url,
    watch_params,
)

WS = aiohttp.ClientWebSocketResponse[Any]


async def test_the_window_is_never_exceeded_by_a_slow_committer(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    for i in range(20):
        qs.input.put(str(i))
    consumer_id = "eas.slow"
    async with http.ws_connect(url(emu), params=watch_params(0, 3), headers=ident("slow")) as ws:
        seen: list[int] = []
        outstanding: list[int] = []
        while len(seen) < 20:
            # Take everything the window lets out, then check nothing else is on its way.
            consumer = qs.input.consumers.find("eas", "slow")
            assert consumer is not None
            want = min(3, len(outstanding) + 20 - len(seen))
            while len(outstanding) < want:
                frame = await receive(ws)
                seen.append(frame.index)
                outstanding.append(frame.index)
            assert len(consumer.pending) == len(outstanding) <= 3
            assert not consumer.outbox
            # Commit one at a time, oldest first: exactly one more may come.
            await commit(http, url(emu), [outstanding.pop(0)])
        for index in outstanding:
            await commit(http, url(emu), [index])
    assert seen == list(range(1, 21))
    stats = qs.input.consumer_stats(consumer_id)
    assert stats.max_outstanding == 3
    assert (stats.pushed, stats.committed, stats.redelivered) == (20, 20, 0)
    assert len(qs.input) == 0


async def _drain(ws: WS, into: list[int], total: list[int], goal: int, done: asyncio.Event) -> None:
    while not done.is_set():
        frame = await receive(ws)
        into.append(frame.index)
        total[0] += 1
        if total[0] >= goal:
            done.set()


async def test_one_group_spreads_1000_records_over_4_consumers(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    sockets = [
        await http.ws_connect(
            url(emu), params=watch_params(0, 8, auto_commit=True), headers=ident(f"c{i}")
        )
        for i in range(4)
    ]
    assert await qs.input.wait_until(lambda: len(qs.input.consumers.listed()) == 4)
    got: list[list[int]] = [[] for _ in sockets]
    total, done = [0], asyncio.Event()
    readers = [
        asyncio.ensure_future(_drain(ws, g, total, 1000, done))
        for ws, g in zip(sockets, got, strict=True)
    ]
    # Over HTTP, one put at a time: each record is assigned as it arrives, round robin.
    for i in range(1000):
        await put(http, url(emu), str(i))
    await asyncio.wait_for(done.wait(), 20)
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for ws in sockets:
        await ws.close()
    everything = sorted(i for g in got for i in g)
    assert everything == list(range(1, 1001))  # each one exactly once
    assert [len(g) for g in got] == [250, 250, 250, 250]
    assert await qs.input.wait_until(lambda: len(qs.input) == 0)


async def test_one_group_with_manual_commits(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    for i in range(200):
        qs.input.put(str(i))
    sockets = [
        await http.ws_connect(url(emu), params=watch_params(0, 5), headers=ident(f"m{i}"))
        for i in range(4)
    ]
    seen: list[int] = []

    async def consume(ws: WS) -> None:
        while len(seen) < 200:
            frame = await receive(ws)
            seen.append(frame.index)
            await commit(http, url(emu), [frame.index])

    tasks = [asyncio.ensure_future(consume(ws)) for ws in sockets]
    assert await qs.input.wait_until(lambda: len(qs.input) == 0, 20)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for ws in sockets:
        await ws.close()
    assert sorted(seen) == list(range(1, 201))
    for i in range(4):
        assert qs.input.consumer_stats(f"eas.m{i}").max_outstanding <= 5


async def test_two_groups_each_see_every_record(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    a = await http.ws_connect(
        url(emu), params=watch_params(0, 5, auto_commit=True), headers=ident("u", "ga")
    )
    b = await http.ws_connect(url(emu), params=watch_params(0, 5), headers=ident("u", "gb"))
    assert await qs.input.wait_until(lambda: len(qs.input.consumers.groups) == 2)
    for i in range(50):
        await put(http, url(emu), str(i))
    got_a = [(await receive(a)).index for _ in range(50)]
    got_b = []
    for _ in range(50):
        index = (await receive(b)).index
        got_b.append(index)
        await commit(http, url(emu), [index], gid="gb")
    assert got_a == got_b == list(range(1, 51))
    # Deleted once both groups are done with them.
    assert await qs.input.wait_until(lambda: len(qs.input) == 0)
    await a.close()
    await b.close()


async def test_a_cut_connection_redelivers_to_the_same_uid_without_loss(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    # A long grace: the records wait for their uid, nobody else may take them.
    qs = emu.add_queue_service("g", grace=60)
    for i in range(30):
        qs.input.put(str(i))
    qs.input.watch_faults.cut_after(4, times=None)  # every connection breaks at its 4th push
    committed: list[int] = []
    seen: set[int] = set()
    received = 0
    while len(committed) < 30:
        try:
            async with http.ws_connect(
                url(emu, "g"), params=watch_params(0, 3), headers=ident("r")
            ) as ws:
                while True:
                    msg = await ws.receive(5)
                    if msg.type is not aiohttp.WSMsgType.BINARY:
                        break
                    received += 1
                    index = decode(msg.data).index
                    # Commit odd records at once, even ones when they come back.
                    if index % 2 or index in seen:
                        await commit(http, url(emu, "g"), [index])
                        if index not in committed:
                            committed.append(index)
                    seen.add(index)
                    if len(seen) == 30:  # the last ones were seen once: done with them too
                        rest = sorted(seen - set(committed))
                        await commit(http, url(emu, "g"), rest)
                        committed.extend(rest)
                        break
        except aiohttp.ClientError:
            pass
    assert sorted(committed) == list(range(1, 31))
    assert len(qs.input) == 0
    assert qs.input.redeliveries > 0
    assert qs.input.watch_faults.cuts > 1
    stats = qs.input.consumer_stats("eas.r")
    assert stats.max_outstanding <= 3
    assert stats.connections >= qs.input.watch_faults.cuts
    assert received > 30


async def test_a_departed_consumers_records_go_to_the_group_after_the_grace(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    for i in range(4):
        qs.input.put(str(i))
    qs.input.watch_faults.cut_after(2, times=1)
    async with http.ws_connect(url(emu), params=watch_params(0, 2), headers=ident("gone")) as ws:
        assert [(await receive(ws)).index for _ in range(2)] == [1, 2]
        msg = await ws.receive(5)
        assert msg.type in (
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
            aiohttp.WSMsgType.CLOSE,
        )
    # grace=0: the other uid gets everything, the cut records first.
    async with http.ws_connect(url(emu), params=watch_params(0, 4), headers=ident("other")) as ws:
        got = [(await receive(ws)).index for _ in range(4)]
    assert got == [1, 2, 3, 4]
    assert qs.input.consumer_stats("eas.other").redelivered == 2


async def test_grace_holds_records_for_the_uid(emu: Emulator, http: aiohttp.ClientSession) -> None:
    qs = emu.add_queue_service("held", grace=60)
    for i in range(3):
        qs.input.put(str(i))
    where = url(emu, "held")
    first = await http.ws_connect(where, params=watch_params(0, 2), headers=ident("a"))
    assert [(await receive(first)).index for _ in range(2)] == [1, 2]
    await first.close()
    consumer = qs.input.consumers.find("eas", "a")
    assert consumer is not None
    assert await qs.input.wait_until(lambda: not consumer.connected)
    other = await http.ws_connect(where, params=watch_params(0, 5), headers=ident("b"))
    assert (await receive(other)).index == 3  # 1 and 2 are held for "a"
    back = await http.ws_connect(where, params=watch_params(0, 5), headers=ident("a"))
    assert sorted([(await receive(back)).index for _ in range(2)]) == [1, 2]
    attrs = qs.input.attributes()
    assert any("Id: eas.a" in v and "Status: Running" in v for v in attrs.values())
    await other.close()
    await back.close()


async def test_a_second_consumer_with_the_same_uid_is_refused(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(url(emu), params=watch_params(), headers=ident("dup")):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(url(emu), params=watch_params(), headers=ident("dup"))
        assert info.value.status == 409
        # Another group may use the same uid.
        async with http.ws_connect(url(emu), params=watch_params(), headers=ident("dup", "g2")):
            pass


async def test_one_group_must_use_the_same_tags(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(url(emu), params=watch_params(color="red"), headers=ident("t1")):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(url(emu), params=watch_params(color="blue"), headers=ident("t2"))
        assert info.value.status == 400


async def test_tag_filters_index_only_and_newest_only(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    qs.input.put("old", {"color": "red"})
    params = watch_params(-1, 5, index_only=True, color="red")
    async with http.ws_connect(url(emu), params=params, headers=ident("f")) as ws:
        assert await qs.input.wait_until(lambda: len(qs.input.consumers.listed()) == 1)
        qs.input.put("blue", {"color": "blue"})
        qs.input.put("red", {"color": "red"})
        frame = await receive(ws)
    assert frame.index == 3
    assert frame.data == b""
    assert frame.tags["color"] == "red"
    assert frame.tags["requestId"]


async def test_watch_from_an_index(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    for i in range(5):
        qs.input.put(str(i))
    async with http.ws_connect(url(emu), params=watch_params(4, 5), headers=ident()) as ws:
        assert [(await receive(ws)).index for _ in range(2)] == [4, 5]


async def test_auto_commit_ignores_the_window(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    for i in range(30):
        qs.input.put(str(i))
    params = watch_params(0, 1, auto_commit=True)
    async with http.ws_connect(url(emu), params=params, headers=ident()) as ws:
        got = [(await receive(ws)).index for _ in range(30)]
    assert got == list(range(1, 31))
    assert await qs.input.wait_until(lambda: len(qs.input) == 0)
    assert qs.input.commits == 30


async def test_negative_ack_puts_the_record_back_for_redelivery(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    for i in range(3):
        qs.input.put(str(i))
    async with http.ws_connect(url(emu), params=watch_params(0, 1), headers=ident("n")) as ws:
        assert (await receive(ws)).index == 1
        status, body, _ = await call(
            http,
            "PUT",
            url(emu),
            {"_indexes_": "1", "_negative_": "true"},
            "_code_=Shutdown&_reason_=bye",
            {**ident("n"), "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert (status, body) == (200, b"OK")
        again = await receive(ws)
    assert (again.index, again.message) == (1, "Shutdown: bye")
    assert qs.input.consumer_stats("eas.n").negative == 1
    assert qs.input.consumer_stats("eas.n").redelivered == 1
    status, _, _ = await call(
        http,
        "PUT",
        url(emu),
        {"_indexes_": "1", "_negative_": "true"},
        "_code_=not-a-code",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 400


async def test_end_of_stream_reaches_the_watcher_after_the_last_record(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    qs.input.put("a")
    async with http.ws_connect(url(emu), params=watch_params(0, 5), headers=ident()) as ws:
        assert (await receive(ws)).index == 1
        await call(http, "POST", url(emu), {"_eos_": "true"})
        consumer = qs.input.consumers.find("eas", "u1")
        assert consumer is not None
        assert not consumer.eos_sent  # record 1 is not committed yet
        await commit(http, url(emu), [1])
        eos = await receive(ws)
        assert (eos.index, eos.tags[EOS_TAG], eos.message) == (0, "true", EOS_MESSAGE)
        assert "Status: Complete" in qs.input.attributes()["consumers.list.[0]"]


async def test_forced_end_of_stream_is_immediate(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    qs.input.put("a")
    qs.input.put("b")
    async with http.ws_connect(url(emu), params=watch_params(0, 1), headers=ident()) as ws:
        assert (await receive(ws)).index == 1
        await call(http, "POST", url(emu), {"_eos_": "true", "_force_": "true"})
        assert (await receive(ws)).index == 0


async def test_pings_are_answered(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(
        url(emu), params=watch_params(), headers=ident(), autoping=False
    ) as ws:
        await ws.ping(b"ping")
        msg = await ws.receive(5)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"ping")


async def test_plain_http_watch_streams_length_prefixed_frames(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    qs.input.put("one")
    qs.input.put("two")
    headers = {**ident("h"), "Accept": PROTOBUF}
    async with http.get(
        url(emu), params=watch_params(0, 2, auto_commit=True), headers=headers
    ) as resp:
        assert resp.status == 200
        frames = []
        for _ in range(2):
            (size,) = struct.unpack(">I", await resp.content.readexactly(4))
            frames.append(decode(await resp.content.readexactly(size)))
    assert [f.data for f in frames] == [b"one", b"two"]
    assert await qs.input.wait_until(lambda: len(qs.input) == 0)
