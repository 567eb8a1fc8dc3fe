"""Submit and await through the emulator's asynchronous-inference worker."""

from __future__ import annotations

import asyncio

import pytest

from aioeas.emulator import Emulator
from aioeas.errors import UsageError
from aioeas.queue import AsyncInference, PutUncertainError, ResultTimeoutError
from tests.queue.conftest import FAST_RETRY, TOKEN


def _inference(emu: Emulator, service: str, **kwargs: object) -> AsyncInference:
    return AsyncInference(emu.url, service, token=TOKEN, retry=FAST_RETRY, **kwargs)  # type: ignore[arg-type]


async def test_five_hundred_in_flight_each_gets_its_own_result(emu: Emulator) -> None:
    emu.add_queue_service("upper", processor=lambda body: body.upper(), concurrency=8)
    async with _inference(emu, "upper", window=64) as inference:
        inputs = [f"request-{i}".encode() for i in range(500)]
        results = await asyncio.gather(*(inference.submit(x, timeout=60) for x in inputs))
        assert [r.data for r in results] == [x.upper() for x in inputs]
        assert len({r.request_id for r in results}) == 500
        assert inference.in_flight == 0
        assert inference.unclaimed == 0
    assert len(emu.queue("upper")) == 0


async def test_a_result_that_comes_before_the_submit_registers_is_kept(emu: Emulator) -> None:
    emu.add_queue_service("echo", processor=lambda body: body)
    inference = _inference(emu, "echo")
    await inference.start()
    real_put = inference.inputs.put

    async def put_then_wait_for_the_result(*args: object, **kwargs: object) -> object:
        answer = await real_put(*args, **kwargs)  # type: ignore[arg-type]
        while inference.unclaimed == 0:  # noqa: ASYNC110  (client state: no event to wait on)
            await asyncio.sleep(0)  # hold the put's answer until the result is in
        return answer

    inference.inputs.put = put_then_wait_for_the_result  # type: ignore[method-assign]
    result = await inference.submit(b"fast", timeout=10)
    assert result.data == b"fast"
    assert inference.unclaimed == 0
    await inference.close()


async def test_each_submission_has_its_own_timeout(emu: Emulator) -> None:
    gate = asyncio.Event()

    async def slow_unless_quick(body: bytes) -> bytes:
        if body != b"quick":
            await gate.wait()
        return body

    emu.add_queue_service("slow", processor=slow_unless_quick, concurrency=4)
    async with _inference(emu, "slow") as inference:
        slow = asyncio.ensure_future(inference.submit(b"slow", timeout=0.2))
        quick = await inference.submit(b"quick", timeout=30)
        assert quick.data == b"quick"
        with pytest.raises(ResultTimeoutError) as info:
            await slow
        assert info.value.request_id
        assert isinstance(info.value, TimeoutError)
        gate.set()
        late = await inference.sink.get(request_id=info.value.request_id, timeout=10)
        assert [r.data for r in late] == [b"slow"]


async def test_put_failures_reach_the_caller(emu: Emulator) -> None:
    from aioeas.emulator.faults import Fault

    emu.add_queue_service("flaky", processor=lambda body: body)
    async with _inference(emu, "flaky") as inference:
        emu.queue("flaky").faults.add(Fault.error(502), times=1)
        with pytest.raises(PutUncertainError):
            await inference.submit(b"x", timeout=5)
        assert (await inference.submit(b"y", timeout=5)).data == b"y"
        with pytest.raises(UsageError):
            await inference.submit(b"z", {"_reserved": "no"})
        with pytest.raises(UsageError):
            await inference.submit(b"z", timeout=0)


async def test_closed_inference_refuses_work(emu: Emulator) -> None:
    emu.add_queue_service("done", processor=lambda body: body)
    inference = _inference(emu, "done")
    await inference.close()
    with pytest.raises(UsageError):
        await inference.submit(b"x")
