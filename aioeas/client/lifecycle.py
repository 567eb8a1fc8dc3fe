"""What the clients share about their life: a state, and ``async with`` over init/close.

A client is made (NEW), opened by ``init()`` or its first call (OPEN), and closed for good
(CLOSED): a closed client never reopens. ``async with`` opens on entry and closes on exit,
and an entry that fails (a 401 while opening, say) closes what it had already opened, so
that no session is left behind.
"""

from __future__ import annotations

import enum
from types import TracebackType
from typing import TypeVar

__all__ = ["AsyncResource", "State"]

R = TypeVar("R", bound="AsyncResource")


class State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class AsyncResource:
    """``init()`` and ``close()`` (idempotent) are the subclass's; ``async with`` is here."""

    async def init(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self: R) -> R:
        try:
            await self.init()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
