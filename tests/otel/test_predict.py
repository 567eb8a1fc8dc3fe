"""Predict traces and metrics against the emulator, whose verifier checks every signature.

A VPC direct client over three weighted backends whose service refuses the first two tries
(503): one ``EAS predict`` span, three ``POST`` children, the trace context each try sent,
the HTTP conventions' attributes, and the metrics. No secret anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Mapping
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from aioeas import (
    ENDPOINT_TYPE_DIRECT,
    DiscoveryConfig,
    Hooks,
    PredictClient,
    RetryPolicy,
    ServiceError,
    StringRequest,
    Timeout,
)
from aioeas.client import telemetry
from aioeas.client.transport import HTTPResponse
from aioeas.emulator import Emulator, Reject, current_call
from aioeas.errors import ConnectError, DecodeError
from aioeas.otel import names as n
from aioeas.otel import predict as predict_module
from aioeas.otel.predict import PredictTracing
from tests.otel.conftest import Otel, points

TOKEN = "tr4ce-T0KEN-never-shown=="
NO_WAIT = RetryPolicy(max_attempts=3, backoff_base=0.0, jitter=0.0)
NO_RETRY = RetryPolicy(max_attempts=1)


def _traceparent(value: str) -> tuple[int, int]:
    """(trace id, parent span id) of a W3C ``traceparent`` header."""
    version, trace_id, span_id, _flags = value.split("-")
    assert version == "00"
    return int(trace_id, 16), int(span_id, 16)


class Seen:
    """What the service got: per try, the backend and the headers of interest."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.tries: list[dict[str, Any]] = []

    def __call__(self, body: bytes) -> bytes:
        call = current_call()
        self.tries.append(
            {
                "backend": call.backend,
                "traceparent": call.headers.get("traceparent"),
                "authorization": call.headers.get("Authorization", ""),
            }
        )
        if len(self.tries) <= self.fail:
            raise Reject("busy", 503)
        return body


def _no_secret(otel: Otel, secrets: list[str]) -> None:
    """No span attribute, event, link or status, nor metric attribute, holds a secret."""
    texts = []
    for span in otel.spans():
        texts.append(json.dumps(dict(span.attributes or {})))
        texts.append(str(span.status.description))
        texts.extend(json.dumps(dict(e.attributes or {})) + e.name for e in span.events)
        texts.extend(json.dumps(dict(link.attributes or {})) for link in span.links)
    for name, pts in otel.metrics().items():
        texts.append(name)
        texts.extend(json.dumps(dict(p.attributes)) for p in pts)
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret
        assert secret not in blob


