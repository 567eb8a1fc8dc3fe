"""Submit and await: asynchronous inference as one ``await`` per request.

An EAS queue service serves asynchronous inference through two queues: requests are put in
``{service}``, a worker runs the model and puts each result in ``{service}/sink`` tagged
with the request's ``requestId``. ``AsyncInference`` puts a request, and one watcher on the
sink (shared by every request in flight) hands each result to the ``submit`` that waits for
it::

    async with AsyncInference(endpoint, "my_service", token=token) as inference:
        results = await asyncio.gather(*(inference.submit(x, timeout=30) for x in inputs))
        # each result: the sink QueueRecord of that request (data, tags, index)

A result can arrive before its ``submit`` has learnt the request id (the worker may be
faster than the answer to the put); it is kept until claimed, never lost. Each result is
committed on the sink as soon as it is received.

The sink watcher consumes in the client's group (``gid``); the service spreads a group's
records over its consumers, so producers that run side by side need a group each
(``sink_gid``), else one may receive another's results (kept, never matched, and dropped
beyond ``max_unclaimed``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Mapping
from types import EllipsisType
from typing import Any

import aiohttp

from aioeas.client.config import PoolLimits, Timeout
from aioeas.client.lifecycle import AsyncResource
from aioeas.client.retry import RetryPolicy
from aioeas.errors import QueueError, UsageError
from aioeas.queue.client import QueueClient
from aioeas.queue.config import ReconnectPolicy
from aioeas.queue.errors import ResultTimeoutError
from aioeas.queue.records import QueueRecord
from aioeas.queue.watcher import Watcher

__all__ = ["AsyncInference"]

_log = logging.getLogger(__name__)


class AsyncInference(AsyncResource):
    """Requests into a queue service, each awaited until its result is in the sink.

    ``endpoint`` and ``service`` as for ``QueueClient`` (the sink is ``{service}/sink``,
    or ``sink``). ``timeout`` is the default wait for a result in seconds (``None``: for
    ever). ``window``: how many sink results may be in hand at once. The rest (``token``,
    ``uid``, ``gid``, ``http_timeout``, ``retry``, ``reconnect``, ``pool``, ``session``) go
    to the two ``QueueClient``s; ``sink_gid`` is the sink watcher's group (``gid`` by default).
    """

    def __init__(
        self,
        endpoint: str,
        service: str,
        *,
        token: str | None = None,
        sink: str | None = None,
        uid: str | None = None,
        gid: str = "eas",
        sink_gid: str | None = None,
        timeout: float | None = 60.0,
        window: int = 256,
        max_unclaimed: int = 10_000,
        http_timeout: float | Timeout = 5.0,
        retry: RetryPolicy | None = None,
        reconnect: ReconnectPolicy | None = None,
        pool: PoolLimits | None = None,
        session: aiohttp.ClientSession | None = None,
        **client_options: Any,
    ) -> None:
        if timeout is not None and not timeout > 0:
            raise UsageError(
                f"timeout must be a positive number of seconds or None, got {timeout!r}"
            )
        common: dict[str, Any] = {
            "token": token,
            "timeout": http_timeout,
            "retry": retry,
            "reconnect": reconnect,
            "pool": pool,
            "session": session,
            **client_options,
        }
        self.inputs = QueueClient(endpoint, service, uid=uid, gid=gid, **common)
        self.sink = QueueClient(
            endpoint,
            sink or f"{service}/sink",
            uid=self.inputs.uid,
            gid=sink_gid or gid,
            **common,
        )
        self.timeout = timeout
        self._window = window
        self._max_unclaimed = max_unclaimed
        self._waiters: dict[str, asyncio.Future[QueueRecord]] = {}
        self._unclaimed: collections.OrderedDict[str, QueueRecord] = collections.OrderedDict()
        self._watcher: Watcher | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._start_lock: asyncio.Lock | None = None
        self._failure: BaseException | None = None
        self._closed = False

    async def init(self) -> None:
        """Open the clients and the sink watcher (``start()``)."""
        await self.start()

    @property
    def in_flight(self) -> int:
        """Submissions waiting for their result."""
        return len(self._waiters)

    @property
    def unclaimed(self) -> int:
        """Results received that no submission has claimed (yet)."""
        return len(self._unclaimed)

    async def start(self) -> None:
        """Open both clients and the sink watcher (``submit`` does it on first use)."""
        if self._closed:
            raise UsageError("this AsyncInference is closed; make a new one")
        if self._dispatcher is not None:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._dispatcher is not None:
                return
            await self.inputs.init()
            await self.sink.init()
            self._watcher = await self.sink.watch(index=0, window=self._window)
            self._dispatcher = asyncio.create_task(self._dispatch(), name="aioeas-sink")

    async def submit(
        self,
        data: bytes | bytearray | memoryview | str,
        tags: Mapping[str, str] | None = None,
        *,
        timeout: float | EllipsisType | None = ...,
    ) -> QueueRecord:
        """Put ``data`` (with ``tags``) in the input queue and wait for its result record.

        ``timeout``: seconds to wait for the result (the instance's default when left out,
        ``None`` for ever); past it ``ResultTimeoutError`` (the request stays queued).
        A put that may or may not have happened raises ``PutUncertainError`` (never
        repeated, see ``QueueClient.put``); a lost sink watcher fails every waiting submit.
        """
        wait = self.timeout if isinstance(timeout, EllipsisType) else timeout
        if wait is not None and not (isinstance(wait, (int, float)) and wait > 0):
            raise UsageError(f"timeout must be a positive number of seconds or None, got {wait!r}")
        await self.start()
        if self._failure is not None:
            raise self._failure
        index, request_id = await self.inputs.put(data, tags)
        if not request_id:
            raise QueueError(
                f"the queue answered put (index {index}) without a request id: "
                "its result cannot be matched"
            )
        early = self._unclaimed.pop(request_id, None)
        if early is not None:
            return early
        if self._failure is not None:
            raise self._failure
        future: asyncio.Future[QueueRecord] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = future
        try:
            if wait is None:
                return await future
            return await asyncio.wait_for(future, wait)
        except asyncio.TimeoutError:
            raise ResultTimeoutError(index, request_id, wait or 0.0) from None
        finally:
            self._waiters.pop(request_id, None)

    async def _dispatch(self) -> None:
        watcher = self._watcher
        assert watcher is not None
        try:
            async for record in watcher:
                request_id = record.tags.get("requestId")
                watcher.commit(record)
                if request_id is None:
                    _log.warning("sink record %d has no requestId tag; dropped", record.index)
                    continue
                future = self._waiters.pop(request_id, None)
                if future is not None:
                    if not future.done():
                        future.set_result(record)
                    continue
                self._unclaimed[request_id] = record
                while len(self._unclaimed) > self._max_unclaimed:
                    dropped, _ = self._unclaimed.popitem(last=False)
                    _log.warning("result for request %r was never claimed; dropped", dropped)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._failure = exc
            for future in self._waiters.values():
                if not future.done():
                    future.set_exception(exc)
            self._waiters.clear()

    async def close(self) -> None:
        """Stop the sink watcher (sending its commits) and close both clients."""
        if self._closed:
            return
        self._closed = True
        if self._watcher is not None:
            await self._watcher.close()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        closed = QueueError("the AsyncInference was closed")
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(closed)
        await self.inputs.close()
        await self.sink.close()
