"""``QueueRecord``: one record of a queue, and a pandas view of a batch of them.

The official client hands out ``DataFrame`` objects (a protobuf wrapper with ``index``,
``tags``, ``data`` and ``message``); a ``QueueRecord`` has the same four attributes, so code
written against the official client reads it unchanged, and it is immutable, hashable by
index and cheap to make (the watcher makes one per pushed record).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aioeas.codecs.frames import Frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["QueueRecord", "RecordBatch", "to_dataframe"]


@dataclass(frozen=True, slots=True)
class QueueRecord:
    """One queue record: ``index`` (from 1, growing), ``tags`` (``requestId`` among them
    for a put record), ``data`` bytes (empty for an ``index_only`` watch) and ``message``."""

    index: int
    tags: Mapping[str, str] = field(default_factory=dict)
    data: bytes = b""
    message: str = ""

    @classmethod
    def from_frame(cls, frame: Frame) -> QueueRecord:
        return cls(frame.index, frame.tags, frame.data, frame.message)

    @property
    def request_id(self) -> str | None:
        """The ``requestId`` tag the service set when the record was put."""
        return self.tags.get("requestId")

    def text(self, encoding: str = "utf-8") -> str:
        """``data`` decoded as text."""
        return self.data.decode(encoding)

    def __hash__(self) -> int:
        return hash(self.index)


class RecordBatch(list[QueueRecord]):
    """The records of one ``get``: a plain list with a pandas view."""

    def to_dataframe(self) -> pd.DataFrame:
        """One row per record; see ``to_dataframe``."""
        return to_dataframe(self)


def to_dataframe(records: Iterable[QueueRecord]) -> pd.DataFrame:
    """A ``pandas.DataFrame`` with columns ``index``, ``data``, ``message``, ``tags`` (a dict)
    and one ``tag.<key>`` column per tag key seen (``None`` where a record lacks it).

    pandas is optional (the ``pandas`` extra) and imported only here.
    """
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from aioeas._install import install_hint
        from aioeas.errors import UsageError

        raise UsageError(f"to_dataframe needs pandas: {install_hint('pandas')}") from exc
    rows: list[dict[str, Any]] = []
    keys: dict[str, None] = {}
    for record in records:
        for key in record.tags:
            keys.setdefault(key, None)
        rows.append(
            {
                "index": record.index,
                "data": record.data,
                "message": record.message,
                "tags": dict(record.tags),
            }
        )
    frame = pd.DataFrame(rows, columns=["index", "data", "message", "tags"])
    for key in keys:
        frame[f"tag.{key}"] = pd.Series([row["tags"].get(key) for row in rows], dtype=object)
    frame["index"] = frame["index"].astype("uint64")
    return frame  # type: ignore[no-any-return]
