"""VPC direct connection for real: discovery at the emulator, backends on their own ports,
smooth weighted round robin, failover when a backend dies, and discovery going wrong."""

from __future__ import annotations

import asyncio
import collections

import pytest

from aioeas import ConnectError, DiscoveryConfig, PredictClient, RetryPolicy, StringRequest
from aioeas.emulator import Emulator, Fault, current_call
from tests.integration.conftest import (
    TOKEN,
    Attempts,
    backend_port,
    direct_client,
    other_tasks,
    wait_until,
)


def _tagged(body: bytes) -> bytes:
    return current_call().backend.encode() + b":" + body


async def test_wrr_spread_1_2_3_is_exact_over_full_cycles(emu_token: Emulator) -> None:
    svc = emu_token.add_service("w", _tagged, weights=[1, 2, 3])
    async with direct_client(emu_token, "w", token=TOKEN) as client:
        # 100 full cycles, 16 at a time: picks are made in order whatever the interleaving.
        outs = await client.predict_many(
            (StringRequest(str(i)) for i in range(600)), concurrency=16
        )
    assert [o.to_bytes().split(b":")[1] for o in outs] == [str(i).encode() for i in range(600)]
    by_name = collections.Counter(o.to_bytes().split(b":")[0] for o in outs)
    assert by_name == {b"w-0": 100, b"w-1": 200, b"w-2": 300}
    assert [b.requests for b in svc.backends] == [100, 200, 300]


async def test_wrr_interleaves_within_a_cycle(emu: Emulator) -> None:
    emu.add_service("w", _tagged, weights=[1, 2, 3])
    async with direct_client(emu, "w") as client:
        names = [(await client.predict(StringRequest(""))).to_bytes()[2:3] for _ in range(12)]
    # smooth WRR never sends the heaviest backend's whole share in one burst
    assert b"".join(names[:6]) != b"222111"
    assert sorted(b"".join(names[:6])) == sorted(b"011222")
    assert names[:6] == names[6:]


async def test_a_backend_stopped_mid_run_loses_no_request(emu: Emulator) -> None:
    reached = asyncio.Event()
    count = 0

    async def work(body: bytes) -> bytes:
        nonlocal count
        count += 1
        if count == 100:
            reached.set()
        return current_call().backend.encode() + b":" + body

    svc = emu.add_service("s", work, backends=3)
    victim = svc.backends[1]
    seen = Attempts()
    config = DiscoveryConfig(interval=60.0, rest_period=60.0)
    async with direct_client(emu, "s", hooks=seen.hooks, discovery=config) as client:
        run = asyncio.ensure_future(_collect(client, 300))
        await reached.wait()
        await victim.stop()
        stopped_at = victim.requests
        outs = await run
    assert [o.split(b":", 1)[1] for o in outs] == [f"req-{i}".encode() for i in range(300)]
    # the victim answered nothing after it stopped, and later tries never went back to it
    assert victim.requests == stopped_at
    assert all(not o.startswith(b"s-1:") for o in outs[200:])
    failed = [e for e in seen.ends if e.error is not None]
    assert failed, "the stop cut off or refused at least one request"
    assert {backend_port(e) for e in failed} == {victim.port}


async def _collect(client: PredictClient, n: int) -> list[bytes]:
    results = await client.predict_many(
        (StringRequest(f"req-{i}") for i in range(n)), concurrency=16
    )
    return [r.to_bytes() for r in results]


async def test_a_stopped_backend_is_rested_then_used_again_after_restart(emu: Emulator) -> None:
    svc = emu.add_service("s", _tagged, backends=3)
    victim = svc.backends[0]
    seen = Attempts()
    config = DiscoveryConfig(interval=60.0, rest_period=1.0)
    # The rest is measured on the discovery's clock: a fake one, moved by the test, so that
    # however slowly the requests run no rest ends before the test says so.
    now = [0.0]
    async with direct_client(emu, "s", hooks=seen.hooks, discovery=config) as client:
        assert client._discovery is not None
        client._discovery._clock = lambda: now[0]
        await victim.stop()
        outs = [(await client.predict(StringRequest("a"))).to_bytes() for _ in range(12)]
        refused = [e for e in seen.ends if e.error is not None]
        # refused once, then rested: the other two share the next requests
        assert len(refused) == 1
        assert backend_port(refused[0]) == victim.port
        assert isinstance(refused[0].error, ConnectError)
        assert not any(o.startswith(b"s-0:") for o in outs)

        await victim.start()
        before = victim.requests
        now[0] = 0.99  # still resting: up again, but not used
        outs = [(await client.predict(StringRequest("b"))).to_bytes() for _ in range(6)]
        assert victim.requests == before
        now[0] = 1.0  # its rest (1 s) is over: in the rotation again, within one cycle
        outs = [(await client.predict(StringRequest("c"))).to_bytes() for _ in range(3)]
        assert sum(o.startswith(b"s-0:") for o in outs) == 1
    assert victim.requests == before + 1


