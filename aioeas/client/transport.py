"""The one place that calls aiohttp for HTTP: a request in, status, headers and body out.

Everything above talks to the ``Transport`` protocol, so a fake can stand in for unit
tests, and aiohttp's and asyncio's exceptions never leave this module: a refused, reset
or broken connection becomes ``ConnectError``, a timeout ``RequestTimeoutError``.
Bodies are read whole and handed up undecoded (``Content-Encoding`` is left to
``compression``), so every encoding is handled in one place whatever session is used.
A body over 1 MiB is sent as a ``_ViewPayload``: 64 KiB slices of the body's own buffer,
written in turn (yielding to the loop), so aiohttp neither warns that raw bytes may block
it nor copies them (an ``io.BytesIO`` would: aiohttp takes its ``getbuffer()``, which
unshares the bytes it was made from, a second copy of a 100 MB tensor).
"""

from __future__ import annotations

import asyncio
import functools
import io
import ssl as _ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import aiohttp.abc
import aiohttp.payload
from yarl import URL

from aioeas.client.checks import check_headers, check_url
from aioeas.client.config import PoolLimits, Timeout
from aioeas.errors import (
    CertificateError,
    ConnectError,
    RequestTimeoutError,
    TransportError,
    UsageError,
)

__all__ = [
    "LARGE_BODY",
    "AiohttpTransport",
    "HTTPResponse",
    "NotConnectedError",
    "Transport",
    "certificate_error",
    "never_sent",
]

#: Bodies larger than this go as a stream: aiohttp warns (``ResourceWarning``) about
#: ``bytes`` bodies over 1 MiB, and writes a stream in chunks that let the loop run.
LARGE_BODY = 1 << 20
#: The slice a large body is written in.
_SLICE = 1 << 16
#: Answers whose Content-Length has more digits than this (1 MB and up) are read into one
#: buffer of that size rather than joined from chunks at the end (twice the memory).
_LARGE_DIGITS = 6


#: aiohttp's timeout of getting a connection (3.10 on): raised before a byte is sent.
_CONNECT_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(aiohttp, "ConnectionTimeoutError", None),) if isinstance(t, type)
)


class NotConnectedError(Exception):
    """The cause a transport of its own (``h1.H1Transport``) gives an error of a try that
    got no connection: refused, DNS, TLS, or the connect timeout (the pool wait included).
    Its own ``__cause__`` is what failed underneath."""


def never_sent(error: BaseException) -> bool:
    """Whether a failed try surely sent nothing: the connection could not be opened
    (refused, DNS, TLS) or not within the connect timeout.

    Such a try is always safe to repeat, even for a request that must not run twice. Any
    other failure (a timeout while waiting for the answer, a connection reset or closed
    mid-request, a 5xx) may come after the service got the request and acted on it.
    """
    cause = error.__cause__
    if isinstance(error, ConnectError):
        return isinstance(cause, (aiohttp.ClientConnectorError, NotConnectedError))
    if isinstance(error, RequestTimeoutError):
        return isinstance(cause, NotConnectedError) or (
            bool(_CONNECT_TIMEOUT) and isinstance(cause, _CONNECT_TIMEOUT)
        )
    return False


class _ViewPayload(aiohttp.payload.Payload):
    """A body written from its own buffer, a slice at a time: no copy of it is made.

    Its size is known, so it goes with a ``Content-Length`` (not chunked); the slices
    are views, and a failed try can send the same payload again from the start.
    """

    def __init__(self, body: bytes, **kwargs: Any) -> None:
        super().__init__(memoryview(body), **kwargs)
        self._view = memoryview(body)
        self._size = len(body)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return bytes(self._view).decode(encoding, errors)

    async def write(self, writer: aiohttp.abc.AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: aiohttp.abc.AbstractStreamWriter, content_length: int | None
    ) -> None:
        view = self._view if content_length is None else self._view[:content_length]
        for start in range(0, len(view), _SLICE):
            if start:
                await asyncio.sleep(0)  # let the loop run between slices
            await writer.write(view[start : start + _SLICE])


