"""The records of one queue, sans-IO: indexes, tags, priorities, limits and end of stream.

A queue is an append-only log with holes: every put takes the next index (from 1, never
reused, so a client can tell a new record from an old one), and delete, truncate, a get
with auto-delete or the last commit take records out. Who has seen what is not kept here
but in ``consumers``; this module knows nothing of sockets, clocks or the event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "EOS_MESSAGE",
    "EOS_TAG",
    "QueueError",
    "Record",
    "Stream",
    "eos_record",
]

#: The payload limit when none is given (``meta.maxPayloadBytes``): EAS queues hold small
#: requests and results; a tensor of a few MB still fits.
DEFAULT_MAX_PAYLOAD = 8 << 20

#: How a watcher learns that the stream has ended: one frame with index 0, this tag set to
#: ``"true"``, no data, and ``message`` = ``EOS_MESSAGE`` (see ``Consumers.pump``).
EOS_TAG = "_eos_"
EOS_MESSAGE = "EOS"


class QueueError(Exception):
    """A call the queue refuses: answered with ``status`` and ``message`` as text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(eq=False)
class Record:
    """One queue entry. ``path`` is what followed the queue name in the put's URL (the
    asynchronous-inference worker hands it to the model); ``deliveries`` counts pushes per
    group, so a second push is known to be a redelivery."""

    index: int
    data: bytes
    tags: dict[str, str]
    priority: int = 0
    path: str = ""
    message: str = ""
    #: Groups that committed it (it is deleted once every group that wants it did).
    acked: set[str] = field(default_factory=set)
    #: Departed groups that were given it and did not commit it: it stays for them (and
    #: for ``get``) until they commit it or it is deleted.
    held: set[str] = field(default_factory=set)
    deliveries: dict[str, int] = field(default_factory=dict)

    @property
    def request_id(self) -> str:
        return self.tags.get("requestId", "")

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Whether it carries every given tag (filters combine with AND)."""
        mine = self.tags
        return all(mine.get(k) == v for k, v in tags.items())


def eos_record() -> Record:
    """The end-of-stream marker frame (index 0 is never a real record's)."""
    return Record(0, b"", {EOS_TAG: "true"}, message=EOS_MESSAGE)


class Stream:
    """The records of one queue and its limits.

    ``max_length`` (None: unbounded) makes a put to a full queue fail with 429, and is what
    the asynchronous-inference worker watches on its sink. ``max_payload_bytes`` makes a
    bigger put fail with 413. After ``end()`` a put fails with 409 until ``reopen()``.
    """

    def __init__(
        self,
        name: str,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD,
        max_length: int | None = None,
    ) -> None:
        if max_payload_bytes < 0:
            raise ValueError(f"max_payload_bytes is >= 0, got {max_payload_bytes}")
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length is >= 1 or None, got {max_length}")
        self.name = name
        self.max_payload_bytes = max_payload_bytes
        self.max_length = max_length
        self.records: dict[int, Record] = {}
        #: The last index handed out (0 before the first put); indexes are never reused.
        self.last_index = 0
        self.ended = False
        #: ``_force_=true``: watchers get the end of stream at once, records left or not.
        self.forced_end = False

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records.values())

    @property
    def full(self) -> bool:
        return self.max_length is not None and len(self.records) >= self.max_length

    @property
    def first_index(self) -> int:
        """The oldest record's index, 0 when empty."""
        return next(iter(self.records), 0)

    def check_put(self, size: int) -> None:
        """Raise the ``QueueError`` a put of ``size`` bytes would get now, if any."""
        if size > self.max_payload_bytes:
            raise QueueError(
                413,
                f"payload of {size} bytes exceeds the limit of queue {self.name!r}: "
                f"{self.max_payload_bytes} bytes (meta.maxPayloadBytes)",
            )
        if self.ended:
            raise QueueError(409, f"queue {self.name!r} has ended (end of stream): no more puts")
        if self.full:
            raise QueueError(
                429,
                f"queue {self.name!r} is full: {len(self.records)} records (max {self.max_length})",
            )

    def put(
        self,
        data: bytes,
        tags: Mapping[str, str] | None = None,
        *,
        priority: int = 0,
        path: str = "",
    ) -> Record:
        """Append a record; a ``requestId`` tag is generated unless ``tags`` has one."""
        self.check_put(len(data))
        own = dict(tags or {})
        if not own.get("requestId"):
            own["requestId"] = str(uuid.uuid4())
        self.last_index += 1
        record = Record(self.last_index, bytes(data), own, priority=priority, path=path)
        self.records[record.index] = record
        return record

    def select(self, start: int, tags: Mapping[str, str], limit: int | None = None) -> list[Record]:
        """Records from index ``start`` on carrying ``tags``, oldest first, at most ``limit``."""
        out: list[Record] = []
        if limit is not None and limit <= 0:
            return out
        if not tags and start in self.records and limit == 1:
            return [self.records[start]]
        for record in self.records.values():
            if record.index >= start and record.matches(tags):
                out.append(record)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def remove(self, indexes: Iterable[int]) -> list[Record]:
        """Take these records out (unknown indexes are ignored); the ones removed."""
        records = self.records
        return [r for r in (records.pop(i, None) for i in indexes) if r is not None]

    def truncate(self, before: int) -> list[Record]:
        """Take out every record with an index below ``before``."""
        return self.remove([i for i in self.records if i < before])

    def count(self, priority: int | None = None) -> int:
        if priority is None:
            return len(self.records)
        return sum(1 for r in self.records.values() if r.priority == priority)

    def end(self, *, force: bool = False) -> None:
        self.ended = True
        self.forced_end = self.forced_end or force

    def reopen(self) -> None:
        """Accept puts again after an end of stream (an emulator convenience, not EAS)."""
        self.ended = False
        self.forced_end = False
