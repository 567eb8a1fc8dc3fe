"""Run one queue example script and report what it put and what its watcher got.

    python capture_queue.py official|aioeas SCRIPT.py

The queue counterpart of ``capture.py`` (same use, same last line): runs ``SCRIPT.py`` as
``__main__`` with the client's ``QueueClient.put`` and its watcher's iteration wrapped, so
that each record put and each record handed to the script is recorded. The script's own
output is left as it is; the last line printed is::

    EXAMPLE-RESULT {"answers": [], "requests": [], "error": null or {...}, "queue": {...}}

where ``queue`` is ``{"sent": n, "received": n, "indexes": [...], "sent_indexes": [...],
"all_request_ids_received": bool, "request_ids_match": bool}``: how many records were put
and received, the indexes in the order the watcher handed them out and in the order the
puts returned them, whether every request id a put returned came back on a received
record, and whether the received (index, requestId) pairs are exactly the put ones (each
record once, carrying the id its put got). The exit status is 1 when the script raised.

The script's non-daemon threads are joined before the line is printed, as the interpreter
would before exiting (the manual's example joins only its watcher thread), so the sender's
last lines come first. Stdlib only at import time, as ``capture.py``.
"""

from __future__ import annotations

import functools
import json
import os
import runpy
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any

MARK = "EXAMPLE-RESULT "

Pair = tuple[int, str]


def _wrap(client: str, sent: list[Pair], received: list[Pair]) -> None:
    if client == "official":
        from eas_prediction import queue_client

        queue_cls: Any = queue_client.QueueClient
        watcher_cls: Any = queue_client.Watcher
        plain_put = queue_cls.put
        plain_run = watcher_cls.run

        @functools.wraps(plain_put)
        def put(self: Any, *args: Any, **kwargs: Any) -> Any:
            index, request_id = plain_put(self, *args, **kwargs)
            sent.append((int(index), request_id))  # the official put answers the index as text
            return index, request_id

        @functools.wraps(plain_run)
        def run(self: Any) -> Iterator[Any]:
            for df in plain_run(self):
                received.append((int(df.index), df.tags["requestId"]))
                yield df

        queue_cls.put = put
        watcher_cls.run = run
    elif client == "aioeas":
        from aioeas.queue import client as queue_client
        from aioeas.queue import watcher as queue_watcher

        aqueue_cls: Any = queue_client.QueueClient
        awatcher_cls: Any = queue_watcher.Watcher
        coro_put = aqueue_cls.put
        coro_next = awatcher_cls.__anext__

        @functools.wraps(coro_put)
        async def aput(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = await coro_put(self, *args, **kwargs)
            sent.append((int(result.index), result.request_id))
            return result

        @functools.wraps(coro_next)
        async def anext_(self: Any) -> Any:
            record = await coro_next(self)  # `async for` and watcher.run() both come here
            received.append((int(record.index), record.tags["requestId"]))
            return record

        aqueue_cls.put = aput
        awatcher_cls.__anext__ = anext_
    else:
        raise SystemExit(f"usage: capture_queue.py official|aioeas SCRIPT (not {client!r})")


def summary(sent: list[Pair], received: list[Pair]) -> dict[str, Any]:
    """What the result line says about the records put and received."""
    return {
        "sent": len(sent),
        "received": len(received),
        "indexes": [index for index, _ in received],
        "sent_indexes": [index for index, _ in sent],
        "all_request_ids_received": {r for _, r in sent} <= {r for _, r in received},
        "request_ids_match": sorted(sent) == sorted(received),
    }


def _join_threads() -> None:
    """Wait for the script's non-daemon threads, as the interpreter does before exiting."""
    me = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not me and not thread.daemon:
            thread.join()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: capture_queue.py official|aioeas SCRIPT", file=sys.stderr)
        return 2
    client, script = argv
    sent: list[Pair] = []
    received: list[Pair] = []
    _wrap(client, sent, received)
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python SCRIPT` would have it
    error = None
    try:
        runpy.run_path(script, run_name="__main__")
    except Exception as exc:
        traceback.print_exc()
        error = {"type": type(exc).__name__, "message": str(exc)}
    _join_threads()
    sys.stdout.flush()
    result: dict[str, Any] = {
        "answers": [],
        "requests": [],
        "error": error,
        "queue": summary(sent, received),
    }
    print(MARK + json.dumps(result), flush=True)
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
