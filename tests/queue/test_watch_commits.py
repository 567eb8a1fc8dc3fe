"""The watcher's committer and start, against the emulator: commits that wait out a
``commit_delay`` by themselves, a burst split by ``max_commit_batch``, a refused commit
sent again after its backoff, the tasks' names, and what a failed start leaves behind.
Waits end on events or counts; the watcher's own sleeps are recorded, not timed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from aioeas.emulator import Emulator
from aioeas.emulator.faults import Fault
from aioeas.errors import EASError, ServiceError
from aioeas.queue import ReconnectPolicy
from tests.queue.conftest import FAST_RETRY, MakeClient, record_watcher_sleeps

LIMIT = 60.0  # a hang guard only: every wait below ends on an event long before it


async def _until(condition: Any) -> None:
    async def wait() -> None:
        while not condition():  # noqa: ASYNC110 - polls a count the watcher keeps
            await asyncio.sleep(0.001)

    await asyncio.wait_for(wait(), LIMIT)


async def test_commits_wait_out_a_short_commit_delay_by_themselves(
    emu: Emulator, make_client: MakeClient
) -> None:
    """``commit_delay=0.01``: with no ``flush()`` the waiting commit goes when its delay
    has passed, in one request, and the watcher goes on."""
    queue = emu.queue("svc")
    queue.put(b"r")
    async with make_client(uid="u") as client, client.watch(window=1, commit_delay=0.01) as w:
        record = await w.next(timeout=LIMIT)
        w.commit(record)
        await _until(lambda: w.commits_pending == 0)
        assert (w.stats.commit_requests, w.error, len(queue)) == (1, None, 0)


async def test_max_commit_batch_splits_a_burst_of_commits(
    emu: Emulator, make_client: MakeClient
) -> None:
    """Five commits at once with ``max_commit_batch=2``: three requests (2, 2, 1), all
    acknowledged, the queue empty."""
    queue = emu.queue("svc")
    for i in range(5):
        queue.put(f"r{i}".encode())
    async with make_client(uid="u") as client, client.watch(window=5, max_commit_batch=2) as w:
        records = [await w.next(timeout=LIMIT) for _ in range(5)]
        w.commit(records)
        await asyncio.wait_for(w.flush(), LIMIT)
        assert (w.stats.commit_requests, w.stats.commits_sent, len(queue)) == (3, 5, 0)


@pytest.mark.parametrize("status", [500, 503])
async def test_a_commit_the_service_fails_is_sent_again_after_a_growing_backoff(
    emu: Emulator, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    """A first commit goes through; the next is answered 500 or 503 on every try of its
    request, twice: a failure of the service, not a refusal. It is sent again after the
    reconnect policy's backoff at half its jitter (0.125 s x 0.75, then twice that) and the
    watcher goes on; only a 4xx stops it."""
    slept = record_watcher_sleeps(monkeypatch)
    policy = ReconnectPolicy(backoff_base=0.125, backoff_max=10.0, jitter=0.5)
    queue = emu.queue("svc")
    queue.put(b"r1")
    queue.put(b"r2")
    async with (
        make_client(uid="u", reconnect=policy) as client,
        client.watch(window=2) as w,
    ):
        first, second = [await w.next(timeout=LIMIT) for _ in range(2)]
        w.commit(first)
        await asyncio.wait_for(w.flush(), LIMIT)
        queue.faults.add(Fault.error(status, "down"), times=2 * FAST_RETRY.max_attempts)
        w.commit(second)
        await asyncio.wait_for(w.flush(), LIMIT)
        assert (w.error, w.stats.commit_requests, len(queue)) == (None, 2, 0)
        assert slept == [0.09375, 0.1875]


async def test_a_commit_that_times_out_is_logged_and_sent_again(
    emu: Emulator,
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A commit request whose connection drops without an answer (not a status) is logged
    as a warning naming the count and the cause, kept, and sent again after the backoff,
    which grows: twice, then the service answers again."""
    slept = record_watcher_sleeps(monkeypatch)
    policy = ReconnectPolicy(backoff_base=0.125, backoff_max=10.0, jitter=0.5)
    queue = emu.queue("svc")
    queue.put(b"r1")
    caplog.set_level(logging.WARNING, logger="aioeas.queue.watcher")
    async with (
        make_client(uid="u", reconnect=policy) as client,
        client.watch(window=1) as w,
    ):
        record = await w.next(timeout=LIMIT)
        queue.faults.add(Fault.drop())  # every request, until cleared

        def warnings() -> list[logging.LogRecord]:
            return [r for r in caplog.records if r.name == "aioeas.queue.watcher"]

        w.commit(record)
        await _until(lambda: len(warnings()) >= 2)  # two commit requests failed
        queue.faults.clear()
        await asyncio.wait_for(w.flush(), LIMIT)
        assert (w.error, w.stats.commit_requests, len(queue)) == (None, 1, 0)
        assert slept[:2] == [0.09375, 0.1875]  # (a third may have failed meanwhile)
    assert len(warnings()) == len(slept)
    for r in warnings():
        assert r.levelno == logging.WARNING
        assert r.getMessage().startswith("commit of 1 records failed (")
        assert r.getMessage().endswith("); will retry")
        assert isinstance(r.args, tuple)
        assert isinstance(r.args[1], EASError)
        assert not isinstance(r.args[1], ServiceError)


