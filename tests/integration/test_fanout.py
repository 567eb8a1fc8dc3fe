"""``predict_many`` against the emulator: thousands of requests, each carrying its own
index, so every answer can be matched to its input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from aioeas import PredictClient, RetryableServiceError, RetryPolicy, TFRequest, TFResponse
from aioeas.emulator import Emulator, Fault
from tests.integration.conftest import ONCE


def _request(i: int) -> TFRequest:
    return TFRequest().add_feed("x", np.array([i, -i, i * 7], np.int64))


def _index(resp: TFResponse) -> int:
    x = resp["x"]
    assert x.tolist() == [x[0], -x[0], x[0] * 7]
    return int(x[0])


async def test_ordered_results_match_their_inputs(emu: Emulator) -> None:
    n = 2000
    progress: list[tuple[int, int | None]] = []
    async with PredictClient(emu.url, "echo_tf") as client:
        results = await client.predict_many(
            [_request(i) for i in range(n)],
            concurrency=64,
            progress=lambda done, total: progress.append((done, total)),
        )
    assert [_index(r) for r in results] == list(range(n))
    assert progress == [(i, n) for i in range(1, n + 1)]
    assert emu.service("echo_tf").requests == n


async def test_unordered_yields_every_result_exactly_once(emu: Emulator) -> None:
    n = 2000
    seen: list[int] = []
    async with PredictClient(emu.url, "echo_tf") as client:
        fan = client.predict_many((_request(i) for i in range(n)), concurrency=64, ordered=False)
        async with fan:
            async for resp in fan:
                seen.append(_index(resp))
                assert fan.in_flight <= 64
    assert sorted(seen) == list(range(n))


async def test_return_exceptions_collects_injected_failures_in_place(emu: Emulator) -> None:
    n = 500
    rule = emu.service("echo_tf").faults.add(Fault.error(503, "injected"), rate=0.1)
    async with PredictClient(emu.url, "echo_tf", retry=ONCE) as client:
        results = await client.predict_many(
            [_request(i) for i in range(n)], concurrency=64, return_exceptions=True
        )
    assert len(results) == n
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == rule.hits > 0
    for i, r in enumerate(results):
        if isinstance(r, Exception):
            assert isinstance(r, RetryableServiceError)
            assert r.body == b"injected"
        else:
            assert _index(r) == i


async def test_without_return_exceptions_the_first_failure_ends_the_run(emu: Emulator) -> None:
    emu.service("echo_tf").faults.add(Fault.error(503, "injected"), after=50, times=1)
    async with PredictClient(emu.url, "echo_tf", retry=ONCE) as client:
        fan = client.predict_many([_request(i) for i in range(500)], concurrency=8)
        with pytest.raises(RetryableServiceError) as caught:
            await fan
        assert caught.value.status == 503
        assert fan.in_flight == 0
    assert emu.service("echo_tf").requests < 500


async def test_an_async_iterable_source(emu: Emulator) -> None:
    made = 0

    async def source() -> AsyncIterator[TFRequest]:
        nonlocal made
        for i in range(300):
            made += 1
            yield _request(i)
            await asyncio.sleep(0)

    async with PredictClient(emu.url, "echo_tf") as client:
        results = await client.predict_many(source(), concurrency=16)
    assert [_index(r) for r in results] == list(range(300))
    assert made == 300


async def test_concurrency_is_bounded(emu: Emulator, released: asyncio.Event) -> None:
    limit = 8
    in_flight = 0
    high = 0
    full = asyncio.Event()

    async def model(inputs: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        nonlocal in_flight, high
        in_flight += 1
        high = max(high, in_flight)
        if in_flight == limit:
            full.set()
        await full.wait()  # the first wave waits until the window is full
        in_flight -= 1
        return inputs

    emu.add_tf_service("count", model)
    async with PredictClient(emu.url, "count") as client:
        results = await client.predict_many(
            [_request(i) for i in range(200)], concurrency=limit, ordered=False
        )
    assert sorted(_index(r) for r in results) == list(range(200))
    assert high == limit


async def test_per_call_retry_and_timeout_apply_to_every_request(emu: Emulator) -> None:
    emu.service("echo_tf").faults.add(Fault.error(503), times=5)
    async with PredictClient(emu.url, "echo_tf", retry=ONCE) as client:
        results = await client.predict_many(
            [_request(i) for i in range(20)],
            concurrency=1,
            retry=RetryPolicy(max_attempts=6, backoff_base=0.0),
            timeout=10.0,
        )
    assert [_index(r) for r in results] == list(range(20))


async def test_in_order_a_slow_head_does_not_stall_the_others(emu: Emulator) -> None:
    """Ordered results wait behind a slow first request, but new requests keep starting
    (never more than ``concurrency`` running, at most four times that held)."""
    release = asyncio.Event()
    sixteen = asyncio.Event()
    seen: list[int] = []

    async def processor(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        i = int(inputs["x"].reshape(-1)[0])
        seen.append(i)
        if len(seen) == 16:
            sixteen.set()
        if i == 0:
            await release.wait()
        return {"y": inputs["x"]}

    emu.add_tf_service("slow_head", processor)
    async with PredictClient(emu.url, "slow_head") as client:
        reqs = [TFRequest().add_feed("x", np.array([i], np.int64)) for i in range(100)]
        fan = client.predict_many(reqs, concurrency=4)
        async with fan:
            first = asyncio.ensure_future(fan.__anext__())
            # the head is held; the fan-out goes on until it holds 16 (4 x concurrency)
            await asyncio.wait_for(sixteen.wait(), timeout=60)  # a bound, not a pace
            assert fan.running <= 4
            for _ in range(100):  # and not further, however long the head takes
                await asyncio.sleep(0)
            assert len(seen) == 16
            assert fan.in_flight == 16
            release.set()
            out = [int((await first)["y"][0])]
            async for resp in fan:
                out.append(int(resp["y"][0]))
                assert fan.running <= 4
    assert out == list(range(100))
