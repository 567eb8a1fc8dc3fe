"""The queue's own errors, all ``QueueError`` (see the tree in ``aioeas.errors``)::

QueueError
├── PutUncertainError       a put failed after the service may have stored the record
├── WatchLostError          a watcher could not reconnect within its ReconnectPolicy
└── ResultTimeoutError      (an EASTimeoutError) submit-and-await: no result in time
"""

from __future__ import annotations

from collections.abc import Mapping

from aioeas.errors import EASError, EASTimeoutError, QueueError

__all__ = ["PutUncertainError", "ResultTimeoutError", "WatchLostError"]


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


class ResultTimeoutError(QueueError, EASTimeoutError):
    """Submit-and-await: the request was queued but its result did not come in time.

    The request is still queued or being served; ``index`` and ``request_id`` identify it, so
    its result can still be fetched from the sink with ``get(request_id=...)``.
    """

    def __init__(self, index: int, request_id: str, timeout: float) -> None:
        self.index = index
        self.request_id = request_id
        self.timeout = timeout
        super().__init__(
            f"no result for request {request_id!r} (index {index}) within {timeout:g} s; "
            "it may still come: get(request_id=...) on the sink queue"
        )
