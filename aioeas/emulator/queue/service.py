"""A queue service as the event loop sees it: the input queue, its sink, and the waiting.

``Queue`` ties a ``Stream`` and its ``Consumers`` to asyncio: long-poll gets and tests wait
for a change with ``wait_until``, a departed watcher's grace period is a timer, and every
change wakes whoever waits. Its methods are the calls of the protocol, usable from Python
as well as over HTTP, and its counters are for tests (``pushes``, ``commits``,
``redeliveries``, ``consumer_stats(id).max_outstanding``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable, Mapping

from aioeas.emulator.faults import FaultPlan
from aioeas.emulator.queue.consumers import Consumer, Consumers, ConsumerStats
from aioeas.emulator.queue.faults import WatchFaults
from aioeas.emulator.queue.store import DEFAULT_MAX_PAYLOAD, QueueError, Record, Stream

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_GROUP",
    "GROUP_HEADER",
    "PRIORITY_HEADER",
    "REQUEST_ID_HEADER",
    "USER_HEADER",
    "Queue",
    "QueueService",
]

USER_HEADER = "X-EAS-QueueService-Redis-Uid"
GROUP_HEADER = "X-EAS-QueueService-Redis-Gid"
PRIORITY_HEADER = "X-EAS-QueueService-Priority"
REQUEST_ID_HEADER = "X-Eas-Queueservice-Request-Id"
#: The gid of a caller that sends none (the official clients' default too).
DEFAULT_GROUP = "eas"
#: Seconds a departed watcher's records wait for the same uid before going to the others.
DEFAULT_GRACE = 1.0

_CODE_CHARS = 20


def _valid_code(code: str) -> bool:
    ok = re.fullmatch(r"([A-Z][a-z]*)+(.[A-Z][a-z]*)?|[0-9]+", code) is not None
    return ok and len(code) <= _CODE_CHARS


class Queue:
    """One queue (``svc`` or ``svc/sink``): records, consumers, faults and counters.

    ``grace``: seconds a departed watcher's pending records wait for its uid to come back
    before any consumer of its group may get them (0: at once).
    """

    def __init__(
        self,
        name: str,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD,
        max_length: int | None = None,
        grace: float = DEFAULT_GRACE,
        seed: int = 0,
    ) -> None:
        if grace < 0:
            raise ValueError(f"grace is >= 0 seconds, got {grace}")
        self.name = name
        self.stream = Stream(name, max_payload_bytes=max_payload_bytes, max_length=max_length)
        self.consumers = Consumers(self.stream)
        self.grace = grace
        #: Faults of HTTP calls (and of the watch handshake), as for predict services.
        self.faults = FaultPlan(seed)
        #: Cuts of watch connections.
        self.watch_faults = WatchFaults(seed + 1)
        #: HTTP calls that reached the queue (401s and injected faults included).
        self.requests = 0
        #: Gets waiting for records right now (a test knows its long poll has arrived).
        self.polling = 0
        self._event = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        #: How to abort each open watch connection, by consumer id (the I/O layer fills it).
        self.cutters: dict[str, Callable[[], None]] = {}

    # -- change notification -----------------------------------------------------------

    def changed(self) -> None:
        """Wake every waiter and listener: something in this queue changed."""
        event, self._event = self._event, asyncio.Event()
        event.set()
        for listener in list(self._listeners):
            listener()

    def add_listener(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float | None = 30.0) -> bool:
        """Wait until ``predicate()`` is true, re-checked after every change; False on
        timeout (None: no limit). How tests synchronise without sleeping. The timeout is
        only a guard against a test that would otherwise hang: 30 s, so that a slow or busy
        machine never reaches it on a wait that will come true."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not predicate():
            event = self._event
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except asyncio.TimeoutError:
                return predicate()
        return True

    # -- the calls ---------------------------------------------------------------------

    def put(
        self,
        data: bytes | str,
        tags: Mapping[str, str] | None = None,
        *,
        priority: int = 0,
        path: str = "",
    ) -> Record:
        """Append a record (``QueueError`` 413 too big, 429 full, 409 ended)."""
        body = data.encode() if isinstance(data, str) else data
        record = self.stream.put(body, tags, priority=priority, path=path)
        self.consumers.added(record)
        self.changed()
        return record

    def select(self, start: int, tags: Mapping[str, str], length: int) -> list[Record]:
        return self.stream.select(max(start, 1), tags, length)

    async def get(
        self,
        *,
        index: int = 0,
        length: int = 1,
        tags: Mapping[str, str] | None = None,
        timeout: float = 0.0,
        auto_delete: bool = False,
    ) -> list[Record]:
        """Up to ``length`` records from ``index`` on carrying ``tags``; waits up to
        ``timeout`` seconds while fewer are there. ``index=-1``: only records put after the
        call. ``auto_delete`` deletes what is returned."""
        tags = dict(tags or {})
        start = self.stream.last_index + 1 if index < 0 else index
        found: list[Record] = []

        def enough() -> bool:
            nonlocal found
            found = self.select(start, tags, length)
            return len(found) >= length

        if not enough() and timeout > 0:
            self.polling += 1
            self.changed()
            try:
                await self.wait_until(enough, timeout)
            finally:
                self.polling -= 1
        if auto_delete and found:
            self.delete(r.index for r in found)
        return found

    def delete(self, indexes: Iterable[int]) -> int:
        """Delete records by index (unknown ones ignored); how many were there."""
        removed = self.stream.remove(indexes)
        self.consumers.removed(removed)
        self.changed()
        return len(removed)

    def truncate(self, before: int) -> int:
        """Delete every record with an index below ``before``."""
        removed = self.stream.truncate(before)
        self.consumers.removed(removed)
        self.changed()
        return len(removed)

    def commit(self, indexes: list[int], gid: str = DEFAULT_GROUP, uid: str | None = None) -> None:
        """Those records are done for group ``gid`` (idempotent); ``uid`` says who committed."""
        self.consumers.commit(gid, indexes, uid)
        self.changed()

    def negative(
        self, indexes: list[int], gid: str = DEFAULT_GROUP, code: str = "", reason: str = ""
    ) -> None:
        """Give pending records back for redelivery, marked ``message = "code: reason"``."""
        if code and not _valid_code(code):
            raise QueueError(
                400,
                f"_code_ is CamelCase words or digits, at most {_CODE_CHARS} characters, got {code!r}",
            )
        message = f"{code}: {reason}" if reason else code
        self.consumers.negative(gid, indexes, message)
        self.changed()

    def end(self, *, force: bool = False) -> None:
        """End of stream: puts are refused from now on (409); each watcher gets the end
        marker once it has nothing left to get (``force``: at once)."""
        self.stream.end(force=force)
        self.consumers.pump()
        self.changed()

    def reopen(self) -> None:
        """Undo ``end()`` (emulator only)."""
        self.stream.reopen()
        self.changed()

    def count(self, priority: int | None = None) -> int:
        return self.stream.count(priority)

    def attributes(self) -> dict[str, str]:
        """What ``?_attrs_=true`` answers: every value a string."""
        s = self.stream
        listed = self.consumers.listed()
        now = time.monotonic()
        attrs = {
            "meta.backend": "memory",
            "meta.name": self.name,
            "meta.state": "EndOfStream" if s.ended else "Normal",
            "meta.maxPayloadBytes": str(s.max_payload_bytes),
            "meta.header.user": USER_HEADER,
            "meta.header.group": GROUP_HEADER,
            "meta.header.priority": PRIORITY_HEADER,
            "stream.length": str(len(s)),
            "stream.approxMaxLength": str(s.max_length or 0),
            "stream.firstEntry": str(s.first_index),
            "stream.lastEntry": str(s.last_index),
            "consumers.stats.total": str(len(listed)),
            "consumers.status.total": str(len(listed)),
        }
        for i, consumer in enumerate(listed):
            attrs[f"consumers.list.[{i}]"] = consumer.describe(s, now)
        return attrs

    def search(self, index: int, gid: str | None = None) -> dict[str, object] | None:
        """Where record ``index`` is: None when it is not in the stream."""
        record = self.stream.records.get(index)
        if record is None:
            return None
        holder = self.consumers.holder(index, gid)
        if holder is not None:
            return {"ConsumerId": holder.id, "IsPending": True, "WaitCount": 0}
        group = self.consumers.groups.get(gid or DEFAULT_GROUP)
        if group is not None:
            wait = group.waiting_before(record)
        else:
            wait = sum(
                1 for r in self.stream if (r.priority, -r.index) > (record.priority, -record.index)
            )
        return {"ConsumerId": "", "IsPending": False, "WaitCount": wait}

    # -- watchers ------------------------------------------------------------------------

    def join(
        self,
        gid: str,
        uid: str,
        *,
        window: int,
        auto_commit: bool = False,
        index_only: bool = False,
        tags: Mapping[str, str] | None = None,
        start: int = 0,
    ) -> Consumer:
        consumer = self.consumers.join(
            gid,
            uid,
            window=window,
            auto_commit=auto_commit,
            index_only=index_only,
            tags=tags,
            start=start,
            now=time.monotonic(),
        )
        self.consumers.pump()
        self.changed()
        return consumer

    def cut_watchers(self, consumer_id: str | None = None) -> int:
        """Abort open watch connections now, all of them or ``{gid}.{uid}``'s, as a server
        restart or a network fault would, before or between pushes; how many were cut.
        Their records go back as on any disconnect (kept for the uid during ``grace``)."""
        ids = [consumer_id] if consumer_id is not None else list(self.cutters)
        cut = 0
        for cid in ids:
            cutter = self.cutters.pop(cid, None)
            if cutter is not None:
                cutter()
                cut += 1
        if cut:
            self.watch_faults.cuts += cut
        return cut

    def leave(self, consumer: Consumer) -> None:
        """The consumer's connection is gone: hold its records for ``grace`` seconds."""
        hold = self.grace > 0
        self.consumers.leave(consumer, hold=hold)
        if hold and consumer.pending:
            loop = asyncio.get_running_loop()
            handle = loop.call_later(self.grace, self._expire, consumer, consumer.generation)
            self._timers.add(handle)
        self.changed()

    def _expire(self, consumer: Consumer, generation: int) -> None:
        if self.consumers.expire(consumer, generation):
            self.changed()

    def sent(self, consumer: Consumer, record: Record) -> None:
        self.consumers.sent(consumer, record, time.monotonic())
        if consumer.auto_commit:
            self.changed()

    def close(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    # -- introspection -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.stream)

    @property
    def records(self) -> list[Record]:
        return list(self.stream)

    @property
    def pushes(self) -> int:
        return self.consumers.pushes

    @property
    def commits(self) -> int:
        return self.consumers.commits

    @property
    def redeliveries(self) -> int:
        return self.consumers.redeliveries

    def consumer_stats(self, consumer_id: str) -> ConsumerStats:
        """Counters of ``{gid}.{uid}`` (KeyError naming the known ones)."""
        try:
            return self.consumers.stats[consumer_id]
        except KeyError:
            known = sorted(self.consumers.stats)
            raise KeyError(f"no consumer {consumer_id!r}; consumers are {known}") from None

    def __repr__(self) -> str:
        return f"<Queue {self.name} length={len(self.stream)} last={self.stream.last_index}>"


class QueueService:
    """A queue service: the input queue ``name`` and the sink ``name/sink``, and the
    asynchronous-inference worker when a processor is attached."""

    def __init__(
        self,
        name: str,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD,
        max_length: int | None = None,
        sink_max_length: int | None = None,
        grace: float = DEFAULT_GRACE,
        seed: int = 0,
    ) -> None:
        self.name = name
        self.input = Queue(
            name, max_payload_bytes=max_payload_bytes, max_length=max_length, grace=grace, seed=seed
        )
        self.sink = Queue(
            f"{name}/sink",
            max_payload_bytes=max_payload_bytes,
            max_length=sink_max_length,
            grace=grace,
            seed=seed + 2,
        )

    def route(self, tail: str) -> tuple[Queue, str]:
        """The queue a request path after the service name goes to, and the rest of it:
        ``/sink[/...]`` is the sink, anything else the input (the path is kept for put)."""
        if tail == "/sink" or tail.startswith("/sink/"):
            return self.sink, tail[len("/sink") :]
        return self.input, tail

    def close(self) -> None:
        self.input.close()
        self.sink.close()

    def __repr__(self) -> str:
        return f"<QueueService {self.name} input={len(self.input)} sink={len(self.sink)}>"
