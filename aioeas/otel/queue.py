"""Queue tracing: a PRODUCER span per put, a CONSUMER span per record handed out, a span
over each ``AsyncInference.submit``.

A put writes its span's context into the record's tags (``traceparent``, ``tracestate``:
W3C trace context whatever propagators are configured, as tags are stored with the record
and shown to every consumer). The span of a record handed out is a child of, and linked
to, the context its tags carry; the consumer's current context when they carry none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from aioeas.otel import names as n
from aioeas.otel.metrics import Instruments, queue_of

__all__ = ["QueueTracing", "extract_context"]

T = TypeVar("T")

#: Trace context in queue tags is W3C's alone: tags are stored with the record and shown
#: to every consumer, so baggage (or any other configured propagator) stays out of them.
_TAGS_PROPAGATOR = TraceContextTextMapPropagator()


def extract_context(tags: Mapping[str, str]) -> otel_context.Context:
    """The trace context a record's tags carry (``record.tags``), to parent or link a span
    of its processing; an empty context when they carry none."""
    return _TAGS_PROPAGATOR.extract(tags, context=otel_context.Context())


class QueueTracing:
    """The queue half of ``OtelInstrument`` (``aioeas.client.telemetry.Instrument``)."""

    _tracer: Tracer
    _m: Instruments

    def _queue_attrs(self, queue: str, operation: str, kind: str) -> dict[str, AttributeValue]:
        return {
            n.MESSAGING_SYSTEM: n.MESSAGING_SYSTEM_VALUE,
            n.MESSAGING_DESTINATION_NAME: queue,
            n.MESSAGING_OPERATION_NAME: operation,
            n.MESSAGING_OPERATION_TYPE: kind,
        }

    async def queue_put(
        self,
        queue: str,
        tags: dict[str, str],
        send: Callable[[dict[str, str]], Coroutine[Any, Any, T]],
    ) -> T:
        attrs = self._queue_attrs(queue, "put", "send")
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"send {queue}",
            kind=SpanKind.PRODUCER,
            attributes=attrs,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            _TAGS_PROPAGATOR.inject(tags)
            try:
                result = await send(tags)
            except BaseException as exc:
                span.set_attribute(n.ERROR_TYPE, type(exc).__qualname__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
                self._m.operation_duration.record(
                    time.perf_counter() - started, {**attrs, n.ERROR_TYPE: type(exc).__qualname__}
                )
                raise
            index, request_id = getattr(result, "index", None), getattr(result, "request_id", None)
            span.set_attribute(n.MESSAGING_MESSAGE_ID, str(index))
            if request_id:
                span.set_attribute(n.REQUEST_ID, request_id)
        self._m.operation_duration.record(time.perf_counter() - started, attrs)
        self._m.sent_messages.add(1, attrs)
        return result

    async def submit(self, queue: str, send: Coroutine[Any, Any, T]) -> T:
        attrs = self._queue_attrs(queue, "submit", "send")
        with self._tracer.start_as_current_span(
            f"EAS submit {queue}",
            kind=SpanKind.CLIENT,
            attributes=attrs,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                record = await send
            except BaseException as exc:
                span.set_attribute(n.ERROR_TYPE, type(exc).__qualname__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
                raise
            request_id = getattr(record, "request_id", None)
            if request_id:
                span.set_attribute(n.REQUEST_ID, request_id)
            span.set_attribute(n.RESULT_INDEX, int(getattr(record, "index", 0)))
            return record

    def watching(self, watcher: Any) -> None:
        self._m.watchers.add(watcher)

    def received(self, watcher: Any, record: Any) -> None:
        self._m.watchers.add(watcher)
        queue = queue_of(watcher)
        attrs = self._queue_attrs(queue, "receive", "receive")
        group = getattr(watcher._client, "gid", None)
        if isinstance(group, str):
            attrs[n.MESSAGING_CONSUMER_GROUP_NAME] = group
        self._m.consumed_messages.add(1, attrs)
        attrs[n.MESSAGING_MESSAGE_ID] = str(record.index)
        creation = trace.get_current_span(extract_context(record.tags)).get_span_context()
        parent: otel_context.Context | None = None
        links: list[Link] = []
        if creation.is_valid:
            parent = trace.set_span_in_context(trace.NonRecordingSpan(creation))
            links.append(Link(creation))
        span = self._tracer.start_span(
            f"receive {queue}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attrs,
            links=links,
        )
        span.end()

    def committed(
        self, watcher: Any, records: int, seconds: float, error: BaseException | None
    ) -> None:
        attrs = self._queue_attrs(queue_of(watcher), "commit", "settle")
        if error is not None:
            attrs[n.ERROR_TYPE] = type(error).__qualname__
        self._m.operation_duration.record(seconds, attrs)

    def reconnected(self, watcher: Any) -> None:
        self._m.reconnects.add(
            1,
            {
                n.MESSAGING_SYSTEM: n.MESSAGING_SYSTEM_VALUE,
                n.MESSAGING_DESTINATION_NAME: queue_of(watcher),
            },
        )
