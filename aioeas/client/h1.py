"""``H1Transport``: the client's own HTTP/1.1 keep-alive client, on asyncio alone.

Why: every predict crosses the transport, and aiohttp's request machinery (URL objects,
header multidicts, tracing signals, ``ClientResponse``, timers, the connector) costs more
client CPU than a predict's own work; a client that sends through it can never be cheaper
than a bare aiohttp loop. This one does only what a predict needs: a head made from a
template (``h1wire.request_head``), one ``write``, an answer parsed straight from
``data_received`` (``h1wire.AnswerParser``) into a future, one timer per request.

What it shares with ``AiohttpTransport`` (the same contract, checked by tests/client/
test_h1*.py against a raw server): the bytes on the wire (aiohttp's default headers and
their order: a server sees no difference), error mapping (``ConnectError``,
``RequestTimeoutError``, ``CertificateError``, ``UsageError``, ``TransportError`` for a
malformed answer) and ``transport.never_sent`` (true exactly when no connection was had:
the cause is a ``transport.NotConnectedError``), certificate verification (the default context
or the client's ``ssl=``), ``PoolLimits``, undecoded bodies, a large answer read into one
buffer, a large body written in slices under flow control, and aiohttp's one silent
retry of an idempotent method (GET, PUT, DELETE...) whose connection failed under it.

What it does not do, for which ``AiohttpTransport`` stays: a borrowed aiohttp session (its
connector, proxies, cookies, tracing), proxies (aiohttp's sessions ignore the proxy
environment by default too), HTTP/2, redirects (neither follows them), and the queue
service and its WebSocket (they stay on aiohttp). ``PredictClient(transport="aiohttp")``
goes back to aiohttp for a client's own connections.

Pool: at most ``max_connections`` sockets open at once (idle ones count: one idle to
another host is closed to make room), ``max_per_host`` to one host:port; a connection goes
back to the pool only after a complete answer it may carry another request after (no
``Connection: close``, not HTTP/1.0 without keep-alive, not framed by the end of the
connection), newest first; one that has been idle ``keepalive_timeout`` is closed. A
timeout, a cancellation or an error closes the connection of the try.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl as _ssl
from collections import deque
from collections.abc import Mapping
from typing import Any, NamedTuple, cast

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from aioeas.client.checks import check_headers, check_url, is_header_name
from aioeas.client.config import PoolLimits, Timeout
from aioeas.client.h1wire import (
    IDEMPOTENT_METHODS,
    AnswerParser,
    MalformedAnswerError,
    request_head,
)
from aioeas.client.transport import (
    HTTPResponse,
    NotConnectedError,
    certificate_error,
    describe,
    shown_url,
)
from aioeas.errors import ConnectError, RequestTimeoutError, TransportError, UsageError

__all__ = ["H1Transport"]

#: The User-Agent the aiohttp transport's session sent.
USER_AGENT = "aioeas"
#: aiohttp's default Accept-Encoding (it depends on the decoders installed: brotli, zstd),
#: read from aiohttp so that both transports announce the same.
ACCEPT_ENCODING = str(
    aiohttp.ClientRequest.DEFAULT_HEADERS.get(aiohttp.hdrs.ACCEPT_ENCODING) or "gzip, deflate"
)
#: A body up to this size goes in one write with its head; a larger one after it.
_ONE_WRITE = 1 << 16
#: The slice a large body is written in.
_SLICE = 1 << 16
#: aiohttp's "Connection Attempt Delay" between the addresses of a name (RFC 8305).
_HAPPY_EYEBALLS_DELAY = 0.25

_new = object.__new__


class _Target(NamedTuple):
    """What a URL gives a request, worked out once per distinct URL."""

    key: tuple[str, int, bool]  # host, port, TLS: the pool a connection belongs to
    host: str  # to connect to (no brackets)
    port: int
    tls: bool
    host_header: str  # as aiohttp wrote it: the default port left out
    path: str  # path and query, exactly as given (they were signed that way)
    authorization: str | None  # Basic, from credentials in the URL (as aiohttp)


@functools.lru_cache(maxsize=256)
def _target(url: str) -> _Target:
    check_url("the URL", url)
    try:
        parsed = URL(url, encoded=True)
        scheme = parsed.scheme
        host = parsed.raw_host
        port = parsed.port
        host_header = parsed.host_port_subcomponent
    except (ValueError, TypeError) as exc:
        raise UsageError(f"invalid URL {shown_url(url)}: {exc}") from None
    if scheme not in ("http", "https"):
        raise UsageError(f"invalid URL {shown_url(url)}: the scheme must be http or https")
    if not host or port is None or host_header is None:
        raise UsageError(f"invalid URL {shown_url(url)}: no host")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    authorization = None
    if parsed.raw_user or parsed.raw_password:
        pair = f"{parsed.user or ''}:{parsed.password or ''}".encode("latin1")
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    tls = scheme == "https"
    path = parsed.raw_path_qs or "/"
    if not path.startswith("/"):
        path = "/" + path
    return _Target((host, port, tls), host, port, tls, host_header, path, authorization)


class _LostError(Exception):
    """The connection closed (or failed) before the answer was complete."""


class _Expired(asyncio.TimeoutError):
    """The try's deadline passed while it waited."""