@dataclass(frozen=True)
class HTTPResponse:
    """A complete answer: status, headers and raw body. Read headers by lower-case name: the
    aiohttp transport gives case-insensitive headers, and a fake gives lower-case keys."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


_new = object.__new__


def _response(status: int, body: bytes, headers: Mapping[str, str]) -> HTTPResponse:
    """``HTTPResponse(status, body, headers)`` for every answer the transport reads, made
    without the frozen dataclass's ``__init__`` (three ``object.__setattr__`` calls: half a
    microsecond a request); the same object, equal to one made the usual way."""
    made: HTTPResponse = _new(HTTPResponse)
    fields = made.__dict__
    fields["status"] = status
    fields["body"] = body
    fields["headers"] = headers
    return made


class Transport(Protocol):
    """Sends one HTTP request and reads the whole answer."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> HTTPResponse:
        """Raises ``ConnectError`` or ``RequestTimeoutError``, never a library's own error."""
        ...

    async def close(self) -> None:
        """Release the connections this transport owns (a borrowed session stays open)."""
        ...


class AiohttpTransport:
    """A ``Transport`` over an aiohttp ``ClientSession``, made here or borrowed.

    An own session is created lazily, inside the running loop (aiohttp binds a session to
    the loop it is made in); a borrowed one is used as it is and never closed here.
    HTTPS certificates are always verified: against the system's CAs, or against those of
    ``ssl`` (an ``ssl.SSLContext``, e.g. ``ssl.create_default_context(cafile=...)``) when
    given, which applies to a borrowed session's requests too. Redirects are never
    followed, so credentials never go to a host they were not meant for.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        pool: PoolLimits | None = None,
        ssl: _ssl.SSLContext | None = None,
    ) -> None:
        if ssl is not None and not isinstance(ssl, _ssl.SSLContext):
            raise UsageError(f"ssl must be an ssl.SSLContext, got {type(ssl).__name__}")
        self._ssl = ssl
        self._session = session
        self._owned = session is None
        self._pool = pool or PoolLimits()
        self._closed = False
        self._ssl_arg: _ssl.SSLContext | bool = ssl if ssl is not None else True
        self._lean = False  # see _get_session
        # aiohttp's timeout for the last Timeout seen, kept by identity (a dataclass hash
        # per call costs more than the lookup saves)
        self._timeout: Timeout | None = None
        self._client_timeout = aiohttp.ClientTimeout()

    @property
    def owns_session(self) -> bool:
        """Whether ``close`` closes the session (it was made here, not borrowed)."""
        return self._owned

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise UsageError("the transport is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._pool.max_connections,
                limit_per_host=self._pool.max_per_host,
                keepalive_timeout=self._pool.keepalive_timeout,
            )
            # Our own User-Agent, and cookies are not kept between predicts. Bodies come
            # undecoded (``compression`` decodes them) and certificates are checked against
            # ``ssl`` when given: session defaults, so that a request passes fewer options.
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": "aioeas"},
                auto_decompress=False,
            )
            self._lean = self._ssl is None
        return self._session

    async def open(self) -> None:
        """Create the session now rather than on the first request."""
        self._get_session()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> HTTPResponse:
        # The last line of defence against header injection: nothing that would break the
        # request line or a header leaves this process (the callers check earlier).
        target = _url(url)  # checked once per distinct URL, there
        sent_headers = check_headers(headers)
        session = self._session if self._session is not None else self._get_session()
        if timeout is not self._timeout:  # a client sends most calls with its one Timeout
            self._timeout, self._client_timeout = timeout, _client_timeout(timeout)
        data: bytes | _ViewPayload | None = (
            _ViewPayload(body) if body is not None and len(body) > LARGE_BODY else body
        )
        try:
            # Awaited rather than entered with `async with`: one coroutine instead of four
            # (the manager's and the response's enter and exit), released below either way.
            if self._lean:  # an own session, made with these settings as its defaults
                resp = await session.request(
                    method,
                    target,  # sent exactly as it was signed
                    headers=sent_headers,
                    data=data,
                    timeout=self._client_timeout,
                    allow_redirects=False,
                )
            else:  # a borrowed session: ours, whatever its own defaults
                resp = await session.request(
                    method,
                    target,
                    headers=sent_headers,
                    data=data,
                    timeout=self._client_timeout,
                    auto_decompress=False,
                    allow_redirects=False,
                    ssl=self._ssl_arg,
                )
            # Read to the end, which hands the connection back to the pool (an error or a
            # cancellation closes the response instead); no release() after it, which would
            # only mark the finished stream as failed.
            length = resp.headers.get("Content-Length")
            if length is not None and len(length) > _LARGE_DIGITS and length.isdigit():
                answer = await _read_into_one_buffer(resp, int(length))
            else:
                answer = await resp.read()
            # aiohttp's headers are case-insensitive already: no lowered copy needed
            return _response(resp.status, answer, resp.headers)
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise RequestTimeoutError(
                f"no complete answer from {shown_url(url)} within {timeout.total:.3g} s"
            ) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise certificate_error(shown_url(url), exc) from exc
        except aiohttp.ClientSSLError as exc:
            raise ConnectError(
                f"TLS handshake with {shown_url(url)} failed (certificate not verified?): "
                f"{describe(exc)}; give the client the CA with ssl=ssl.create_default_context("
                "cafile=...)"
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise UsageError(f"invalid URL {shown_url(url)}: {exc}") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            raise ConnectError(f"connection to {shown_url(url)} failed: {describe(exc)}") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"request to {shown_url(url)} failed: {describe(exc)}") from exc

    async def close(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owned:
            await session.close()


async def _read_into_one_buffer(resp: aiohttp.ClientResponse, length: int) -> bytes:
    """A large body read chunk by chunk into one buffer of its announced size.

    ``resp.read()`` keeps every chunk until the end and joins them: the body twice in
    memory at the peak. Here each chunk is copied into a ``BytesIO`` grown once, to the
    ``Content-Length``, and dropped; ``getvalue()`` then hands over that buffer itself as
    the ``bytes`` (CPython shares it when the size is exact), which the codecs decode
    without a copy: the answer is in memory once.
    """
    try:
        buf = io.BytesIO()
        buf.seek(length - 1)
        buf.write(b"\0")  # the one allocation, of the final size
        buf.seek(0)
        content = resp.content
        while chunk := await content.readany():
            if buf.tell() + len(chunk) > length:
                raise aiohttp.ClientPayloadError(
                    f"the answer is longer than its Content-Length {length}"
                )
            buf.write(chunk)
        if buf.tell() != length:
            raise aiohttp.ClientPayloadError(
                f"the answer ended after {buf.tell()} of its {length} bytes"
            )
        await resp.wait_for_close()  # as resp.read(): the request's writer done, released
    except BaseException:
        resp.close()  # as resp.read() does on a failed read: the connection is not reused
        raise
    return buf.getvalue()


@functools.lru_cache(maxsize=256)
def _url(url: str) -> URL:
    """The URL as given (already encoded), checked and parsed once per distinct URL: a
    gateway client sends every request to the same one."""
    check_url("the URL", url)
    return URL(url, encoded=True)


@functools.lru_cache(maxsize=64)
def _client_timeout(timeout: Timeout) -> aiohttp.ClientTimeout:
    """aiohttp's timeout object for ours, made once per distinct timeout."""
    return aiohttp.ClientTimeout(total=timeout.total, connect=timeout.connect)


def certificate_error(
    where: str,
    exc: aiohttp.ClientConnectorCertificateError | _ssl.SSLCertVerificationError,
) -> CertificateError:
    """What a certificate that did not verify becomes: the library's error, naming the
    option that fixes it (it will not mend itself, so it is not retried). ``exc`` is
    aiohttp's error or ssl's own (``h1``)."""
    cert = exc if isinstance(exc, _ssl.SSLCertVerificationError) else exc.certificate_error
    return CertificateError(
        f"the TLS certificate of {where} did not verify ({cert}); if it "
        "is signed by a private CA, give the client that CA: "
        "ssl=ssl.create_default_context(cafile='ca.pem')"
    )


def shown_url(url: str) -> str:
    """The URL without its query (which may carry user data) for messages."""
    return url.split("?", 1)[0]


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
