"""``PredictClient``: the async client of an EAS predict service.

It owns a keep-alive connection pool (its own HTTP/1.1 transport, ``h1.H1Transport``; or a
caller's aiohttp session, borrowed), an endpoint
(gateway, custom URL, in-cluster, or VPC direct with background discovery), and per call
builds the URL, signs a fresh headers dict, retries by its ``RetryPolicy`` and maps every
failure to an ``aioeas`` error. Two ways to set it up, one object::

    async with PredictClient("http://1234.cn-shanghai.pai-eas.aliyuncs.com", "mnist",
                             token=token, timeout=2.0) as client:      # idiomatic
        resp = await client.predict(req)

    client = PredictClient("http://1234.cn-shanghai.pai-eas.aliyuncs.com", "mnist")
    client.set_token(token)                                             # familiar
    client.set_timeout(2000)
    await client.init()
    resp = await client.predict(req)
    await client.close()

The setters of the official SDK only change the same configuration the keyword arguments
set: endpoint, service, endpoint type and pool size before ``init()``; token, timeout,
retry count, headers and content type at any time (they are read by every call).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random as _random
import ssl as _ssl
import time
import warnings
from collections.abc import AsyncIterable, Callable, Coroutine, Iterable, Mapping
from typing import Any, Literal, Protocol, TypeVar, overload

import aiohttp

from aioeas.client import compression as _compression
from aioeas.client import telemetry as _telemetry
from aioeas.client.auth import DEFAULT_CONTENT_TYPE, Signer
from aioeas.client.checks import (
    CheckedHeaders,
    check_header_value,
    check_headers,
    check_service_name,
    check_url,
)
from aioeas.client.config import DiscoveryConfig, PoolLimits, Timeout
from aioeas.client.discovery import Discovery
from aioeas.client.endpoints import (
    ENDPOINT_TYPE_DEFAULT,
    CustomEndpoint,
    DirectEndpoint,
    EndpointSpec,
    GatewayEndpoint,
    QueryParams,
    encode_query,
    predict_resource,
    resolve_endpoint,
    with_path_and_query,
)
from aioeas.client.fanout import FanOut, ProgressCallback
from aioeas.client.h1 import H1Transport
from aioeas.client.hooks import AttemptEnd, AttemptRetry, AttemptStart, Hooks
from aioeas.client.lifecycle import AsyncResource, State
from aioeas.client.retry import RetryPolicy, RetrySchedule
from aioeas.client.transport import AiohttpTransport, HTTPResponse, Transport, never_sent
from aioeas.client.wrr import Backend
from aioeas.errors import (
    AuthError,
    ConnectError,
    EASError,
    RequestTimeoutError,
    RetryableServiceError,
    ServiceError,
    UsageError,
)

__all__ = ["PredictClient", "PredictRequest"]

_log = logging.getLogger(__name__)

R_co = TypeVar("R_co", covariant=True)
R = TypeVar("R")

# Headers the client computes itself; the same names given by the caller are dropped so a
# request never carries two Content-Types or a signature over other values.
_OWN_HEADERS = frozenset({"content-type", "content-length", "content-md5", "date", "authorization"})


def _merge_headers(
    into: CheckedHeaders, source: Mapping[str, str]
) -> tuple[CheckedHeaders, str | None]:
    """``source`` added to ``into``, leaving out the headers the client sets itself (a
    Content-Type among them is returned apart, as the type asked for)."""
    given_type: str | None = None
    for key, value in source.items():
        lowered = key.lower()
        if lowered in _OWN_HEADERS:
            if lowered == "content-type":
                given_type = value
            continue
        into[key] = value
    return into, given_type


class PredictRequest(Protocol[R_co]):
    """What ``predict`` needs of a request: the body, and a parser for the answer.

    Every ``aioeas`` request (``TFRequest``, ``StringRequest``...) is one; so is any object
    of a custom processor's own format with these two methods (and, optionally, a
    ``content_type`` attribute).
    """

    def to_bytes(self) -> bytes: ...

    def parse_response(self, body: bytes) -> R_co: ...


class PredictClient(AsyncResource):
    """An async client of one EAS predict service; see the module docstring."""

    def __init__(
        self,
        endpoint: str = "",
        service_name: str = "",
        custom_url: str = "",
        *,
        token: str | None = None,
        endpoint_type: str = ENDPOINT_TYPE_DEFAULT,
        timeout: float | Timeout = 5.0,
        retry: RetryPolicy | None = None,
        pool: PoolLimits | None = None,
        discovery: DiscoveryConfig | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        compression: str | None = None,
        session: aiohttp.ClientSession | None = None,
        ssl: _ssl.SSLContext | None = None,
        transport: Transport | Literal["h1", "aiohttp"] | None = None,
        hooks: Hooks | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        """Keyword arguments, all optional:

        ``token``: the service token (requests are signed; raw with ``custom_url``).
        ``endpoint_type``: ``ENDPOINT_TYPE_DEFAULT`` (gateway) or ``ENDPOINT_TYPE_DIRECT``.
        ``timeout``: per attempt, seconds or a ``Timeout``. ``retry``: a ``RetryPolicy``.
        ``pool``: ``PoolLimits`` of an own session. ``discovery``: ``DiscoveryConfig`` for
        direct mode. ``headers``: sent with every request. ``content_type``: when the
        request has none. ``compression``: request body compression (``gzip``, ``zlib``,
        ``snappy``, ``lz4``, ``zstd``). ``session``: a ``ClientSession`` to borrow (not
        closed here). ``ssl``: an ``ssl.SSLContext`` to verify HTTPS endpoints with (a
        private CA); certificates are always verified, by default against the system's
        CAs. ``transport``: what sends the requests: ``"h1"`` (the default without a
        ``session``: the client's own HTTP/1.1 connections, lighter on CPU than aiohttp's
        request machinery), ``"aiohttp"`` (an aiohttp session, own or the borrowed
        ``session``: the way back if a server needs what only aiohttp does), or any ``Transport``
        object (tests; not closed here). ``hooks``: attempt
        callbacks. ``env``: instead of ``os.environ`` (NAMESPACE, POD_NAME). ``clock``:
        wall time for the signature's Date; ``random``: jitter source in [0, 1).
        """
        if session is not None and transport is not None and transport != "aiohttp":
            raise UsageError("give a session or a transport, not both")
        if isinstance(transport, str) and transport not in ("h1", "aiohttp"):
            raise UsageError(f"transport must be 'h1', 'aiohttp' or a Transport, got {transport!r}")
        self._transport_kind = transport if isinstance(transport, str) else "h1"
        if ssl is not None and not isinstance(ssl, _ssl.SSLContext):
            raise UsageError(f"ssl must be an ssl.SSLContext, got {type(ssl).__name__}")
        self._ssl = ssl
        self._state = State.NEW
        self._endpoint = _endpoint(endpoint)
        self._service_name = check_service_name(service_name or "")
        self._custom_url = check_url("custom_url", custom_url or "")
        self._endpoint_type = endpoint_type
        self._token = check_header_value("the token", token or "", secret=True)
        self._signer: Signer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeout = Timeout.coerce(timeout)
        self._retry = retry if retry is not None else RetryPolicy()
        self._pool = pool if pool is not None else PoolLimits()
        self._discovery_config = discovery if discovery is not None else DiscoveryConfig()
        self._headers = check_headers(headers or {})
        self._content_type = _content_type(content_type)
        self._base: tuple[dict[str, str], str | None] | None = None  # see _base_headers
        self._compression = _compression.check(compression)
        self._session = session
        self._transport: Transport | None = None if isinstance(transport, str) else transport
        self._owns_transport = self._transport is None
        self._hooks = hooks if hooks is not None else Hooks()
        self._env = env
        self._clock = clock
        self._random = random
        self._spec: EndpointSpec | None = None
        # (URL, signed resource, URL as shown) of a call without path or query, when every
        # call goes to the same place (not direct mode): made once, when the client opens
        self._fixed_target: tuple[str, str | None, str] | None = None
        # The same, while the client is open and a call may take predict's fast path (no
        # attempt hooks, no compression): one check per call
        self._plain: tuple[str, str | None, str] | None = None
        self._discovery: Discovery | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def __repr__(self) -> str:
        where = self._custom_url or self._endpoint or "(in-cluster)"
        auth = ", token=***" if self._token else ""
        return f"<PredictClient {self._service_name or '-'} at {where} [{self._state.value}]{auth}>"

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_state", None) is State.OPEN:
            _warn(
                f"unclosed {self!r}: use 'async with' or await close()",
                ResourceWarning,
                source=self,
            )
            # The refresh task does not hold the client: left alone, it would poll
            # discovery for as long as the loop runs. Stop it (from any thread).
            discovery: Discovery | None = getattr(self, "_discovery", None)
            task = discovery.task if discovery is not None else None
            if task is not None and not task.done():
                loop = task.get_loop()
                if not loop.is_closed():
                    loop.call_soon_threadsafe(task.cancel)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called (a closed client cannot reopen)."""
        return self._state is State.CLOSED

    def _open(self) -> None:
        """Create the session, resolve the endpoint and start discovery: all without
        awaiting, so concurrent first calls cannot open twice."""
        if self._state is State.OPEN:
            return
        if self._state is State.CLOSED:
            raise UsageError("this PredictClient is closed; make a new one")
        self._loop = asyncio.get_running_loop()  # a session belongs to a running loop
        env = self._env if self._env is not None else os.environ
        spec = resolve_endpoint(
            endpoint=self._endpoint,
            service_name=self._service_name,
            custom_url=self._custom_url,
            endpoint_type=self._endpoint_type,
            env=env,
        )
        if self._transport is None:
            if self._session is None and self._transport_kind == "h1":
                self._transport = H1Transport(pool=self._pool, ssl=self._ssl)
            else:  # a borrowed session, or asked for
                self._transport = AiohttpTransport(
                    session=self._session, pool=self._pool, ssl=self._ssl
                )
        if isinstance(spec, DirectEndpoint):
            self._discovery = Discovery(
                self._transport,
                base=spec.base,
                service=self._service_name,
                config=self._discovery_config,
                env=env,
            )
            self._discovery.start()
        self._spec = spec
        self._fixed_target = self._fixed(spec)
        hooked = self._hooks.on_start is not None or self._hooks.on_end is not None
        plain = not hooked and self._compression is None
        self._plain = self._fixed_target if plain else None
        self._state = State.OPEN
        _log.debug("opened %r", self)

    async def init(self) -> None:
        """Open the client: session, endpoint, discovery (the official ``init()``).

        Optional: the first predict opens the client too. In direct mode it does not wait
        for the first backend list; the first predict does, up to
        ``DiscoveryConfig.startup_timeout``.
        """
        self._open()
        if isinstance(self._transport, (AiohttpTransport, H1Transport)):
            await self._transport.open()

    async def close(self) -> None:
        """Stop discovery and close the session if it is the client's own. Idempotent."""
        if self._state is State.CLOSED:
            return
        self._state = State.CLOSED
        self._plain = None
        self._signer = None  # the keyed HMAC holds the token: gone with the client
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            # its session and tasks belong to a loop that is not running (asyncio.run() has
            # closed it): nothing of them can be awaited here, and nothing is left to send
            self._discovery = None
            if self._owns_transport:
                self._transport = None  # its sockets close when it is collected
            return
        discovery, self._discovery = self._discovery, None
        if discovery is not None:
            await discovery.stop()
        if self._transport is not None and self._owns_transport:
            await self._transport.close()
        _log.debug("closed %r", self)

    # -- the familiar setters ------------------------------------------------------------

    def _before_open(self, what: str) -> None:
        if self._state is not State.NEW:
            raise UsageError(f"{what} can only be changed before the client is opened")

    def set_endpoint(self, endpoint: str) -> None:
        """The gateway, the regional VPC endpoint (direct mode), or '' for in-cluster."""
        self._before_open("the endpoint")
        self._endpoint = _endpoint(endpoint)

    def set_service_name(self, service_name: str) -> None:
        self._before_open("the service name")
        self._service_name = check_service_name(service_name or "")

    def set_endpoint_type(self, endpoint_type: str) -> None:
        """``ENDPOINT_TYPE_DIRECT`` for VPC direct connection; the gateway by default."""
        self._before_open("the endpoint type")
        self._endpoint_type = endpoint_type

    def set_max_connection_count(self, count: int) -> None:
        """The pool's connection limit (default 100); before the session is made."""
        self._before_open("the connection count")
        self._pool = PoolLimits(
            max_connections=count,
            max_per_host=self._pool.max_per_host,
            keepalive_timeout=self._pool.keepalive_timeout,
        )

    def set_token(self, token: str) -> None:
        self._token = check_header_value("the token", token or "", secret=True)
        self._signer = None

    def set_timeout(self, timeout: float) -> None:
        """Per-attempt timeout in **milliseconds**, as the official SDK (default 5000)."""
        self._timeout = Timeout.from_millis(timeout)

    def set_retry_count(self, count: int) -> None:
        """Tries in all (default 5); 0 still makes one try. Backoff and deadline are kept."""
        attempts = RetryPolicy.from_retry_count(count).max_attempts
        self._retry = RetryPolicy(
            max_attempts=attempts,
            backoff_base=self._retry.backoff_base,
            backoff_factor=self._retry.backoff_factor,
            backoff_max=self._retry.backoff_max,
            jitter=self._retry.jitter,
            deadline=self._retry.deadline,
            retry_on_timeout=self._retry.retry_on_timeout,
        )

    def set_content_type(self, content_type: str) -> None:
        self._content_type = _content_type(content_type or None)
        self._base = None

    def add_extra_headers(self, headers: Mapping[str, str]) -> None:
        """Headers sent with every later request (copied: later changes to ``headers``
        do not leak in)."""
        if not isinstance(headers, Mapping):
            raise UsageError(f"headers must be a mapping, got {type(headers).__name__}")
        given = check_headers({str(k): str(v) for k, v in headers.items()})
        self._headers = {**self._headers, **given}
        self._base = None

    # -- read-only views -------------------------------------------------------------

    @property
    def service_name(self) -> str:
        return self._service_name

    @property
    def endpoint(self) -> str:
        return self._endpoint

    @property
    def timeout(self) -> Timeout:
        return self._timeout

    @property
    def retry(self) -> RetryPolicy:
        return self._retry

    @property
    def backends(self) -> tuple[Backend, ...]:
        """Direct mode: the backends now in rotation (empty otherwise)."""
        return self._discovery.backends if self._discovery is not None else ()

    @property
    def discovery_task(self) -> asyncio.Task[None] | None:
        """Direct mode: the background refresh task while it runs."""
        return self._discovery.task if self._discovery is not None else None

    # -- predicting ----------------------------------------------------------------------

    async def predict(
        self,
        request: PredictRequest[R],
        *,
        path: str | None = None,
        query: QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | Timeout | None = None,
        retry: RetryPolicy | None = None,
        compression: str | None = None,
        idempotent: bool = True,
        deadline: float | None = None,
    ) -> R:
        """Send ``request`` and parse the answer with its ``parse_response``.

        ``path`` goes after the service (``/api/predict/{service}/{path}``) and ``query``
        after that; both are signed. The other options override the client's for this call;
        ``deadline`` (seconds) bounds the whole call, retries and waits included, as the
        retry policy's ``deadline`` does (no try starts after it, a try is cut short at it).

        ``idempotent=False``: the request must not run twice (it charges, counts, writes).
        By default a try is repeated after a timeout, a cut connection or a 5xx, and any of
        those may come after the service got the request, so the model may run twice.
        With ``idempotent=False`` a try is repeated only when its connection could not be
        opened (nothing was sent); any other failure is raised as it is.

        Raises ``AuthError`` (401/403) or ``ServiceError`` (other 4xx) at once;
        ``RetryableServiceError``, ``ConnectError`` or ``RequestTimeoutError`` after the
        last try; ``DecodeError`` from the parser.
        """
        to_bytes = getattr(request, "to_bytes", None) or getattr(request, "to_string", None)
        if to_bytes is None:
            raise UsageError(f"{type(request).__name__} has no to_bytes(): not a request")
        body = to_bytes()
        content_type = getattr(request, "content_type", None)
        fixed = self._plain
        if (
            fixed is not None
            and type(body) is bytes
            and path is None
            and query is None
            and headers is None
            and timeout is None
            and retry is None
            and compression is None
            and deadline is None
            and self._retry.deadline is None
            and (
                content_type is None or (type(content_type) is str and content_type in _GOOD_TYPES)
            )
        ):
            # The common call (an open gateway or custom-URL client, no hooks, no option):
            # its first try is made here, straight to the transport, and only a failed try
            # goes on to the retry loop. What a call costs on top of the HTTP request is
            # what a user's own loop around aiohttp would cost. (Instrumented, the same
            # way, in a method of its own: this path pays one check for it.)
            tel = _telemetry.active  # None unless instrumented (aioeas.otel)
            if tel is not None:
                answer = await self._first_try_traced(tel, body, content_type, fixed, idempotent)
                return request.parse_response(answer)
            loop = asyncio.get_running_loop()
            if loop is not self._loop:
                raise self._other_loop()
            transport = self._transport
            assert transport is not None
            url, resource, shown = fixed
            started = loop.time()
            try:
                resp = await transport.request(
                    "POST",
                    url,
                    headers=self._request_headers(
                        body, resource=resource, content_type=content_type, call_headers=None
                    ),
                    body=body,
                    timeout=self._timeout,
                )
                status = resp.status
                if 200 <= status < 300:
                    return request.parse_response(
                        _compression.decompress(resp.body, resp.headers.get("content-encoding"))
                    )
                tried: tuple[HTTPResponse | None, EASError | None] = (resp, _error_for(resp, shown))
            except EASError as exc:
                tried = (None, exc)
            answer = await self._after_first_try(body, content_type, idempotent, tried, started)
        else:
            answer = await self.predict_bytes(
                body,
                content_type=content_type,
                path=path,
                query=query,
                headers=headers,
                timeout=timeout,
                retry=retry,
                compression=compression,
                idempotent=idempotent,
                deadline=deadline,
            )
        return request.parse_response(answer)

    async def _first_try_traced(
        self,
        tel: _telemetry.Instrument,
        body: bytes,
        content_type: str | None,
        fixed: tuple[str, str | None, str],
        idempotent: bool,
    ) -> bytes:
        """``predict``'s fast first try when instrumented: the same try, reported to a
        ``CallTrace`` (the try as it starts and ends, the call as it ends), and the
        retries after a failed one in ``_send`` with the same trace."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise self._other_loop()
        transport = self._transport
        assert transport is not None
        url, resource, shown = fixed
        started = loop.time()
        headers = self._request_headers(
            body, resource=resource, content_type=content_type, call_headers=None
        )
        call = tel.call(self._service_name, self._spec)
        try:
            call.attempt(1, shown, None, headers)  # trace context: not covered by signing
            resp = await transport.request(
                "POST", url, headers=headers, body=body, timeout=self._timeout
            )
            status = resp.status
            error = None if 200 <= status < 300 else _error_for(resp, shown)
            call.attempt_end(status, error)
            if error is None:
                answer = _compression.decompress(resp.body, resp.headers.get("content-encoding"))
                call.end(None)
                return answer
            tried: tuple[HTTPResponse | None, EASError | None] = (resp, error)
        except EASError as exc:
            call.attempt_end(None, exc)  # (nothing if the try ended already)
            tried = (None, exc)
        except BaseException as exc:  # cancelled
            call.end(exc)
            raise
        send = self._after_first_try(body, content_type, idempotent, tried, started, call)
        return await _telemetry.traced(send, call)

    def _after_first_try(
        self,
        body: bytes,
        content_type: str | None,
        idempotent: bool,
        tried: tuple[HTTPResponse | None, EASError | None],
        started: float,
        trace: _telemetry.CallTrace | None = None,
    ) -> Coroutine[Any, Any, bytes]:
        """The tries after a failed fast first try (plain or traced): ``_send`` with the
        client's own timeout and retry policy, going on from that try's outcome. Returns
        the coroutine itself, so the failure path gains no frame."""
        return self._send(
            body,
            content_type=content_type,
            path=None,
            query="",
            headers=None,
            timeout=self._timeout,
            policy=self._retry,
            idempotent=idempotent,
            tried=(tried, started),
            trace=trace,
        )

    async def predict_bytes(
        self,
        body: bytes | bytearray | memoryview | str,
        *,
        content_type: str | None = None,
        path: str | None = None,
        query: QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | Timeout | None = None,
        retry: RetryPolicy | None = None,
        compression: str | None = None,
        idempotent: bool = True,
        deadline: float | None = None,
    ) -> bytes:
        """Send raw bytes (a ``str`` as UTF-8) and return the raw answer: custom processors.
        The options are ``predict``'s."""
        if isinstance(body, str):
            data = body.encode("utf-8")
        elif isinstance(body, (bytes, bytearray, memoryview)):
            data = bytes(body)
        else:
            raise UsageError(f"a request body is bytes or str, got {type(body).__name__}")
        if compression:
            data = _compression.compress(data, _compression.check(compression))
        elif self._compression is not None:
            data = _compression.compress(data, self._compression)
        attempt_timeout = Timeout.coerce(timeout) if timeout is not None else self._timeout
        policy = retry if retry is not None else self._retry
        if deadline is not None:
            policy = policy.with_deadline(deadline)
        query_string = "" if query is None else check_url("the query", encode_query(query))
        if content_type is not None:
            content_type = _content_type(content_type)
        if headers is not None:
            headers = check_headers(headers)
        if self._state is not State.OPEN:
            self._open()
        tel = _telemetry.active  # None unless instrumented (aioeas.otel)
        call = None if tel is None else tel.call(self._service_name, self._spec)
        send = self._send(
            data,
            content_type=content_type,
            path=path,
            query=query_string,
            headers=headers,
            timeout=attempt_timeout,
            policy=policy,
            idempotent=idempotent,
            trace=call,
        )
        return await (send if call is None else _telemetry.traced(send, call))

    @overload
    def predict_many(
        self,
        requests: Iterable[PredictRequest[R]] | AsyncIterable[PredictRequest[R]],
        *,
        concurrency: int = ...,
        ordered: bool = ...,
        return_exceptions: Literal[False] = ...,
        progress: ProgressCallback | None = ...,
        timeout: float | Timeout | None = ...,
        retry: RetryPolicy | None = ...,
        idempotent: bool = ...,
        deadline: float | None = ...,
    ) -> FanOut[R]: ...

    @overload
    def predict_many(
        self,
        requests: Iterable[PredictRequest[R]] | AsyncIterable[PredictRequest[R]],
        *,
        concurrency: int = ...,
        ordered: bool = ...,
        return_exceptions: Literal[True],
        progress: ProgressCallback | None = ...,
        timeout: float | Timeout | None = ...,
        retry: RetryPolicy | None = ...,
        idempotent: bool = ...,
        deadline: float | None = ...,
    ) -> FanOut[R | Exception]: ...

    def predict_many(
        self,
        requests: Iterable[PredictRequest[R]] | AsyncIterable[PredictRequest[R]],
        *,
        concurrency: int = 64,
        ordered: bool = True,
        return_exceptions: bool = False,
        progress: ProgressCallback | None = None,
        timeout: float | Timeout | None = None,
        retry: RetryPolicy | None = None,
        idempotent: bool = True,
        deadline: float | None = None,
    ) -> FanOut[R] | FanOut[R | Exception]:
        """Predict every request, at most ``concurrency`` at once.

        In input order, answers that are ready wait behind a slower earlier one while new
        requests keep starting, up to four times ``concurrency`` held in all (so memory
        stays bounded and one slow request does not stall the run).

        The result is an async iterator over the answers (in input order, or as they
        complete with ``ordered=False``), an awaitable of the whole list, and an async
        context manager that cancels what is in flight on exit. With
        ``return_exceptions=True`` a failed request yields its exception instead of ending
        the run. ``progress(done, total)`` is called after each result. ``timeout``,
        ``retry``, ``idempotent`` and ``deadline`` apply to every request (each its own
        deadline), as in ``predict``.
        """

        async def call(request: PredictRequest[R]) -> R:
            return await self.predict(
                request, timeout=timeout, retry=retry, idempotent=idempotent, deadline=deadline
            )

        return FanOut(
            call,
            requests,
            concurrency=concurrency,
            ordered=ordered,
            return_exceptions=return_exceptions,
            progress=progress,
        )

    # -- one call, attempt by attempt -----------------------------------------------------

    def _target(
        self, spec: EndpointSpec, backend: Backend | None, path: str | None, query: str
    ) -> tuple[str, str | None]:
        """The URL of one attempt and the resource to sign (``None``: raw token)."""
        if isinstance(spec, CustomEndpoint):
            return with_path_and_query(spec.url, path, query), None
        resource = predict_resource(self._service_name, path, query)
        if isinstance(spec, GatewayEndpoint):
            return spec.base + resource, resource
        assert backend is not None
        return f"http://{backend.address}{resource}", resource

    def _fixed(self, spec: EndpointSpec) -> tuple[str, str | None, str] | None:
        if isinstance(spec, DirectEndpoint):
            return None  # a backend per try
        url, resource = self._target(spec, None, None, "")
        return url, resource, url.split("?", 1)[0]

    def _base_headers(self) -> tuple[dict[str, str], str | None]:
        """The client's own extra headers as sent (and the Content-Type among them), made
        once per change rather than once per request."""
        if self._base is None:
            merged, given_type = _merge_headers(CheckedHeaders(), self._headers)
            if "accept-encoding" not in {k.lower() for k in merged}:
                merged["Accept-Encoding"] = _compression.accept_encoding()
            self._base = (merged, given_type)
        return self._base

    def _request_headers(
        self,
        body: bytes,
        *,
        resource: str | None,
        content_type: str | None,
        call_headers: Mapping[str, str] | None,
    ) -> CheckedHeaders:
        """A new dict for every attempt: nothing is shared between concurrent calls. Every
        part was checked when given (or is computed here), so the transport does not check
        them again."""
        base, given_type = self._base_headers()
        if call_headers:
            merged = CheckedHeaders(base)
            if any(k.lower() == "accept-encoding" for k in call_headers):
                merged = CheckedHeaders(
                    (k, v) for k, v in merged.items() if k.lower() != "accept-encoding"
                )
            merged, call_type = _merge_headers(merged, call_headers)
            given_type = call_type or given_type
        else:
            merged = CheckedHeaders(base)
        ctype = content_type or given_type or self._content_type or DEFAULT_CONTENT_TYPE
        if self._token and resource is not None:
            signer = self._signer
            if signer is None:
                signer = self._signer = Signer(self._token)
            merged.update(
                signer.sign(body, resource=resource, now=self._clock(), content_type=ctype)
            )
        else:
            merged["Content-Type"] = ctype
            if self._token:
                merged["Authorization"] = self._token
        return merged

    async def _send(
        self,
        body: bytes,
        *,
        content_type: str | None,
        path: str | None,
        query: str,
        headers: Mapping[str, str] | None,
        timeout: Timeout,
        policy: RetryPolicy,
        idempotent: bool,
        tried: tuple[tuple[HTTPResponse | None, EASError | None], float] | None = None,
        trace: _telemetry.CallTrace | None = None,
    ) -> bytes:
        """The tries of one call. ``tried``: the first try was already made (by
        ``predict``'s fast path, for a call without hooks, deadline or direct mode), with
        this outcome, starting at that loop time; the loop goes on from its failure.
        ``trace``: where the tries are reported when instrumented (its caller ends it)."""
        spec, transport, discovery = self._spec, self._transport, self._discovery
        if spec is None or transport is None:
            raise UsageError("this PredictClient is closed; make a new one")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise self._other_loop()
        start = loop.time() if tried is None else tried[1]
        # Made up front only when a deadline bounds the call (it clips the first try too);
        # otherwise only once a try has failed: a call that succeeds at once needs none.
        schedule = (
            RetrySchedule(policy, start=start, random=self._random)
            if policy.deadline is not None
            else None
        )
        first = start
        if isinstance(spec, DirectEndpoint):
            if discovery is None:
                raise UsageError("this PredictClient is closed; make a new one")
            await discovery.wait_ready()
            first = loop.time()
        failed: Backend | None = None
        last: EASError | None = None
        service, hooks = self._service_name, self._hooks
        tel = trace
        fixed = self._fixed_target if path is None and not query else None
        while True:
            if schedule is None:
                attempt, attempt_timeout = 1, timeout
            else:
                try:
                    attempt_timeout = schedule.clip(timeout, loop.time())
                except RequestTimeoutError:
                    # the deadline passed during the wait: what failed last is the news
                    assert last is not None
                    raise _final(last, schedule.attempts, loop.time() - first) from last.__cause__
                attempt = schedule.begin_attempt()
            backend = discovery.pick(avoid=failed) if discovery is not None else None
            if fixed is not None:
                url, resource, shown = fixed
            else:
                url, resource = self._target(spec, backend, path, query)
                shown = url.split("?", 1)[0]
            where = backend.address if backend is not None else None
            status: int | None = None
            error: EASError | None
            if tried is not None:  # made by predict already (no hooks, no backend)
                (resp, error), tried = tried[0], None
                status = resp.status if resp is not None else None
            else:
                request_headers = self._request_headers(
                    body, resource=resource, content_type=content_type, call_headers=headers
                )
                if tel is not None:  # trace context: after signing, which does not cover it
                    tel.attempt(attempt, shown, where, request_headers)
                if hooks.on_start is not None:
                    hooks.emit(AttemptStart(service, attempt, shown, where))
                started = loop.time() if hooks.on_end is not None else 0.0
                try:
                    resp = await transport.request(
                        "POST", url, headers=request_headers, body=body, timeout=attempt_timeout
                    )
                    status = resp.status
                    error = None if 200 <= status < 300 else _error_for(resp, shown)
                except EASError as exc:
                    resp, error = None, exc
                except asyncio.CancelledError as exc:
                    if hooks.on_end is not None:
                        hooks.emit(
                            AttemptEnd(
                                service, attempt, shown, where, loop.time() - started, None, exc
                            )
                        )
                    raise
                if tel is not None:
                    tel.attempt_end(status, error)
            if hooks.on_end is not None:
                hooks.emit(
                    AttemptEnd(service, attempt, shown, where, loop.time() - started, status, error)
                )
            if error is None:
                assert resp is not None
                return _compression.decompress(resp.body, resp.headers.get("content-encoding"))
            if schedule is None:  # the first try failed: from here on, the policy decides
                schedule = RetrySchedule(policy, start=start, random=self._random)
                schedule.begin_attempt()
            if (
                discovery is not None
                and backend is not None
                and isinstance(error, (ConnectError, RetryableServiceError))
            ):
                discovery.rest(backend)
            delay = schedule.next_delay(error, loop.time())
            if delay is None or not (idempotent or never_sent(error)):
                _log.debug("predict to %s failed on try %d: %s", shown, attempt, error)
                if attempt > 1 and isinstance(error, RequestTimeoutError):
                    raise _final(error, attempt, loop.time() - first) from error.__cause__
                raise error
            last = error
            _log.debug(
                "predict to %s failed on try %d (%s); retrying in %.3f s",
                shown,
                attempt,
                error,
                delay,
            )
            hooks.emit(AttemptRetry(service, attempt, error, delay))
            failed = backend
            if delay > 0:
                await asyncio.sleep(delay)

    def _other_loop(self) -> UsageError:
        return UsageError(
            "this PredictClient was opened in another event loop (each asyncio.run() makes "
            "a new one and closes it at the end): make the client in the loop that uses it, "
            "e.g. 'async with PredictClient(...)' inside the coroutine that asyncio.run() runs"
        )