async def test_a_retried_direct_predict_is_one_span_with_a_child_per_try(otel: Otel) -> None:
    seen = Seen(fail=2)
    async with Emulator(token=TOKEN, builtins=False) as emu:
        svc = emu.add_service("w", seen, weights=[1, 2, 3])
        ports = {b.name: b.port for b in svc.backends}
        async with PredictClient(
            emu.url, "w", endpoint_type=ENDPOINT_TYPE_DIRECT, token=TOKEN, retry=NO_WAIT
        ) as client:
            answer = await client.predict(StringRequest("hello"))
    assert answer.to_bytes() == b"hello"  # signed tries, traceparent added: all verified

    [call] = otel.spans("EAS predict w")
    tries = sorted(otel.spans("POST"), key=lambda s: s.attributes[n.ATTEMPT])
    assert call.kind is SpanKind.CLIENT
    assert call.parent is None
    assert [t.attributes[n.ATTEMPT] for t in tries] == [1, 2, 3]
    assert all(t.parent is not None and t.parent.span_id == call.context.span_id for t in tries)
    assert all(t.context.trace_id == call.context.trace_id for t in tries)
    assert all(t.kind is SpanKind.CLIENT for t in tries)

    # each try went where the service saw it, and carried trace context the server can use:
    # the first the call's (its span was made once a retry came), the others their own
    assert [s["backend"] for s in seen.tries] == [
        next(name for name, p in ports.items() if p == t.attributes[n.SERVER_PORT]) for t in tries
    ]
    sent = [_traceparent(s["traceparent"]) for s in seen.tries]
    assert sent[0] == (call.context.trace_id, call.context.span_id)
    assert sent[1:] == [(t.context.trace_id, t.context.span_id) for t in tries[1:]]
    assert all(s["authorization"].startswith("EAS ") for s in seen.tries)  # signed mode

    last_port = tries[-1].attributes[n.SERVER_PORT]
    assert dict(call.attributes or {}) == {
        n.HTTP_REQUEST_METHOD: "POST",
        n.SERVICE: "w",
        n.ENDPOINT_MODE: "direct",
        n.SERVER_ADDRESS: "127.0.0.1",
        n.SERVER_PORT: last_port,
        n.URL_FULL: f"http://127.0.0.1:{last_port}/api/predict/w",
        n.BACKEND: f"127.0.0.1:{last_port}",
        n.HTTP_RESPONSE_STATUS_CODE: 200,
        n.ATTEMPTS: 3,
    }
    assert call.status.status_code is StatusCode.UNSET
    assert [t.attributes.get(n.HTTP_RESPONSE_STATUS_CODE) for t in tries] == [503, 503, 200]
    assert [t.attributes.get(n.ERROR_TYPE) for t in tries] == ["503", "503", None]
    assert [t.status.status_code for t in tries] == [StatusCode.ERROR] * 2 + [StatusCode.UNSET]
    assert [t.attributes.get(n.HTTP_REQUEST_RESEND_COUNT) for t in tries] == [None, 1, 2]
    assert len({t.attributes[n.SERVER_PORT] for t in tries}) >= 2  # a retry avoids its backend
    for t in tries:
        port = t.attributes[n.SERVER_PORT]
        assert t.attributes[n.BACKEND] == f"127.0.0.1:{port}"
        assert t.attributes[n.URL_FULL] == f"http://127.0.0.1:{port}/api/predict/w"
    # the tries are in order, inside the call
    assert call.start_time <= tries[0].start_time
    assert all(a.end_time <= b.start_time for a, b in itertools.pairwise(tries))
    assert tries[-1].end_time <= call.end_time

    metrics = otel.metrics()
    durations = metrics[n.HTTP_CLIENT_REQUEST_DURATION]
    assert sum(p.count for p in durations) == 3
    assert [p.count for p in points(metrics, n.HTTP_CLIENT_REQUEST_DURATION, error__type="503")]
    assert (
        sum(p.count for p in points(metrics, n.HTTP_CLIENT_REQUEST_DURATION, error__type="503"))
        == 2
    )
    ok = points(metrics, n.HTTP_CLIENT_REQUEST_DURATION, http__response__status_code=200)
    assert [p.count for p in ok] == [1]
    assert n.ERROR_TYPE not in ok[0].attributes
    assert ok[0].attributes[n.SERVER_PORT] == last_port
    assert ok[0].attributes[n.HTTP_REQUEST_METHOD] == "POST"
    active = metrics[n.HTTP_CLIENT_ACTIVE_REQUESTS]
    assert len(active) == len({t.attributes[n.SERVER_PORT] for t in tries})
    assert all(p.value == 0 for p in active)  # every try that started ended
    [retries] = metrics[n.RETRIES]
    assert retries.value == 2
    assert dict(retries.attributes) == {n.SERVICE: "w", n.ERROR_TYPE: "503"}
    refreshes = points(metrics, n.DISCOVERY_REFRESHES, aioeas__discovery__outcome="success")
    assert refreshes
    assert refreshes[0].value >= 1
    [backends] = metrics[n.DISCOVERY_BACKENDS]
    assert backends.value == 3
    assert dict(backends.attributes) == {n.SERVICE: "w"}

    _no_secret(otel, [TOKEN] + [s["authorization"] for s in seen.tries])


