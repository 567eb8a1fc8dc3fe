"""``Emulator``: a local PAI-EAS gateway with services, backends, discovery and faults.

::

    async with Emulator(token="secret") as emu:
        emu.add_tf_service("double", lambda inputs: {"y": inputs["x"] * 2}, backends=3,
                           weights=[1, 2, 3])
        ...  # a client at emu.url, service "double"; or direct mode with discovery at emu.url

The gateway (``emu.url``) answers ``/api/predict/{service}[/path]`` and the discovery paths;
each backend also answers ``/api/predict/{service}[/path]`` on its own port. Queue
services (``add_queue_service``) are served by the gateway only, at
``/api/predict/{name}`` (input) and ``/api/predict/{name}/sink``; one of them may also be
served at ``/`` and ``/sink``, the empty base path of the Go client's test suite.
"""

from __future__ import annotations

import ssl
import zlib
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

from aioeas.emulator import models, processors
from aioeas.emulator.discovery import Discovery
from aioeas.emulator.handler import serve_predict
from aioeas.emulator.listener import MAX_BODY, Listener
from aioeas.emulator.processors import (
    BladeProcessor,
    BodyHandler,
    RawProcessor,
    TFProcessor,
    TorchMapProcessor,
    TorchProcessor,
)
from aioeas.emulator.queue import DEFAULT_GRACE, DEFAULT_MAX_PAYLOAD, Queue, QueueService
from aioeas.emulator.queue.routes import serve_queue
from aioeas.emulator.queue.worker import Processor, Worker
from aioeas.emulator.services import Backend, Service

__all__ = ["BUILTIN_SERVICES", "Emulator"]

#: The services every emulator starts with (``builtins=False`` leaves them out).
BUILTIN_SERVICES = (
    "scorecard_pmml_example",
    "mnist_saved_model_example",
    "pytorch_gpu_wl",
    "nlp_model_example",
    "echo",
    "echo_tf",
    "echo_torch",
    "echo_blade",
)


def _layout(
    backends: int, weights: Sequence[int] | None, ports: Sequence[int] | None
) -> tuple[list[int], list[int]]:
    """Each backend's weight and port: ``weights`` and ``ports`` (either alone says how
    many backends; together they are as long as each other), else ``backends`` of weight
    1 on free ports."""
    if weights is not None and ports is not None and len(weights) != len(ports):
        raise ValueError(f"{len(weights)} weights but {len(ports)} ports")
    given = weights if weights is not None else ports
    if given is not None and backends != 1 and len(given) != backends:
        what = "weights" if weights is not None else "ports"
        raise ValueError(f"{backends} backends but {len(given)} {what}")
    n = backends if given is None else len(given)
    out_weights = list(weights) if weights is not None else [1] * n
    out_ports = list(ports) if ports is not None else [0] * n
    if not out_weights or any(w < 0 for w in out_weights):
        raise ValueError(f"a service has one backend or more, weights >= 0: {out_weights}")
    if any(not 0 <= p <= 65535 for p in out_ports):
        raise ValueError(f"a port is 0 (a free one) to 65535: {out_ports}")
    nonzero = [p for p in out_ports if p]
    if len(set(nonzero)) != len(nonzero):
        raise ValueError(f"each backend has a port of its own: {out_ports}")
    return out_weights, out_ports


