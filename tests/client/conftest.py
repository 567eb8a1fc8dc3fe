"""Small local EAS look-alikes for the client's integration tests (aiohttp, port 0).

``FakeService`` answers ``/api/predict/{svc}[/{tail}]`` with scripted faults, records every
request and checks signatures; ``FakeDiscovery`` serves both discovery paths. Slow answers
wait on an ``asyncio.Event`` (``gate``), never on a sleep.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from aioeas.emulator.auth import signature_valid

TOKEN = "s3cr3t-T0KEN-never-shown=="


@dataclass
class Seen:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    signed_ok: bool


@dataclass
class FakeService:
    """One backend: echoes ``name:`` + body; ``faults`` are statuses answered first."""

    name: str = "b"
    token: str | None = None
    faults: collections.deque[int] = field(default_factory=collections.deque)
    gate: asyncio.Event | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    seen: list[Seen] = field(default_factory=list)
    answer_encoding: tuple[str, Callable[[bytes], bytes]] | None = None
    server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        # checked by the emulator's verifier, which shares no code with the client's signing
        auth = request.headers.get("Authorization", "")
        signed_ok = (
            self.token is None
            or auth == self.token
            or signature_valid(
                self.token,
                auth,
                method=request.method,
                content_md5=request.headers.get("Content-MD5"),
                content_type=request.headers.get("Content-Type"),
                date=request.headers.get("Date"),
                bodies=[body],
                resources=[request.raw_path],
            )
        )
        self.seen.append(
            Seen(request.path, request.query_string, dict(request.headers), body, signed_ok)
        )
        if not signed_ok:
            return web.Response(status=401, text="bad signature")
        if self.faults:
            status = self.faults.popleft()
            return web.Response(status=status, text=f"fault {status} from {self.name}")
        if self.gate is not None and request.match_info.get("tail") == "slow":
            self.arrived.set()
            await self.gate.wait()
        answer = self.name.encode() + b":" + body
        if self.answer_encoding is not None:
            coding, encode = self.answer_encoding
            return web.Response(body=encode(answer), headers={"Content-Encoding": coding})
        return web.Response(body=answer)

    @property
    def port(self) -> int:
        assert self.server is not None
        assert self.server.port is not None
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.gate is not None:
            self.gate.set()
        if self.server is not None:
            await self.server.close()


@dataclass
class FakeDiscovery:
    """Both discovery paths; ``mode`` scripts its answers."""

    items: list[dict[str, object]] = field(default_factory=list)
    mode: str = "ok"  # ok | bad_json | empty | error | new_path_404
    hits: list[str] = field(default_factory=list)
    server: TestServer | None = None
    #: Answer an empty list to this many requests first, whatever the mode.
    empty_first: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(request.path_qs)
        if len(self.hits) <= self.empty_first:
            return web.Response(text=json.dumps({"endpoints": {"items": []}}))
        if self.mode == "error":
            return web.Response(status=500, text="boom")
        if self.mode == "bad_json":
            return web.Response(text="{not json")
        if self.mode == "new_path_404" and request.path.startswith("/api/v1/"):
            return web.Response(status=404, text="404 page not found")
        items = [] if self.mode == "empty" else self.items
        return web.Response(text=json.dumps({"endpoints": {"items": items}}))

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"


ServiceFactory = Callable[..., Awaitable[FakeService]]


@pytest.fixture
async def make_service() -> AsyncIterator[ServiceFactory]:
    made: list[FakeService] = []

    async def make(name: str = "b", **kwargs: object) -> FakeService:
        svc = FakeService(name, **kwargs)  # type: ignore[arg-type]
        app = web.Application()
        app.router.add_post("/api/predict/{svc}", svc.handle)
        app.router.add_post("/api/predict/{svc}/{tail:.*}", svc.handle)
        app.router.add_post("/custom/{tail:.*}", svc.handle)
        svc.server = TestServer(app, host="127.0.0.1")
        await svc.server.start_server()
        made.append(svc)
        return svc

    yield make
    for svc in made:
        await svc.stop()


@pytest.fixture
async def discovery() -> AsyncIterator[FakeDiscovery]:
    disc = FakeDiscovery()
    app = web.Application()
    app.router.add_get("/api/v1/servicediscovery/upstreams/{svc}", disc.handle)
    app.router.add_get("/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/{svc}", disc.handle)
    disc.server = TestServer(app, host="127.0.0.1")
    await disc.server.start_server()
    yield disc
    await disc.server.close()
