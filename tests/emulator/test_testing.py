"""The pytest fixtures that aioeas offers its users."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp

from aioeas.emulator import Emulator

if TYPE_CHECKING:  # importing it for real first would stop pytest from loading it as a plugin
    from aioeas.testing import EmulatorFactory

pytest_plugins = ["aioeas.testing"]


async def test_eas_emulator_is_started_with_the_builtins(
    eas_emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    assert eas_emulator.running
    assert "mnist_saved_model_example" in eas_emulator.services
    async with http.post(f"{eas_emulator.url}/api/predict/echo", data=b"x") as resp:
        assert resp.status == 200


async def test_the_factory_takes_emulator_keywords(
    eas_emulator_factory: EmulatorFactory, http: aiohttp.ClientSession
) -> None:
    emu = await eas_emulator_factory(token="t", builtins=False)
    emu.add_service("one", lambda body: b"1")
    async with http.post(f"{emu.url}/api/predict/one", headers={"Authorization": "t"}) as resp:
        assert await resp.read() == b"1"
    assert "echo" not in emu.services
