"""A per-call deadline (``predict(..., deadline=)``) and what a call that ran out of tries or
time says. A fake transport records the timeout each try was given and a stepped clock
stands in for a slow wait, so nothing here depends on the machine's speed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from aioeas import (
    PredictClient,
    RequestTimeoutError,
    RetryableServiceError,
    RetryPolicy,
    StringRequest,
    Timeout,
    UsageError,
)
from aioeas.client.transport import HTTPResponse


class Failing:
    """Every try fails: a timeout (``status`` None) or an answer with ``status``."""

    def __init__(self, status: int | None = None) -> None:
        self.status = status
        self.timeouts: list[Timeout] = []

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> HTTPResponse:
        self.timeouts.append(timeout)
        if self.status is None:
            raise RequestTimeoutError(f"no complete answer from {url} within {timeout.total:.3g} s")
        return HTTPResponse(self.status, b"busy")

    async def close(self) -> None:
        pass


NO_WAIT = RetryPolicy(max_attempts=3, backoff_base=0.0, jitter=0.0)


async def test_a_per_call_deadline_cuts_the_first_try_and_overrides_the_policy() -> None:
    transport = Failing()
    async with PredictClient(
        "http://127.0.0.1:9", "s", timeout=30.0, retry=NO_WAIT, transport=transport
    ) as client:
        with pytest.raises(RequestTimeoutError):
            await client.predict(StringRequest("x"), deadline=0.25)
        assert transport.timeouts[0].total <= 0.25  # cut to the deadline, not 30 s
        transport.timeouts.clear()
        with pytest.raises(RequestTimeoutError):
            await client.predict(StringRequest("x"))
        assert [t.total for t in transport.timeouts] == [30.0, 30.0, 30.0]  # no deadline
        many = client.predict_many([StringRequest("y")], deadline=0.25, return_exceptions=True)
        transport.timeouts.clear()
        assert isinstance((await many)[0], RequestTimeoutError)
        assert transport.timeouts[0].total <= 0.25


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), True, "5"])
async def test_a_per_call_deadline_is_checked_before_any_io(bad: object) -> None:
    transport = Failing()
    async with PredictClient("http://127.0.0.1:9", "s", transport=transport) as client:
        with pytest.raises(UsageError, match="deadline"):
            await client.predict(StringRequest("x"), deadline=bad)  # type: ignore[arg-type]
    assert transport.timeouts == []


async def test_a_timeout_after_several_tries_says_how_many_and_how_long() -> None:
    async with PredictClient(
        "http://127.0.0.1:9", "s", timeout=0.452105, retry=NO_WAIT, transport=Failing()
    ) as client:
        with pytest.raises(RequestTimeoutError) as info:
            await client.predict(StringRequest("x"))
    text = str(info.value)
    assert "within 0.452 s" in text  # not 0.452105
    assert "3 tries in" in text
    assert isinstance(info.value.__cause__, (type(None), BaseException))


async def test_one_try_keeps_its_own_message() -> None:
    once = RetryPolicy(max_attempts=1)
    async with PredictClient(
        "http://127.0.0.1:9", "s", timeout=0.5, retry=once, transport=Failing()
    ) as client:
        with pytest.raises(RequestTimeoutError) as info:
            await client.predict(StringRequest("x"))
    assert "tries" not in str(info.value)


@pytest.fixture
async def slow_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Each wait between tries takes 10 s more than asked (on the loop's clock): a machine
    so busy that the deadline passes during the wait."""
    skew = [0.0]
    loop = asyncio.get_running_loop()
    real_time = loop.time
    real_sleep = asyncio.sleep

    async def oversleep(delay: float, result: object = None) -> object:
        if delay > 0:
            skew[0] += delay + 10.0
        return await real_sleep(0, result)

    monkeypatch.setattr(loop, "time", lambda: real_time() + skew[0])
    monkeypatch.setattr(asyncio, "sleep", oversleep)
    return skew


async def test_a_deadline_passing_during_the_wait_raises_what_failed_last(
    slow_waits: list[float],
) -> None:
    """Not "the deadline passed before another try": the 503 that made it wait."""
    policy = RetryPolicy(max_attempts=5, backoff_base=1.0, jitter=0.0, deadline=5.0)
    transport = Failing(status=503)
    async with PredictClient(
        "http://127.0.0.1:9", "s", retry=policy, transport=transport
    ) as client:
        with pytest.raises(RetryableServiceError) as info:
            await client.predict(StringRequest("x"))
    assert info.value.status == 503
    assert len(transport.timeouts) == 1
    assert slow_waits[0] > 10.0  # the stepped clock did run
