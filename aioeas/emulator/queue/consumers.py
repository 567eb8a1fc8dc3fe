"""Who gets which record, sans-IO: groups, consumers, windows, commits and redelivery.

Every group (the ``gid`` header) gets its own copy of every record; inside a group, the
records are spread over its consumers (one per ``uid``) round robin, each holding at most
``window`` records pushed and not committed. A record is deleted from the stream once every
group that wants it has committed it, so with one group (the usual case) a commit deletes.
A commit from a gid that never watched deletes at once: there is no group to wait for.

A group lives while it has consumers: when the last one is gone (its grace period over) the
group is forgotten, so a group made for one client (``AsyncInference`` names its sink group
after its uid) does not keep every later record alive for ever. What it was given and did
not commit stays *held* for it: such a record is deleted only once that gid commits it
(the group watching again) or by a delete, ``get(auto_delete)`` or truncate, never by the
other groups' commits; that is how a result left unclaimed stays in the sink for ``get``.
Records it was never given wait for it no more: those the remaining groups all committed
are deleted when it is forgotten. (Redis consumer groups persist until destroyed; no public
source says what EAS does, and a group per client would make the sink grow without end if
groups persisted.)

A consumer whose connection drops keeps its pending records while the I/O layer's grace
period runs: the same uid reconnecting gets them again at once; when the period ends they
go back to the front of the group for anyone. ``pump()`` is the only place that assigns
records; the I/O layer calls it after every change and sends what lands in the outboxes.
Time comes in as ``now`` (seconds, any monotonic clock).
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from aioeas.emulator.queue.params import format_duration
from aioeas.emulator.queue.store import QueueError, Record, Stream, eos_record

__all__ = ["AUTO_COMMIT_SLOTS", "Consumer", "ConsumerStats", "Consumers", "Group"]

#: How many records an auto-commit consumer may have assigned and not yet sent: the
#: window is ignored for it (a pushed record counts as committed), but handing it the whole
#: backlog at once would starve the other consumers of its group.
AUTO_COMMIT_SLOTS = 64


@dataclass
class ConsumerStats:
    """What one consumer (``{gid}.{uid}``) went through, kept after it leaves, for tests.

    ``max_outstanding`` is the most records ever assigned to it and not committed at once
    (counted from assignment, before the send): a window check can assert on it.
    """

    consumer_id: str
    connections: int = 0
    pushed: int = 0
    committed: int = 0
    redelivered: int = 0
    negative: int = 0
    max_outstanding: int = 0


class Consumer:
    """One watcher of a group, across its reconnections."""

    def __init__(self, gid: str, uid: str, stats: ConsumerStats) -> None:
        self.gid = gid
        self.uid = uid
        self.id = f"{gid}.{uid}"
        self.stats = stats
        self.window = 1
        self.auto_commit = False
        self.index_only = False
        self.tags: dict[str, str] = {}
        self.start = 1
        #: Assigned and not committed, by index (sent or still in the outbox).
        self.pending: dict[int, Record] = {}
        #: Assigned, not yet sent, oldest first; the I/O layer drains it.
        self.outbox: deque[Record] = deque()
        self.connected = False
        self.paused = False
        #: Extra condition to take records (the worker closes it while its sink is full).
        self.gate: Callable[[], bool] | None = None
        self.eos_sent = False
        self.last_index = 0
        self.last_active = 0.0
        #: Called when the outbox gets something (the I/O layer wakes its sender).
        self.on_ready: Callable[[], None] | None = None
        #: Bumped on every connect and leave, so a stale grace timer does nothing.
        self.generation = 0

    @property
    def free(self) -> int:
        """How many more records it may be assigned now."""
        if self.auto_commit:
            return AUTO_COMMIT_SLOTS - len(self.pending)
        return self.window - len(self.pending)

    @property
    def taking(self) -> bool:
        return (
            self.connected
            and not self.paused
            and self.free > 0
            and (self.gate is None or self.gate())
        )

    def status(self, stream: Stream) -> str:
        if self.eos_sent and not self.pending:
            return "Complete"
        if self.connected:
            return "Running"
        return "Leaving" if self.pending else "Exit"

    def describe(self, stream: Stream, now: float) -> str:
        """The ``consumers.list.[i]`` line of the attributes."""
        text = (
            f"Id: {self.id}, Index: {self.last_index}, Pending: {len(self.pending)}, "
            f"Status: {self.status(stream)}, Idle: {format_duration(max(0.0, now - self.last_active))}, "
            f"Window: {self.window}, Slots: {max(0, self.free)}, "
            f"AutoCommit: {'true' if self.auto_commit else 'false'}"
        )
        if self.tags:
            text += (
                ", Tags: tags[" + " ".join(f"{k}={v}" for k, v in sorted(self.tags.items())) + "]"
            )
        return text

    def _push(self, record: Record) -> None:
        self.outbox.append(record)
        if self.on_ready is not None:
            self.on_ready()

    def __repr__(self) -> str:
        return f"<Consumer {self.id} pending={len(self.pending)} connected={self.connected}>"


class Group:
    """The consumers of one gid and the records waiting for them, by priority.

    ``lanes`` maps a priority to the sorted indexes of the records that are neither pending
    at a consumer nor committed by this group; higher priorities go first, FIFO within one.
    """

    def __init__(self, gid: str, tags: Mapping[str, str]) -> None:
        self.gid = gid
        self.tags = dict(tags)
        self.consumers: dict[str, Consumer] = {}
        self.lanes: dict[int, list[int]] = {}
        self.pending: dict[int, Consumer] = {}
        self._next = 0

    def wants(self, record: Record) -> bool:
        return record.matches(self.tags)

    def offer(self, record: Record) -> None:
        """Make ``record`` available to this group's consumers (again)."""
        lane = self.lanes.setdefault(record.priority, [])
        if not lane or lane[-1] < record.index:
            lane.append(record.index)
        else:
            i = bisect.bisect_left(lane, record.index)
            if i == len(lane) or lane[i] != record.index:
                lane.insert(i, record.index)

    def withdraw(self, record: Record) -> None:
        lane = self.lanes.get(record.priority)
        if lane:
            i = bisect.bisect_left(lane, record.index)
            if i < len(lane) and lane[i] == record.index:
                del lane[i]

    def take(self, start: int) -> int | None:
        """The next available index at or after ``start``, taken out of its lane."""
        for priority in sorted(self.lanes, reverse=True):
            lane = self.lanes[priority]
            i = bisect.bisect_left(lane, start)
            if i < len(lane):
                return lane.pop(i)
        return None

    def has_available(self, start: int) -> bool:
        return any(bisect.bisect_left(lane, start) < len(lane) for lane in self.lanes.values())

    def waiting_before(self, record: Record) -> int:
        """How many available records would be pushed before ``record``."""
        n = 0
        for priority, lane in self.lanes.items():
            if priority > record.priority:
                n += len(lane)
            elif priority == record.priority:
                n += bisect.bisect_left(lane, record.index)
        return n


