"""Submit and await: asynchronous inference as one ``await`` per request.

An EAS queue service serves asynchronous inference through two queues: requests are put in
``{service}``, a worker runs the model and puts each result in ``{service}/sink`` tagged
with the request's ``requestId``. ``AsyncInference`` puts a request, and one watcher on the
sink (shared by every request in flight) hands each result to the ``submit`` that waits for
it::

    async with AsyncInference(endpoint, "my_service", token=token) as inference:
        results = await asyncio.gather(*(inference.submit(x, timeout=30) for x in inputs))
        # each result: the sink QueueRecord of that request (data, tags, index)

No result is lost:

- A result is committed on the sink only when it is *claimed*: handed to its ``submit``,
  or to ``result(request_id)`` / ``ResultTimeoutError.result()`` for one that came after its
  ``submit`` timed out (a *late* result). Until then it is held, uncommitted.
- A result can arrive before its ``submit`` has learnt the request id (the worker may be
  faster than the answer to the put); it is held until that put answers.
- At close, results not claimed are left uncommitted: they stay in the sink, where
  ``QueueClient.get(request_id=...)`` finds them.
- Held late results are bounded by ``max_unclaimed``; past it the oldest is *released*:
  dropped from memory, still not committed, so it stays in the sink (and in the watcher's
  window, as one record in hand) until ``result()`` claims it through a ``get`` or the
  inference closes. Committing it would delete it; a negative ack would only have the
  service push it straight back to the same watcher, the one consumer of its group.

Each ``AsyncInference`` watches the sink in a group of its own (``{gid}-{uid}``, or
``sink_gid``): inside one group the service spreads records over its consumers, so
producers sharing a group would take each other's results. In its own group a producer is
pushed a copy of every result, its neighbours' too; a result that is not its own (no put of
its own that was in flight when it came can have made it) is committed at once, which only
ends this group's copy. How a copy ends when its producer leaves is the service's business;
the emulator forgets a group whose consumers are all gone and keeps for it what it was
given and did not commit (see ``aioeas.emulator.queue.consumers`` and the queue guide).
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
from collections.abc import Mapping
from types import EllipsisType
from typing import Any

import aiohttp

from aioeas.client import telemetry as _telemetry
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

#: How many request ids of timed-out submits whose result has not come yet are remembered
#: (a few dozen bytes each). Past it the oldest is forgotten: should its result come after
#: all, it is taken for another producer's.
MAX_LATE_IDS = 100_000


class AsyncInference(AsyncResource):
    """Requests into a queue service, each awaited until its result is in the sink.

    ``endpoint`` and ``service`` as for ``QueueClient`` (the sink is ``{service}/sink``,
    or ``sink``). ``timeout`` is the default wait for a result in seconds (``None``: for
    ever). ``window``: how many sink records the watcher may hold uncommitted, held late
    results included. ``max_unclaimed`` (``window // 2`` by default, below ``window``): how
    many late results are held in memory before the oldest is released (module docstring).
    The rest (``token``, ``uid``, ``gid``, ``http_timeout``, ``retry``, ``reconnect``,
    ``pool``, ``session``) go to the two ``QueueClient``s; ``sink_gid`` is the sink
    watcher's group, ``{gid}-{uid}`` by default: one per ``AsyncInference``.
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
        max_unclaimed: int | None = None,
        http_timeout: float | Timeout = 5.0,
        retry: RetryPolicy | None = None,
        reconnect: ReconnectPolicy | None = None,
        pool: PoolLimits | None = None,
        session: aiohttp.ClientSession | None = None,
        **client_options: Any,
    ) -> None:
        _check_timeout(timeout)
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise UsageError(f"window must be an int >= 2, got {window!r}")
        if max_unclaimed is None:
            max_unclaimed = window // 2
        if (
            isinstance(max_unclaimed, bool)
            or not isinstance(max_unclaimed, int)
            or not 0 <= max_unclaimed < window
        ):
            raise UsageError(
                f"max_unclaimed must be an int from 0 to window - 1 ({window - 1}), "
                f"got {max_unclaimed!r}: held results take room in the window"
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
            gid=sink_gid or f"{gid}-{self.inputs.uid}",
            **common,
        )
        self.timeout = timeout
        self._window = window
        self._max_unclaimed = max_unclaimed
        #: Claimers waiting, by request id: a submit, or result() for a late one.
        self._waiters: dict[str, asyncio.Future[QueueRecord]] = {}
        #: Late results received and not claimed, oldest first (uncommitted).
        self._unclaimed: collections.OrderedDict[str, QueueRecord] = collections.OrderedDict()
        #: Request ids (and input indexes) of timed-out submits whose result has not come.
        self._late: collections.OrderedDict[str, int] = collections.OrderedDict()
        #: Results of unknown request id, with the last put started when each came: held
        #: until every put up to it has answered (one of them may be its own).
        self._early: collections.OrderedDict[str, tuple[QueueRecord, int]] = (
            collections.OrderedDict()
        )
        self._puts_started = 0
        self._puts: set[int] = set()
        #: Late results released from memory past ``max_unclaimed`` (never committed).
        self.released = 0
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
        """Claimers waiting for their result (submits, and ``result()`` calls)."""
        return len(self._waiters)

    @property
    def unclaimed(self) -> int:
        """Results received and held, not claimed (yet): late ones, and those whose put
        has not answered."""
        return len(self._unclaimed) + len(self._early)

    @property
    def sink_gid(self) -> str:
        """The sink watcher's group."""
        return self.sink.gid

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
            # In a context of its own: the task serves every submit, and would otherwise
            # run in a copy of the first one's (its trace span, say, parenting them all).
            self._dispatcher = contextvars.Context().run(
                asyncio.create_task, self._dispatch(), name="aioeas-sink"
            )

    async def submit(
        self,
        data: bytes | bytearray | memoryview | str,
        tags: Mapping[str, str] | None = None,
        *,
        timeout: float | EllipsisType | None = ...,
    ) -> QueueRecord:
        """Put ``data`` (with ``tags``) in the input queue and wait for its result record.

        ``timeout``: seconds to wait for the result (the instance's default when left out,
        ``None`` for ever); past it ``ResultTimeoutError``: the request stays queued and its
        result, when it comes, is held for ``error.result()`` / ``result(request_id)``.
        A put that may or may not have happened raises ``PutUncertainError`` (never
        repeated, see ``QueueClient.put``); a lost sink watcher fails every waiting submit.
        """
        wait = self.timeout if isinstance(timeout, EllipsisType) else timeout
        _check_timeout(wait)
        tel = _telemetry.active  # None unless instrumented (aioeas.otel)
        if tel is not None:
            return await tel.submit(self.inputs.queue_name, self._submit(data, tags, wait))
        return await self._submit(data, tags, wait)

    async def _submit(
        self,
        data: bytes | bytearray | memoryview | str,
        tags: Mapping[str, str] | None,
        wait: float | None,
    ) -> QueueRecord:
        await self.start()
        if self._failure is not None:
            raise self._failure
        self._puts_started += 1
        put = self._puts_started
        self._puts.add(put)
        try:
            index, request_id = await self.inputs.put(data, tags)
        except BaseException:
            self._puts.discard(put)
            self._settle()
            raise
        self._puts.discard(put)
        early = self._claim_early(request_id) if request_id else None
        self._settle()  # the put answered: results only it could have made are settled
        if not request_id:
            raise QueueError(
                f"the queue answered put (index {index}) without a request id: "
                "its result cannot be matched"
            )
        if early is not None:
            return early
        return await self._await(index, request_id, wait)

    async def result(self, request_id: str, timeout: float | None = None) -> QueueRecord:
        """Claim the result of request ``request_id``, waiting up to ``timeout`` seconds
        (``None``: for ever; ``ResultTimeoutError`` past it, and it can be claimed again).

        For a result that came after its ``submit`` timed out (``ResultTimeoutError.result``
        calls this). A result held here is handed over at once; one released past
        ``max_unclaimed`` is fetched from the sink with ``get``. Claiming commits it.
        """
        if not isinstance(request_id, str) or not request_id:
            raise UsageError(f"request_id must be a non-empty str, got {request_id!r}")
        _check_timeout(timeout)
        if self._closed:
            raise UsageError(
                "this AsyncInference is closed; fetch the result with "
                f"QueueClient.get(request_id={request_id!r}) on the sink"
            )
        await self.start()
        if self._failure is not None:
            raise self._failure
        held = self._unclaimed.pop(request_id, None)
        if held is None:
            held = self._claim_early(request_id)
        if held is not None:
            self._commit(held)
            return held
        if request_id in self._waiters:
            raise UsageError(f"the result of request {request_id!r} is being awaited already")
        # released past max_unclaimed, or unknown here: it may be in the sink already
        index = self._late.get(request_id)
        return await self._await(index or 0, request_id, timeout, probe=index is None)

    async def _await(
        self, index: int, request_id: str, wait: float | None, *, probe: bool = False
    ) -> QueueRecord:
        """Wait as the claimer of ``request_id`` (``probe``: also look in the sink, the
        claimer being registered first so that a result pushed meanwhile comes here too).
        On a timeout (or cancellation) its result is held for a later claim instead."""
        self._late.pop(request_id, None)
        if self._failure is not None:
            raise self._failure
        future: asyncio.Future[QueueRecord] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = future
        try:
            if probe:  # its own request's timeout is raised as it is: not the result's wait
                found = await self.sink.get(request_id=request_id, timeout=0, auto_delete=False)
                if found and not future.done():
                    self._commit(found[0])
                    future.set_result(found[0])
            try:
                return await asyncio.wait_for(future, wait)
            except asyncio.TimeoutError:
                assert wait is not None  # only a bounded wait runs out
                raise ResultTimeoutError(index, request_id, wait, self.result) from None
        finally:
            if self._waiters.get(request_id) is future:
                del self._waiters[request_id]
                # (a timeout cancels the future: cancelled means no result came)
                if (future.cancelled() or not future.done()) and not self._closed:
                    self._expect_late(request_id, index)

    # -- the sink --------------------------------------------------------------------

    async def _dispatch(self) -> None:
        watcher = self._watcher
        assert watcher is not None
        try:
            async for record in watcher:
                self._route(record)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._failure = exc
            for future in self._waiters.values():
                if not future.done():
                    future.set_exception(exc)
            self._waiters.clear()

    def _route(self, record: QueueRecord) -> None:
        """A sink record came: to its claimer, held, or (another producer's) let go."""
        request_id = record.tags.get("requestId")
        if request_id is None:
            _log.warning("sink record %d has no requestId tag; committed", record.index)
            self._commit(record)
            return
        future = self._waiters.pop(request_id, None)
        if future is not None and not future.done():
            self._commit(record)
            future.set_result(record)
            return
        if request_id in self._late:
            del self._late[request_id]
            self._hold(request_id, record)
            return
        if self._puts:
            self._early[request_id] = (record, self._puts_started)
            return
        self._commit(record)  # no put of ours could have made it

    def _claim_early(self, request_id: str | None) -> QueueRecord | None:
        if request_id is None:
            return None
        entry = self._early.pop(request_id, None)
        if entry is None:
            return None
        self._commit(entry[0])
        return entry[0]

    def _settle(self) -> None:
        """Let go of the early results that no put still waiting can have made."""
        lowest = min(self._puts) if self._puts else self._puts_started + 1
        while self._early:
            request_id, (record, last_put) = next(iter(self._early.items()))
            if last_put >= lowest:
                break
            del self._early[request_id]
            self._commit(record)

    def _hold(self, request_id: str, record: QueueRecord) -> None:
        self._unclaimed[request_id] = record
        while len(self._unclaimed) > self._max_unclaimed:
            old_id, old = self._unclaimed.popitem(last=False)
            self.released += 1
            _log.warning(
                "late result of request %r (sink index %d) not claimed and over "
                "max_unclaimed=%d: released from memory, not committed; it stays in the "
                "sink for result() or get(request_id=...)",
                old_id,
                old.index,
                self._max_unclaimed,
            )

    def _expect_late(self, request_id: str, index: int) -> None:
        self._late[request_id] = index
        if len(self._late) > MAX_LATE_IDS:
            forgotten, _ = self._late.popitem(last=False)
            _log.warning(
                "over %d timed-out requests wait for a result; forgot %r", MAX_LATE_IDS, forgotten
            )

    def _commit(self, record: QueueRecord) -> None:
        watcher = self._watcher
        if watcher is not None and not watcher.closed:
            watcher.commit(record)

    async def close(self) -> None:
        """Stop the sink watcher (sending its commits) and close both clients.

        Results not claimed are left uncommitted, in the sink for ``get(request_id=...)``;
        a submit still waiting fails with ``QueueError`` naming its request id.
        """
        if self._closed:
            return
        self._closed = True
        watcher = self._watcher
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        if watcher is not None:
            # route what is buffered already: other producers' results get committed
            for _ in range(watcher.pending):
                if watcher.error is not None or not watcher.pending:
                    break
                self._route(await watcher.next())
            await watcher.close()
        for request_id, future in self._waiters.items():
            if not future.done():
                future.set_exception(
                    QueueError(
                        f"the AsyncInference was closed before the result of request "
                        f"{request_id!r} came; it stays in the sink: "
                        f"get(request_id={request_id!r})"
                    )
                )
        self._waiters.clear()
        self._unclaimed.clear()
        self._early.clear()
        self._late.clear()
        await self.inputs.close()
        await self.sink.close()


def _check_timeout(timeout: object) -> None:
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise UsageError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