async def test_one_try_is_one_span_and_gateway_attributes(otel: Otel) -> None:
    seen = Seen(fail=0)
    async with Emulator(token=TOKEN, builtins=False) as emu:
        emu.add_service("g", seen)
        # what runs during the call (a hook; aiohttp's own instrumentation) is in its span
        current: list[trace.Span] = []
        hooks = Hooks(on_end=lambda _: current.append(trace.get_current_span()))
        async with PredictClient(emu.url, "g", token=TOKEN, hooks=hooks) as client:
            await client.predict(StringRequest("x"), query={"user": "private-value"})
        assert trace.get_current_span() is trace.INVALID_SPAN  # and nothing after it
    [call] = otel.spans()
    assert [s.get_span_context() for s in current] == [call.context]
    assert call.name == "EAS predict g"
    assert call.attributes[n.ENDPOINT_MODE] == "gateway"
    assert call.attributes[n.ATTEMPTS] == 1
    assert call.attributes[n.SERVER_PORT] == emu.port
    # the signed query is the caller's data: not in url.full
    assert call.attributes[n.URL_FULL] == f"http://127.0.0.1:{emu.port}/api/predict/g"
    assert n.BACKEND not in call.attributes
    assert _traceparent(seen.tries[0]["traceparent"]) == (
        call.context.trace_id,
        call.context.span_id,
    )
    _no_secret(otel, [TOKEN, seen.tries[0]["authorization"], "private-value"])


async def test_a_failed_call_has_error_type_and_raw_token_stays_out(otel: Otel) -> None:
    seen = Seen(fail=5)
    async with Emulator(token=TOKEN, builtins=False) as emu:
        emu.add_service("c", seen)
        custom = f"{emu.url}/api/predict/c"  # a custom URL: the raw token is sent
        async with PredictClient(custom_url=custom, token=TOKEN, retry=NO_WAIT) as client:
            with pytest.raises(ServiceError) as raised:
                await client.predict(StringRequest("x"))
    assert raised.value.status == 503
    assert [s["authorization"] for s in seen.tries] == [TOKEN] * 3
    [call] = otel.spans("EAS predict")  # a custom URL names no service
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes[n.ERROR_TYPE] == "503"
    assert call.attributes[n.ENDPOINT_MODE] == "custom"
    assert call.attributes[n.ATTEMPTS] == 3
    assert len(otel.spans("POST")) == 3
    _no_secret(otel, [TOKEN])


async def test_a_cancelled_call_ends_its_spans_and_its_request_count(otel: Otel) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow(body: bytes) -> bytes:
        arrived.set()
        await release.wait()
        return body

    async with Emulator(token=TOKEN, builtins=False) as emu:
        emu.add_service("slow", slow)
        async with PredictClient(emu.url, "slow", token=TOKEN) as client:
            task = asyncio.create_task(client.predict(StringRequest("x")))
            await arrived.wait()
            [active] = otel.metrics()[n.HTTP_CLIENT_ACTIVE_REQUESTS]
            assert active.value == 1
            assert otel.spans() == []  # in flight
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            release.set()
    [call] = otel.spans()
    assert call.attributes[n.ERROR_TYPE] == "CancelledError"
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes[n.ATTEMPTS] == 1
    [active] = otel.metrics()[n.HTTP_CLIENT_ACTIVE_REQUESTS]
    assert active.value == 0
    [duration] = otel.metrics()[n.HTTP_CLIENT_REQUEST_DURATION]
    assert duration.count == 1
    assert duration.attributes[n.ERROR_TYPE] == "CancelledError"


