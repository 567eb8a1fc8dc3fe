"""A watcher's WebSocket messages are bounded by the queue's payload limit plus framing.

A queue server of the test's own (not the emulator, which never sends a record over its
limit) advertises ``meta.maxPayloadBytes`` and then pushes frames of exact sizes: one of
exactly the limit passes, one byte more stops the watcher with ``FrameTooLargeError``, and
so does a frame whose header announces a gigabyte that never comes. A reconnection would
be refused (503), so a watcher that swallowed the error would end in ``WatchLostError``
instead, never hang.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

import aioeas
from aioeas.codecs.frames import encode_frame
from aioeas.errors import QueueError
from aioeas.queue import FrameTooLargeError, QueueClient, ReconnectPolicy
from aioeas.queue.protocol import DEFAULT_MAX_PAYLOAD, FRAME_OVERHEAD, payload_limit

LIMIT = 1000
#: What the client must accept and no more.
MAX_MESSAGE = LIMIT + FRAME_OVERHEAD
#: Give up at the first failed reconnection: a test of a broken watcher ends, never hangs.
NO_RETRY = ReconnectPolicy(max_attempts=1, backoff_base=0.0)


def frame_of_size(size: int, index: int) -> bytes:
    """A ``DataFrameProto`` of exactly ``size`` bytes (its data fills the rest)."""
    for n in range(max(0, size - 16), size + 1):
        frame = encode_frame(index=index, data=b"a" * n)
        if len(frame) == size:
            return frame
    raise AssertionError(f"no frame of {size} bytes")


@dataclass
class FakeQueue:
    """What the server pushes to the first watch connection, and what it saw."""

    attributes: dict[str, str]
    messages: list[bytes] = field(default_factory=list)
    raw: bytes = b""  # written straight to the socket after the messages, then it closes
    connections: int = 0
    close_code: int | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("_attrs_") == "true":
            return web.json_response(self.attributes)
        if request.query.get("_watch_") != "true":
            return web.Response(text="OK")  # commits
        self.connections += 1
        if self.connections > 1:
            return web.Response(status=503, text="no second chance")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        for message in self.messages:
            await ws.send_bytes(message)
        if self.raw:
            assert request.transport is not None
            request.transport.write(self.raw)
            request.transport.close()
        else:
            async for _ in ws:
                pass
            self.close_code = ws.close_code
        self.closed.set()
        return ws


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[FakeQueue]:
    fake = FakeQueue(attributes={"meta.maxPayloadBytes": str(LIMIT)})
    app = web.Application()
    app.router.add_route("*", "/api/predict/{name:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.url = f"http://127.0.0.1:{server.port}"
    try:
        yield fake
    finally:
        await server.close()


async def test_a_frame_over_the_limit_stops_the_watcher(serve: FakeQueue) -> None:
    serve.messages = [frame_of_size(MAX_MESSAGE, 1), frame_of_size(MAX_MESSAGE + 1, 2)]
    async with QueueClient(serve.url, "q", token="t", reconnect=NO_RETRY) as q:
        await q.init()
        assert q.max_message_size == MAX_MESSAGE
        async with q.watch(window=4) as watcher:
            first = await watcher.next()
            assert first.index == 1  # exactly the limit: accepted
            watcher.commit(first)
            with pytest.raises(FrameTooLargeError) as info:
                await watcher.next()
            assert watcher.error is info.value
    assert isinstance(info.value, QueueError)
    assert info.value.limit == MAX_MESSAGE
    assert str(MAX_MESSAGE) in str(info.value)
    await serve.closed.wait()
    assert serve.close_code == 1009  # the client said why it closed
    assert serve.connections == 1  # and did not come back for the same record


async def test_a_gigabyte_announced_is_refused_from_the_header(serve: FakeQueue) -> None:
    # a binary frame whose 64-bit length says 1 GiB; 1000 bytes of it follow, then EOF
    serve.raw = b"\x82\x7f" + struct.pack(">Q", 1 << 30) + b"a" * 1000
    q = QueueClient(serve.url, "q", token="t", reconnect=NO_RETRY)
    async with q, q.watch() as watcher:
        with pytest.raises(FrameTooLargeError):
            await watcher.next()
    assert serve.connections == 1


async def test_the_limit_follows_the_attributes(serve: FakeQueue) -> None:
    q = QueueClient(serve.url, "q", token="t")
    assert q.max_message_size == DEFAULT_MAX_PAYLOAD + FRAME_OVERHEAD  # not read yet
    async with q:  # opening reads the attributes
        assert q.max_message_size == MAX_MESSAGE
        serve.attributes = {"meta.maxPayloadBytes": "5000"}
        await q.attributes()  # read again: the new limit is used from then on
        assert q.max_message_size == 5000 + FRAME_OVERHEAD
    async with QueueClient(serve.url, "q", token="t", discover_headers=False) as q:
        await q.init()
        assert q.max_message_size == DEFAULT_MAX_PAYLOAD + FRAME_OVERHEAD  # unknown


@pytest.mark.parametrize(
    ("value", "limit"),
    [("1000", 1000), (" 8388608 ", 8 << 20), ("0", None), ("-5", None), ("1e6", None),
     ("abc", None), ("", None), ("\u00b2", None), ("9" * 30, None)],
)  # fmt: skip
def test_payload_limit(value: str, limit: int | None) -> None:
    assert payload_limit({"meta.maxPayloadBytes": value}) == limit
    assert payload_limit({}) is None


def test_the_error_is_public() -> None:
    assert aioeas.FrameTooLargeError is FrameTooLargeError
    assert issubclass(FrameTooLargeError, aioeas.QueueError)
