"""Predict tracing: a CLIENT span per call, a child per try once a call retries.

``EAS predict {service}`` is made when the first try starts, with every attribute known
then (one pass of the SDK's attribute checks), and is current until the call ends, so the
trace context sent with a try (``propagate.inject``, the configured propagators) names it.
A call that retries gets a child span per try (``POST``, the HTTP conventions' name): the
first try's is made when the second starts, from the times and outcome kept for it (a
call answered at once pays for one span); tries after the first carry their own span's
context. No header is ever read, so neither the token nor a signature reaches a span.

The span, the measurement and the injection are the SDK's cost, and nearly all of an
instrumented predict's (``benchmarks/bench_otel.py``, ``bench_otel_floor.py``); what is
aioeas's is kept small (about 1.7 µs a call): the client hands each call's ``_Call`` along
itself (no context variable, no wrapping coroutine) and takes the same fast first try as
when not instrumented; the attributes of a place a try goes to (service, endpoint mode,
URL, backend) are made once and the same dicts handed to the SDK each time (it copies
what it keeps), and so are a place's metric attributes per outcome.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import MutableMapping

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
    """One predict in flight (``aioeas.client.telemetry.CallTrace``): its span (made when
    its first try starts, current until the call ends), and its tries. The client holds
    it and hands it along, so nothing is looked up per try."""

    __slots__ = (
        "attached",
        "first",
        "last",
        "mode",
        "open",
        "owner",
        "service",
        "span",
        "start_ns",
        "tries",
    )

    def __init__(self, owner: PredictTracing, service: str, mode: str) -> None:
        self.owner = owner
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

    def attempt(
        self, attempt: int, url: str, backend: str | None, headers: MutableMapping[str, str]
    ) -> None:
        owner = self.owner
        place = owner._places.get((self.service, self.mode, url, backend))
        if place is None:
            place = owner._new_place(self, url, backend)
        this = _Try(attempt, place)
        self.tries, self.open = attempt, this
        active = owner._m.active
        active[place.active_key] = active.get(place.active_key, 0) + 1
        span = self.span
        if span is None:
            span = self.span = owner._tracer.start_span(
                place.name,
                kind=SpanKind.CLIENT,
                attributes=place.call_attrs,
                start_time=self.start_ns,
            )
            context = trace.set_span_in_context(span)
            self.attached = otel_context.attach(context)  # current until the call ends
            if attempt != 1:  # (the place's attributes say 1)
                span.set_attribute(n.ATTEMPTS, attempt)
            if attempt == 1:
                self.first = this
                propagate.inject(headers, context=context)
                return
        else:  # the call's span shows the last try's place, and counts it
            span.set_attributes({**place.where, n.ATTEMPTS: attempt})
        tracer = owner._tracer
        first = self.first
        if first is not None and first.span is None:
            first.span = _try_span(tracer, span, first)
            _end_try_span(first)
        this.span = _try_span(tracer, span, this)
        propagate.inject(headers, context=trace.set_span_in_context(this.span))
        last = self.last
        failed = _error_type(last.status, last.error) if last is not None else None
        owner._m.retries.add(1, {n.SERVICE: self.service, n.ERROR_TYPE: failed or "_OTHER"})

    def attempt_end(self, status: int | None, error: BaseException | None) -> None:
        this = self.open
        if this is None:
            return
        duration = time.perf_counter() - this.start
        this.end_ns = time.time_ns()
        self.open, self.last = None, this
        this.status, this.error = status, error
        place = this.place
        m = self.owner._m
        active = m.active
        if place.active_key in active:  # (not after uninstrument() cleared it)
            active[place.active_key] -= 1
        if error is None and (status is None or status < 400):
            attrs = place.outcomes.get((status, None)) or place.metric_attrs(status, None)
        else:
            attrs = place.metric_attrs(status, n.error_type(status, error))
        m.request_duration.record(duration, attrs)
        if this.span is not None:
            _end_try_span(this)

    def end(self, error: BaseException | None) -> None:
        if self.open is not None:  # cancelled (or failed) with a try in flight
            self.attempt_end(None, error)
        if self.attached is not None:
            otel_context.detach(self.attached)
            self.attached = None
        span = self.span
        if span is None:  # no try was made (discovery never answered, say)
            span = self.owner._tracer.start_span(
                _call_name(self.service),
                kind=SpanKind.CLIENT,
                attributes={
                    n.HTTP_REQUEST_METHOD: "POST",
                    n.SERVICE: self.service,
                    n.ENDPOINT_MODE: self.mode,
                    n.ATTEMPTS: 0,
                },
                start_time=self.start_ns,
            )
        elif not span.is_recording():  # sampled out: nothing to add
            span.end()
            return
        # (aioeas.attempts is set as tries start: what is left is the last one's outcome)
        last = self.last
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


def _error_type(status: int | None, error: BaseException | None) -> str | None:
    if error is None and (status is None or status < 400):
        return None  # (the common case, without a call)
    return n.error_type(status, error)


def _try_span(tracer: Tracer, parent: Span, this: _Try) -> Span:
    attrs: Attributes = {**this.place.try_attrs, n.ATTEMPT: this.number}
    if this.number > 1:
        attrs[n.HTTP_REQUEST_RESEND_COUNT] = this.number - 1
    return tracer.start_span(
        "POST",
        context=trace.set_span_in_context(parent),
        kind=SpanKind.CLIENT,
        attributes=attrs,
        start_time=this.start_ns,
    )


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


class PredictTracing:
    """The predict half of ``OtelInstrument`` (``aioeas.client.telemetry.Instrument``)."""

    _tracer: Tracer
    _m: Instruments
    #: places by (service, endpoint mode, URL, backend)
    _places: dict[tuple[str, str, str, str | None], _Place]

    def call(self, service: str, spec: EndpointSpec | None) -> _Call:
        return _Call(self, service, _MODES.get(type(spec)) or _mode(spec))

    def _new_place(self, call: _Call, url: str, backend: str | None) -> _Place:
        if len(self._places) >= PLACES:
            self._places.clear()
        place = _Place(call.service, call.mode, url, backend)
        self._places[call.service, call.mode, url, backend] = place
        return place

    def discovered(self, service: str, backends: int, ok: bool) -> None:
        outcome = "success" if ok else "failure"
        self._m.discovery_refreshes.add(1, {n.SERVICE: service, n.DISCOVERY_OUTCOME: outcome})
        self._m.discovery_backends.set(backends, {n.SERVICE: service})