async def test_attributes_made_once_carry_nothing_from_one_call_to_the_next(otel: Otel) -> None:
    """A place's attributes are made once and shared by its calls (the hot path makes no
    dict for them): a retried, failed call leaves no trace in the next call's span or
    measurement, nor a 503 outcome in a 200 one."""
    seen = Seen(fail=3)  # the first call fails its three tries, the second is answered
    async with Emulator(token=TOKEN, builtins=False) as emu:
        emu.add_service("p", seen)
        async with PredictClient(emu.url, "p", token=TOKEN, retry=NO_WAIT) as client:
            with pytest.raises(ServiceError):
                await client.predict(StringRequest("x"))
            await client.predict(StringRequest("y"))
    first, second = sorted(otel.spans("EAS predict p"), key=lambda s: s.start_time)
    assert first.attributes[n.ATTEMPTS] == 3
    assert first.attributes[n.ERROR_TYPE] == "503"
    assert dict(second.attributes or {}) == {
        n.HTTP_REQUEST_METHOD: "POST",
        n.SERVICE: "p",
        n.ENDPOINT_MODE: "gateway",
        n.SERVER_ADDRESS: "127.0.0.1",
        n.SERVER_PORT: emu.port,
        n.URL_FULL: f"http://127.0.0.1:{emu.port}/api/predict/p",
        n.HTTP_RESPONSE_STATUS_CODE: 200,
        n.ATTEMPTS: 1,
    }
    assert second.status.status_code is StatusCode.UNSET
    assert len(otel.spans("POST")) == 3  # the second call's one try has no span of its own
    metrics = otel.metrics()
    failed = points(metrics, n.HTTP_CLIENT_REQUEST_DURATION, error__type="503")
    assert [p.count for p in failed] == [3]
    assert failed[0].attributes[n.HTTP_RESPONSE_STATUS_CODE] == 503
    ok = points(metrics, n.HTTP_CLIENT_REQUEST_DURATION, http__response__status_code=200)
    assert [p.count for p in ok] == [1]
    assert n.ERROR_TYPE not in ok[0].attributes


