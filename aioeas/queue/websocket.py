"""The one place that calls aiohttp for WebSockets: connect, receive a message, close.

The watcher talks to the ``WebSocketConnector`` protocol, so tests can hand it a fake, and
aiohttp's exceptions never leave this module: a refused or broken connection becomes
``ConnectError``, a handshake answered with an error status the ``ServiceError`` (or
``AuthError``) of that status, a timeout ``RequestTimeoutError``. Keepalive pings are
aiohttp's ``heartbeat``, not a thread.

A message is never larger than ``max_message_size`` (the queue's payload limit plus
framing, see ``QueueClient.max_message_size``): aiohttp refuses a longer one from its
header, before reading its payload, and ``receive`` raises ``FrameTooLargeError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl as _ssl
from collections.abc import Mapping
from typing import Protocol

import aiohttp

from aioeas.client.transport import certificate_error
from aioeas.errors import ConnectError, RequestTimeoutError, TransportError
from aioeas.queue.errors import FrameTooLargeError
from aioeas.queue.protocol import DEFAULT_MAX_PAYLOAD, FRAME_OVERHEAD, error_for

__all__ = ["AiohttpWebSocketConnector", "WebSocketConnection", "WebSocketConnector"]


class WebSocketConnection(Protocol):
    async def receive(self) -> bytes | None:
        """The next binary message; ``None`` once the connection is closed (by either side,
        cleanly or not). Text messages are not part of the protocol and are skipped.
        A message over the connection's size limit raises ``FrameTooLargeError`` (and the
        connection is closed): reconnecting would only be sent the same record again."""
        ...

    async def close(self) -> None: ...


class WebSocketConnector(Protocol):
    async def connect(
        self, url: str, headers: Mapping[str, str], *, heartbeat: float | None, timeout: float
    ) -> WebSocketConnection: ...


class _AiohttpConnection:
    __slots__ = ("_limit", "_shown", "_ws", "close_code")

    def __init__(self, ws: aiohttp.ClientWebSocketResponse[bool], shown: str, limit: int) -> None:
        self._ws = ws
        self._shown = shown
        self._limit = limit
        self.close_code: int | None = None

    async def receive(self) -> bytes | None:
        while True:
            try:
                msg = await self._ws.receive()
            except (aiohttp.ClientError, OSError):
                return None
            if msg.type is aiohttp.WSMsgType.BINARY:
                data: bytes = msg.data
                return data
            if msg.type is aiohttp.WSMsgType.TEXT:
                continue
            if (
                msg.type is aiohttp.WSMsgType.ERROR
                and isinstance(msg.data, aiohttp.WebSocketError)
                and msg.data.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
            ):
                self.close_code = self._ws.close_code
                raise FrameTooLargeError(self._shown, self._limit, str(msg.data))
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                self.close_code = self._ws.close_code
                return None

    async def close(self) -> None:
        with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
            await self._ws.close()


class AiohttpWebSocketConnector:
    """Opens watch connections on a ``ClientSession`` (the queue client's, or one lent to it)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        max_message_size: int = DEFAULT_MAX_PAYLOAD + FRAME_OVERHEAD,
        ssl: _ssl.SSLContext | None = None,
    ) -> None:
        self._session = session
        self.max_message_size = max_message_size
        self._ssl = ssl

    async def connect(
        self, url: str, headers: Mapping[str, str], *, heartbeat: float | None, timeout: float
    ) -> WebSocketConnection:
        shown = url.split("?", 1)[0]
        try:
            ws = await asyncio.wait_for(
                self._session.ws_connect(
                    url,
                    headers=dict(headers),
                    heartbeat=heartbeat,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=timeout),
                    autoping=True,
                    # aiohttp refuses a message of max_msg_size bytes or more: + 1 lets
                    # one of exactly the limit through
                    max_msg_size=self.max_message_size + 1,
                    ssl=self._ssl if self._ssl is not None else True,
                ),
                timeout,
            )
        except aiohttp.WSServerHandshakeError as exc:
            error = error_for(exc.status, exc.message.encode(), shown)
            if error is None:  # a 2xx that is not 101
                raise ConnectError(f"WebSocket handshake with {shown} failed: {exc}") from exc
            raise error from exc
        except asyncio.TimeoutError as exc:
            raise RequestTimeoutError(f"no WebSocket from {shown} within {timeout:g} s") from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise certificate_error(shown, exc) from exc
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise ConnectError(f"WebSocket connection to {shown} failed: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"WebSocket connection to {shown} failed: {exc}") from exc
        return _AiohttpConnection(ws, shown, self.max_message_size)
