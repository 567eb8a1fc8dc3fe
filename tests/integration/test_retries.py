"""Retries against injected faults: which failures are tried again, how many times, where,
and what is raised when the tries run out."""

from __future__ import annotations

import asyncio

import pytest

from aioeas import (
    ConnectError,
    PredictClient,
    RequestTimeoutError,
    RetryableServiceError,
    RetryPolicy,
    ServiceError,
    StringRequest,
    TransportError,
)
from aioeas.emulator import Emulator, Fault, current_call
from tests.integration.conftest import FAST, TOKEN, Attempts, backend_port, direct_client


async def test_injected_503s_are_retried_and_succeed(emu_token: Emulator) -> None:
    svc = emu_token.service("echo")
    rule = svc.faults.add(Fault.error(503, "overloaded"), times=3)
    seen = Attempts()
    async with PredictClient(
        emu_token.url, "echo", token=TOKEN, retry=FAST, hooks=seen.hooks
    ) as client:
        resp = await client.predict(StringRequest("payload"))
    assert resp.to_bytes() == b"payload"
    assert rule.hits == 3
    assert svc.requests == 4
    assert [s.attempt for s in seen.starts] == [1, 2, 3, 4]
    assert [e.status for e in seen.ends] == [503, 503, 503, 200]
    assert len(seen.retries) == 3
    assert all(isinstance(r.reason, RetryableServiceError) for r in seen.retries)
    assert all(r.reason.status == 503 for r in seen.retries)  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [400, 404, 413, 422])
async def test_a_4xx_is_raised_at_once(emu: Emulator, status: int) -> None:
    svc = emu.service("echo")
    svc.faults.add(Fault.error(status, "bad input: field x"))
    seen = Attempts()
    async with PredictClient(emu.url, "echo", retry=FAST, hooks=seen.hooks) as client:
        with pytest.raises(ServiceError) as caught:
            await client.predict(StringRequest("x"))
    assert not isinstance(caught.value, RetryableServiceError)
    assert caught.value.status == status
    assert caught.value.body == b"bad input: field x"
    assert svc.requests == 1
    assert len(seen.starts) == 1
    assert seen.retries == []


async def test_a_processor_rejecting_the_input_is_not_retried(emu: Emulator) -> None:
    svc = emu.service("mnist_saved_model_example")
    async with PredictClient(emu.url, "mnist_saved_model_example", retry=FAST) as client:
        with pytest.raises(ServiceError) as caught:
            await client.predict_bytes(b"\xff\xff not protobuf")
    assert caught.value.status == 400
    assert svc.requests == 1


async def test_5xx_on_the_last_try_raises_with_status_and_body(emu: Emulator) -> None:
    svc = emu.service("echo")
    svc.faults.add(Fault.error(502, "<html>bad gateway</html>"))
    seen = Attempts()
    policy = RetryPolicy(max_attempts=3, backoff_base=0.0)
    async with PredictClient(emu.url, "echo", retry=policy, hooks=seen.hooks) as client:
        with pytest.raises(RetryableServiceError) as caught:
            await client.predict(StringRequest("x"))
    assert caught.value.status == 502
    assert caught.value.body == b"<html>bad gateway</html>"
    assert "502" in str(caught.value)
    assert "bad gateway" in str(caught.value)
    assert svc.requests == 3
    assert len(seen.retries) == 2


async def test_retry_count_zero_means_one_try(emu: Emulator) -> None:
    svc = emu.service("echo")
    svc.faults.add(Fault.error(500))
    client = PredictClient(emu.url, "echo")
    client.set_retry_count(0)
    async with client:
        with pytest.raises(RetryableServiceError):
            await client.predict(StringRequest("x"))
    assert svc.requests == 1


async def test_a_slow_service_times_out_with_the_library_error(emu: Emulator) -> None:
    emu.service("echo").faults.add(Fault.latency(3600.0))  # never answers
    client = PredictClient(emu.url, "echo", retry=RetryPolicy(max_attempts=1))
    client.set_timeout(200)  # milliseconds, as the official API
    loop = asyncio.get_running_loop()
    async with client:
        started = loop.time()
        with pytest.raises(RequestTimeoutError) as caught:
            await asyncio.wait_for(client.predict(StringRequest("x")), 60)  # a hang guard
        elapsed = loop.time() - started
    assert client.timeout.total == 0.2
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, asyncio.TimeoutError)
    assert isinstance(caught.value, TransportError)
    assert "within 0.2 s" in str(caught.value)
    assert elapsed >= 0.15  # not milliseconds read as seconds / 1000: a lower bound only