class _Connection(asyncio.Protocol):
    """One socket: the request in flight's parser and future, or idle in the pool."""

    __slots__ = (
        "closed",
        "counted",
        "drain",
        "gone",
        "idle_since",
        "key",
        "parser",
        "paused",
        "pool",
        "transport",
        "used",
        "waiter",
    )

    def __init__(self, pool: _Pool, key: tuple[str, int, bool]) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser: AnswerParser | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None
        self.gone: asyncio.Future[None] | None = None
        self.paused = False
        self.closed = False
        self.counted = True  # in the pool's counts until forgotten
        self.used = False  # has carried a request before (for the message of a failure)
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's is not an asyncio.Transport subclass, but is one)
        self.transport = cast(asyncio.Transport, transport)
        # known to the pool from now on, so that close() waits for it: its connection_lost
        # may come before the task that asked for it resumes (a server closing at once)
        self.pool.all.add(self)

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        parser = self.parser
        if waiter is None or parser is None or waiter.done():
            # bytes nobody asked for (after an answer, or while idle): this connection's
            # framing can no longer be trusted
            self.close()
            return
        try:
            done = parser.feed(data)
        except MalformedAnswerError as exc:
            waiter.set_exception(exc)
            return
        if done:
            waiter.set_result(None)

    def eof_received(self) -> bool:
        waiter, parser = self.waiter, self.parser
        if waiter is not None and parser is not None and not waiter.done():
            if parser.feed_eof():
                waiter.set_result(None)
            else:
                waiter.set_exception(_LostError("the server closed the connection mid-answer"))
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(
                _LostError(describe(exc) if exc is not None else "the server closed the connection")
            )
        drain = self.drain
        if drain is not None and not drain.done():
            drain.set_result(None)
        gone = self.gone
        if gone is not None and not gone.done():
            gone.set_result(None)
        self.pool.all.discard(self)
        self.pool.forget(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        drain = self.drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def close(self) -> None:
        """Close the socket (``connection_lost`` follows, which forgets it)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Pool:
    """Open connections by host, the idle ones kept newest last, and the callers waiting
    for room. Counts cover connections open and being opened."""

    def __init__(self, limits: PoolLimits, loop: asyncio.AbstractEventLoop) -> None:
        self.limit = limits.max_connections
        self.per_host = limits.max_per_host
        self.keepalive = limits.keepalive_timeout
        self.loop = loop
        self.idle: dict[tuple[str, int, bool], list[_Connection]] = {}
        self.all: set[_Connection] = set()
        self.open = 0
        self.by_host: dict[tuple[str, int, bool], int] = {}
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.sweeper: asyncio.TimerHandle | None = None

    def take_idle(self, key: tuple[str, int, bool]) -> _Connection | None:
        conns = self.idle.get(key)
        if not conns:
            return None
        oldest = self.loop.time() - self.keepalive
        while conns:
            conn = conns.pop()
            if not conn.closed and conn.idle_since > oldest:
                return conn
            conn.close()
            self.forget(conn)
        return None

    def room(self, key: tuple[str, int, bool]) -> bool:
        """Whether a new connection to ``key`` may open now (counted if so)."""
        if self.per_host and self.by_host.get(key, 0) >= self.per_host:
            return False
        if self.open >= self.limit and not self._evict():
            return False
        self.open += 1
        self.by_host[key] = self.by_host.get(key, 0) + 1
        return True

    def _evict(self) -> bool:
        """Close the oldest idle connection (to another host: this one has none idle)."""
        victim: _Connection | None = None
        for conns in self.idle.values():
            if conns and (victim is None or conns[0].idle_since < victim.idle_since):
                victim = conns[0]
        if victim is None:
            return False
        self.idle[victim.key].remove(victim)
        victim.close()
        self.forget(victim)
        return self.open < self.limit

    def unopened(self, key: tuple[str, int, bool]) -> None:
        """A counted connection failed to open."""
        self.open -= 1
        self.by_host[key] -= 1
        self.wake()

    def forget(self, conn: _Connection) -> None:
        """``conn`` is closed (or closing): out of the counts (once) and the idle list."""
        if not conn.counted:
            return
        conn.counted = False
        self.open -= 1
        self.by_host[conn.key] -= 1
        conns = self.idle.get(conn.key)
        if conns and conn in conns:
            conns.remove(conn)
        self.wake()

    def release(self, conn: _Connection, reusable: bool) -> None:
        conn.waiter = conn.parser = conn.drain = None
        if not reusable or conn.closed:
            conn.close()
            self.forget(conn)
            return
        conn.used = True
        now = conn.idle_since = self.loop.time()
        conns = self.idle.get(conn.key)
        if conns is None:
            self.idle[conn.key] = [conn]
        else:
            conns.append(conn)
        if self.sweeper is None:
            self.sweeper = self.loop.call_at(now + self.keepalive, self._sweep)
        if self.waiters:
            self.wake()

    def wake(self) -> None:
        """Room or an idle connection appeared: every waiter looks again, in order (one
        that still cannot go waits again; waking only the first could wake one that
        cannot use what was freed and leave one that could asleep)."""
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _sweep(self) -> None:
        """Close connections idle for ``keepalive``; come back for the next to expire."""
        self.sweeper = None
        oldest = self.loop.time() - self.keepalive
        first: float | None = None
        for conns in self.idle.values():
            for conn in list(conns):
                if conn.idle_since <= oldest:
                    conns.remove(conn)
                    conn.close()
                    self.forget(conn)
                elif first is None or conn.idle_since < first:
                    first = conn.idle_since
        if first is not None:
            self.sweeper = self.loop.call_at(first + self.keepalive, self._sweep)

    async def close(self) -> None:
        """Close every connection, busy ones too, and wait until their sockets are."""
        if self.sweeper is not None:
            self.sweeper.cancel()
            self.sweeper = None
        self.idle.clear()
        gone = []
        for conn in list(self.all):
            if conn.transport is None:
                continue
            if conn.gone is None:
                conn.gone = self.loop.create_future()
            if not conn.gone.done():
                gone.append(conn.gone)
            conn.closed = True
            conn.transport.abort()  # now: no TLS goodbye to wait for
        if gone:
            await asyncio.gather(*gone)


class _Deadline:
    """The try's one timer: when it fires it fails whatever the try is waiting on."""

    __slots__ = ("expired", "waiting")

    def __init__(self) -> None:
        self.waiting: asyncio.Future[Any] | None = None
        self.expired = False

    def fire(self) -> None:
        self.expired = True
        waiting = self.waiting
        if waiting is not None and not waiting.done():
            waiting.set_exception(_Expired())


_DEFAULT_SSL: _ssl.SSLContext | None = None


def _default_ssl() -> _ssl.SSLContext:
    """The verifying context aiohttp used for https (made once: it reads the CA store)."""
    global _DEFAULT_SSL
    if _DEFAULT_SSL is None:
        context = _ssl.create_default_context()
        context.set_alpn_protocols(("http/1.1",))
        _DEFAULT_SSL = context
    return _DEFAULT_SSL


class H1Transport:
    """A ``Transport`` with its own HTTP/1.1 connections; see the module docstring.

    ``pool``: ``PoolLimits``; ``ssl``: an ``ssl.SSLContext`` to verify HTTPS servers with
    (by default the system's CAs; certificates are always verified).
    """

    def __init__(
        self, *, pool: PoolLimits | None = None, ssl: _ssl.SSLContext | None = None
    ) -> None:
        if ssl is not None and not isinstance(ssl, _ssl.SSLContext):
            raise UsageError(f"ssl must be an ssl.SSLContext, got {type(ssl).__name__}")
        self._ssl = ssl
        self._limits = pool or PoolLimits()
        self._pool: _Pool | None = None
        self._closed = False
        self._eyeballs = True

    @property
    def owns_session(self) -> bool:
        """Always true: the connections are this transport's own, closed by ``close``."""
        return True

    def _get_pool(self) -> _Pool:
        if self._closed:
            raise UsageError("the transport is closed")
        if self._pool is None:
            loop = asyncio.get_running_loop()
            self._pool = _Pool(self._limits, loop)
            self._eyeballs = isinstance(loop, asyncio.BaseEventLoop)
        return self._pool

    async def open(self) -> None:
        """Bind to the running loop now rather than on the first request."""
        self._get_pool()

    def idle_connections(self) -> int:
        """How many connections wait in the pool for a request (for tests and stats)."""
        pool = self._pool
        return 0 if pool is None else sum(len(c) for c in pool.idle.values())

    async def close(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> HTTPResponse:
        target = _target(url)  # checked and parsed once per distinct URL
        # The last line of defence against header injection: nothing that would break the
        # request line or a header leaves this process (the callers check earlier).
        sent_headers = check_headers(headers)
        if method not in IDEMPOTENT_METHODS and method != "POST" and method != "PATCH":
            check_method(method)
        if target.authorization is not None and _has_authorization(sent_headers):
            raise UsageError(
                f"{shown_url(url)} carries credentials and the request an Authorization "
                "header: give one of them"
            )
        pool = self._pool if self._pool is not None else self._get_pool()
        head = request_head(
            method,
            target.path,
            target.host_header,
            sent_headers,
            None if body is None else len(body),
            user_agent=USER_AGENT,
            accept_encoding=ACCEPT_ENCODING,
            authorization=target.authorization,
        )
        loop = pool.loop
        deadline = _Deadline()
        start = loop.time()
        end = start + timeout.total
        connect_end = end if timeout.connect is None else min(end, start + timeout.connect)
        timer = loop.call_at(connect_end, deadline.fire)
        retry = method in IDEMPOTENT_METHODS  # aiohttp sends these once more, once
        retried = False
        try:
            while True:
                try:
                    conn = await self._connection(pool, target, url, deadline, timeout, connect_end)
                except (ConnectError, RequestTimeoutError) as exc:
                    if not retried or not isinstance(exc.__cause__, NotConnectedError):
                        raise
                    # the try before this one went out: no longer "surely sent nothing"
                    raise type(exc)(*exc.args) from exc.__cause__.__cause__
                if connect_end != end:
                    timer.cancel()
                    timer = loop.call_at(end, deadline.fire)
                    connect_end = end
                try:
                    return await self._exchange(conn, method, head, body, deadline)
                except _LostError as exc:
                    if retry and not self._closed:
                        retry, retried = False, True
                        continue
                    raise ConnectError(f"connection to {shown_url(url)} failed: {exc}") from exc
        except _Expired as exc:
            raise RequestTimeoutError(
                f"no complete answer from {shown_url(url)} within {timeout.total:.3g} s"
            ) from exc
        except MalformedAnswerError as exc:
            raise TransportError(f"request to {shown_url(url)} failed: {describe(exc)}") from exc
        finally:
            timer.cancel()

    async def _connection(
        self,
        pool: _Pool,
        target: _Target,
        url: str,
        deadline: _Deadline,
        timeout: Timeout,
        connect_end: float,
    ) -> _Connection:
        """An idle connection to ``target``, or a new one when there is room, or one
        after waiting for room; a failure here is a ``NotConnectedError`` cause."""
        key = target.key
        while True:
            if deadline.expired:  # it fired between two waits
                error = _connect_timeout(url, timeout, "waiting for a free connection")
                raise error from error.__cause__
            conn = pool.take_idle(key)
            if conn is not None:
                return conn
            if pool.room(key):
                return await self._connect(pool, target, url, timeout, connect_end)
            waiter: asyncio.Future[None] = pool.loop.create_future()
            pool.waiters.append(waiter)
            deadline.waiting = waiter
            try:
                await waiter
            except _Expired:
                error = _connect_timeout(url, timeout, "waiting for a free connection")
                raise error from error.__cause__
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    pool.wake()  # woken, then cancelled: pass the turn on
                raise
            finally:
                deadline.waiting = None

    async def _connect(
        self, pool: _Pool, target: _Target, url: str, timeout: Timeout, connect_end: float
    ) -> _Connection:
        loop = pool.loop
        key = target.key
        context = (self._ssl or _default_ssl()) if target.tls else None
        hostname = target.host.rstrip(".") if context is not None else None
        made: list[_Connection] = []

        def protocol() -> _Connection:
            conn = _Connection(pool, key)
            made.append(conn)
            return conn

        try:
            if self._eyeballs:
                connecting = loop.create_connection(
                    protocol,
                    target.host,
                    target.port,
                    ssl=context,
                    server_hostname=hostname,
                    happy_eyeballs_delay=_HAPPY_EYEBALLS_DELAY,
                )
            else:  # uvloop's create_connection has no happy_eyeballs_delay
                connecting = loop.create_connection(
                    protocol,
                    target.host,
                    target.port,
                    ssl=context,
                    server_hostname=hostname,
                )
            conn: _Connection
            _, conn = await asyncio.wait_for(connecting, max(connect_end - loop.time(), 0.0))
        except BaseException as exc:
            for orphan in made:  # made, but the wait for it ended first: not ours to use
                orphan.counted = False
                orphan.close()
            pool.unopened(key)
            if isinstance(exc, asyncio.TimeoutError):
                error = _connect_timeout(url, timeout, "connecting")
                raise error from error.__cause__
            if isinstance(exc, _ssl.SSLCertVerificationError):
                raise certificate_error(shown_url(url), exc) from _not_connected(exc)
            if isinstance(exc, _ssl.SSLError):
                raise ConnectError(
                    f"TLS handshake with {shown_url(url)} failed (certificate not verified?): "
                    f"{describe(exc)}; give the client the CA with ssl=ssl.create_default_context("
                    "cafile=...)"
                ) from _not_connected(exc)
            if isinstance(exc, OSError):
                raise ConnectError(
                    f"connection to {shown_url(url)} failed: {describe(exc)}"
                ) from _not_connected(exc)
            raise
        if self._closed:  # closed while connecting
            conn.close()
            pool.forget(conn)
            raise ConnectError(f"connection to {shown_url(url)} failed: the transport was closed")
        return conn

    async def _exchange(
        self,
        conn: _Connection,
        method: str,
        head: bytes,
        body: bytes | None,
        deadline: _Deadline,
    ) -> HTTPResponse:
        """Send the request on ``conn`` and read the answer; the connection goes back to
        the pool after a complete, reusable answer, and is closed in every other case."""
        transport = conn.transport
        assert transport is not None
        pool = conn.pool
        parser = conn.parser = AnswerParser(head_request=method == "HEAD")
        waiter: asyncio.Future[None] = pool.loop.create_future()
        conn.waiter = waiter
        written = True
        try:
            if conn.closed:
                raise _LostError("the connection closed before the request was sent")
            if body is None:
                transport.write(head)
            elif len(body) <= _ONE_WRITE:
                transport.write(head + body)
            else:
                transport.write(head)
                written = await _write_slices(conn, body, waiter, deadline)
            if deadline.expired:  # while it connected or wrote, with nothing to fail
                raise _Expired
            deadline.waiting = waiter
            await waiter
        except BaseException:
            deadline.waiting = None
            pool.release(conn, False)
            raise
        deadline.waiting = None
        pool.release(conn, written and parser.keep_alive)
        made: HTTPResponse = _new(HTTPResponse)
        fields = made.__dict__
        fields["status"] = parser.status
        fields["body"] = parser.body
        fields["headers"] = CIMultiDictProxy(CIMultiDict(parser.headers))
        return made


async def _write_slices(
    conn: _Connection, body: bytes, answered: asyncio.Future[None], deadline: _Deadline
) -> bool:
    """Write a large body a slice at a time from its own buffer (no copy of the whole),
    waiting while the socket's buffer is full. False if the answer came (or the
    connection failed) before all of it was written: the rest is not sent."""
    transport = conn.transport
    assert transport is not None
    view = memoryview(body)
    loop = conn.pool.loop
    for start in range(0, len(view), _SLICE):
        if start:
            if conn.paused:
                drain = conn.drain = loop.create_future()
                deadline.waiting = drain
                await drain
                deadline.waiting = None
            else:
                await asyncio.sleep(0)  # let the loop run between slices
                if deadline.expired:
                    raise _Expired
            if answered.done() or conn.closed:
                return False
        transport.write(view[start : start + _SLICE])
    return True


def _not_connected(exc: BaseException) -> NotConnectedError:
    cause = NotConnectedError(describe(exc))
    cause.__cause__ = exc
    return cause


def _connect_timeout(url: str, timeout: Timeout, doing: str) -> RequestTimeoutError:
    """A timeout before a connection was had (so nothing was sent: its cause says so).
    The message is the aiohttp transport's."""
    limit = timeout.total if timeout.connect is None else min(timeout.total, timeout.connect)
    error = RequestTimeoutError(
        f"no complete answer from {shown_url(url)} within {timeout.total:.3g} s"
    )
    error.__cause__ = NotConnectedError(f"no connection within {limit:.3g} s ({doing})")
    return error


def _has_authorization(headers: Mapping[str, str]) -> bool:
    return any(name.lower() == "authorization" for name in headers)


def check_method(method: object) -> None:
    """A method other than the usual ones must be a token (it goes in the request line)."""
    if not isinstance(method, str) or not is_header_name(method):
        raise UsageError(f"not an HTTP method: {method!r}")