async def test_discovery_failing_empty_or_invalid_keeps_the_last_good_list(
    emu: Emulator,
) -> None:
    svc = emu.add_service("s", _tagged, backends=3)
    async with direct_client(emu, "s") as client:
        await client.predict(StringRequest("first"))
        good = client.backends
        assert len(good) == 3
        discovery = client._discovery
        assert discovery is not None
        for make_fault in (
            emu.discovery.answer_error,
            emu.discovery.answer_empty,
            emu.discovery.answer_invalid,
        ):
            rule = make_fault()
            asked = sum(emu.discovery.requests.values())
            assert await discovery.refresh() is False
            assert sum(emu.discovery.requests.values()) > asked  # it really asked
            assert client.backends == good
            outs = [(await client.predict(StringRequest("x"))).to_bytes() for _ in range(6)]
            assert collections.Counter(o[:3] for o in outs) == {b"s-0": 2, b"s-1": 2, b"s-2": 2}
            rule.cancel()
        # a good answer again: a backend scaled down is dropped from the rotation
        svc.backends[2].listed = False
        assert await discovery.refresh() is True
        assert {b.port for b in client.backends} == {svc.backends[0].port, svc.backends[1].port}


async def test_discovery_falls_back_to_the_older_path(emu: Emulator) -> None:
    emu.add_service("s", _tagged)
    emu.discovery.answer_error(404, times=1)  # the newer path, asked first, fails once
    async with direct_client(emu, "s") as client:
        resp = await client.predict(StringRequest("x"))
    assert resp.to_bytes() == b"s-0:x"
    assert emu.discovery.requests == {"s": 2}


async def test_the_refresh_task_polls_at_its_interval(emu: Emulator) -> None:
    svc = emu.add_service("s", _tagged, backends=2)
    svc.backends[1].listed = False
    config = DiscoveryConfig(interval=0.05)
    async with direct_client(emu, "s", discovery=config) as client:
        await client.predict(StringRequest("x"))
        assert len(client.backends) == 1
        svc.backends[1].listed = True
        await wait_until(lambda: len(client.backends) == 2)
        task = client.discovery_task
        assert task is not None
        assert not task.done()
    assert task.done()


async def test_the_first_predict_waits_for_the_first_list(emu: Emulator) -> None:
    emu.add_service("s", _tagged)
    emu.discovery.faults.add(Fault.latency(0.2), times=1)
    async with direct_client(emu, "s") as client:
        assert client.backends == ()
        resp = await client.predict(StringRequest("x"))
    assert resp.to_bytes() == b"s-0:x"


@pytest.mark.parametrize("how", ["error", "hang", "empty", "unreachable"])
async def test_the_first_predict_fails_clearly_when_discovery_never_answers(
    emu: Emulator, how: str
) -> None:
    emu.add_service("s", _tagged)
    if how == "error":
        emu.discovery.answer_error(503)
    elif how == "hang":
        emu.discovery.faults.add(Fault.latency(30.0))
    elif how == "empty":
        emu.discovery.answer_empty()
    config = DiscoveryConfig(startup_timeout=0.3, request_timeout=0.1, interval=0.05)
    if how == "unreachable":
        client = PredictClient(
            "http://127.0.0.1:9", "s", endpoint_type="DIRECT", discovery=config, env={}
        )
    else:
        client = direct_client(emu, "s", discovery=config)
    async with client:
        with pytest.raises(ConnectError, match=r"no backend list for service 's'.*0\.3 s"):
            # a hang guard only: without the startup timeout the hang is for ever
            await asyncio.wait_for(client.predict(StringRequest("x")), 60)
    assert emu.service("s").requests == 0


async def test_the_discovery_task_is_gone_after_close(emu: Emulator) -> None:
    before = other_tasks()
    client = direct_client(emu, "echo", discovery=DiscoveryConfig(interval=0.05))
    await client.init()
    task = client.discovery_task
    assert task is not None
    assert task in other_tasks() - before
    await client.predict(StringRequest("x"))
    await client.close()
    assert task.done()
    assert client.discovery_task is None
    assert not other_tasks() - before
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("aioeas-discovery")]


async def test_direct_retries_go_to_another_backend(emu: Emulator) -> None:
    svc = emu.add_service("s", _tagged, backends=3)
    for b in svc.backends:
        b.faults.add(Fault.error(503, "busy"), times=1)
    seen = Attempts()
    async with direct_client(
        emu, "s", hooks=seen.hooks, retry=RetryPolicy(backoff_base=0.0, max_attempts=5)
    ) as client:
        out = await client.predict(StringRequest("x"))
    ports = [backend_port(s) for s in seen.starts]
    assert len(ports) == 4
    assert len(set(ports[:3])) == 3
    assert out.to_bytes().endswith(b":x")


async def test_a_backend_answering_5xx_is_rested(emu: Emulator) -> None:
    svc = emu.add_service("s", _tagged, backends=3)
    sick = svc.backends[2]
    sick.faults.add(Fault.error(500, "sick"))
    seen = Attempts()
    async with direct_client(emu, "s", hooks=seen.hooks) as client:
        outs = [(await client.predict(StringRequest("x"))).to_bytes() for _ in range(30)]
    assert all(not o.startswith(b"s-2:") for o in outs)
    assert sick.requests == 1  # tried once, then left out for its rest period
    failed = [e for e in seen.ends if e.status == 500]
    assert len(failed) == 1
    assert failed[0].backend == f"{sick.host}:{sick.port}"
    assert all(e.latency >= 0 for e in seen.ends)