async def test_the_kept_attributes_are_bounded(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    """Places (service, URL, backend) and their outcomes are kept up to a bound, then
    started over: a process that calls many URLs does not grow, and its spans and metrics
    stay right."""
    monkeypatch.setattr(predict_module, "PLACES", 2)
    monkeypatch.setattr(predict_module, "OUTCOMES", 2)
    statuses = iter([200, 404, 500, 200, 404])

    def answer(body: bytes) -> bytes:
        status = next(statuses)
        if status != 200:
            raise Reject("no", status)
        return body

    instrument = telemetry.active
    assert isinstance(instrument, PredictTracing)
    async with Emulator(token=TOKEN, builtins=False) as emu:
        for name in ("a", "b", "c"):
            emu.add_service(name, lambda body: body)
        emu.add_service("s", answer)
        for name in ("a", "b", "c"):
            async with PredictClient(emu.url, name, token=TOKEN) as client:
                await client.predict(StringRequest("x"))
            assert len(instrument._places) <= 2
        async with PredictClient(emu.url, "s", token=TOKEN, retry=NO_RETRY) as client:
            for _ in range(5):
                with contextlib.suppress(ServiceError):
                    await client.predict(StringRequest("x"))
        [place] = [p for key, p in instrument._places.items() if key[0] == "s"]
        assert len(place.outcomes) <= 2
    assert {s.attributes[n.SERVICE] for s in otel.spans()} == {"a", "b", "c", "s"}
    metrics = otel.metrics()
    by_status = {
        status: sum(
            p.count
            for p in points(
                metrics,
                n.HTTP_CLIENT_REQUEST_DURATION,
                aioeas__service="s",
                http__response__status_code=status,
            )
        )
        for status in (200, 404, 500)
    }
    assert by_status == {200: 2, 404: 2, 500: 1}
    for status in (404, 500):
        [point] = points(
            metrics, n.HTTP_CLIENT_REQUEST_DURATION, http__response__status_code=status
        )
        assert point.attributes[n.ERROR_TYPE] == str(status)


class Scripted:
    """A transport answering from a script (an exception is raised), recording the
    headers of each request."""

    def __init__(self, *script: HTTPResponse | Exception) -> None:
        self.script = list(script)
        self.headers: list[dict[str, str]] = []

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> HTTPResponse:
        self.headers.append(dict(headers))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    async def close(self) -> None:
        pass


async def test_a_plain_call_whose_first_try_raises_goes_on_traced(otel: Otel) -> None:
    """A call with no option takes the client's fast first try, instrumented too: a try
    that raises (no answer) is ended and measured, and the retries that follow are children
    of the same call, each with its own trace context."""
    transport = Scripted(ConnectError("refused"), HTTPResponse(200, b"ok", {}))
    async with PredictClient(
        "http://eas.example:8080", "f", token=TOKEN, transport=transport, retry=NO_WAIT
    ) as client:
        assert client._plain is not None  # the call below takes the fast first try
        await client.predict(StringRequest("x"))
    [call] = otel.spans("EAS predict f")
    assert call.attributes[n.ATTEMPTS] == 2
    assert call.attributes[n.HTTP_RESPONSE_STATUS_CODE] == 200
    assert call.status.status_code is StatusCode.UNSET
    first, second = sorted(otel.spans("POST"), key=lambda s: s.attributes[n.ATTEMPT])
    assert first.parent is not None
    assert first.parent.span_id == call.context.span_id
    assert first.attributes[n.ERROR_TYPE] == "ConnectError"
    assert n.HTTP_RESPONSE_STATUS_CODE not in first.attributes
    assert second.attributes[n.HTTP_RESPONSE_STATUS_CODE] == 200
    sent = [_traceparent(h["traceparent"]) for h in transport.headers]
    assert sent == [
        (call.context.trace_id, call.context.span_id),
        (call.context.trace_id, second.context.span_id),
    ]
    failed = points(otel.metrics(), n.HTTP_CLIENT_REQUEST_DURATION, error__type="ConnectError")
    assert [p.count for p in failed] == [1]
    [active] = otel.metrics()[n.HTTP_CLIENT_ACTIVE_REQUESTS]
    assert active.value == 0
    _no_secret(otel, [TOKEN] + [h["Authorization"] for h in transport.headers])


async def test_an_answer_that_does_not_decode_fails_the_call_not_the_try(otel: Otel) -> None:
    """A 200 whose Content-Encoding aioeas cannot undo: the try got its answer (200, no
    error), the call fails with the decoding error, and is not retried."""
    bad = HTTPResponse(200, b"??", {"content-encoding": "bogus"})
    transport = Scripted(bad)
    async with PredictClient(
        "http://eas.example:8080", "d", token=TOKEN, transport=transport, retry=NO_WAIT
    ) as client:
        with pytest.raises(DecodeError):
            await client.predict(StringRequest("x"))
    [call] = otel.spans()  # one try: no child span
    assert call.attributes[n.ERROR_TYPE] == "DecodeError"
    assert call.attributes[n.HTTP_RESPONSE_STATUS_CODE] == 200
    assert call.attributes[n.ATTEMPTS] == 1
    assert call.status.status_code is StatusCode.ERROR
    [duration] = otel.metrics()[n.HTTP_CLIENT_REQUEST_DURATION]
    assert duration.attributes[n.HTTP_RESPONSE_STATUS_CODE] == 200
    assert n.ERROR_TYPE not in duration.attributes
    assert len(transport.headers) == 1


async def test_a_failed_discovery_refresh_is_counted_as_a_failure_of_its_service(
    otel: Otel,
) -> None:
    """A refresh that takes a list counts a success and sets the backends gauge; one that
    fails counts a failure of the same service and keeps the list it had (no clock: each
    refresh is asked for once)."""
    from aioeas.client.discovery import Discovery
    from tests.client.test_discovery_edges import Script, listing

    transport = Script((200, listing({"ip": "10.0.0.1", "port": 8, "weight": 1})), (503, b""))
    disc = Discovery(transport, base="http://gw", service="svc", config=DiscoveryConfig(), env={})
    assert await disc.refresh() is True
    assert await disc.refresh() is False
    metrics = otel.metrics()
    outcomes = {
        p.attributes[n.DISCOVERY_OUTCOME]: (p.value, p.attributes[n.SERVICE])
        for p in metrics[n.DISCOVERY_REFRESHES]
    }
    assert outcomes == {"success": (1, "svc"), "failure": (1, "svc")}
    [backends] = metrics[n.DISCOVERY_BACKENDS]
    assert backends.value == 1  # the list it had is kept
    assert dict(backends.attributes) == {n.SERVICE: "svc"}