class Emulator:
    """A local EAS endpoint for tests, demos and benchmarks.

    ``token``: when set, every predict needs it (raw in ``Authorization``, or an ``EAS``
    HMAC signature); None serves everyone. ``port=0`` picks a free port (``emu.port`` and
    ``emu.url`` say which). ``builtins`` adds the manual's example services, each with
    ``backends`` backends. ``ssl_context`` (a server-side ``ssl.SSLContext``) serves the
    gateway over HTTPS (``emu.url`` is then ``https://...``; backends stay plain HTTP, as
    direct mode dials them). ``seed`` seeds every fault plan's RNG (each derives its own from
    it and its name), so rate-based faults repeat exactly from run to run.

    Every ``add_*_service`` takes ``backends`` (how many servers, default 1),
    ``weights`` (their discovery weights, all 1 by default) and ``ports`` (0, the
    default, picks a free one); ``weights`` or ``ports`` given alone means one backend
    per item. ``builtin_weights`` and ``builtin_ports`` do the same for the built-in
    services, by name (e.g. ``{"mnist_saved_model_example": [1, 2, 3]}``; a name that is
    not a built-in is a ``ValueError``). Services can be added before or after ``start()``; a backend added while
    running binds its port at once and starts serving within the next loop iterations
    (connections wait in the backlog meanwhile).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        builtins: bool = True,
        backends: int = 1,
        seed: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        builtin_weights: Mapping[str, Sequence[int]] | None = None,
        builtin_ports: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        self.token = token or None  # "" is no token: clients without one send it empty
        self.host = host
        self.seed = seed
        self._services: dict[str, Service] = {}
        self._queues: dict[str, QueueService] = {}
        self._workers: dict[str, Worker] = {}
        self._root_queue: str | None = None
        self._gateway = Listener(host, port, self._make_app, ssl_context=ssl_context)
        self.discovery = Discovery(self._services.get, self._seed_for("discovery"))
        self._started = False
        self._closed = False
        weights, ports = dict(builtin_weights or {}), dict(builtin_ports or {})
        unknown = sorted((set(weights) | set(ports)) - set(BUILTIN_SERVICES))
        if unknown:
            raise ValueError(
                f"no built-in service {unknown[0]!r}; they are {', '.join(BUILTIN_SERVICES)}"
            )
        if builtins:
            self._install_builtins(backends, weights, ports)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with ``ssl_context``): the endpoint to give
        a client (valid once started)."""
        return self._gateway.url

    @property
    def port(self) -> int:
        return self._gateway.port

    @property
    def running(self) -> bool:
        return self._started and not self._closed

    async def start(self) -> Emulator:
        """Bind the gateway and every backend, and serve."""
        if self._closed:
            raise RuntimeError("a stopped Emulator cannot be started again; make a new one")
        if not self._started:
            self._started = True
            await self._gateway.start()
            for service in self._services.values():
                for backend in service.backends:
                    await backend.start()
            for worker in self._workers.values():
                worker.start()
        return self

    async def stop(self) -> None:
        """Stop the gateway and every backend; idempotent."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers.values():
            await worker.stop()
        for queues in self._queues.values():
            queues.close()
        for service in self._services.values():
            for backend in service.backends:
                await backend.stop()
        await self._gateway.stop()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- the service registry ----------------------------------------------------------

    @property
    def services(self) -> Mapping[str, Service]:
        """Every service by name (read-only view)."""
        return dict(self._services)

    def service(self, name: str) -> Service:
        """The service called ``name``; ``KeyError`` naming the ones there are."""
        try:
            return self._services[name]
        except KeyError:
            raise KeyError(f"no service {name!r}; services are {sorted(self._services)}") from None

    def add_service(
        self,
        name: str,
        fn: RawProcessor,
        *,
        backends: int = 1,
        weights: Sequence[int] | None = None,
        ports: Sequence[int] | None = None,
    ) -> Service:
        """A string service: ``fn(body: bytes) -> bytes | str`` (sync or async).

        The body is the request's bytes (decompressed); a ``str`` answer is sent as UTF-8.
        ``backends`` servers are started, weighted by ``weights`` (all 1 by default).
        The path after the service name, the query and the headers are in
        ``current_call()``; raise ``Reject(message, status)`` to answer an error.
        """
        return self._add(name, "string", processors.raw_handler(fn), backends, weights, ports)

    def add_tf_service(
        self,
        name: str,
        fn: TFProcessor,
        *,
        signature: str | None = None,
        backends: int = 1,
        weights: Sequence[int] | None = None,
        ports: Sequence[int] | None = None,
    ) -> Service:
        """A TensorFlow service: ``fn(inputs: dict[str, ndarray]) -> Mapping[str, array]``.

        The request's ``output_filter`` picks among ``fn``'s outputs (an unknown name is a
        400). With ``signature``, a request naming another signature is a 400 (an empty one
        is accepted).
        """
        handler = processors.tf_handler(fn, signature=signature)
        return self._add(name, "tf", handler, backends, weights, ports)

    def add_torch_service(
        self,
        name: str,
        fn: TorchProcessor,
        *,
        map_fn: TorchMapProcessor | None = None,
        backends: int = 1,
        weights: Sequence[int] | None = None,
        ports: Sequence[int] | None = None,
    ) -> Service:
        """A PyTorch service: ``fn(inputs: list[ndarray]) -> Sequence[array]``.

        ``output_filter`` indexes pick among the outputs. ``map_fn(dict) -> dict`` answers
        named ``map_inputs`` in ``map_outputs``; without it, named inputs are a 400.
        Snappy-compressed bodies (``TorchRequest(flag=True)``) are accepted.
        """
        handler = processors.torch_handler(fn, map_fn=map_fn)
        return self._add(name, "torch", handler, backends, weights, ports)

    def add_blade_service(
        self,
        name: str,
        fn: BladeProcessor,
        *,
        signature: str | None = None,
        backends: int = 1,
        weights: Sequence[int] | None = None,
        ports: Sequence[int] | None = None,
    ) -> Service:
        """A Blade service: ``fn(inputs: dict[str, ndarray]) -> Mapping[str, array]``.

        Serves ``BladeRequest`` and ``BladeTFRequest`` alike (both send a Blade
        ``Request``). The outputs the request fetches are answered, cast to the type it
        fetched them as; an output it did not fetch is left out, unless it fetched none.
        """
        handler = processors.blade_handler(fn, signature=signature)
        return self._add(name, "blade", handler, backends, weights, ports)

    def add_handler(
        self,
        name: str,
        handler: BodyHandler,
        *,
        kind: str = "string",
        backends: int = 1,
        weights: Sequence[int] | None = None,
        ports: Sequence[int] | None = None,
    ) -> Service:
        """A service from an async ``handler(body: bytes) -> bytes`` with no adapter at all."""
        return self._add(name, kind, handler, backends, weights, ports)

    async def remove_service(self, name: str) -> None:
        """Stop the service's backends and forget it (later requests get 404)."""
        service = self._services.pop(name, None)
        if service is not None:
            for backend in service.backends:
                await backend.stop()

    # -- queue services ----------------------------------------------------------------

    @property
    def queues(self) -> Mapping[str, QueueService]:
        """Every queue service by name (read-only view)."""
        return dict(self._queues)

    def add_queue_service(
        self,
        name: str,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD,
        max_length: int | None = None,
        sink_max_length: int | None = None,
        processor: Processor | None = None,
        concurrency: int = 1,
        grace: float = DEFAULT_GRACE,
        root: bool = False,
    ) -> QueueService:
        """A queue service: input queue ``name``, sink ``name/sink``.

        ``max_payload_bytes``: a bigger put is a 413. ``max_length`` / ``sink_max_length``:
        a put to a full queue is a 429 (None: unbounded). ``grace``: seconds a departed
        watcher's records wait for its uid before the rest of its group may get them.
        ``processor`` (``fn(bytes) -> bytes | str | None``, sync or async, or the name of a
        predict service of this emulator) attaches the asynchronous-inference worker,
        ``concurrency`` records at a time. ``root``: also serve it at ``/`` and ``/sink``.
        """
        if not name or "/" in name:
            raise ValueError(f"a queue service name is non-empty and has no '/', got {name!r}")
        if name in self._queues or name in self._services:
            raise ValueError(f"a service named {name!r} exists already")
        if root and self._root_queue is not None:
            raise ValueError(f"queue service {self._root_queue!r} is served at / already")
        service = QueueService(
            name,
            max_payload_bytes=max_payload_bytes,
            max_length=max_length,
            sink_max_length=sink_max_length,
            grace=grace,
            seed=self._seed_for(f"queue:{name}"),
        )
        if processor is not None:
            worker = Worker(service, processor, concurrency=concurrency, resolve=self.service)
            self._workers[name] = worker
            if self.running:
                worker.start()
        self._queues[name] = service
        if root:
            self._root_queue = name
        return service

    def queue_service(self, name: str) -> QueueService:
        """The queue service called ``name``; ``KeyError`` naming the ones there are."""
        try:
            return self._queues[name]
        except KeyError:
            raise KeyError(f"no queue service {name!r}; they are {sorted(self._queues)}") from None

    def queue(self, name: str) -> Queue:
        """The queue ``name`` (an input queue) or ``name/sink`` (its sink), for tests."""
        base, sep, rest = name.partition("/sink")
        if sep and not rest:
            return self.queue_service(base).sink
        return self.queue_service(name).input

    def worker(self, name: str) -> Worker | None:
        """The asynchronous-inference worker of queue service ``name``, if it has one."""
        return self._workers.get(name)

    def _seed_for(self, name: str) -> int:
        return zlib.crc32(f"{self.seed}:{name}".encode())

    def _add(
        self,
        name: str,
        kind: str,
        handler: BodyHandler,
        backends: int,
        weights: Sequence[int] | None,
        ports: Sequence[int] | None = None,
    ) -> Service:
        if not name or "/" in name:
            raise ValueError(f"a service name is non-empty and has no '/', got {name!r}")
        if name in self._services:
            raise ValueError(f"a service named {name!r} exists already")
        weights, ports = _layout(backends, weights, ports)
        service = Service(name, kind, handler, self._seed_for(name))
        service._add_backends(weights, self.host, self._serve, self._seed_for(name), ports)
        self._services[name] = service
        if self.running:
            for backend in service.backends:
                backend.start_soon()
        return service

    async def _serve(self, request: web.Request, backend: Backend) -> web.StreamResponse:
        return await serve_predict(request, backend.service, backend, self.token)

    # -- the gateway -------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", r"/api/predict/{name}{tail:(/[\s\S]*)?}", self._predict)
        self.discovery.add_routes(app)
        app.router.add_route("*", "/", self._root)
        app.router.add_route("*", "/sink", self._root)
        return app

    async def _root(self, request: web.Request) -> web.StreamResponse:
        if self._root_queue is None:
            return web.Response(status=404, text="no queue service is served at /")
        return await serve_queue(
            request, self._queues[self._root_queue], request.path.rstrip("/"), self.token
        )

    async def _predict(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        queues = self._queues.get(name)
        if queues is not None:
            return await serve_queue(request, queues, request.match_info["tail"], self.token)
        service = self._services.get(name)
        if service is None:
            return web.Response(status=404, text=f"service {name!r} not found")
        backend = service.pick()
        if backend is None:
            return web.Response(status=503, text=f"no backend of service {name!r} is running")
        return await self._serve(request, backend)

    def _install_builtins(
        self,
        backends: int,
        weights: Mapping[str, Sequence[int]],
        ports: Mapping[str, Sequence[int]],
    ) -> None:
        def at(name: str) -> dict[str, Any]:
            """``add_*_service`` arguments of built-in ``name``: its layout, if given."""
            given = name in weights or name in ports
            return {
                "backends": 1 if given else backends,
                "weights": weights.get(name),
                "ports": ports.get(name),
            }

        self.add_service("scorecard_pmml_example", models.scorecard, **at("scorecard_pmml_example"))
        self.add_tf_service(
            "mnist_saved_model_example",
            models.mnist,
            signature=models.MNIST_SIGNATURE,
            **at("mnist_saved_model_example"),
        )
        self.add_torch_service(
            "pytorch_gpu_wl", models.resnet, map_fn=models.resnet_named, **at("pytorch_gpu_wl")
        )
        self.add_blade_service(
            "nlp_model_example",
            models.nlp,
            signature=models.NLP_SIGNATURE,
            **at("nlp_model_example"),
        )
        self.add_service("echo", lambda body: body, **at("echo"))
        self.add_handler("echo_tf", processors.echo_tf, kind="tf", **at("echo_tf"))
        self.add_handler("echo_torch", processors.echo_torch, kind="torch", **at("echo_torch"))
        self.add_handler("echo_blade", processors.echo_blade, kind="blade", **at("echo_blade"))

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self._closed else "new")
        return f"<Emulator {self.url} {state} services={len(self._services)}>"
