"""A watcher's bookkeeping, sans-IO: which records it holds, which are committed, where to
resume, and which commits to send together.

``Delivery`` answers the questions a reconnect asks: which pushed record is a redelivery of
one already committed (drop it: a committed record never comes again), which is a copy of
one still waiting in the buffer (drop it: it is already there), and from which index to
resume (the lowest one not committed, so that none is skipped).

``CommitBatcher`` coalesces commits: indexes committed one by one go out many per request,
after at most ``max_delay`` seconds or as soon as ``max_batch`` are waiting. It reads no
clock; ``now`` is passed in, so its timing is tested with a fake clock.
"""

from __future__ import annotations

from collections.abc import Iterable

from aioeas.errors import UsageError

__all__ = ["CommitBatcher", "Delivery"]


class Delivery:
    """What one watcher has been given and what it has committed.

    A record moves *buffered* (received, not yet handed to the consumer) -> *outstanding*
    (handed over, not committed) -> *committed*. With ``auto_commit`` the server counts a
    record committed when it pushes it, so a received record is committed at once.

    ``committed`` only needs the indexes a later connection could push again, those at or
    above the index it resumes from: ``prune`` drops the rest when a connection opens.
    """

    __slots__ = (
        "auto_commit",
        "buffered",
        "committed",
        "duplicates",
        "highest",
        "outstanding",
        "start",
    )

    def __init__(self, start: int, *, auto_commit: bool = False) -> None:
        self.start = start
        self.auto_commit = auto_commit
        self.buffered: set[int] = set()
        self.outstanding: set[int] = set()
        self.committed: set[int] = set()
        self.highest = 0
        self.duplicates = 0

    def receive(self, index: int) -> bool:
        """A record was pushed; ``True`` to hand it to the consumer, ``False`` to drop it."""
        if index in self.committed or index in self.buffered:
            self.duplicates += 1
            return False
        if index > self.highest:
            self.highest = index
        if self.auto_commit:
            self.committed.add(index)
        else:
            self.outstanding.discard(index)  # not committed: it may come again
            self.buffered.add(index)
        return True

    def hand_over(self, index: int) -> None:
        """The consumer took the record out of the buffer."""
        if index in self.buffered:
            self.buffered.discard(index)
            self.outstanding.add(index)

    def commit(self, index: int) -> bool:
        """The consumer committed ``index``; ``False`` if it already had."""
        if index in self.committed:
            return False
        self.committed.add(index)
        self.outstanding.discard(index)
        self.buffered.discard(index)
        return True

    def give_back(self, index: int) -> bool:
        """The consumer gave the record back undone (a negative ack): it is no longer in
        hand, and the service may push it again, to this watcher or another. ``False`` if
        it was not in hand."""
        if index in self.committed:
            return False
        found = index in self.outstanding or index in self.buffered
        self.outstanding.discard(index)
        self.buffered.discard(index)
        return found

    @property
    def in_hand(self) -> int:
        """Records received and not committed: what the server's window counts."""
        return len(self.buffered) + len(self.outstanding)

    def resume_index(self) -> int:
        """Where a new connection starts: the lowest record received and not committed;
        past the highest received when all are committed; the first index given before any."""
        waiting = self.buffered | self.outstanding
        if waiting:
            return min(waiting)
        if self.highest:
            return self.highest + 1
        return self.start

    def prune(self, below: int, keep: Iterable[int] = ()) -> None:
        """Forget committed indexes under ``below``, where a new connection resumes: it
        never pushes anything under it. Those in ``keep`` (commits the service has not
        acknowledged yet) stay, in case a server redelivers pending records regardless."""
        if below > 0:
            kept = set(keep)
            self.committed = {i for i in self.committed if i >= below or i in kept}


class CommitBatcher:
    """Indexes waiting to be committed, released in batches.

    ``add`` queues an index (again-queued ones count once); ``due_at`` is when the next batch
    should go (``None``: nothing waits); ``take`` hands out up to ``max_batch`` of them,
    lowest first; ``restore`` puts back a batch whose request failed.
    """

    __slots__ = ("_first", "_waiting", "max_batch", "max_delay")

    def __init__(self, *, max_batch: int = 256, max_delay: float = 0.0) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise UsageError(f"max_batch must be an int >= 1, got {max_batch!r}")
        if not max_delay >= 0:
            raise UsageError(f"max_delay must be >= 0 seconds, got {max_delay!r}")
        self.max_batch = max_batch
        self.max_delay = max_delay
        self._waiting: dict[int, None] = {}
        self._first: float | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, index: int, now: float) -> None:
        if not self._waiting:
            self._first = now
        self._waiting[index] = None

    def restore(self, indexes: Iterable[int], now: float) -> None:
        for index in indexes:
            self.add(index, now)

    def waiting(self) -> list[int]:
        """The indexes queued, in the order they came."""
        return list(self._waiting)

    def due_at(self) -> float | None:
        if not self._waiting or self._first is None:
            return None
        if len(self._waiting) >= self.max_batch:
            return self._first  # full: at once
        return self._first + self.max_delay

    def ready(self, now: float) -> bool:
        due = self.due_at()
        return due is not None and now >= due

    def take(self, now: float) -> list[int]:
        """Up to ``max_batch`` indexes, lowest first; what stays is timed from ``now``."""
        batch = sorted(self._waiting)[: self.max_batch]
        for index in batch:
            del self._waiting[index]
        self._first = now if self._waiting else None
        return batch
