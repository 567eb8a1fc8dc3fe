"""``FanOut.take_done``: what a stopping consumer (Ctrl-C) keeps of the answers already in.

The requests are futures the test settles by hand, so which ones are done is decided by
the test, never by timing."""

from __future__ import annotations

import asyncio
import gc

import pytest

from aioeas.client.fanout import FanOut


class _Settled:
    """``call(i)`` waits for the test to settle request ``i``."""

    def __init__(self, n: int) -> None:
        self.futures: list[asyncio.Future[int]] = []
        self.n = n

    async def call(self, i: int) -> int:
        return await self.futures[i]

    def make(self) -> None:
        loop = asyncio.get_running_loop()
        self.futures = [loop.create_future() for _ in range(self.n)]


async def _started(fan: FanOut[int], count: int) -> None:
    while fan.running < count:  # noqa: ASYNC110 - the fan-out's own state, no event to wait on
        await asyncio.sleep(0)


@pytest.mark.parametrize("ordered", [True, False])
async def test_a_consumer_cancelled_while_waiting_keeps_what_came_back(ordered: bool) -> None:
    """Five requests: 0, 1 and 3 answered and 2 failed while the consumer waited for the
    head, 4 still out; the consumer is cancelled before it ran again (Ctrl-C handled
    first). Its ``__anext__`` closes the fan-out on the way out, cancelling 4; what had
    come back is kept for ``take_done``: in input order up to the first one still out
    (all four here), as completed every one."""
    settled = _Settled(5)
    settled.make()
    fan = FanOut(settled.call, range(5), concurrency=5, ordered=ordered)
    consumer = asyncio.ensure_future(fan.__anext__())
    await _started(fan, 5)
    await asyncio.sleep(0)  # the consumer waits on the requests
    error = RuntimeError("refused")
    for i in (3, 1, 0):
        settled.futures[i].set_result(i)
    settled.futures[2].set_exception(error)
    await asyncio.sleep(0)  # the requests end; the consumer has not run since
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert settled.futures[4].cancelled()
    outcomes = fan.take_done()
    if ordered:
        assert outcomes == [0, 1, error, 3]
    else:
        assert len(outcomes) == 4
        assert all(o in outcomes for o in (0, 1, error, 3))
    assert fan.take_done() == []  # taken once


async def test_in_input_order_take_done_stops_at_the_first_still_out() -> None:
    settled = _Settled(5)
    settled.make()
    fan = FanOut(settled.call, range(5), concurrency=5)
    consumer = asyncio.ensure_future(fan.__anext__())
    await _started(fan, 5)
    error = RuntimeError("refused")
    settled.futures[1].set_result(1)
    settled.futures[2].set_exception(error)
    settled.futures[4].set_result(4)
    settled.futures[0].set_result(0)  # the head: the consumer gets it
    assert await consumer == 0
    outcomes = fan.take_done()
    assert outcomes == [1, error]  # 3 is still out: 4 waits behind it
    settled.futures[3].set_result(3)
    await asyncio.sleep(0)
    assert fan.take_done() == [3, 4]
    await fan.aclose()


@pytest.mark.parametrize("ordered", [True, False])
async def test_failures_left_when_the_consumer_stops_are_not_reported_as_unretrieved(
    ordered: bool,
) -> None:
    """A consumer that stops on a failure (``aioeas predict`` on a 401, or when the service
    is gone) leaves the other failed requests behind unread. asyncio reported each one as
    "Task exception was never retrieved", with a traceback, when it was collected: dozens
    of them under the command's one-line error."""
    reported: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        settled = _Settled(4)
        settled.make()
        fan = FanOut(settled.call, range(4), concurrency=4, ordered=ordered, return_exceptions=True)
        consumer = asyncio.ensure_future(fan.__anext__())
        await _started(fan, 4)
        for i in range(3):
            settled.futures[i].set_exception(RuntimeError(f"refused {i}"))
        first = await consumer
        assert isinstance(first, RuntimeError)
        await fan.aclose()  # the consumer stops: 3 still out is cancelled
        assert settled.futures[3].cancelled()
        del fan, consumer
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert [c.get("message") for c in reported] == []
