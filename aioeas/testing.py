"""pytest fixtures for testing your own code against a local EAS (needs pytest-asyncio).

Enable them in your root ``conftest.py``::

    pytest_plugins = ["aioeas.testing"]

then::

    async def test_predict(eas_emulator):
        eas_emulator.add_tf_service("double", lambda inputs: {"y": inputs["x"] * 2})
        async with aioeas.PredictClient(eas_emulator.url, "double") as client:
            ...

- ``eas_emulator``: a started ``Emulator`` with the built-in services and no token,
  stopped after the test.
- ``eas_emulator_factory``: ``await eas_emulator_factory(token="t", backends=3)`` makes
  and starts more (any ``Emulator`` keyword); all are stopped after the test.

Each test gets fresh emulators on free ports, so tests do not share state or counters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from aioeas.emulator import Emulator

__all__ = ["EmulatorFactory", "eas_emulator", "eas_emulator_factory"]

#: ``await factory(**kwargs)``: a started ``Emulator(**kwargs)``.
EmulatorFactory = Callable[..., Awaitable[Emulator]]


@pytest_asyncio.fixture
async def eas_emulator_factory() -> AsyncIterator[EmulatorFactory]:
    """Make started emulators with any ``Emulator`` keywords; stops them all afterwards."""
    made: list[Emulator] = []

    async def make(**kwargs: Any) -> Emulator:
        emu = Emulator(**kwargs)
        made.append(emu)
        return await emu.start()

    try:
        yield make
    finally:
        for emu in reversed(made):
            await emu.stop()


@pytest_asyncio.fixture
async def eas_emulator(eas_emulator_factory: EmulatorFactory) -> Emulator:
    """A started emulator with the built-in services, no token, on a free port."""
    return await eas_emulator_factory()
