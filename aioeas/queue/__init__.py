"""The queue service: ``QueueClient``, its ``Watcher``, and submit-and-await.

Sans-IO pieces (``protocol``: headers, queries, validation, answers; ``accounting``: what a
watcher holds, commits and resumes from; ``records``) take values and give values;
``websocket`` is the one module that calls aiohttp for WebSockets (HTTP goes through
``aioeas.client.transport``); ``client``, ``watcher`` and ``submit`` do the I/O.
"""

from aioeas.queue.client import PutResult, QueueClient
from aioeas.queue.config import ReconnectPolicy
from aioeas.queue.errors import (
    FrameTooLargeError,
    PutUncertainError,
    ResultTimeoutError,
    WatchLostError,
)
from aioeas.queue.protocol import Identity, SearchResult
from aioeas.queue.records import QueueRecord, RecordBatch, to_dataframe
from aioeas.queue.submit import AsyncInference
from aioeas.queue.watcher import Watcher, WatcherStats

__all__ = [
    "AsyncInference",
    "FrameTooLargeError",
    "Identity",
    "PutResult",
    "PutUncertainError",
    "QueueClient",
    "QueueRecord",
    "ReconnectPolicy",
    "RecordBatch",
    "ResultTimeoutError",
    "SearchResult",
    "WatchLostError",
    "Watcher",
    "WatcherStats",
    "to_dataframe",
]
