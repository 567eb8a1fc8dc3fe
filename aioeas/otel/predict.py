"""Predict tracing: a CLIENT span per call, a child per try once a call retries.

``EAS predict {service}`` is made when the first try starts, with every attribute known
then (one pass of the SDK's attribute checks), and is current until the call ends, so the
trace context sent with a try (``propagate.inject``, the configured propagators) names it.
A call that retries gets a child span per try (``POST``, the HTTP conventions' name): the
first try's is made when the second starts, from the times and outcome kept for it (a
call answered at once pays for one span); tries after the first carry their own span's
context. No header is ever read, so neither the token nor a signature reaches a span.

The span, the measurement and the injection are the SDK's cost, and most of a predict's
(``benchmarks/bench_otel.py``); what is aioeas's is kept small: the attributes of a place
a try goes to (service, endpoint mode, URL, backend) are made once and the same dicts
handed to the SDK each time (it copies what it keeps), and so are a place's metric
attributes per outcome.
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

Attributes = dict[str, AttributeValue]

#: Places whose attributes are kept; past it the cache starts over (a direct client's
#: backends come and go, and custom URLs are the caller's).
PLACES = 512
#: Outcomes (status code, error type) per place whose metric attributes are kept.
OUTCOMES = 32

_MODES: dict[type, str] = {
    DirectEndpoint: "direct",
    GatewayEndpoint: "gateway",
    CustomEndpoint: "custom",
}


def _mode(spec: EndpointSpec | None) -> str:
    for kind, name in _MODES.items():  # (a subclass: the classes themselves are in _MODES)
        if isinstance(spec, kind):
            return name
    return "unknown"


def _call_name(service: str) -> str:
    return f"EAS predict {service}" if service else "EAS predict"  # custom URL


class _Place:
    """Where tries of one service go (endpoint mode, URL, backend), with the attributes
    that say so, made once: the SDK copies what it is given and these are never changed."""

    __slots__ = (
        "active_key",
        "call_attrs",
        "metric_base",
        "name",
        "outcomes",
        "try_attrs",
        "where",
    )

    def __init__(self, service: str, mode: str, url: str, backend: str | None) -> None:
        address, port = n.server_of(url, backend)
        self.active_key = (address, port)
        self.name = _call_name(service)
        where: Attributes = {
            n.SERVER_ADDRESS: address,
            n.SERVER_PORT: port,
            n.URL_FULL: n.url_without_credentials(url),
        }
        if backend is not None:
            where[n.BACKEND] = backend
        #: what the call's span shows of its last try
        self.where = where
        #: the call's span, made at its first try (``aioeas.attempts`` counts the tries
        #: as they start: one set now rather than one more at the end)
        self.call_attrs: Attributes = {
            n.HTTP_REQUEST_METHOD: "POST",
            n.SERVICE: service,
            n.ENDPOINT_MODE: mode,
            **where,
            n.ATTEMPTS: 1,
        }
        #: a try's span, before its number
        self.try_attrs: Attributes = {n.HTTP_REQUEST_METHOD: "POST", **where, n.SERVICE: service}
        #: ``http.client.request.duration``'s attributes of any outcome
        self.metric_base: Attributes = {
            n.HTTP_REQUEST_METHOD: "POST",
            n.SERVER_ADDRESS: address,
            n.SERVER_PORT: port,
            n.SERVICE: service,
        }
        #: and of each (status code, error type) seen, complete
        self.outcomes: dict[tuple[int | None, str | None], Attributes] = {}

    def metric_attrs(self, status: int | None, kind: str | None) -> Attributes:
        attrs = self.outcomes.get((status, kind))
        if attrs is None:
            attrs = dict(self.metric_base)
            if status is not None:
                attrs[n.HTTP_RESPONSE_STATUS_CODE] = status
            if kind is not None:
                attrs[n.ERROR_TYPE] = kind
            if len(self.outcomes) >= OUTCOMES:
                self.outcomes.clear()  # (a reader in another thread makes its own again)
            self.outcomes[status, kind] = attrs
        return attrs


class _Try:
    """One HTTP try of a call: when, where, how it ended, and its span once it has one."""

    __slots__ = ("end_ns", "error", "number", "place", "span", "start", "start_ns", "status")

    def __init__(self, number: int, place: _Place) -> None:
        self.number = number
        self.place = place
        self.start_ns = time.time_ns()
        self.start = time.perf_counter()
        self.end_ns = 0
        self.status: int | None = None
        self.error: BaseException | None = None
        self.span: Span | None = None


class _Call:
    """One predict in flight: its span (made when its first try starts), and its tries."""

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


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "aioeas_otel_call", default=None
)


def _error_type(status: int | None, error: BaseException | None) -> str | None:
    if error is None and (status is None or status < 400):
        return None  # (the common case, without a call)
    return n.error_type(status, error)


class PredictTracing:
    """The predict half of ``OtelInstrument`` (``aioeas.client.telemetry.Instrument``)."""

    _tracer: Tracer
    _m: Instruments
    #: places by (service, endpoint mode, URL, backend)
    _places: dict[tuple[str, str, str, str | None], _Place]

    async def predict(
        self, service: str, spec: EndpointSpec | None, send: Coroutine[Any, Any, bytes]
    ) -> bytes:
        call = _Call(service, _MODES.get(type(spec)) or _mode(spec))
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
                _call_name(call.service),
                kind=SpanKind.CLIENT,
                attributes={
                    n.HTTP_REQUEST_METHOD: "POST",
                    n.SERVICE: call.service,
                    n.ENDPOINT_MODE: call.mode,
                    n.ATTEMPTS: 0,
                },
                start_time=call.start_ns,
            )
        elif not span.is_recording():  # sampled out: nothing to add
            span.end()
            return
        # (aioeas.attempts is set as tries start: what is left is the last one's outcome)
        last = call.last
        status = last.status if last is not None else None
        if error is not None:
            attrs: Attributes = {n.ERROR_TYPE: n.error_type(status, error) or "_OTHER"}
            if status is not None:
                attrs[n.HTTP_RESPONSE_STATUS_CODE] = status
            span.set_attributes(attrs)
            span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
        elif status is not None:
            span.set_attribute(n.HTTP_RESPONSE_STATUS_CODE, status)
        span.end()

    def _new_place(self, call: _Call, url: str, backend: str | None) -> _Place:
        if len(self._places) >= PLACES:
            self._places.clear()
        place = _Place(call.service, call.mode, url, backend)
        self._places[call.service, call.mode, url, backend] = place
        return place

    def attempt(
        self, attempt: int, url: str, backend: str | None, headers: MutableMapping[str, str]
    ) -> None:
        call = _CALL.get()
        if call is None:  # instrumented after this call began
            return
        place = self._places.get((call.service, call.mode, url, backend))
        if place is None:
            place = self._new_place(call, url, backend)
        this = _Try(attempt, place)
        call.tries, call.open = attempt, this
        active = self._m.active
        active[place.active_key] = active.get(place.active_key, 0) + 1
        span, context = call.span, None
        if span is None:
            span = call.span = self._tracer.start_span(
                place.name,
                kind=SpanKind.CLIENT,
                attributes=place.call_attrs,
                start_time=call.start_ns,
            )
            context = trace.set_span_in_context(span)
            call.attached = otel_context.attach(context)  # current until the call ends
            if attempt != 1:  # (the place's attributes say 1)
                span.set_attribute(n.ATTEMPTS, attempt)
        else:  # the call's span shows the last try's place, and counts it
            span.set_attributes({**place.where, n.ATTEMPTS: attempt})
        if attempt == 1:
            call.first = this
            propagate.inject(headers, context=context)
            return
        first = call.first
        if first is not None and first.span is None:
            first.span = self._try_span(span, first)
            self._end_try_span(first)
        this.span = self._try_span(span, this)
        propagate.inject(headers, context=trace.set_span_in_context(this.span))
        last = call.last
        failed = _error_type(last.status, last.error) if last is not None else None
        self._m.retries.add(1, {n.SERVICE: call.service, n.ERROR_TYPE: failed or "_OTHER"})

    def _try_span(self, parent: Span, this: _Try) -> Span:
        attrs: Attributes = {**this.place.try_attrs, n.ATTEMPT: this.number}
        if this.number > 1:
            attrs[n.HTTP_REQUEST_RESEND_COUNT] = this.number - 1
        return self._tracer.start_span(
            "POST",
            context=trace.set_span_in_context(parent),
            kind=SpanKind.CLIENT,
            attributes=attrs,
            start_time=this.start_ns,
        )

    @staticmethod
    def _end_try_span(this: _Try) -> None:
        span = this.span
        if span is None:
            return
        attrs: Attributes = {}
        if this.status is not None:
            attrs[n.HTTP_RESPONSE_STATUS_CODE] = this.status
        kind = _error_type(this.status, this.error)
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
        duration = time.perf_counter() - this.start
        this.end_ns = time.time_ns()
        call.open, call.last = None, this
        this.status, this.error = status, error
        place = this.place
        active = self._m.active
        if place.active_key in active:  # (not after uninstrument() cleared it)
            active[place.active_key] -= 1
        if error is None and (status is None or status < 400):
            attrs = place.outcomes.get((status, None)) or place.metric_attrs(status, None)
        else:
            attrs = place.metric_attrs(status, n.error_type(status, error))
        self._m.request_duration.record(duration, attrs)
        if this.span is not None:
            self._end_try_span(this)

    def discovered(self, service: str, backends: int, ok: bool) -> None:
        outcome = "success" if ok else "failure"
        self._m.discovery_refreshes.add(1, {n.SERVICE: service, n.DISCOVERY_OUTCOME: outcome})
        self._m.discovery_backends.set(backends, {n.SERVICE: service})
