"""Fixtures: an emulator with queue services, and clients of it that close themselves.

Tests synchronise on the emulator's own waiting (``Queue.wait_until``) and the client's
events, never on sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from aioeas.client.retry import RetryPolicy
from aioeas.emulator import Emulator
from aioeas.queue import QueueClient
from aioeas.queue import watcher as watcher_module

TOKEN = "queue-t0ken"
#: Retries without waiting, so fault tests are quick.
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_base=0.0, jitter=0.0)


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(token=TOKEN, builtins=False) as emulator:
        emulator.add_queue_service("svc", grace=0.0)
        yield emulator


MakeClient = Callable[..., QueueClient]


@pytest.fixture
async def make_client(emu: Emulator) -> AsyncIterator[MakeClient]:
    made: list[QueueClient] = []

    def make(queue: str = "svc", **kwargs: object) -> QueueClient:
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("retry", FAST_RETRY)
        client = QueueClient(emu.url, queue, **kwargs)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


def record_watcher_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the watcher module sleeps, in order (it still sleeps them): backoffs are
    checked by what was asked for, not by a clock."""
    slept: list[float] = []

    class RecordingAsyncio:
        def __getattr__(self, name: str) -> Any:
            return getattr(asyncio, name)

        async def sleep(self, delay: float) -> None:
            slept.append(delay)
            await asyncio.sleep(delay)

    monkeypatch.setattr(watcher_module, "asyncio", RecordingAsyncio())
    return slept