async def test_a_commit_refused_with_a_4xx_stops_the_watcher(
    emu: Emulator, make_client: MakeClient
) -> None:
    queue = emu.queue("svc")
    queue.put(b"r")
    async with make_client(uid="u") as client:
        w = await client.watch(window=1)
        record = await w.next(timeout=LIMIT)
        queue.faults.add(Fault.error(400, "no"), times=1)
        w.commit(record)
        await asyncio.wait_for(w.flush(), LIMIT)
        assert isinstance(w.error, ServiceError)
        assert w.error.status == 400
        with pytest.raises(ServiceError):
            await w.next(timeout=LIMIT)
        await w.close()


async def test_the_watchers_tasks_are_named(make_client: MakeClient) -> None:
    async with make_client(uid="u") as client, client.watch(window=1) as w:
        assert w._reader is not None
        assert w._committer is not None
        assert (w._reader.get_name(), w._committer.get_name()) == (
            "aioeas-watch-reader",
            "aioeas-watch-committer",
        )


async def test_a_failed_first_connection_leaves_the_client_free_for_another_watch(
    emu: Emulator, make_client: MakeClient
) -> None:
    """The first connection is refused (503, not retried at start): the client is not left
    holding that watcher, so the next watch on it starts."""
    queue = emu.queue("svc")
    queue.put(b"r")
    async with make_client(uid="u") as client:
        queue.faults.add(Fault.error(503, "down"), times=FAST_RETRY.max_attempts + 1)
        with pytest.raises(ServiceError):
            await client.watch(window=1)
        queue.faults.clear()
        async with client.watch(window=1) as w:
            assert (await w.next(timeout=LIMIT)).data == b"r"


async def test_watch_from_index_0_asks_nothing_before_connecting(
    make_client: MakeClient,
) -> None:
    """Only ``index=-1`` is pinned to the queue's last index (one attributes request);
    a watch from 0 connects at once."""
    async with make_client(uid="u") as client:
        asked: list[str] = []
        real = client.attributes

        async def attributes(**kwargs: Any) -> dict[str, str]:
            asked.append("attributes")
            return await real(**kwargs)

        client.attributes = attributes  # type: ignore[method-assign]
        async with client.watch(index=0, window=1):
            pass
        assert asked == []
        async with client.watch(index=-1, window=1):
            pass
        assert asked == ["attributes"]


async def test_close_leaves_no_task_of_the_watcher_behind(make_client: MakeClient) -> None:
    async with make_client(uid="u") as client:
        w = await client.watch(window=1)
        await w.close()
        names = {t.get_name() for t in asyncio.all_tasks() if not t.done()}
        assert not names & {"aioeas-watch-reader", "aioeas-watch-committer"}


@pytest.mark.parametrize("how", ["given", "the client's"])
async def test_close_waits_for_unacknowledged_commits_only_so_long_then_says_so(
    emu: Emulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    """The service never answers the commit: ``close(timeout=0.05)`` (or ``close()`` with
    a client timeout of 1 s, the other being an hour) stops waiting then, warns with the
    count, and returns."""
    queue = emu.queue("svc")
    queue.put(b"r")
    caplog.set_level(logging.WARNING, logger="aioeas.queue.watcher")
    client_timeout, close_timeout = (3600.0, 0.05) if how == "given" else (1.0, None)
    async with make_client(uid="u", timeout=client_timeout) as client:
        w = await client.watch(window=1)
        record = await w.next(timeout=LIMIT)
        queue.faults.add(Fault.latency(3600.0))
        w.commit(record)
        await asyncio.wait_for(w.close(timeout=close_timeout), LIMIT)  # a hang guard
        assert len(queue) == 1  # not committed: the service gives it out again
    assert [r.getMessage() for r in caplog.records if r.name == "aioeas.queue.watcher"] == [
        "watcher closed with 1 commits not acknowledged"
    ]
