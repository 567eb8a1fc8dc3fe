"""Predict tracing: a CLIENT span per call, a child per try once a call retries.

``EAS predict {service}`` is made when the first try starts, with every attribute known
then (one pass of the SDK's attribute checks), and is current until the call ends, so the
trace context sent with a try (``propagate.inject``, the configured propagators) names it.
A call that retries gets a child span per try (``POST``, the HTTP conventions' name): the
first try's is made when the second starts, from the times and outcome kept for it (a
call answered at once pays for one span); tries after the first carry their own span's
context. No header is ever read, so neither the token nor a signature reaches a span.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Coroutine, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from aioeas.client.endpoints import CustomEndpoint, DirectEndpoint, EndpointSpec, GatewayEndpoint
from aioeas.otel import names as n
from aioeas.otel.metrics import Instruments

__all__ = ["PredictTracing"]


def _mode(spec: EndpointSpec | None) -> str:
    if isinstance(spec, DirectEndpoint):
        return "direct"
    if isinstance(spec, GatewayEndpoint):
        return "gateway"
    if isinstance(spec, CustomEndpoint):
        return "custom"
    return "unknown"


class _Try:
    """One HTTP try of a call: when, where, how it ended, and its span once it has one."""

    __slots__ = (
        "address",
        "backend",
        "end_ns",
        "error",
        "number",
        "port",
        "span",
        "start",
        "start_ns",
        "status",
        "url",
    )

    def __init__(self, number: int, url: str, backend: str | None, address: str, port: int) -> None:
        self.number = number
        self.url = url
        self.backend = backend
        self.address = address
        self.port = port
        self.start_ns = time.time_ns()
        self.start = time.perf_counter()
        self.end_ns = 0
        self.status: int | None = None
        self.error: BaseException | None = None
        self.span: Span | None = None


class _Call:
    """One predict in flight: its span (made when its first try starts, with every
    attribute then known: one pass of the SDK's attribute checks), and its tries."""

    __slots__ = (
        "attached",
        "first",
        "last",
        "mode",
        "open",
        "service",
        "span",
        "start_ns",
        "tries",
    )

    def __init__(self, service: str, mode: str) -> None:
        self.service = service
        self.mode = mode
        self.start_ns = time.time_ns()
        self.span: Span | None = None
        #: the token of the context made current with the span, detached when it ends
        self.attached: contextvars.Token[otel_context.Context] | None = None
        self.tries = 0
        self.first: _Try | None = None
        self.open: _Try | None = None
        self.last: _Try | None = None  # the last try that ended

    @property
    def name(self) -> str:
        return f"EAS predict {self.service}" if self.service else "EAS predict"  # custom URL


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "aioeas_otel_call", default=None
)


