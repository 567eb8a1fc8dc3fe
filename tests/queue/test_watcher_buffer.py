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
