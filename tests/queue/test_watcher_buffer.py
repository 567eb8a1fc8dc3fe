"""The watcher's receive buffer (``_Buffer``) on its own: taking out the copies a
reconnection pushed again. Loop turns only, no clock."""

from __future__ import annotations

import asyncio

from aioeas.queue.watcher import _Buffer


async def test_discard_takes_out_only_the_matches_and_counts_them() -> None:
    """The count is what the watcher adds to ``stats.duplicates``: only the items taken
    out, with others left waiting, in their order."""
    buffer: _Buffer[int] = _Buffer(8)
    for item in (1, 2, 1, 3):
        await buffer.put(item)
    assert buffer.discard(lambda item: item == 1) == 2
    assert buffer.discard(lambda item: item == 9) == 0
    assert len(buffer) == 2
    assert [await buffer.get(), await buffer.get()] == [2, 3]


async def test_discard_gives_a_blocked_put_its_room() -> None:
    """A full buffer blocks the reader's ``put``; taking items out must wake it at once,
    else the connection stalls with room free."""
    buffer: _Buffer[int] = _Buffer(1)
    await buffer.put(1)
    blocked = asyncio.ensure_future(buffer.put(2))
    while buffer._putter is None:  # noqa: ASYNC110 - loop turns until put blocks
        await asyncio.sleep(0)
    assert not blocked.done()
    assert buffer.discard(lambda item: item == 1) == 1
    assert buffer._putter is not None
    assert buffer._putter.done()  # woken by the discard itself
    await blocked
    assert [await buffer.get()] == [2]


async def test_a_getter_cancelled_after_its_wake_up_passes_it_on() -> None:
    """``put`` wakes one waiting getter. If that one is cancelled before it runs (the
    consumer's ``next(timeout=...)`` ran out at that moment), the item must not wait
    unseen: the wake-up goes to the next getter."""
    buffer: _Buffer[int] = _Buffer(4)
    first = asyncio.ensure_future(buffer.get())
    second = asyncio.ensure_future(buffer.get())
    while len(buffer._getters) < 2:  # noqa: ASYNC110 - loop turns until both wait
        await asyncio.sleep(0)
    await buffer.put(1)  # wakes the first getter only
    first.cancel()
    (outcome,) = await asyncio.gather(first, return_exceptions=True)
    assert isinstance(outcome, asyncio.CancelledError)
    for _ in range(10):  # a few loop turns, counted: the second runs on the next one
        if second.done():
            break
        await asyncio.sleep(0)
    assert second.done()
    assert second.result() == 1


async def test_the_end_wakes_a_blocked_put_which_adds_nothing() -> None:
    """The watcher failing ends the buffer: a reader blocked on a full buffer must return
    then (not stay blocked until close), and what it held is not added after the end."""
    buffer: _Buffer[int] = _Buffer(1)
    await buffer.put(1)
    blocked = asyncio.ensure_future(buffer.put(2))
    while buffer._putter is None:  # noqa: ASYNC110 - loop turns until put blocks
        await asyncio.sleep(0)
    buffer.end(RuntimeError("lost"))
    assert buffer._putter is not None
    assert buffer._putter.done()  # woken by the end itself
    await blocked
    assert len(buffer) == 1
