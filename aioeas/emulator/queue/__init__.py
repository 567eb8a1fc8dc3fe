"""The emulator's queue service: EAS's asynchronous inference, kept in memory.

``Emulator.add_queue_service(name, ...)`` makes a ``QueueService`` with an input queue
``name`` and a sink ``name/sink`` served at ``/api/predict/{name}[/sink]``. The layers:
``store`` (records, sans-IO), ``consumers`` (groups, windows, redelivery, sans-IO),
``params`` and ``frames`` (the wire, sans-IO), ``faults`` (cutting watchers), ``service``
(asyncio glue, the ``Queue`` API tests use), ``routes`` (HTTP and WebSocket) and
``worker`` (the processor behind a queue service).
"""

from aioeas.emulator.queue.consumers import AUTO_COMMIT_SLOTS, Consumer, ConsumerStats
from aioeas.emulator.queue.faults import WatchFaults
from aioeas.emulator.queue.service import (
    DEFAULT_GRACE,
    DEFAULT_GROUP,
    GROUP_HEADER,
    PRIORITY_HEADER,
    REQUEST_ID_HEADER,
    USER_HEADER,
    Queue,
    QueueService,
)
from aioeas.emulator.queue.store import (
    DEFAULT_MAX_PAYLOAD,
    EOS_MESSAGE,
    EOS_TAG,
    QueueError,
    Record,
)
from aioeas.emulator.queue.worker import WORKER_GROUP, Processor, Worker

__all__ = [
    "AUTO_COMMIT_SLOTS",
    "DEFAULT_GRACE",
    "DEFAULT_GROUP",
    "DEFAULT_MAX_PAYLOAD",
    "EOS_MESSAGE",
    "EOS_TAG",
    "GROUP_HEADER",
    "PRIORITY_HEADER",
    "REQUEST_ID_HEADER",
    "USER_HEADER",
    "WORKER_GROUP",
    "Consumer",
    "ConsumerStats",
    "Processor",
    "Queue",
    "QueueError",
    "QueueService",
    "Record",
    "WatchFaults",
    "Worker",
]
