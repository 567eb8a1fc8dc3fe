"""Service discovery at both paths, and its faults."""

from __future__ import annotations

import json

import aiohttp
import pytest

from aioeas.emulator import DISCOVERY_PATHS, EMPTY_UPSTREAMS, Emulator, Fault


async def discover(
    http: aiohttp.ClientSession, emu: Emulator, name: str, prefix: str = DISCOVERY_PATHS[0]
) -> tuple[int, bytes]:
    async with http.get(f"{emu.url}{prefix}{name}") as resp:
        return resp.status, await resp.read()


@pytest.mark.parametrize("prefix", DISCOVERY_PATHS)
async def test_both_paths_list_every_backend_with_its_weight(
    emu: Emulator, http: aiohttp.ClientSession, prefix: str
) -> None:
    service = emu.add_service("weighted", lambda b: b, backends=3, weights=[1, 2, 3])
    status, body = await discover(http, emu, "weighted", prefix)
    assert status == 200
    items = json.loads(body)["endpoints"]["items"]
    assert items == [
        {"ip": "127.0.0.1", "port": b.port, "weight": w, "app": "weighted"}
        for b, w in zip(service.backends, [1, 2, 3], strict=True)
    ]
    assert len({b.port for b in service.backends} | {emu.port}) == 4


async def test_the_name_is_cut_at_the_first_slash(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    _, whole = await discover(http, emu, "echo")
    status, cut = await discover(http, emu, "echo/sink")
    assert (status, cut) == (200, whole)
    assert emu.discovery.requests == {"echo": 1, "echo/sink": 1}


async def test_unknown_service_is_404(emu: Emulator, http: aiohttp.ClientSession) -> None:
    assert (await discover(http, emu, "nope"))[0] == 404


async def test_stopped_backends_stay_listed_unlisted_ones_do_not(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    service = emu.add_service("two", lambda b: b, backends=2)
    await service.backend(0).stop()
    ports = [
        i["port"] for i in json.loads((await discover(http, emu, "two"))[1])["endpoints"]["items"]
    ]
    assert ports == [b.port for b in service.backends]
    service.backend(0).listed = False
    ports = [
        i["port"] for i in json.loads((await discover(http, emu, "two"))[1])["endpoints"]["items"]
    ]
    assert ports == [service.backend(1).port]


async def test_discovery_can_answer_empty_invalid_or_fail(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    _, good = await discover(http, emu, "echo")
    emu.discovery.answer_empty(times=1)
    assert await discover(http, emu, "echo") == (200, EMPTY_UPSTREAMS)
    assert await discover(http, emu, "echo") == (200, good)

    rule = emu.discovery.answer_invalid()
    for _ in range(2):
        status, body = await discover(http, emu, "echo")
        assert status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)
    rule.cancel()

    emu.discovery.answer_error(503, "down", times=1)
    assert await discover(http, emu, "echo") == (503, b"down")
    # aiohttp itself retries an idempotent GET once after a disconnect: drop both tries.
    emu.discovery.faults.add(Fault.drop(), times=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await discover(http, emu, "echo")
    assert await discover(http, emu, "echo") == (200, good)