async def test_the_timeout_in_seconds_per_call(emu: Emulator) -> None:
    emu.service("echo").faults.add(Fault.latency(10.0), times=1)
    async with PredictClient(emu.url, "echo", timeout=30.0, retry=FAST) as client:
        with pytest.raises(RequestTimeoutError):
            await client.predict(StringRequest("x"), timeout=0.2, retry=RetryPolicy(max_attempts=1))
        # the next call, under the client's own timeout, is fine
        assert (await client.predict(StringRequest("y"))).to_bytes() == b"y"


async def test_a_slow_backend_times_out_and_the_retry_moves_elsewhere(emu: Emulator) -> None:
    svc = emu.add_service("s", lambda body: current_call().backend, backends=3)
    slow = svc.backends[0]
    slow.faults.add(Fault.latency(3600.0))  # never answers
    seen = Attempts()
    # 1 s: the slow backend's tries always reach it, the others' answers come in ms even on
    # a busy machine (a healthy try timing out would break the exact accounting below)
    async with direct_client(emu, "s", timeout=1.0, hooks=seen.hooks) as client:
        outs = [(await client.predict(StringRequest("x"))).to_bytes() for _ in range(6)]
    assert b"s-0" not in outs
    timed_out = [e for e in seen.ends if e.error is not None]
    assert timed_out
    assert all(isinstance(e.error, RequestTimeoutError) for e in timed_out)
    assert {backend_port(e) for e in timed_out} == {slow.port}
    starts = seen.starts  # the predicts ran one after another: starts are in order
    for i, start in enumerate(starts):
        if backend_port(start) == slow.port:
            assert starts[i + 1].attempt == start.attempt + 1
            assert backend_port(starts[i + 1]) != slow.port


@pytest.mark.parametrize("fault", [Fault.drop(), Fault.reset()], ids=["drop", "reset"])
async def test_dropped_and_reset_connections_are_retried(emu: Emulator, fault: Fault) -> None:
    svc = emu.service("echo")
    rule = svc.faults.add(fault, times=2)
    seen = Attempts()
    async with PredictClient(emu.url, "echo", retry=FAST, hooks=seen.hooks) as client:
        resp = await client.predict(StringRequest("still here"))
    assert resp.to_bytes() == b"still here"
    assert rule.hits == 2
    assert [e.status for e in seen.ends] == [None, None, 200]
    assert all(isinstance(e.error, ConnectError) for e in seen.ends[:2])


@pytest.mark.parametrize("fault", [Fault.drop(), Fault.reset()], ids=["drop", "reset"])
async def test_a_connection_failing_every_time_raises_connect_error(
    emu: Emulator, fault: Fault
) -> None:
    emu.service("echo").faults.add(fault)
    policy = RetryPolicy(max_attempts=2, backoff_base=0.0)
    async with PredictClient(emu.url, "echo", retry=policy) as client:
        with pytest.raises(ConnectError):
            await client.predict(StringRequest("x"))
    assert emu.service("echo").requests == 2


async def test_a_refused_connection_is_retried_then_raised(emu: Emulator) -> None:
    svc = emu.add_service("s", lambda body: body)
    await svc.backends[0].stop()
    seen = Attempts()
    async with direct_client(
        emu, "s", hooks=seen.hooks, retry=RetryPolicy(max_attempts=3, backoff_base=0.0)
    ) as client:
        with pytest.raises(
            ConnectError, match=r"connection to http://127\.0\.0\.1:\d+/api/predict/s failed"
        ):
            await client.predict(StringRequest("x"))
    assert len(seen.starts) == 3  # the only backend, tried again though resting


async def test_the_overall_deadline_bounds_the_retries(emu: Emulator) -> None:
    emu.service("echo").faults.add(Fault.latency(3600.0))  # never answers
    policy = RetryPolicy(max_attempts=50, backoff_base=0.0, deadline=0.5)
    seen = Attempts()
    async with PredictClient(
        emu.url, "echo", retry=policy, timeout=0.2, hooks=seen.hooks
    ) as client:
        with pytest.raises(RequestTimeoutError):
            await asyncio.wait_for(client.predict(StringRequest("x")), 60)  # a hang guard
    # Each try lasts its 0.2 s timeout (or what is left of the 0.5 s): at most three fit,
    # a fourth at the very edge; a slower machine only makes fewer. 50 without the deadline.
    assert 1 <= len(seen.starts) <= 4