def _final(error: EASError, tries: int, elapsed: float) -> EASError:
    """The error a call ends with. A timeout after several tries says how many and over
    how long (not only the last try's "within 0.45 s"); other errors are as they came."""
    if not isinstance(error, RequestTimeoutError) or tries < 2:
        return error
    return RequestTimeoutError(f"{error} ({tries} tries in {elapsed:.2f} s)")


def _error_for(resp: HTTPResponse, url: str) -> EASError | None:
    """``None`` for a 2xx answer, else the error that a caller can act on."""
    if 200 <= resp.status < 300:
        return None
    if resp.status in (401, 403):
        return AuthError(resp.status, resp.body, url=url)
    if resp.status >= 500:
        return RetryableServiceError(resp.status, resp.body, url=url)
    return ServiceError(resp.status, resp.body, url=url)


#: Content types already found fit for a header (bounded; only a cache): a request's own
#: type is then not checked again on every call.
_GOOD_TYPES: set[str] = set()


def _content_type(value: str | None) -> str | None:
    if value is None:
        return None
    check_header_value("the content type", value)
    if len(_GOOD_TYPES) < 256:
        _GOOD_TYPES.add(value)
    return value


def _endpoint(value: str | None) -> str:
    """The endpoint as given; what is left once surrounding blanks are stripped is checked."""
    endpoint = value or ""
    check_url("the endpoint", endpoint.strip() if isinstance(endpoint, str) else endpoint)
    return endpoint
