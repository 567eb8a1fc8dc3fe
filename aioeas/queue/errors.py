"""The queue's own errors, all ``QueueError`` (see the tree in ``aioeas.errors``)::

QueueError
├── PutUncertainError       a put failed after the service may have stored the record
├── WatchLostError          a watcher could not reconnect within its ReconnectPolicy
├── FrameTooLargeError      a watched record was larger than the queue's payload limit
└── ResultTimeoutError      (an EASTimeoutError) submit-and-await: no result in time
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from aioeas.errors import EASError, EASTimeoutError, QueueError, UsageError

if TYPE_CHECKING:
    from aioeas.queue.records import QueueRecord

__all__ = ["FrameTooLargeError", "PutUncertainError", "ResultTimeoutError", "WatchLostError"]


class PutUncertainError(QueueError):
    """A put whose fate is unknown: it reached the service, or may have, and no index came.

    Raised instead of retrying, because a blind retry can queue the record twice (the
    official client does). It happens on a timeout, a connection dropped after the request
    was sent, or a 5xx answer (a gateway may answer 502 after the queue stored the record).
    A put whose connection could not even be opened *is* retried, since nothing was sent.

    What to do: find out with a tag you set yourself, e.g. ``put(data, {"key": k})`` then
    ``get(tags={"key": k}, auto_delete=False, timeout=0)``; or put again if a duplicate is
    harmless. ``tags`` are the tags that were sent, ``cause`` the underlying error
    (``RequestTimeoutError``, ``ConnectError`` or ``RetryableServiceError``), ``status`` the
    HTTP status when an answer came.
    """

    def __init__(self, queue: str, tags: Mapping[str, str], cause: EASError) -> None:
        self.queue = queue
        self.tags = dict(tags)
        self.cause = cause
        self.status: int | None = getattr(cause, "status", None)
        super().__init__(
            f"put to queue {queue!r} may or may not have stored the record ({cause}); "
            f"it was not retried, to avoid a duplicate. Tags sent: {self.tags}"
        )


class WatchLostError(QueueError):
    """A watcher lost its connection and could not get it back within its
    ``ReconnectPolicy`` (attempts or deadline); ``cause`` is the last failure.

    What to do: make a new watcher when the service is back; records not committed will be
    pushed again, committed ones never are.
    """

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        self.cause = cause
        super().__init__(message)


class FrameTooLargeError(QueueError):
    """A watcher was sent a message larger than it accepts: the queue's payload limit
    (``meta.maxPayloadBytes``, read when the client opened) plus framing, ``limit`` bytes.

    The watcher stops with it rather than reading an unbounded message into memory, or
    reconnecting to be sent the same record again and again. The record is not committed:
    it stays in the queue. What to do: find out why the service holds a record over its
    own limit (a limit lowered after records were queued?); ``get`` or ``delete`` it by
    index, or watch from a client whose limit is known to be larger.
    """

    def __init__(self, url: str, limit: int, detail: str = "") -> None:
        self.url = url
        self.limit = limit
        more = f" ({detail})" if detail else ""
        super().__init__(
            f"the watch on {url} was sent a message over its limit of {limit} bytes{more}"
        )


class ResultTimeoutError(QueueError, EASTimeoutError):
    """Submit-and-await: the request was queued but its result did not come in time.

    The request is still queued or being served; ``index`` and ``request_id`` identify it.
    Its result is not lost: ``await error.result(timeout=...)`` (the same as
    ``inference.result(error.request_id)``) waits for it and claims it. Until it is claimed
    the result is not committed, so after the ``AsyncInference`` is closed it is still in
    the sink, where ``get(request_id=...)`` finds it.
    """

    def __init__(
        self,
        index: int,
        request_id: str,
        timeout: float,
        claim: Callable[[str, float | None], Awaitable[QueueRecord]] | None = None,
    ) -> None:
        self.index = index
        self.request_id = request_id
        self.timeout = timeout
        self._claim = claim
        super().__init__(
            f"no result for request {request_id!r} (index {index}) within {timeout:g} s; "
            "it may still come: claim it with `await error.result()`, or after closing "
            "get(request_id=...) on the sink queue"
        )

    async def result(self, timeout: float | None = None) -> QueueRecord:
        """Wait up to ``timeout`` seconds (``None``: for ever) for the late result and claim
        it (``ResultTimeoutError`` again past it); ``UsageError`` when the error was not
        raised by an ``AsyncInference`` (nothing to claim from)."""
        if self._claim is None:
            raise UsageError(
                "this ResultTimeoutError is not bound to an AsyncInference: "
                f"fetch the result with get(request_id={self.request_id!r}) on the sink"
            )
        return await self._claim(self.request_id, timeout)
