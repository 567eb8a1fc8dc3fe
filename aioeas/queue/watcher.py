"""``Watcher``: records pushed over a WebSocket, as a bounded async iterator.

::

    async with queue.watch(window=10) as watcher:      # or: watcher = await queue.watch(...)
        async for record in watcher:
            await handle(record)
            watcher.commit(record)                       # returns at once; sent in batches

Three tasks' worth of work, kept apart so none waits behind another:

- the reader takes frames off the socket into a buffer of at most ``window`` records and
  stops reading while the buffer is full, so a slow consumer slows the socket (real
  backpressure) instead of growing memory;
- the consumer takes records out of the buffer (``async for``, ``next(timeout=)``);
- the committer sends the consumer's commits, many indexes per PUT, as soon as it can
  (``commit_delay`` seconds at most, 0 by default: the next loop turn), so the service's
  window moves while the consumer keeps working.

An end-of-stream marker from the service (after ``end_of_stream()``) ends the iteration once
the buffered records are taken.

When the connection drops, the reader reconnects (by the ``ReconnectPolicy``: at once, then
with backoff; ``WatchLostError`` past its bound) and resumes at the index it was first given,
as the official clients do. A queue hands records out of index order (priority records
first, a departed peer's records later), so resuming anywhere above that could skip records
for good. ``index=-1`` ("only what is newest") is pinned before the first connection to the
index after the queue's ``stream.lastEntry``, so a reconnection does not skip what was put
while it was down either. A record not committed may come again; one the consumer committed
never does: redeliveries of committed indexes are dropped (as are copies of records still in
the buffer). ``stats`` counts all of it.

Closing stops the reader, sends the commits still waiting, then closes the socket (so the
service does not hand the records being committed to another consumer), and ends every
iteration with ``StopAsyncIteration``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from aioeas.client import telemetry as _telemetry
from aioeas.codecs.frames import decode_frame
from aioeas.errors import (
    AuthError,
    CertificateError,
    EASError,
    EASTimeoutError,
    QueueError,
    ServiceError,
    UsageError,
)
from aioeas.queue import protocol as proto
from aioeas.queue.accounting import SETTLED_MEMORY, CommitBatcher, Delivery
from aioeas.queue.config import ReconnectPolicy
from aioeas.queue.errors import WatchLostError
from aioeas.queue.records import QueueRecord

if TYPE_CHECKING:
    from aioeas.client.config import Timeout
    from aioeas.queue.websocket import WebSocketConnection, WebSocketConnector

__all__ = ["WatchHost", "Watcher", "WatcherStats"]

_log = logging.getLogger(__name__)

#: The tag of the end-of-stream marker: a frame with index 0, this tag ``"true"`` and no
#: data (what the emulator sends; no public source says how EAS itself does it).
EOS_TAG = "_eos_"

T = TypeVar("T")


@dataclass
class WatcherStats:
    """Counters of one watcher, for tests and metrics.

    ``received``: frames read off the socket; ``duplicates``: of those, dropped as already
    committed or already buffered; ``delivered``: records handed to the consumer;
    ``reconnects``: connections re-opened; ``commit_requests`` and ``commits_sent``: PUTs
    sent and indexes they carried; ``max_in_hand``: the most records ever received and not
    yet committed at once (the service's window bounds it).
    """

    received: int = 0
    duplicates: int = 0
    delivered: int = 0
    reconnects: int = 0
    commit_requests: int = 0
    commits_sent: int = 0
    max_in_hand: int = 0


class WatchHost(Protocol):
    """What a watcher needs from the client that made it (``QueueClient`` is the one).

    The watcher knows its client only through this, so the two modules do not import
    each other and a test can hand a watcher a stand-in.
    """

    _random: Callable[[], float]

    @property
    def url(self) -> str: ...

    @property
    def timeout(self) -> Timeout: ...

    @property
    def _heartbeat_interval(self) -> float | None: ...

    def _claim_watcher(self, watcher: Watcher) -> None: ...

    def _release_watcher(self, watcher: Watcher) -> None: ...

    async def _watch_target(self) -> tuple[WebSocketConnector, str, dict[str, str]]: ...

    async def _call(self, method: str, query: str) -> Any: ...

    async def attributes(self) -> dict[str, str]: ...

    async def negative_ack(
        self, indexes: int | Iterable[int], code: str = ..., reason: str = ...
    ) -> str: ...


class _EndedError(Exception):
    """The buffer was closed and is empty: iteration is over."""


class _Buffer(Generic[T]):
    """A bounded FIFO for one producer and any consumers, which can be ended with an error.

    ``get`` returns without suspending while items are there (so a consumer drains a full
    buffer in one go and its commits coalesce); once ended it hands out what is left, then
    raises the ending error.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: collections.deque[T] = collections.deque()
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._putter: asyncio.Future[None] | None = None
        self._end: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def ended(self) -> bool:
        return self._end is not None

    async def put(self, item: T) -> None:
        while len(self._items) >= self.capacity and self._end is None:
            fut = asyncio.get_running_loop().create_future()
            self._putter = fut
            try:
                await fut
            finally:
                self._putter = None
        if self._end is not None:
            return
        self._items.append(item)
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                break

    async def get(self) -> T:
        while not self._items:
            if self._end is not None:
                raise self._end
            fut = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except BaseException:
                # a cancelled getter passes its wake-up on, so no item waits unseen
                if fut.done() and not fut.cancelled() and self._items:
                    self._wake_getter()
                raise
            finally:
                if fut in self._getters:
                    self._getters.remove(fut)
        item = self._items.popleft()
        if self._putter is not None and not self._putter.done():
            self._putter.set_result(None)
        return item

    def _wake_getter(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def end(self, error: BaseException) -> None:
        if self._end is None:
            self._end = error
        for getter in self._getters:
            if not getter.done():
                getter.set_result(None)
        self._getters.clear()
        if self._putter is not None and not self._putter.done():
            self._putter.set_result(None)

    def discard(self, matches: Callable[[T], bool]) -> int:
        """Take out the waiting items that match; a blocked ``put`` gets the room."""
        kept = [item for item in self._items if not matches(item)]
        removed = len(self._items) - len(kept)
        if removed:
            self._items = collections.deque(kept)
            if self._putter is not None and not self._putter.done():
                self._putter.set_result(None)
        return removed

    def clear(self) -> None:
        self._items.clear()


class _State(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


class Watcher:
    """A watch on one queue; made by ``QueueClient.watch``. See the module docstring.

    Awaitable (``w = await queue.watch(...)`` opens it and returns it), an async context
    manager (opens, and closes on exit) and an async iterator of ``QueueRecord`` (opening
    it on first use). ``next(timeout=)`` takes one record; ``commit`` queues commits;
    ``negative_ack`` gives records back undone;
    ``pending`` is how many records wait in the buffer, ``in_hand`` how many were received
    and not committed, ``commits_pending`` how many commits are not yet acknowledged.
    """

    def __init__(
        self,
        client: WatchHost,
        *,
        index: int,
        window: int,
        index_only: bool,
        auto_commit: bool,
        tags: Mapping[str, str],
        reconnect: ReconnectPolicy,
        commit_delay: float,
        max_commit_batch: int,
    ) -> None:
        proto.check_index(index, what="index", minimum=-1)
        proto.check_index(window, what="window", minimum=1)
        if not isinstance(reconnect, ReconnectPolicy):
            raise UsageError("reconnect must be a ReconnectPolicy")
        self._client = client
        self.index = index
        self.window = window
        self.index_only = index_only
        self.auto_commit = auto_commit
        self.tags = dict(tags)
        self.reconnect_policy = reconnect
        self.stats = WatcherStats()
        self._state = _State.NEW
        self._start_lock: asyncio.Lock | None = None
        self._buffer: _Buffer[QueueRecord] = _Buffer(window)
        self._delivery = Delivery(
            index, auto_commit=auto_commit, memory=max(SETTLED_MEMORY, 4 * window)
        )
        self._batcher = CommitBatcher(max_batch=max_commit_batch, max_delay=commit_delay)
        self._inflight: tuple[int, ...] = ()
        self._flushing = 0  # flush() calls waiting: commits go at once, commit_delay or not
        self._commit_wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._conn: WebSocketConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._committer: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        #: Whether the service said the stream ended (after ``end_of_stream()``): the
        #: iteration stops once the buffered records are taken.
        self.end_of_stream = False

    def __repr__(self) -> str:
        return (
            f"<Watcher {self._client.url} window={self.window} [{self._state.value}] "
            f"pending={self.pending} in_hand={self.in_hand}>"
        )

    # -- accounting ---------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Records received and waiting in the buffer for the consumer (at most ``window``)."""
        return len(self._buffer)

    @property
    def in_hand(self) -> int:
        """Records received and not committed by the consumer (what the window counts)."""
        return self._delivery.in_hand

    @property
    def commits_pending(self) -> int:
        """Commits queued or being sent, not yet acknowledged by the service."""
        return len(self._batcher) + len(self._inflight)

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    @property
    def error(self) -> BaseException | None:
        """Why the watcher stopped on its own (lost for good, a failed commit), if it did."""
        return self._failure

    # -- opening -----------------------------------------------------------------------

    async def start(self) -> Watcher:
        """Connect (once; later calls return at once). A refused first connection raises
        here (``AuthError``, ``ServiceError``, ``ConnectError``) without retrying."""
        if self._state is _State.RUNNING:
            return self
        if self._state is _State.CLOSED:
            raise UsageError("this watcher is closed; make a new one with watch()")
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._state is not _State.NEW:
                return await self.start()
            self._client._claim_watcher(self)
            try:
                if self._delivery.start < 0:
                    await self._pin_start()
                conn = await self._connect()
            except BaseException:
                self._client._release_watcher(self)
                raise
            self._conn = conn
            self._state = _State.RUNNING
            self._reader = asyncio.create_task(self._read_loop(), name="aioeas-watch-reader")
            self._committer = asyncio.create_task(
                self._commit_loop(), name="aioeas-watch-committer"
            )
            if _telemetry.active is not None:
                _telemetry.active.watching(self)
        return self

    def __await__(self) -> Generator[None, None, Watcher]:
        return self.start().__await__()

    async def __aenter__(self) -> Watcher:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _pin_start(self) -> None:
        """Turn ``index=-1`` into the index after the queue's last entry, read from its
        attributes, so every connection (the first and each reconnection) asks for the same
        records. Left at ``-1`` (with a warning) when the queue does not say."""
        try:
            attrs = await self._client.attributes()
            last = int(attrs["stream.lastEntry"])
        except AuthError:
            raise
        except (EASError, KeyError, ValueError) as exc:
            _log.warning(
                "watch(index=-1) on %s: the queue's last index is unknown (%r); a "
                "reconnection asks for -1 again and may miss records put meanwhile",
                self._client.url,
                exc,
            )
            return
        if last >= 0:
            self._delivery.pin(last + 1)

    async def _connect(self) -> WebSocketConnection:
        connector, url, headers = await self._client._watch_target()
        index = self._delivery.resume_index()
        query = proto.watch_query(
            index=index,
            window=self.window,
            index_only=self.index_only,
            auto_commit=self.auto_commit,
            tags=self.tags,
        )
        return await connector.connect(
            proto.with_query(url, query),
            headers,
            heartbeat=self._client._heartbeat_interval,
            timeout=self._client.timeout.total,
        )

    # -- consuming ---------------------------------------------------------------------

    def __aiter__(self) -> Watcher:
        return self

    async def __anext__(self) -> QueueRecord:
        if self._state is _State.NEW:
            await self.start()
        try:
            record = await self._buffer.get()
        except _EndedError:
            raise StopAsyncIteration from None
        self._delivery.hand_over(record.index)
        self.stats.delivered += 1
        if _telemetry.active is not None:
            _telemetry.active.received(self, record)
        return record

    async def next(self, timeout: float | None = None) -> QueueRecord:
        """One record, waiting up to ``timeout`` seconds (``None``: for ever).

        Raises ``EASTimeoutError`` (``TimeoutError``, also ``asyncio.TimeoutError`` on 3.10)
        when none came in time (the watcher goes on), ``QueueError`` when the watcher is
        closed, or what stopped it (``error``).
        """
        try:
            if timeout is None or len(self._buffer):  # no timer when a record is there
                return await self.__anext__()
            return await asyncio.wait_for(self.__anext__(), timeout)
        except StopAsyncIteration:
            raise QueueError("the watcher is closed") from None
        except asyncio.TimeoutError as exc:
            if isinstance(exc, EASError) or timeout is None:  # not this wait's
                raise
            # asyncio.wait_for's own is not a TimeoutError on 3.10
            raise EASTimeoutError(f"no record within {timeout:g} s") from None

    async def run(self) -> AsyncIterator[QueueRecord]:
        """The official client's form: ``async for record in watcher.run(): ...``."""
        async for record in self:
            yield record

    # -- committing --------------------------------------------------------------------

    def commit(self, records: QueueRecord | int | Iterable[QueueRecord | int]) -> None:
        """Queue commits for records (or indexes); returns at once, they go out in batches.

        A committed record is never handed out again by this watcher. With ``auto_commit``
        the service has committed them already and this does nothing. Failures of the
        commit requests are retried; a 4xx stops the watcher (its ``error``).
        """
        if self._state is _State.CLOSED:
            raise UsageError("this watcher is closed; commit with QueueClient.commit()")
        items: Iterable[QueueRecord | int]
        items = [records] if isinstance(records, (QueueRecord, int)) else records
        indexes = [
            proto.check_index(r.index if isinstance(r, QueueRecord) else r, minimum=1)
            for r in items
        ]
        if self.auto_commit:
            return
        now = asyncio.get_running_loop().time()
        for index in indexes:
            # a copy may wait in the buffer: pushed again after a reconnect while the
            # consumer held the first one; committed, it is never handed out again
            copy_waits = index in self._delivery.buffered
            if self._delivery.commit(index):
                self._batcher.add(index, now)
                if copy_waits:
                    self.stats.duplicates += self._discard_copies(index)
        if len(self._batcher):
            self._idle.clear()
            self._commit_wake.set()

    async def negative_ack(
        self,
        records: QueueRecord | int | Iterable[QueueRecord | int],
        code: str = "Shutdown",
        reason: str = "",
    ) -> str:
        """Give records back undone: the service hands them out again, to this watcher or
        another consumer of the group (``QueueClient.negative_ack``, ``code`` and
        ``reason`` as there). Use this one for records a watcher gave you: it also stops
        counting them in hand and drops their copies waiting in the buffer, so the window
        it reports holds, and a record pushed anew after the give-back is not mistaken for
        a copy. If the request fails, the records count as in hand again."""
        if self._state is _State.CLOSED:
            raise UsageError("this watcher is closed; use QueueClient.negative_ack()")
        items: Iterable[QueueRecord | int]
        items = [records] if isinstance(records, (QueueRecord, int)) else records
        indexes = [
            proto.check_index(r.index if isinstance(r, QueueRecord) else r, minimum=1)
            for r in items
        ]
        # forgotten before the request: the service may push them again before it answers
        given = [i for i in indexes if self._delivery.give_back(i)]
        for index in given:
            self._discard_copies(index)
        try:
            return await self._client.negative_ack(indexes, code, reason)
        except BaseException:
            for index in given:
                if index not in self._delivery.buffered:
                    self._delivery.outstanding.add(index)
            raise

    def _discard_copies(self, index: int) -> int:
        """Drop the copies of record ``index`` still waiting in the buffer."""
        return self._buffer.discard(lambda record: record.index == index)

    async def flush(self) -> None:
        """Send the commits queued so far now (not after ``commit_delay``) and wait until
        each is acknowledged (or the watcher failed)."""
        self._flushing += 1
        try:
            while self.commits_pending and self._failure is None and self._committer is not None:
                if self._committer.done():
                    break
                self._commit_wake.set()
                await self._idle.wait()
        finally:
            self._flushing -= 1

    async def _commit_loop(self) -> None:
        """The committer task. Anything but the service's answers ending it (a fault of
        ours, or of an instrumentation hook) fails the watcher, so that ``flush()`` and
        ``next()`` raise it instead of waiting for ever on a committer that is gone."""
        try:
            await self._commit_forever()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._fail(exc)

    async def _commit_forever(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            due = self._batcher.due_at()
            if due is None:
                self._idle.set()
                self._commit_wake.clear()
                await self._commit_wake.wait()
                continue
            now = loop.time()
            if due > now and self._state is _State.RUNNING and not self._flushing:
                self._commit_wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._commit_wake.wait(), due - now)
                continue
            batch = self._batcher.take(now)
            self._inflight = tuple(batch)
            try:
                await self._commit_request(batch)
            except ServiceError as exc:
                if exc.status < 500:
                    self._inflight = ()
                    self._fail(exc)
                    return
                self._batcher.restore(batch, loop.time())
                failures += 1
            except EASError as exc:
                _log.warning("commit of %d records failed (%s); will retry", len(batch), exc)
                self._batcher.restore(batch, loop.time())
                failures += 1
            else:
                failures = 0
                self._delivery.acknowledged(batch)
                self.stats.commit_requests += 1
                self.stats.commits_sent += len(batch)
            finally:
                self._inflight = ()
            if failures:
                await asyncio.sleep(self.reconnect_policy.delay(failures + 1, 0.5))

    async def _commit_request(self, batch: list[int]) -> None:
        tel = _telemetry.active  # None unless instrumented (aioeas.otel): the request alone
        if tel is None:
            await self._client._call("PUT", proto.commit_query(batch))
            return
        loop = asyncio.get_running_loop()
        sent = loop.time()
        try:
            await self._client._call("PUT", proto.commit_query(batch))
        except BaseException as exc:
            tel.committed(self, len(batch), loop.time() - sent, exc)
            raise
        tel.committed(self, len(batch), loop.time() - sent, None)

    # -- reading -----------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            conn = self._conn
            assert conn is not None
            delivery, buffer, stats = self._delivery, self._buffer, self.stats
            while True:
                data = await conn.receive()
                if data is None:
                    conn = await self._reconnect()
                    continue
                frame = decode_frame(data)
                stats.received += 1
                if frame.index == 0 and frame.tags.get(EOS_TAG) == "true":
                    # the end of the stream: nothing more will come; what is buffered stays
                    self.end_of_stream = True
                    buffer.end(_EndedError())
                    return
                if not delivery.receive(frame.index):
                    stats.duplicates += 1
                    continue
                in_hand = delivery.in_hand
                if in_hand > stats.max_in_hand:
                    stats.max_in_hand = in_hand
                await buffer.put(QueueRecord(frame.index, frame.tags, frame.data, frame.message))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # lost for good, a bad frame, a refused reconnection
            self._fail(exc)

    async def _reconnect(self) -> WebSocketConnection:
        loop = asyncio.get_running_loop()
        policy = self.reconnect_policy
        old, self._conn = self._conn, None
        if old is not None:
            await old.close()
        lost_at = loop.time()
        attempts = 0
        last: BaseException | None = None
        while True:
            delay = policy.delay(attempts + 1, self._client._random())
            if policy.gives_up(attempts, loop.time() - lost_at, delay):
                raise WatchLostError(
                    f"the watch on {self._client.url} was lost and {attempts} reconnection "
                    f"tries failed (last: {last})",
                    last,
                )
            if delay > 0:
                await asyncio.sleep(delay)
            attempts += 1
            try:
                conn = await self._connect()
            except (AuthError, CertificateError):
                raise  # another try would be refused the same way
            except EASError as exc:
                last = exc
                _log.info("watch reconnection try %d failed: %s", attempts, exc)
                continue
            self._conn = conn
            self.stats.reconnects += 1
            if _telemetry.active is not None:
                _telemetry.active.reconnected(self)
            _log.debug("watch on %s reconnected after %d tries", self._client.url, attempts)
            return conn

    def _fail(self, error: BaseException) -> None:
        if self._failure is None:
            self._failure = error
        self._buffer.end(error)
        self._idle.set()

    # -- closing -----------------------------------------------------------------------

    async def close(self, timeout: float | None = None) -> None:
        """Stop reading, send the commits still queued (within ``timeout`` seconds, the
        client's timeout by default), close the socket, end the iteration. Idempotent."""
        if self._state is _State.CLOSED:
            return
        was_running = self._state is _State.RUNNING
        self._state = _State.CLOSED
        try:
            reader, self._reader = self._reader, None
            if reader is not None:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            committer, self._committer = self._committer, None
            if committer is not None:
                if was_running and self._failure is None and not committer.done():
                    limit = timeout if timeout is not None else self._client.timeout.total
                    self._commit_wake.set()
                    try:
                        await asyncio.wait_for(self._drained(), limit)
                    except asyncio.TimeoutError:
                        _log.warning(
                            "watcher closed with %d commits not acknowledged",
                            self.commits_pending,
                        )
                committer.cancel()
                await asyncio.gather(committer, return_exceptions=True)
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()
        finally:
            self._buffer.clear()  # not committed: the service gives them out again
            self._buffer.end(_EndedError())
            self._client._release_watcher(self)

    async def _drained(self) -> None:
        while self.commits_pending and self._failure is None:
            self._commit_wake.set()
            self._idle.clear()
            await self._idle.wait()
