"""The asynchronous-inference worker: what EAS's framework does behind a queue service.

It watches the input queue as consumer ``eas-worker.instance`` with window = concurrency,
hands each record's body to the processor (a Python callable, or a predict service of the
same emulator by name), writes a non-empty answer to the sink tagged ``requestId`` = the
input's request id (plus ``lastCode`` = the status when the processor failed, the error
text being the body, and the input's trace context tags), and commits the input record.
It takes no input while the sink is full, and a result that finds the sink full waits
for room: nothing is dropped.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from aioeas.emulator.calls import Call, Reject, reset_current, set_current
from aioeas.emulator.queue.service import QueueService
from aioeas.emulator.queue.store import QueueError, Record
from aioeas.emulator.services import Service

__all__ = ["WORKER_GROUP", "WORKER_UID", "Processor", "Worker"]

log = logging.getLogger("aioeas.emulator.queue")

#: Tags copied from an input record to its result: W3C trace context (``traceparent``,
#: ``tracestate``), so a trace runs from the producer through the worker to the result's
#: consumer. (How EAS's own framework treats these tags is not documented; see the
#: observability guide.)
TRACE_TAGS = frozenset({"traceparent", "tracestate"})

#: The worker's identity on the input queue (``consumers.list`` shows ``eas-worker.instance``).
WORKER_GROUP = "eas-worker"
WORKER_UID = "instance"

Answer: TypeAlias = "bytes | str | None"
#: ``fn(body) -> bytes | str | None`` (sync or async), or the name of a predict service.
Processor: TypeAlias = "Callable[[bytes], Answer | Awaitable[Answer]] | str"


class Worker:
    """Consumes ``service.input`` into ``service.sink`` through ``processor``.

    ``resolve`` finds a predict service by name (the emulator's registry), looked up at each
    call so the service can be added after the queue. ``processed`` and ``failed`` count
    records done; a failed one still writes its error to the sink (with ``lastCode``).
    """

    def __init__(
        self,
        service: QueueService,
        processor: Processor,
        *,
        concurrency: int = 1,
        resolve: Callable[[str], Service] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency is 1 or more, got {concurrency}")
        if isinstance(processor, str) and resolve is None:
            raise ValueError("a processor named by service needs a resolver")
        self.service = service
        self.processor = processor
        self.concurrency = concurrency
        self._resolve = resolve
        self.processed = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._runner is not None

    def start(self) -> None:
        """Join the input queue and start consuming (needs a running loop)."""
        if self._runner is not None:
            return
        inp, sink = self.service.input, self.service.sink
        consumer = inp.join(WORKER_GROUP, WORKER_UID, window=self.concurrency)
        consumer.gate = lambda: not sink.stream.full
        consumer.on_ready = self._wake.set
        self._consumer = consumer
        sink.add_listener(self._sink_changed)
        self._runner = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    def _sink_changed(self) -> None:
        # Room in the sink may let the worker take input again.
        if not self.service.sink.stream.full:
            self.service.input.consumers.pump()

    async def stop(self) -> None:
        """Stop taking input; records in flight are cancelled and go back to the queue."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self.service.sink.remove_listener(self._sink_changed)
        runner.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(runner, *self._tasks, return_exceptions=True)
        # Gone for good: what it held goes back to the queue at once, no grace period.
        self.service.input.consumers.leave(self._consumer, hold=False)
        self.service.input.changed()

    async def _run(self) -> None:
        consumer = self._consumer
        while True:
            if not consumer.outbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            record = consumer.outbox.popleft()
            if not record.index or record.index not in consumer.pending:
                continue
            task = asyncio.get_running_loop().create_task(self._process(record))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _call(self, record: Record) -> tuple[int, bytes]:
        call = Call(
            service=self.service.name,
            backend="queue-worker",
            method="POST",
            path=record.path,
            query=dict(record.tags),
            headers={},
            body=record.data,
            number=record.index,
        )
        token = set_current(call)
        try:
            if isinstance(self.processor, str):
                assert self._resolve is not None
                answer: Answer = await self._resolve(self.processor).handler(record.data)
            else:
                result = self.processor(record.data)
                answer = await result if inspect.isawaitable(result) else result
        except Reject as exc:
            return exc.status, exc.message.encode()
        except Exception as exc:
            log.exception("queue processor of %s crashed", self.service.name)
            return 500, f"processor crashed: {type(exc).__name__}: {exc}".encode()
        finally:
            reset_current(token)
        if answer is None:
            return 200, b""
        return 200, answer.encode() if isinstance(answer, str) else bytes(answer)

    async def _process(self, record: Record) -> None:
        status, body = await self._call(record)
        if status != 200:
            self.failed += 1
        if body:
            tags = {"requestId": record.request_id}
            tags.update((k, v) for k, v in record.tags.items() if k in TRACE_TAGS)
            if status != 200:
                tags["lastCode"] = str(status)
            await self._write(body, tags)
        self.processed += 1
        self.service.input.commit([record.index], WORKER_GROUP)

    async def _write(self, body: bytes, tags: dict[str, str]) -> None:
        sink = self.service.sink
        while True:
            await sink.wait_until(lambda: not sink.stream.full, timeout=None)
            try:
                sink.put(body, tags)
                return
            except QueueError as exc:
                if exc.status != 429:
                    log.warning("queue worker of %s cannot write a result: %s", sink.name, exc)
                    return
