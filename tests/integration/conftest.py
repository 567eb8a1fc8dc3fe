"""Shared pieces of the integration suite: aioeas's client against the real emulator.

Every test gets fresh emulators from ``aioeas.testing``'s fixtures (port 0, stopped after
the test). Nothing here sleeps to synchronise: processors that must hold a request wait on
an ``asyncio.Event``, and attempts are counted through the client's hooks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from aioeas import (
    ENDPOINT_TYPE_DIRECT,
    AttemptEnd,
    AttemptRetry,
    AttemptStart,
    DiscoveryConfig,
    Hooks,
    PredictClient,
    RetryPolicy,
)
from aioeas.emulator import Emulator
from aioeas.testing import EmulatorFactory
from tests.support.tasks import runs_module_of, task_module

TOKEN = "tok-S3cr3t+never/shown=="

#: Retries without waiting between tries (the backoff itself is unit-tested).
FAST = RetryPolicy(backoff_base=0.0)
#: One try only.
ONCE = RetryPolicy(max_attempts=1)
#: Discovery driven by the tests: the first poll at once, the next only when asked; the
#: wait for the first list is a hang guard, generous for a busy machine.
MANUAL_DISCOVERY = DiscoveryConfig(interval=60.0, startup_timeout=60.0, rest_period=60.0)


@dataclass
class Attempts:
    """Every hook event of a client, in order."""

    starts: list[AttemptStart] = field(default_factory=list)
    retries: list[AttemptRetry] = field(default_factory=list)
    ends: list[AttemptEnd] = field(default_factory=list)

    @property
    def hooks(self) -> Hooks:
        return Hooks(
            on_start=self.starts.append, on_retry=self.retries.append, on_end=self.ends.append
        )


def direct_client(emu: Emulator, service: str, **kwargs: Any) -> PredictClient:
    """A VPC direct client of ``service`` with discovery at the emulator's gateway."""
    kwargs.setdefault("discovery", MANUAL_DISCOVERY)
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("env", {})
    return PredictClient(emu.url, service, endpoint_type=ENDPOINT_TYPE_DIRECT, **kwargs)


def backend_port(event: AttemptEnd | AttemptStart) -> int:
    """The port of the backend an attempt went to (direct mode)."""
    assert event.backend is not None
    return int(event.backend.rsplit(":", 1)[1])


def other_tasks() -> set[asyncio.Task[Any]]:
    """Tasks of this loop that are not the test's own nor the emulator's servers.

    aiohttp's server keeps one task per connection (``RequestHandler.start``), the emulator
    starts backends in tasks and may be holding a request: those are the server side.
    """
    current = asyncio.current_task()
    found = set()
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        qualname = getattr(task.get_coro(), "__qualname__", "")
        # by module identity, not file path: a checkout may lie under a directory "aioeas"
        if (
            qualname.startswith("RequestHandler.")
            or task_module(task).startswith("aiohttp.web_")
            or runs_module_of(task, "aioeas.emulator")
        ):
            continue
        found.add(task)
    return found


async def wait_until(
    predicate: Callable[[], bool] | Callable[[], Awaitable[bool]], *, within: float = 10.0
) -> None:
    """Poll ``predicate`` until true, for behaviour that is about time passing (rest periods,
    refresh intervals); fails after a generous ``within`` seconds."""

    async def poll() -> None:
        while True:
            result = predicate()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), within)


@pytest.fixture
async def emu(eas_emulator_factory: EmulatorFactory) -> Emulator:
    """A started emulator with the built-in services, no token."""
    return await eas_emulator_factory()


@pytest.fixture
async def emu_token(eas_emulator_factory: EmulatorFactory) -> Emulator:
    """A started emulator that wants ``TOKEN``."""
    return await eas_emulator_factory(token=TOKEN)


@pytest.fixture
async def released() -> AsyncIterator[asyncio.Event]:
    """An event for processors to wait on; set at teardown so no request hangs forever."""
    event = asyncio.Event()
    yield event
    event.set()