class PredictTracing:
    """The predict half of ``OtelInstrument`` (``aioeas.client.telemetry.Instrument``)."""

    _tracer: Tracer
    _m: Instruments

    async def predict(
        self, service: str, spec: EndpointSpec | None, send: Coroutine[Any, Any, bytes]
    ) -> bytes:
        call = _Call(service, _mode(spec))
        reset = _CALL.set(call)
        error: BaseException | None = None
        try:
            return await send
        except BaseException as exc:
            error = exc
            raise
        finally:
            if call.attached is not None:
                otel_context.detach(call.attached)
            _CALL.reset(reset)
            if call.open is not None:  # cancelled (or failed) with a try in flight
                self.attempt_end(None, error, call)
            self._end_call(call, error)

    def _end_call(self, call: _Call, error: BaseException | None) -> None:
        span = call.span
        if span is None:  # no try was made (discovery never answered, say)
            span = self._tracer.start_span(
                call.name,
                kind=SpanKind.CLIENT,
                attributes={
                    n.HTTP_REQUEST_METHOD: "POST",
                    n.SERVICE: call.service,
                    n.ENDPOINT_MODE: call.mode,
                },
                start_time=call.start_ns,
            )
        last = call.last
        status = last.status if last is not None else None
        attrs: dict[str, AttributeValue] = {n.ATTEMPTS: call.tries}
        if status is not None:
            attrs[n.HTTP_RESPONSE_STATUS_CODE] = status
        if error is not None:
            attrs[n.ERROR_TYPE] = n.error_type(status, error) or "_OTHER"
            span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
        span.set_attributes(attrs)
        span.end()

    def attempt(
        self, attempt: int, url: str, backend: str | None, headers: MutableMapping[str, str]
    ) -> None:
        call = _CALL.get()
        if call is None:  # instrumented after this call began
            return
        address, port = n.server_of(url, backend)
        this = _Try(attempt, url, backend, address, port)
        call.tries, call.open = attempt, this
        self._m.active[address, port] = self._m.active.get((address, port), 0) + 1
        where: dict[str, AttributeValue] = {
            n.SERVER_ADDRESS: address,
            n.SERVER_PORT: port,
            n.URL_FULL: n.url_without_credentials(url),
        }
        if backend is not None:
            where[n.BACKEND] = backend
        span, context = call.span, None
        if span is None:
            where[n.HTTP_REQUEST_METHOD] = "POST"
            where[n.SERVICE] = call.service
            where[n.ENDPOINT_MODE] = call.mode
            span = call.span = self._tracer.start_span(
                call.name, kind=SpanKind.CLIENT, attributes=where, start_time=call.start_ns
            )
            context = trace.set_span_in_context(span)
            call.attached = otel_context.attach(context)  # current until the call ends
        else:
            span.set_attributes(where)  # the call's span shows the last try's
        if attempt == 1:
            call.first = this
            propagate.inject(headers, context=context)
            return
        first = call.first
        if first is not None and first.span is None:
            first.span = self._try_span(call, first)
            self._end_try_span(first)
        this.span = self._try_span(call, this)
        propagate.inject(headers, context=trace.set_span_in_context(this.span))
        last = call.last
        failed = n.error_type(last.status, last.error) if last is not None else None
        self._m.retries.add(1, {n.SERVICE: call.service, n.ERROR_TYPE: failed or "_OTHER"})

    def _try_span(self, call: _Call, this: _Try) -> Span:
        attrs: dict[str, AttributeValue] = {
            n.HTTP_REQUEST_METHOD: "POST",
            n.SERVER_ADDRESS: this.address,
            n.SERVER_PORT: this.port,
            n.URL_FULL: n.url_without_credentials(this.url),
            n.ATTEMPT: this.number,
            n.SERVICE: call.service,
        }
        if this.number > 1:
            attrs[n.HTTP_REQUEST_RESEND_COUNT] = this.number - 1
        if this.backend is not None:
            attrs[n.BACKEND] = this.backend
        assert call.span is not None
        return self._tracer.start_span(
            "POST",
            context=trace.set_span_in_context(call.span),
            kind=SpanKind.CLIENT,
            attributes=attrs,
            start_time=this.start_ns,
        )

    @staticmethod
    def _end_try_span(this: _Try) -> None:
        span = this.span
        if span is None:
            return
        attrs: dict[str, AttributeValue] = {}
        if this.status is not None:
            attrs[n.HTTP_RESPONSE_STATUS_CODE] = this.status
        kind = n.error_type(this.status, this.error)
        if kind is not None:
            attrs[n.ERROR_TYPE] = kind
            span.set_status(Status(StatusCode.ERROR))
        span.set_attributes(attrs)
        span.end(end_time=this.end_ns or None)

    def attempt_end(
        self, status: int | None, error: BaseException | None, call: _Call | None = None
    ) -> None:
        call = call or _CALL.get()
        this = call.open if call is not None else None
        if call is None or this is None:
            return
        call.open, call.last = None, this
        this.end_ns = time.time_ns()
        this.status, this.error = status, error
        key = (this.address, this.port)
        active = self._m.active
        if key in active:  # (not after uninstrument() cleared it)
            active[key] -= 1
        attrs: dict[str, AttributeValue] = {
            n.HTTP_REQUEST_METHOD: "POST",
            n.SERVER_ADDRESS: this.address,
            n.SERVER_PORT: this.port,
            n.SERVICE: call.service,
        }
        if status is not None:
            attrs[n.HTTP_RESPONSE_STATUS_CODE] = status
        kind = n.error_type(status, error)
        if kind is not None:
            attrs[n.ERROR_TYPE] = kind
        self._m.request_duration.record(time.perf_counter() - this.start, attrs)
        self._end_try_span(this)

    def discovered(self, service: str, backends: int, ok: bool) -> None:
        outcome = "success" if ok else "failure"
        self._m.discovery_refreshes.add(1, {n.SERVICE: service, n.DISCOVERY_OUTCOME: outcome})
        self._m.discovery_backends.set(backends, {n.SERVICE: service})
