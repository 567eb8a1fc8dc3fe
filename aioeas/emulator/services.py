"""Services and their backends: what the emulator serves, and where.

A ``Service`` is a name, a processor (bytes in, bytes out) and one or more ``Backend``s.
Every backend is a real HTTP server on a port of its own, listed by service discovery with
its weight, so a client in direct mode connects to it for real; the gateway answers for the
service too, attributing each request to a running backend by smooth weighted round robin
(as a real gateway forwards to an instance). Each service and each backend has its own
fault plan and request counter, and every response carries ``X-Emulator-Backend`` naming
the backend that answered, so a test can tell where a request went.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from aioeas.emulator.calls import Call
from aioeas.emulator.faults import FaultPlan
from aioeas.emulator.listener import MAX_BODY, Listener, url_host
from aioeas.emulator.processors import BodyHandler

__all__ = ["Backend", "Service"]

#: How many calls ``Service.history`` keeps.
HISTORY = 100

Serve = Callable[[web.Request, "Backend"], Awaitable[web.StreamResponse]]


class Backend:
    """One instance of a service: its own HTTP server, weight, faults and counter.

    ``await backend.stop()`` closes its port and its connections (a client then gets
    "connection refused", as from a crashed instance, while discovery still lists it);
    ``await backend.start()`` serves again on the same port. Set ``listed = False`` to
    drop it from discovery answers (a scaled-down instance).
    """

    def __init__(
        self,
        service: Service,
        index: int,
        weight: int,
        host: str,
        serve: Serve,
        seed: int,
        port: int = 0,
    ) -> None:
        self.service = service
        self.index = index
        self.name = f"{service.name}-{index}"
        self.weight = weight
        self.listed = True
        self.faults = FaultPlan(seed)
        #: Requests that reached this backend, directly or through the gateway.
        self.requests = 0
        self._serve = serve
        self._listener = Listener(host, port, self._make_app)  # 0: a free port
        self._current = 0  # smooth weighted round robin state

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", r"/api/predict/{name}{tail:(/[\s\S]*)?}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name != self.service.name:
            return web.Response(
                status=404, text=f"this backend serves {self.service.name!r}, not {name!r}"
            )
        return await self._serve(request, self)

    @property
    def host(self) -> str:
        """The address a client dials (loopback when bound to a wildcard)."""
        return url_host(self._listener.host)

    @property
    def port(self) -> int:
        return self._listener.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: what direct mode puts before ``/api/predict/...``."""
        return self._listener.url

    @property
    def running(self) -> bool:
        return self._listener.running

    async def start(self) -> None:
        """Serve (again) on this backend's port."""
        await self._listener.start()

    def start_soon(self) -> None:
        self._listener.start_soon()

    async def stop(self) -> None:
        """Close the port and every open connection; requests in flight are cut off."""
        await self._listener.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Backend {self.name} {self.url} weight={self.weight} {state}>"


class Service:
    """A predict service. Made by ``Emulator.add_*_service``; not constructed directly."""

    def __init__(self, name: str, kind: str, handler: BodyHandler, seed: int) -> None:
        self.name = name
        #: "string", "tf", "torch" or "blade": which processor adapter serves it.
        self.kind = kind
        self.handler = handler
        self.backends: list[Backend] = []
        self.faults = FaultPlan(seed)
        #: Requests that reached the service (401s and injected faults included).
        self.requests = 0
        #: The last calls its processor was given, oldest first.
        self.history: deque[Call] = deque(maxlen=HISTORY)
        #: The compression this service's configuration expects of request bodies that
        #: carry no ``Content-Encoding`` ("gzip", "zlib", "snappy", ...; ``None``: plain).
        #: EAS decides this from a service's config, and the Java client's compressed
        #: requests (and aioeas's ``compression=``) carry no header.
        self.request_encoding: str | None = None

    def _add_backends(
        self,
        weights: Sequence[int],
        host: str,
        serve: Serve,
        seed: int,
        ports: Sequence[int] | None = None,
    ) -> list[Backend]:
        ports = ports if ports is not None else [0] * len(weights)
        for i, (w, port) in enumerate(zip(weights, ports, strict=True)):
            self.backends.append(Backend(self, i, w, host, serve, seed + i + 1, port))
        return self.backends

    def backend(self, index: int) -> Backend:
        return self.backends[index]

    def pick(self) -> Backend | None:
        """The running backend the gateway forwards the next request to (smooth WRR)."""
        live = [b for b in self.backends if b.running and b.weight > 0]
        if not live:
            return None
        total = 0
        best = live[0]
        for b in live:
            b._current += b.weight
            total += b.weight
            if b._current > best._current:
                best = b
        best._current -= total
        return best

    def count(self, backend: Backend) -> int:
        """Count a request against this service and ``backend``; its ordinal, from 1."""
        self.requests += 1
        backend.requests += 1
        return self.requests

    def reset_counters(self) -> None:
        self.requests = 0
        self.history.clear()
        for b in self.backends:
            b.requests = 0

    def __repr__(self) -> str:
        return f"<Service {self.name} ({self.kind}) backends={len(self.backends)}>"
