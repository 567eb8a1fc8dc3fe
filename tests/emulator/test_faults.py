"""Fault injection: status codes, latency, dropped and reset connections, for the next N
requests or at a seeded rate, per service and per backend."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from aioeas.emulator import Emulator, Fault, FaultKind, FaultPlan

from .conftest import post


async def test_the_next_n_requests_fail_then_service_resumes(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    service = emu.service("echo")
    rule = service.faults.add(Fault.error(503, "overloaded"), times=2)
    url = f"{emu.url}/api/predict/echo"
    answers = [(await post(http, url, b"x"))[:2] for _ in range(3)]
    assert answers == [(503, b"overloaded"), (503, b"overloaded"), (200, b"x")]
    assert (rule.hits, rule.active) == (2, False)
    assert service.requests == 3
    assert len(service.history) == 1  # only the served request reached the processor


async def test_a_seeded_rate_repeats_exactly(http: aiohttp.ClientSession) -> None:
    async def run(seed: int) -> list[int]:
        async with Emulator(seed=seed) as emu:
            emu.service("echo").faults.add(Fault.error(500), rate=0.5)
            url = f"{emu.url}/api/predict/echo"
            return [(await post(http, url, b"x"))[0] for _ in range(20)]

    first, again, other = await run(7), await run(7), await run(8)
    assert first == again
    assert first != other
    assert 0 < first.count(500) < 20


async def test_after_lets_the_first_requests_through(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.service("echo").faults.add(Fault.error(502), times=1, after=2)
    url = f"{emu.url}/api/predict/echo"
    assert [(await post(http, url, b"x"))[0] for _ in range(4)] == [200, 200, 502, 200]


async def test_latency_delays_then_answers(emu: Emulator, http: aiohttp.ClientSession) -> None:
    rule = emu.service("echo").faults.add(Fault.latency(0.001), times=1)
    status, body, _ = await post(http, f"{emu.url}/api/predict/echo", b"slow")
    assert (status, body, rule.hits) == (200, b"slow", 1)


async def test_latency_drives_a_client_timeout(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.service("echo").faults.add(Fault.latency(30), times=1)
    # aiohttp's timeout is asyncio.TimeoutError: not a TimeoutError on 3.10
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            f"{emu.url}/api/predict/echo", data=b"x", timeout=aiohttp.ClientTimeout(total=0.05)
        ) as resp:
            await resp.read()


async def test_drop_closes_without_an_answer(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.service("echo").faults.add(Fault.drop(), times=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(http, f"{emu.url}/api/predict/echo", b"x")
    assert (await post(http, f"{emu.url}/api/predict/echo", b"x"))[0] == 200


async def test_reset_aborts_the_connection(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.service("echo").faults.add(Fault.reset(), times=1)
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(http, f"{emu.url}/api/predict/echo", b"x")
    assert (await post(http, f"{emu.url}/api/predict/echo", b"x"))[0] == 200


async def test_backend_faults_touch_only_that_backend(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    service = emu.add_service("pair", lambda b: b, backends=2)
    service.backend(0).faults.add(Fault.error(503, "sick"))
    sick = f"{service.backend(0).url}/api/predict/pair"
    well = f"{service.backend(1).url}/api/predict/pair"
    assert (await post(http, sick, b"x"))[:2] == (503, b"sick")
    assert (await post(http, well, b"x"))[:2] == (200, b"x")
    # through the gateway, round robin alternates: every other answer fails
    statuses = [(await post(http, f"{emu.url}/api/predict/pair", b"x"))[0] for _ in range(4)]
    assert sorted(statuses) == [200, 200, 503, 503]
    assert [b.requests for b in service.backends] == [3, 3]


def test_plan_rules_in_order_latency_adds_up() -> None:
    plan = FaultPlan()
    plan.add(Fault.latency(0.5), times=1)
    plan.add(Fault.latency(0.25))
    plan.add(Fault.drop(), times=1)
    plan.add(Fault.error(500))
    first, second = plan.decide(), plan.decide()
    assert (first.delay, first.fault and first.fault.kind) == (0.75, FaultKind.DROP)
    assert (second.delay, second.fault and second.fault.status) == (0.25, 500)
    plan.clear()
    assert plan.decide().fault is None


def test_plan_validates() -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError, match="rate"):
        plan.add(Fault.drop(), rate=1.5)
    with pytest.raises(ValueError, match="times"):
        plan.add(Fault.drop(), times=-1)
    with pytest.raises(ValueError, match="status"):
        Fault.error(42)
    with pytest.raises(ValueError, match="delay"):
        Fault.latency(-1)


def test_plan_rate_is_reproducible_and_reseedable() -> None:
    def draws(plan: FaultPlan) -> list[bool]:
        return [plan.decide().fault is not None for _ in range(50)]

    a, b = FaultPlan(seed=3), FaultPlan(seed=3)
    a.add(Fault.drop(), rate=0.3)
    b.add(Fault.drop(), rate=0.3)
    first = draws(a)
    assert first == draws(b)
    a.reseed(3)
    assert draws(a) == first