class Consumers:
    """The groups of one queue and the bookkeeping of every push and commit."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.groups: dict[str, Group] = {}
        #: Every consumer id ever seen, with its counters (kept after it leaves).
        self.stats: dict[str, ConsumerStats] = {}
        self.pushes = 0
        self.commits = 0
        self.redeliveries = 0
        self.negatives = 0

    # -- membership --------------------------------------------------------------------

    def find(self, gid: str, uid: str) -> Consumer | None:
        group = self.groups.get(gid)
        return None if group is None else group.consumers.get(uid)

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
        now: float = 0.0,
    ) -> Consumer:
        """Connect a consumer (or reconnect a departed one); ``QueueError`` when refused.

        ``start``: 0 or 1 from the oldest, ``-1`` only records put from now on, ``N`` from
        index N. A uid that is connected already is refused (409), as are tags that differ
        from those of the group's connected consumers (400).
        """
        if window < 1 and not auto_commit:
            raise QueueError(400, f"_window_ must be 1 or more without _auto_commit_, got {window}")
        tags = dict(tags or {})
        group = self.groups.get(gid)
        if group is None:
            group = Group(gid, tags)
            for record in self.stream:
                if group.wants(record) and gid not in record.acked:
                    group.offer(record)
            self.groups[gid] = group
        elif group.tags != tags:
            if any(c.connected for c in group.consumers.values()):
                raise QueueError(
                    400,
                    f"the consumers of group {gid!r} watch tags {group.tags}; "
                    f"consumers of one group must use the same tags, got {tags}",
                )
            self._retag(group, tags)
        consumer = group.consumers.get(uid)
        if consumer is not None and consumer.connected:
            raise QueueError(409, f"consumer {consumer.id} is already watching this queue")
        if consumer is None:
            cid = f"{gid}.{uid}"
            stats = self.stats.setdefault(cid, ConsumerStats(cid))
            consumer = Consumer(gid, uid, stats)
            group.consumers[uid] = consumer
        consumer.window = window
        consumer.auto_commit = auto_commit
        consumer.index_only = index_only
        consumer.tags = tags
        consumer.start = self.stream.last_index + 1 if start < 0 else max(start, 1)
        consumer.connected = True
        consumer.eos_sent = False
        consumer.last_active = now
        consumer.generation += 1
        consumer.stats.connections += 1
        consumer.outbox.clear()
        # What it held when it left comes first, as far as the new window allows.
        held = sorted(consumer.pending.values(), key=lambda r: (-r.priority, r.index))
        room = consumer.free + len(held)
        for n, record in enumerate(held):
            if n < room:
                self._count_redelivery(consumer)
                consumer._push(record)
            else:
                self._release(group, consumer, record)
        return consumer

    def leave(self, consumer: Consumer, *, hold: bool) -> None:
        """The consumer's connection is gone. ``hold``: keep its pending records for it
        until ``expire`` (the grace period); otherwise they go back to the group now."""
        consumer.connected = False
        consumer.generation += 1
        consumer.outbox.clear()
        consumer.on_ready = None
        if not hold or not consumer.pending:
            self.expire(consumer, consumer.generation)

    def expire(self, consumer: Consumer, generation: int) -> bool:
        """The grace period of a departed consumer ended: give its records to the group.
        False (nothing done) when it reconnected in the meantime."""
        if consumer.connected or consumer.generation != generation:
            return False
        group = self.groups.get(consumer.gid)
        if group is None:
            return False
        for record in list(consumer.pending.values()):
            self._release(group, consumer, record)
        if group.consumers.get(consumer.uid) is consumer:
            del group.consumers[consumer.uid]
        if not group.consumers:
            self._forget(group)
        self.pump()
        return True

    def _forget(self, group: Group) -> None:
        """The group's last consumer is gone: records it was given and did not commit stay
        held for it; those that waited only for it are deleted."""
        if self.groups.get(group.gid) is not group:
            return
        del self.groups[group.gid]
        gid = group.gid
        done: list[int] = []
        for record in self.stream:
            if gid in record.acked:
                continue
            if record.deliveries.get(gid):
                record.held.add(gid)
            elif record.acked and self._finished(record):
                done.append(record.index)
        if done:
            self.removed(self.stream.remove(done))

    def _retag(self, group: Group, tags: Mapping[str, str]) -> None:
        group.tags = dict(tags)
        group.lanes.clear()
        for record in self.stream:
            wanted = group.wants(record) and group.gid not in record.acked
            if wanted and record.index not in group.pending:
                group.offer(record)

    def _release(self, group: Group, consumer: Consumer, record: Record) -> None:
        consumer.pending.pop(record.index, None)
        if group.pending.get(record.index) is consumer:
            del group.pending[record.index]
        if record.index in self.stream.records:
            group.offer(record)

    def _count_redelivery(self, consumer: Consumer) -> None:
        consumer.stats.redelivered += 1
        self.redeliveries += 1

    # -- the stream changed ------------------------------------------------------------

    def added(self, record: Record) -> None:
        for group in self.groups.values():
            if group.wants(record):
                group.offer(record)
        self.pump()

    def removed(self, records: Iterable[Record]) -> None:
        """These records left the stream (delete, truncate, auto-delete, last commit)."""
        for record in records:
            for group in self.groups.values():
                holder = group.pending.pop(record.index, None)
                if holder is not None:
                    holder.pending.pop(record.index, None)
                else:
                    group.withdraw(record)
        self.pump()

    # -- commits -------------------------------------------------------------------------

    def commit(self, gid: str, indexes: Iterable[int], uid: str | None = None) -> None:
        """Those records are done for group ``gid``; unknown or repeated indexes are fine.

        The commit counts for the consumer holding the record, or, when it was given back
        (its connection dropped before the commit came), for the committing ``uid``.
        """
        group = self.groups.get(gid)
        committer = self.stats.get(f"{gid}.{uid}") if uid is not None else None
        done: list[Record] = []
        for index in indexes:
            record = self.stream.records.get(index)
            if record is None:
                continue
            if group is None:
                if gid not in record.held:
                    done.append(record)  # no group to wait for
                    continue
                # a departed group committing what it was given (a late commit)
                if gid not in record.acked:
                    record.acked.add(gid)
                    self.commits += 1
                    if committer is not None:
                        committer.committed += 1
                if self._finished(record):
                    done.append(record)
                continue
            self._ack(group, record, committer)
            if self._finished(record):
                done.append(record)
        if done:
            self.removed(self.stream.remove(r.index for r in done))
        else:
            self.pump()

    def _ack(self, group: Group, record: Record, committer: ConsumerStats | None = None) -> None:
        if group.gid in record.acked:
            return
        record.acked.add(group.gid)
        self.commits += 1
        holder = group.pending.pop(record.index, None)
        if holder is not None:
            holder.pending.pop(record.index, None)
            holder.stats.committed += 1
        else:
            group.withdraw(record)
            if committer is not None:
                committer.committed += 1

    def _finished(self, record: Record) -> bool:
        if not record.held <= record.acked:
            return False
        return all(g.gid in record.acked or not g.wants(record) for g in self.groups.values())

    def negative(self, gid: str, indexes: Iterable[int], message: str) -> None:
        """A consumer gave these records back: they go to the front of the group again,
        for whichever consumer has room first (the same one included), with ``message``."""
        group = self.groups.get(gid)
        if group is None:
            return
        for index in indexes:
            holder = group.pending.get(index)
            if holder is None:
                continue
            record = holder.pending[index]
            record.message = message
            holder.stats.negative += 1
            self.negatives += 1
            if record in holder.outbox:
                holder.outbox.remove(record)
            self._release(group, holder, record)
        self.pump()

    def sent(self, consumer: Consumer, record: Record, now: float) -> None:
        """The I/O layer wrote ``record`` to the consumer: an auto-commit counts as a commit."""
        consumer.last_active = now
        if consumer.auto_commit and record.index in consumer.pending:
            self.commit(consumer.gid, [record.index])

    # -- assignment ----------------------------------------------------------------------

    def pump(self) -> None:
        """Assign available records to consumers with room, round robin within each group,
        and hand the end-of-stream marker to consumers that have nothing left to get."""
        stream = self.stream
        for group in self.groups.values():
            live = [c for c in group.consumers.values() if c.connected]
            if not live:
                continue
            if not stream.forced_end:
                self._spread(group, live)
            if stream.ended:
                for c in live:
                    if not c.eos_sent and (
                        stream.forced_end or (not c.pending and not group.has_available(c.start))
                    ):
                        c.eos_sent = True
                        c._push(eos_record())

    def _spread(self, group: Group, live: list[Consumer]) -> None:
        records = self.stream.records
        n = len(live)
        idle = 0
        i = group._next % n
        while idle < n:
            consumer = live[i]
            i = (i + 1) % n
            if not consumer.taking:
                idle += 1
                continue
            index = group.take(consumer.start)
            if index is None:
                idle += 1
                continue
            idle = 0
            record = records[index]
            group.pending[index] = consumer
            consumer.pending[index] = record
            count = record.deliveries.get(group.gid, 0)
            record.deliveries[group.gid] = count + 1
            if count:
                self._count_redelivery(consumer)
            consumer.stats.pushed += 1
            self.pushes += 1
            consumer.last_index = index
            outstanding = len(consumer.pending)
            if outstanding > consumer.stats.max_outstanding:
                consumer.stats.max_outstanding = outstanding
            consumer._push(record)
        group._next = i

    # -- reading -------------------------------------------------------------------------

    def holder(self, index: int, gid: str | None) -> Consumer | None:
        """The consumer ``index`` is pending at: in group ``gid`` first, then any group."""
        groups = list(self.groups.values())
        if gid in self.groups:
            groups.insert(0, self.groups[gid])
        for group in groups:
            c = group.pending.get(index)
            if c is not None:
                return c
        return None

    def listed(self) -> list[Consumer]:
        return [c for g in self.groups.values() for c in g.consumers.values()]
