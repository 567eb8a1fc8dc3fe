"""Many predicts with bounded concurrency: ``client.predict_many(requests, concurrency=64)``.

Requests are pulled from the (sync or async) iterable only as slots free up, so at most
``concurrency`` tasks exist at once and a generator of a million requests is never
materialised. A slot stays taken until its result has been handed out: in input order a
slow head holds the window (memory stays bounded by ``concurrency`` results), as completed
it does not.

The result is an async iterator, an awaitable (the whole list) and an async context
manager that cancels what is still in flight on exit::

    results = await client.predict_many(reqs)                 # list, input order
    async with client.predict_many(reqs, ordered=False) as it:
        async for resp in it: ...
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Iterator,
    Sized,
)
from typing import Any, Generic, TypeVar

from aioeas.errors import UsageError

__all__ = ["FanOut", "ProgressCallback"]

T = TypeVar("T")

#: Called as ``progress(done, total)`` after each result is handed out; ``total`` is
#: ``None`` when the requests' number is unknown (an iterator).
ProgressCallback = Callable[[int, "int | None"], Any]


class FanOut(Generic[T]):
    """Runs ``call`` over ``requests``, at most ``concurrency`` at a time."""

    def __init__(
        self,
        call: Callable[[Any], Coroutine[Any, Any, T]],
        requests: Iterable[Any] | AsyncIterable[Any],
        *,
        concurrency: int = 64,
        ordered: bool = True,
        return_exceptions: bool = False,
        progress: ProgressCallback | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise UsageError(f"concurrency must be an int >= 1, got {concurrency!r}")
        if not isinstance(requests, (Iterable, AsyncIterable)):
            raise UsageError(f"requests must be iterable, got {type(requests).__name__}")
        self._call = call
        self._source = requests
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        self._total = len(requests) if isinstance(requests, Sized) else None
        self._concurrency = concurrency
        self._ordered = ordered
        self._return_exceptions = return_exceptions
        self._progress = progress
        self._window: collections.deque[asyncio.Task[T]] = collections.deque()
        self._pending: set[asyncio.Task[T]] = set()
        self._ready: collections.deque[asyncio.Task[T]] = collections.deque()
        self._exhausted = False
        self._closed = False
        self._started = False
        self._done = 0
        self._running = 0  # started and not finished: what ``concurrency`` bounds
        # In input order, finished results may wait behind a slow one: up to four times
        # ``concurrency`` requests are held (running, or done and waiting their turn) so
        # that one slow request does not stall the others, while memory stays bounded.
        # As completed, a result is handed out as soon as it is done: no waiting.
        self._held_limit = 4 * concurrency if ordered else concurrency
        self._kept: list[asyncio.Task[T]] = []  # finished next in line when closed

    @property
    def running(self) -> int:
        """Requests started and not finished: never more than ``concurrency``."""
        return self._running

    @property
    def in_flight(self) -> int:
        """Requests started whose results have not been handed out yet."""
        return len(self._window) + len(self._pending) + len(self._ready)

    def __aiter__(self) -> FanOut[T]:
        return self

    async def __aenter__(self) -> FanOut[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self._collect().__await__()

    async def _collect(self) -> list[T]:
        try:
            return [item async for item in self]
        finally:
            await self.aclose()

    async def _next_request(self) -> tuple[bool, Any]:
        if isinstance(self._source, AsyncIterable):
            if self._async is None:
                self._async = aiter(self._source)
            try:
                return True, await anext(self._async)
            except StopAsyncIteration:
                return False, None
        if self._sync is None:
            self._sync = iter(self._source)
        try:
            return True, next(self._sync)
        except StopIteration:
            return False, None

    def _finished(self, task: asyncio.Task[T]) -> None:
        self._running -= 1

    async def _fill(self) -> None:
        while (
            not self._exhausted
            and self._running < self._concurrency
            and self.in_flight < self._held_limit
        ):
            more, request = await self._next_request()
            if not more:
                self._exhausted = True
                break
            task: asyncio.Task[T] = asyncio.get_running_loop().create_task(self._call(request))
            self._running += 1
            task.add_done_callback(self._finished)
            if self._ordered:
                self._window.append(task)
            else:
                self._pending.add(task)

    async def __anext__(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        self._started = True
        try:
            await self._fill()
            if self._ordered:
                # wait for the head, starting new requests as others finish meanwhile
                while self._window and not self._window[0].done():
                    running = [t for t in self._window if not t.done()]
                    await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    await self._fill()
                if not self._window:
                    raise StopAsyncIteration
                task = self._window.popleft()
            else:
                if not self._ready:
                    if not self._pending:
                        raise StopAsyncIteration
                    done, self._pending = await asyncio.wait(
                        self._pending, return_when=asyncio.FIRST_COMPLETED
                    )
                    self._ready.extend(done)
                task = self._ready.popleft()
        except StopAsyncIteration:
            await self.aclose()
            raise
        except BaseException:
            await self.aclose()
            raise
        return await self._hand_out(task)

    async def _hand_out(self, task: asyncio.Task[T]) -> T:
        if task.cancelled():
            error: BaseException | None = asyncio.CancelledError()
        else:
            error = task.exception()
        self._done += 1
        if self._progress is not None:
            self._progress(self._done, self._total)
        if error is None:
            return task.result()
        if self._return_exceptions and isinstance(error, Exception):
            return error  # type: ignore[return-value]
        await self.aclose()
        raise error

    def take_done(self) -> list[T | BaseException]:
        """The outcomes already in and next in line, without waiting: in input order, the
        finished requests at the head of the line (up to the first one still running); as
        completed, every finished one. A failure is given as its exception. For a consumer
        that is stopping (Ctrl-C): what already came back is kept, not thrown away with the
        requests still running, which ``aclose`` then cancels."""
        taken, self._kept = self._kept + self._finished_in_line(), []
        outcomes: list[T | BaseException] = []
        for task in taken:
            self._done += 1
            if task.cancelled():
                outcomes.append(asyncio.CancelledError())
            else:
                error = task.exception()
                outcomes.append(task.result() if error is None else error)
        return outcomes

    def _finished_in_line(self) -> list[asyncio.Task[T]]:
        """Takes the finished requests next in line (see ``take_done``)."""
        taken: list[asyncio.Task[T]] = []
        if self._ordered:
            while self._window and self._window[0].done():
                taken.append(self._window.popleft())
        else:
            taken.extend(self._ready)
            self._ready.clear()
            done = [t for t in self._pending if t.done()]
            self._pending.difference_update(done)
            taken.extend(done)
        return taken

    async def aclose(self) -> None:
        """Cancel what is in flight and wait for it to end; the iterator is then finished.
        What had finished next in line is kept for ``take_done`` (a consumer cancelled
        while waiting closes the iterator before its own handler runs)."""
        self._closed = True
        kept = self._finished_in_line()
        for task in kept:
            # Their outcomes are the consumer's now (``take_done``) or dropped with the
            # fan-out: a failure is marked seen, or asyncio prints "Task exception was never
            # retrieved" with a traceback for each when they are collected (a stopped
            # ``aioeas predict`` printed dozens under its one-line error).
            if not task.cancelled():
                task.exception()
        self._kept += kept
        tasks = [*self._window, *self._pending, *self._ready]
        self._window.clear()
        self._pending.clear()
        self._ready.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        aclose = getattr(self._async, "aclose", None)
        if aclose is not None:
            self._async = None
            await aclose()
