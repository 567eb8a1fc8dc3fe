"""Backends are real servers: direct requests, stop (connection refused), start (same port),
and the gateway's weighted round robin over the running ones."""

from __future__ import annotations

import aiohttp
import pytest

from aioeas.emulator import Emulator

from .conftest import post


async def test_each_backend_answers_on_its_own_port(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    service = emu.add_service("multi", lambda b: b, backends=3)
    for backend in service.backends:
        status, body, headers = await post(http, f"{backend.url}/api/predict/multi/x", b"hi")
        assert (status, body) == (200, b"hi")
        assert headers["X-Emulator-Backend"] == backend.name
        assert backend.requests == 1
    assert service.requests == 3


async def test_a_backend_serves_only_its_service(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    backend = emu.service("echo").backend(0)
    status, body, _ = await post(http, f"{backend.url}/api/predict/echo_tf", b"")
    assert status == 404
    assert b"echo" in body


async def test_a_stopped_backend_refuses_and_a_restarted_one_serves_on_the_same_port(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    service = emu.add_service("flaky", lambda b: b, backends=2)
    backend = service.backend(0)
    port = backend.port
    await backend.stop()
    assert not backend.running
    with pytest.raises(aiohttp.ClientConnectorError):
        await post(http, f"{backend.url}/api/predict/flaky", b"x")

    # the gateway forwards to the backends still running
    for _ in range(3):
        _, _, headers = await post(http, f"{emu.url}/api/predict/flaky", b"x")
        assert headers["X-Emulator-Backend"] == "flaky-1"

    await backend.start()
    assert (backend.port, backend.running) == (port, True)
    assert (await post(http, f"{backend.url}/api/predict/flaky", b"x"))[0] == 200


async def test_a_backend_stop_cuts_keep_alive_connections(emu: Emulator) -> None:
    backend = emu.add_service("kept", lambda b: b).backend(0)
    async with aiohttp.ClientSession() as keep:  # pooled keep-alive connections
        assert (await post(keep, f"{backend.url}/api/predict/kept", b"x"))[0] == 200
        await backend.stop()
        with pytest.raises(aiohttp.ClientConnectionError):
            await post(keep, f"{backend.url}/api/predict/kept", b"x")


async def test_gateway_spreads_by_weight_and_503s_with_no_backend(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    service = emu.add_service("wrr", lambda b: b, backends=3, weights=[1, 2, 3])
    seen = []
    for _ in range(12):
        seen.append((await post(http, f"{emu.url}/api/predict/wrr", b"x"))[2]["X-Emulator-Backend"])
    assert [seen.count(f"wrr-{i}") for i in range(3)] == [2, 4, 6]
    assert [b.requests for b in service.backends] == [2, 4, 6]

    for backend in service.backends:
        await backend.stop()
    status, body, _ = await post(http, f"{emu.url}/api/predict/wrr", b"x")
    assert status == 503
    assert b"no backend" in body


async def test_services_added_while_running_are_served(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    assert emu.running
    service = emu.add_service("late", lambda b: b * 2, backends=2)
    for backend in service.backends:
        assert (await post(http, f"{backend.url}/api/predict/late", b"ab"))[1] == b"abab"


async def test_an_emulator_cannot_restart() -> None:
    emu = Emulator(builtins=False)
    assert "new" in repr(emu)
    async with emu:
        assert emu.url.startswith("http://127.0.0.1:")
    await emu.stop()  # idempotent
    with pytest.raises(RuntimeError):
        await emu.start()
