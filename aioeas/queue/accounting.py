"""A watcher's bookkeeping, sans-IO: which records it holds, which are committed, where to
resume, and which commits to send together.

``Delivery`` answers the questions a reconnect asks: which pushed record is a redelivery of
one already committed (drop it: a committed record never comes again), which is a copy of
one still waiting in the buffer (drop it: it is already there), and from which index to
resume.

A queue does not hand records out in index order: priority records (higher indexes) go
before older normal ones, and the records a departed consumer of the group held go back to
the group later. So no index received or committed says which lower ones are still to come,
and a watcher resumes where the official clients do: at the index it was first given (with
``-1`` pinned, on the first connection, to a real index). Every record the service may still
hand to this consumer is at or above it; those committed here are dropped when pushed again.

``CommitBatcher`` coalesces commits: indexes committed one by one go out many per request,
after at most ``max_delay`` seconds or as soon as ``max_batch`` are waiting. It reads no
clock; ``now`` is passed in, so its timing is tested with a fake clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from aioeas.errors import UsageError

__all__ = ["SETTLED_MEMORY", "CommitBatcher", "Delivery"]

#: How many acknowledged commits a watcher remembers (at least; four windows when that is
#: more). A commit the service acknowledged is never pushed again on a connection opened
#: after it; the memory covers the frames already in flight on an older one.
SETTLED_MEMORY = 4096


class Delivery:
    """What one watcher has been given and what it has committed.

    A record moves *buffered* (received, not yet handed to the consumer) -> *outstanding*
    (handed over, not committed) -> *committed*. With ``auto_commit`` the server counts a
    record committed when it pushes it, so a received record is committed at once.

    ``committed`` holds every commit the service has not acknowledged yet and the last
    ``memory`` acknowledged ones, so it stays bounded however long the watch runs.
    """

    __slots__ = (
        "_settled",
        "auto_commit",
        "buffered",
        "committed",
        "duplicates",
        "memory",
        "outstanding",
        "start",
    )

    def __init__(
        self, start: int, *, auto_commit: bool = False, memory: int = SETTLED_MEMORY
    ) -> None:
        if memory < 1:
            raise UsageError(f"memory must be >= 1, got {memory!r}")
        self.start = start
        self.auto_commit = auto_commit
        self.memory = memory
        self.buffered: set[int] = set()
        self.outstanding: set[int] = set()
        self.committed: set[int] = set()
        self._settled: deque[int] = deque()
        self.duplicates = 0

    def receive(self, index: int) -> bool:
        """A record was pushed; ``True`` to hand it to the consumer, ``False`` to drop it."""
        if index in self.committed or index in self.buffered:
            self.duplicates += 1
            return False
        if self.auto_commit:
            self.committed.add(index)
            self._settle(index)  # the push was the commit: nothing to acknowledge
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

    def acknowledged(self, indexes: Iterable[int]) -> None:
        """The service acknowledged these commits: remember them a while, then forget."""
        for index in indexes:
            if index in self.committed:
                self._settle(index)

    def _settle(self, index: int) -> None:
        settled = self._settled
        settled.append(index)
        while len(settled) > self.memory:
            self.committed.discard(settled.popleft())

    @property
    def in_hand(self) -> int:
        """Records received and not committed: what the server's window counts."""
        return len(self.buffered) + len(self.outstanding)

    def pin(self, index: int) -> None:
        """Fix a start of ``-1`` ("only what is newest") to the real index it stood for, so
        that a reconnection does not skip what was put while the connection was down."""
        if self.start < 0 and index >= 0:
            self.start = index

    def resume_index(self) -> int:
        """Where every connection starts: the index first given (pinned, for ``-1``).

        Neither the lowest index held nor the highest received would do: records below
        them may still come (a priority record overtakes older ones; a departed peer's
        records come back later), and resuming past them would skip them for good."""
        return self.start


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
