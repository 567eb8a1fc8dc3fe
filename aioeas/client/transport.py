"""The one place that calls aiohttp for HTTP: a request in, status, headers and body out.

Everything above talks to the ``Transport`` protocol, so a fake can stand in for unit
tests, and aiohttp's and asyncio's exceptions never leave this module: a refused, reset
or broken connection becomes ``ConnectError``, a timeout ``RequestTimeoutError``.
Bodies are read whole and handed up undecoded (``Content-Encoding`` is left to
``compression``), so every encoding is handled in one place whatever session is used.
A body over 1 MiB is sent from a fresh ``io.BytesIO`` on each attempt: aiohttp writes it
in chunks (yielding to the loop) instead of warning that raw bytes may block it.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
from yarl import URL

from aioeas.client.config import PoolLimits, Timeout
from aioeas.errors import ConnectError, RequestTimeoutError, TransportError, UsageError

__all__ = ["LARGE_BODY", "AiohttpTransport", "HTTPResponse", "Transport"]

#: Bodies larger than this go as a stream: aiohttp warns (``ResourceWarning``) about
#: ``bytes`` bodies over 1 MiB, and writes a stream in chunks that let the loop run.
LARGE_BODY = 1 << 20


@dataclass(frozen=True)
class HTTPResponse:
    """A complete answer: status, headers (case-insensitive keys lowered) and raw body."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


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
    """

    def __init__(
        self, *, session: aiohttp.ClientSession | None = None, pool: PoolLimits | None = None
    ) -> None:
        self._session = session
        self._owned = session is None
        self._pool = pool or PoolLimits()
        self._closed = False

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
            # Our own User-Agent, and cookies are not kept between predicts.
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": "aioeas"},
            )
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
        session = self._get_session()
        client_timeout = aiohttp.ClientTimeout(total=timeout.total, connect=timeout.connect)
        # A new stream per attempt: a stream read by a failed try cannot be sent again.
        data: bytes | io.BytesIO | None = (
            io.BytesIO(body) if body is not None and len(body) > LARGE_BODY else body
        )
        try:
            async with session.request(
                method,
                URL(url, encoded=True),  # sent exactly as it was signed
                headers=dict(headers),
                data=data,
                timeout=client_timeout,
                auto_decompress=False,
                allow_redirects=False,
            ) as resp:
                answer = await resp.read()
                return HTTPResponse(
                    status=resp.status,
                    body=answer,
                    headers={k.lower(): v for k, v in resp.headers.items()},
                )
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise RequestTimeoutError(
                f"no complete answer from {_where(url)} within {timeout.total:g} s"
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise UsageError(f"invalid URL {_where(url)}: {exc}") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            raise ConnectError(f"connection to {_where(url)} failed: {_describe(exc)}") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"request to {_where(url)} failed: {_describe(exc)}") from exc

    async def close(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owned:
            await session.close()


def _where(url: str) -> str:
    """The URL without its query (which may carry user data) for messages."""
    return url.split("?", 1)[0]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
