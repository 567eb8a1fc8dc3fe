"""QueueClient and the retry deadline: no try runs past it, a long poll included.

The timeouts each try was given are recorded by a transport wrapper and checked as values,
so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from aioeas.client.config import Timeout
from aioeas.client.retry import RetryPolicy, RetrySchedule
from aioeas.client.transport import AiohttpTransport, HTTPResponse, Transport, never_sent
from aioeas.emulator import Emulator
from aioeas.emulator.faults import Fault
from aioeas.errors import ConnectError, RequestTimeoutError
from aioeas.queue import PutUncertainError, QueueClient
from aioeas.queue.protocol import parse_timeout
from tests.queue.conftest import TOKEN


class Recording:
    """A transport that notes each try's URL and timeout before handing it on."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.tries: list[tuple[str, Timeout]] = []

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> HTTPResponse:
        self.tries.append((url, timeout))
        return await self.inner.request(method, url, headers=headers, body=body, timeout=timeout)

    async def close(self) -> None:
        await self.inner.close()


class NoRecords:
    """Answers every call at once: 204, no records."""

    async def request(self, method: str, url: str, **kwargs: object) -> HTTPResponse:
        return HTTPResponse(204, b"")

    async def close(self) -> None:
        pass


def polled(url: str) -> float:
    """The long-poll seconds a get asked the service for."""
    return parse_timeout(parse_qs(urlsplit(url).query)["_timeout_"][0])[1]


async def test_a_stalled_service_gets_no_try_past_the_deadline(emu: Emulator) -> None:
    deadline = 0.3
    policy = RetryPolicy(max_attempts=50, backoff_base=0.0, jitter=0.0, deadline=deadline)
    transport = Recording(AiohttpTransport())
    try:
        async with QueueClient(
            emu.url, "svc", token=TOKEN, timeout=30.0, retry=policy, transport=transport
        ) as q:
            await q.init()
            emu.queue("svc").faults.add(Fault.latency(60.0))  # every call stalls
            with pytest.raises(RequestTimeoutError):
                await q.count()
    finally:
        await transport.close()
    tries = transport.tries[1:]  # the first read the attributes, before the stall
    assert tries
    # Each try gets what is left of the deadline, never the client's 30 s, and less each
    # time (a try starts later than the one before).
    totals = [timeout.total for _, timeout in tries]
    assert all(total <= deadline for total in totals), totals
    assert totals == sorted(totals, reverse=True)


async def test_a_long_poll_is_shortened_to_fit_the_deadline() -> None:
    transport = Recording(NoRecords())
    policy = RetryPolicy(max_attempts=3, deadline=4.0)
    async with QueueClient(
        "http://h", "q", discover_headers=False, timeout=1.0, retry=policy, transport=transport
    ) as q:
        assert await q.get(timeout=30, auto_delete=False) == []
    [(url, timeout)] = transport.tries
    poll = polled(url)
    # The service is asked to end the poll a full client timeout before the cut, and the
    # try's timeout is that poll plus the client's timeout: within the 4 s deadline.
    assert 2.9 < poll <= 3.0
    assert timeout.total == pytest.approx(1.0 + poll)
    assert timeout.total <= 4.0


async def test_a_long_poll_without_deadline_adds_the_poll_to_the_timeout() -> None:
    transport = Recording(NoRecords())
    async with QueueClient(
        "http://h", "q", discover_headers=False, timeout=1.0, transport=transport
    ) as q:
        assert await q.get(timeout="1m30s") == []
        assert await q.get(timeout=0) == []
    [(url, timeout), (url_0, timeout_0)] = transport.tries
    assert parse_qs(urlsplit(url).query)["_timeout_"] == ["1m30s"]  # as the caller wrote it
    assert timeout.total == 91.0
    assert polled(url_0) == 0.0
    assert timeout_0.total == 1.0


async def test_a_deadline_shorter_than_the_client_timeout_polls_nothing() -> None:
    transport = Recording(NoRecords())
    policy = RetryPolicy(deadline=0.5)
    async with QueueClient(
        "http://h", "q", discover_headers=False, timeout=2.0, retry=policy, transport=transport
    ) as q:
        assert await q.get(timeout=10) == []
    [(url, timeout)] = transport.tries
    assert polled(url) == 0.0
    assert timeout.total <= 0.5


def test_the_schedule_clips_a_try_to_the_deadline() -> None:

    sched = RetrySchedule(RetryPolicy(deadline=2.0), start=100.0, random=lambda: 0.0)
    assert sched.clip(Timeout(1.0, connect=0.5), 100.0) == Timeout(1.0, connect=0.5)
    assert sched.clip(Timeout(5.0, connect=3.0), 100.5) == Timeout(1.5, connect=1.5)
    assert sched.clip(Timeout(5.0), 101.9).total == pytest.approx(0.1)
    with pytest.raises(RequestTimeoutError):
        sched.clip(Timeout(5.0), 102.0)
    unbounded = RetrySchedule(RetryPolicy(), start=0.0, random=lambda: 0.0)
    assert unbounded.clip(Timeout(5.0), 1e9) == Timeout(5.0)


class RefusedThenAnswers:
    """Refuses the first connection (nothing sent), then answers a put."""

    def __init__(self) -> None:
        self.calls = 0

    async def request(self, method: str, url: str, **kwargs: object) -> HTTPResponse:
        self.calls += 1
        if self.calls == 1:
            key = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
            cause = aiohttp.ClientConnectorError(key, OSError(111, "Connection refused"))
            raise ConnectError("refused") from cause
        return HTTPResponse(200, b"5", {"x-eas-queueservice-request-id": "r5"})

    async def close(self) -> None:
        pass


async def test_a_deadline_passed_while_waiting_raises_the_last_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The loop's clock jumps past the 1 s deadline between the refused try and the next:
    # the put raises the refusal (nothing was sent), not a PutUncertainError.
    loop = asyncio.get_running_loop()
    real = loop.time
    readings = iter([0.0, 0.0, 0.1])  # the schedule's start, try 1, its failure
    monkeypatch.setattr(loop, "time", lambda: real() + next(readings, 1.5))
    transport = RefusedThenAnswers()
    policy = RetryPolicy(max_attempts=3, backoff_base=0.0, jitter=0.0, deadline=1.0)
    async with QueueClient(
        "http://h", "q", discover_headers=False, retry=policy, transport=transport
    ) as q:
        with pytest.raises(ConnectError) as info:
            await q.put(b"x")
    monkeypatch.undo()
    assert not isinstance(info.value, PutUncertainError)
    assert never_sent(info.value)
    assert transport.calls == 1
