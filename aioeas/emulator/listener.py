"""One small aiohttp server on a socket of our own: the gateway and every backend use it.

The socket is bound synchronously, before the server starts, so the port is known at
once (port 0 picks a free one) and stays the same across stop and start: a stopped backend
refuses connections on the very port that discovery keeps listing, as a crashed instance
does. Connections that arrive between binding and serving wait in the listen backlog.
Requests are read as EAS's gateway reads them (``parsing``: a repeated ``Content-Type``
is accepted).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any

from aiohttp import web

from aioeas.emulator.parsing import GatewayRequestHandler

__all__ = ["Listener", "url_host"]

#: How long a stop waits for requests in flight before cancelling them: stopping is
#: meant to look like a crash, not a graceful drain. (aiohttp waits forever on 0.)
STOP_GRACE = 0.05

#: Tensors are large: a [8, 3, 224, 224] float32 body is 4.8 MB, over aiohttp's 1 MiB.
MAX_BODY = 1 << 30

BACKLOG = 128

#: What every connection handler is made with. Request bodies are decompressed by the
#: emulator itself: the signature's Content-MD5 is over the bytes as sent.
_HANDLER_ARGS: dict[str, Any] = {"access_log": None, "auto_decompress": False}


class _Handler(GatewayRequestHandler):
    """A connection of one serving period. One that the server accepted just before it
    stopped (the accept still in flight when the port closed) arrives after the runner's
    cleanup looked for connections to close: it closes itself, or it would stay open."""

    def __init__(self, *args: Any, serving: _Serving, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._serving = serving

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._serving.stopping:
            transport.close()


class _Serving:
    """One period between start and stop: whether it is stopping."""

    __slots__ = ("stopping",)

    def __init__(self) -> None:
        self.stopping = False


def url_host(host: str) -> str:
    """The host a client dials for a server bound to ``host`` (a wildcard means loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Rebinding the port of a stopped backend must not wait for TIME_WAIT to expire.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        # "[Errno 98] Address already in use" does not say which address.
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    except BaseException:
        sock.close()
        raise
    return sock


class Listener:
    """An aiohttp application served on ``host:port``, stoppable and restartable in place."""

    def __init__(
        self,
        host: str,
        port: int,
        make_app: Callable[[], web.Application],
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        #: Serve HTTPS with this context (``None``: plain HTTP).
        self.ssl_context = ssl_context
        self._make_app = make_app
        self._sock: socket.socket | None = None
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._serving: _Serving | None = None
        self._starting: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """True from the moment the port is bound until ``stop()``."""
        return self._sock is not None

    @property
    def url(self) -> str:
        host = url_host(self.host)
        scheme = "https" if self.ssl_context is not None else "http"
        return (
            f"{scheme}://[{host}]:{self.port}" if ":" in host else f"{scheme}://{host}:{self.port}"
        )

    def bind(self) -> None:
        """Bind the port now (the first time with port 0, a free one is chosen)."""
        if self._sock is None:
            self._sock = _bind(self.host, self.port)
            self.port = self._sock.getsockname()[1]

    def start_soon(self) -> None:
        """Bind now and start serving in a task: for callers that cannot await."""
        self.bind()
        if self._runner is None and self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._serve())

    async def start(self) -> None:
        """Bind (same port as before) and serve; a no-op when already running."""
        self.bind()
        if self._starting is not None:
            starting, self._starting = self._starting, None
            await starting
        elif self._runner is None:
            await self._serve()

    async def _serve(self) -> None:
        assert self._sock is not None
        runner = web.AppRunner(self._make_app(), handle_signals=False, shutdown_timeout=STOP_GRACE)
        await runner.setup()
        server = runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        serving = self._serving = _Serving()
        try:
            # Our own protocol factory (instead of a web.SockSite): connections are read
            # by the gateway's parser (parsing.py), on this server only.
            self._server = await loop.create_server(
                lambda: _Handler(server, loop=loop, serving=serving, **_HANDLER_ARGS),
                sock=self._sock,
                ssl=self.ssl_context,
                backlog=BACKLOG,
            )
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        """Close the port and every connection; requests in flight are cut off."""
        starting, self._starting = self._starting, None
        if starting is not None:
            try:
                await starting
            finally:
                self._starting = None
        runner, self._runner = self._runner, None
        sock, self._sock = self._sock, None
        server, self._server = self._server, None
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.stopping = True
        if server is not None:
            server.close()  # stop accepting; the runner's cleanup closes the connections
        if runner is not None:
            await runner.cleanup()
        if sock is not None:
            sock.close()
