"""Leaks: 1,000 predicts cancelled at seeded random points, and 100 watchers opened and
closed, leave no open socket, no pending task and no growing memory.

The cancellation points: before the request is sent (a few loop turns after the call
starts, drawn at random), while the server holds the request (its processor waits on an
``asyncio.Event``), and while the client reads the answer (a server that sends the headers
and half the body, then holds). Sockets are counted from ``/proc/self/fd``, connections
from the transport's pool, tasks from ``asyncio.all_tasks()``, memory with ``tracemalloc``
(the growth over the second half of the iterations, after a first half that fills every
cache and bounded history).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import random
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Literal

import pytest
import yarl
from aiohttp import web

from aioeas import PredictClient, RetryPolicy, StringRequest
from aioeas.client.h1 import H1Transport
from aioeas.client.transport import AiohttpTransport
from aioeas.emulator import Emulator
from aioeas.queue import QueueClient
from tests.reliability.conftest import live_tasks, open_sockets
from tests.support.tasks import task_module

SEED = 1234
#: Allowed tracemalloc growth over the second half of a run: a leak of a few hundred bytes
#: per iteration (a task, a socket's buffers, a future) is well over it.
GROWTH_BOUND = 64 * 1024
CHUNK = 64 * 1024
_LRU = type(functools.lru_cache(lambda: None))


async def _settle(done: Callable[[], bool], turns: int = 2000) -> None:
    """Let the loop run, a turn at a time, until ``done()``; no timed sleep, bounded."""
    for _ in range(turns):
        if done():
            return
        await asyncio.sleep(0)
    assert done(), "did not settle"


def _connections(client: PredictClient) -> tuple[int, int]:
    """(taken by a request, idle) connections of the client's pool, either transport's."""
    transport = client._transport
    if isinstance(transport, H1Transport):
        pool = transport._pool
        assert pool is not None
        idle = transport.idle_connections()
        return pool.open - idle, idle  # open: open or being opened
    assert isinstance(transport, AiohttpTransport)
    session = transport._session
    assert session is not None
    connector = session.connector
    assert connector is not None
    return len(connector._acquired), sum(len(c) for c in connector._conns.values())


def _traced() -> int:
    """Memory traced now. yarl and aiohttp keep bounded ``lru_cache``s (128 parsed URLs
    each, and more) that every new URL fills (a commit's indexes are in its query): they
    are emptied at each reading so that only what is really kept counts as growth."""
    yarl.cache_clear()
    for cache in [o for o in gc.get_objects() if isinstance(o, _LRU)]:
        cache.cache_clear()
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


class _Holds:
    """Per request: an event set when the server has it, one the server waits on."""

    def __init__(self) -> None:
        self.arrived: dict[str, asyncio.Event] = {}
        self.release: dict[str, asyncio.Event] = {}
        self.entered = 0
        self.left = 0

    def expect(self, key: str) -> None:
        self.arrived[key] = asyncio.Event()
        self.release[key] = asyncio.Event()

    async def hold(self, key: str, on_hold: Callable[[], Awaitable[None]] | None = None) -> None:
        self.entered += 1
        try:
            if on_hold is not None:
                await on_hold()
            self.arrived[key].set()
            await self.release[key].wait()
        finally:
            self.left += 1

    def forget(self, key: str) -> None:
        self.release.pop(key).set()
        del self.arrived[key]


@pytest.mark.long
@pytest.mark.parametrize("transport", ["h1", "aiohttp"])
async def test_cancelled_predicts_leave_no_socket_task_or_memory(
    transport: Literal["h1", "aiohttp"],
) -> None:
    n = 1000
    rng = random.Random(SEED)
    sockets_before = open_sockets()
    tasks_before = live_tasks()
    holds = _Holds()

    async def held(body: bytes) -> bytes:
        await holds.hold(body.decode())
        return body

    async def streaming(request: web.Request) -> web.StreamResponse:
        key = await request.text()
        resp = web.StreamResponse()
        resp.content_length = 2 * CHUNK
        await resp.prepare(request)
        await holds.hold(key, lambda: resp.write(b"x" * CHUNK))
        with contextlib.suppress(ConnectionError):  # the client cancelled and hung up
            await resp.write(b"y" * CHUNK)
        return resp

    app = web.Application()
    app.router.add_post("/stream", streaming)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    emu = await Emulator(builtins=False, seed=SEED).start()
    emu.add_service("held", held)
    once = RetryPolicy(max_attempts=1)
    gateway = PredictClient(emu.url, "held", retry=once, timeout=30.0, transport=transport)
    stream = PredictClient(
        custom_url=f"http://127.0.0.1:{port}/stream", retry=once, timeout=30.0, transport=transport
    )
    points = {"before": 0, "held": 0, "reading": 0}
    try:
        # warm up: a connection in each pool, every lazy import and cache made
        for client in (gateway, stream):
            holds.expect("warm")
            warm = asyncio.ensure_future(client.predict(StringRequest("warm")))
            await asyncio.wait_for(holds.arrived["warm"].wait(), 10)
            holds.forget("warm")
            assert len((await asyncio.wait_for(warm, 10)).to_bytes()) in (4, 2 * CHUNK)
        baseline_tasks = live_tasks()
        tracemalloc.start()
        half = 0
        for i in range(n):
            key = f"r{i}"
            point = rng.choice(list(points))
            points[point] += 1
            holds.expect(key)
            client = stream if point == "reading" else gateway
            task = asyncio.ensure_future(client.predict(StringRequest(key)))
            if point == "before":
                for _ in range(rng.randrange(3)):
                    await asyncio.sleep(0)
            else:
                await asyncio.wait_for(holds.arrived[key].wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
            holds.forget(key)
            if i == n // 2 - 1:
                await _settle(lambda: holds.left == holds.entered)
                half = _traced()
        await _settle(lambda: holds.left == holds.entered)
        growth = _traced() - half
        tracemalloc.stop()

        # no connection is still taken by a cancelled request; at most one idle per pool
        for client in (gateway, stream):
            taken, idle = _connections(client)
            assert taken == 0
            assert idle <= 1
        # no task but the baseline's (and the server's, for connections still open)
        extra = live_tasks() - baseline_tasks
        assert all(_is_server(t) for t in extra), extra
        assert growth < GROWTH_BOUND, f"memory grew by {growth} bytes over {n // 2} predicts"
    finally:
        await gateway.close()
        await stream.close()
        await emu.stop()
        await runner.cleanup()
    await _settle(lambda: open_sockets() <= sockets_before and live_tasks() <= tasks_before)
    assert open_sockets() == sockets_before
    assert live_tasks() <= tasks_before
    assert all(points.values())
    print(
        f"\nleaks: {n} cancelled predicts {points}; memory growth over the second half {growth} B"
    )


@pytest.mark.long
async def test_watchers_opened_and_closed_leave_no_socket_task_or_memory() -> None:
    n = 100
    sockets_before = open_sockets()
    tasks_before = live_tasks()
    async with Emulator(builtins=False, seed=SEED) as emu:
        emu.add_queue_service("q", grace=0.0)
        async with QueueClient(emu.url, "q") as producer, QueueClient(emu.url, "q") as queue:
            baseline: set[asyncio.Task[object]] = set()

            def settled() -> bool:
                return live_tasks() <= baseline | _server_tasks()

            half = 0
            for i in range(n):
                if i == 1:  # after a first watcher made every lazy thing
                    baseline = live_tasks()
                    tracemalloc.start()
                await producer.put(f"rec-{i}".encode())
                async with queue.watch(window=4) as watcher:
                    record = await watcher.next(timeout=10)
                    assert record.data == f"rec-{i}".encode()
                    watcher.commit(record)
                    if i % 2:  # half of them closed with a commit still to flush
                        await watcher.flush()
                assert watcher.closed
                if i == n // 2:
                    await _settle(settled)
                    half = _traced()
            await _settle(settled)
            growth = _traced() - half
            tracemalloc.stop()
            extra = live_tasks() - baseline
            assert all(_is_server(t) for t in extra), extra
            assert growth < GROWTH_BOUND, f"memory grew by {growth} bytes over {n // 2} watchers"
    await _settle(lambda: open_sockets() <= sockets_before and live_tasks() <= tasks_before)
    assert open_sockets() == sockets_before
    assert live_tasks() <= tasks_before
    print(f"\nleaks: {n} watchers opened and closed; memory growth over the second half {growth} B")


def _is_server(task: asyncio.Task[object]) -> bool:
    """A task of aiohttp's server side (one per open connection, and its request), told by
    its coroutine's module, not its file's path."""
    return task_module(task).startswith("aiohttp.web_")


def _server_tasks() -> set[asyncio.Task[object]]:
    return {t for t in live_tasks() if _is_server(t)}
