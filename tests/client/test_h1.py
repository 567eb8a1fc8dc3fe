"""``H1Transport`` against a raw asyncio server: bytes in, bytes out, every case scripted.

Each test's server runs a script per accepted connection (``Raw``), so what the client
does with its sockets is seen from the other end: how many connections, which bytes,
when one is closed. Waits are on events (or a bounded number of loop turns), never on
the clock.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from aioeas.client.config import PoolLimits, Timeout
from aioeas.client.h1 import H1Transport
from aioeas.client.transport import AiohttpTransport, HTTPResponse, never_sent
from aioeas.errors import (
    CertificateError,
    ConnectError,
    RequestTimeoutError,
    TransportError,
    UsageError,
)

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
T = Timeout(total=30.0)


async def until(event: asyncio.Event) -> None:
    """Wait for ``event``: a broken client fails the test instead of hanging it (the
    bound is a guard, far above any wait a working client causes; nothing is timed)."""
    await asyncio.wait_for(event.wait(), 120)


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request's head and body (by its Content-Length); ``(b"", b"")`` at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b"", b""
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


class Raw:
    """A TCP server on 127.0.0.1:0 running ``script(reader, writer, n)`` on connection n."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.accepted = 0
        self.open = 0
        self.peak = 0
        self.closed: list[asyncio.Event] = []  # set when connection n saw the client's EOF
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.url = ""
        self.writers: list[asyncio.StreamWriter] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        n = self.accepted
        self.accepted += 1
        self.open += 1
        self.peak = max(self.peak, self.open)
        self.closed.append(asyncio.Event())
        try:
            await self.script(reader, writer, n)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            writer.close()
            self.closed[n].set()

    async def __aenter__(self) -> Raw:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        # From Python 3.12 on, wait_closed() also waits for the connections it accepted:
        # end those a client keeps alive in its pool (else each test waited for the
        # client's keep-alive to expire)
        for writer in self.writers:
            writer.transport.abort()
        await self.server.wait_closed()


async def answer_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer ``OK`` to every request until the client closes."""
    while (await read_request(reader))[0]:
        writer.write(OK)
        await writer.drain()


def serving(*answers: bytes, then_close: bool = False) -> Raw:
    """A server answering each request on a connection with the next of ``answers`` (the
    last one repeated), recording the requests; closing after them when ``then_close``."""
    recorded: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        i = 0
        while True:
            head, body = await read_request(reader)
            if not head:
                return
            recorded.append(head + body)
            writer.write(answers[min(i, len(answers) - 1)])
            await writer.drain()
            i += 1
            if then_close and i == len(answers):
                return

    raw = Raw(script)
    raw.requests = recorded
    return raw


@pytest.fixture
async def transport() -> AsyncIterator[H1Transport]:
    t = H1Transport()
    yield t
    await t.close()


async def get(t: H1Transport | AiohttpTransport, url: str, **kw: object) -> HTTPResponse:
    return await t.request(
        str(kw.get("method", "GET")),
        url,
        headers=kw.get("headers", {}),  # type: ignore[arg-type]
        body=kw.get("body"),  # type: ignore[arg-type]
        timeout=kw.get("timeout", T),  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------------- request bytes


async def test_the_request_bytes_are_exact(transport: H1Transport) -> None:
    async with serving(OK) as raw:
        port = raw.url.rsplit(":", 1)[1]
        resp = await get(
            transport,
            raw.url + "/api/predict/a%2Fb?x=1&y=%20",
            method="POST",
            headers={"Authorization": "sig", "Content-Type": "application/json"},
            body=b"hello",
        )
    assert (resp.status, resp.body, resp.headers["content-length"]) == (200, b"ok", "2")
    assert raw.requests == [
        b"POST /api/predict/a%2Fb?x=1&y=%20 HTTP/1.1\r\nHost: 127.0.0.1:" + port.encode()
        + b"\r\nUser-Agent: aioeas\r\nAuthorization: sig\r\nContent-Type: application/json\r\n"
        b"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nContent-Length: 5\r\n\r\nhello"
    ]  # fmt: skip


CASES = [
    ("POST", {"Authorization": "a", "X-y": "1"}, b"body"),
    ("POST", {}, None),
    ("POST", {}, b""),
    ("GET", {"accept": "x/y", "user-agent": "me", "Host": "other:1"}, None),
    ("GET", {"a": "\u00fc"}, b"x"),
    ("PUT", {"X-y": "1", "x-Y": "2", "content-type": "a/b"}, None),
    ("POST", {}, b"L" * ((1 << 20) + 5)),
]


@pytest.mark.parametrize(("method", "headers", "body"), CASES)
async def test_the_same_bytes_as_the_aiohttp_transport(
    method: str, headers: dict[str, str], body: bytes | None
) -> None:
    sent = []
    for make in (AiohttpTransport, H1Transport):
        t = make()
        try:
            async with serving(OK) as raw:
                await get(t, raw.url + "/p/%7E?q=%2F", method=method, headers=headers, body=body)
                sent.append(raw.requests[0].replace(raw.url[7:].encode(), b"HOST"))
        finally:
            await t.close()
    assert sent[0] == sent[1]


async def test_header_injection_and_bad_urls_fail_before_io(transport: H1Transport) -> None:
    async with serving(OK) as raw:
        with pytest.raises(UsageError):
            await get(transport, raw.url, headers={"X": "a\r\nEvil: 1"})
        with pytest.raises(UsageError):
            await get(transport, raw.url, headers={"Bad Name": "a"})
        with pytest.raises(UsageError):
            await get(transport, raw.url, method="GE T")
        for url in ("ftp://h/x", "http:///x", "http://h:99999/", "http://h/a b", "relative"):
            with pytest.raises(UsageError):
                await get(transport, url)
    assert raw.accepted == 0


# ---------------------------------------------------------------------------- the pool


async def test_one_connection_carries_request_after_request(transport: H1Transport) -> None:
    async with serving(OK) as raw:
        for _ in range(5):
            assert (await get(transport, raw.url)).body == b"ok"
    assert raw.accepted == 1
    assert len(raw.requests) == 5


@pytest.mark.parametrize(
    "pool", [PoolLimits(max_connections=2), PoolLimits(max_connections=9, max_per_host=2)]
)
async def test_the_pool_limit_holds(pool: PoolLimits) -> None:
    gate = asyncio.Event()
    two_in = asyncio.Event()
    heads: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            head, _ = await read_request(reader)
            if not head:
                return
            heads.append(head)
            if len(heads) == 2:
                two_in.set()
            await gate.wait()
            writer.write(OK)
            await writer.drain()

    t = H1Transport(pool=pool)
    try:
        async with Raw(script) as raw:
            calls = [asyncio.ensure_future(get(t, raw.url)) for _ in range(6)]
            await until(two_in)
            for _ in range(20):  # the other four had every chance to connect
                await asyncio.sleep(0)
            assert raw.accepted == 2
            gate.set()
            assert [r.body for r in await asyncio.gather(*calls)] == [b"ok"] * 6
            assert raw.peak == 2
            assert len(heads) == 6
    finally:
        await t.close()


async def test_at_the_limit_an_idle_connection_to_another_host_makes_room() -> None:
    t = H1Transport(pool=PoolLimits(max_connections=1))
    try:
        async with serving(OK) as a, serving(OK) as b:
            await get(t, a.url)
            await get(t, b.url)
            await until(a.closed[0])  # a's idle connection was closed for b's
            await get(t, a.url)
        assert (a.accepted, b.accepted) == (2, 1)
    finally:
        await t.close()


async def test_idle_connections_close_after_the_keepalive_timeout() -> None:
    t = H1Transport(pool=PoolLimits(keepalive_timeout=0.01))
    try:
        async with serving(OK) as raw:
            await get(t, raw.url)
            await until(raw.closed[0])  # closed by the client, unasked
            assert t.idle_connections() == 0
            await get(t, raw.url)
        assert raw.accepted == 2
    finally:
        await t.close()


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    transport: H1Transport,
) -> None:
    async with serving(OK, then_close=True) as raw:
        await get(transport, raw.url, method="POST", body=b"1")
        await until(raw.closed[0])
        for _ in range(50):  # the client's loop turn that reads the EOF
            if transport.idle_connections() == 0:
                break
            await asyncio.sleep(0)
        assert transport.idle_connections() == 0
        assert (await get(transport, raw.url, method="POST", body=b"2")).body == b"ok"
    assert raw.accepted == 2


async def _closes_without_answer_first(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int
) -> None:
    """Connection 0 reads the request and closes: the race of a server closing an idle
    connection just as a request goes out on it. Later connections answer."""
    while True:
        head, _ = await read_request(reader)
        if not head or n == 0:
            return
        writer.write(OK)
        await writer.drain()


async def test_a_post_on_a_connection_closed_under_it_is_a_connect_error_that_may_have_been_sent(
    transport: H1Transport,
) -> None:
    async with Raw(_closes_without_answer_first) as raw:
        with pytest.raises(ConnectError) as info:
            await get(transport, raw.url, method="POST", body=b"x")
    assert not never_sent(info.value)  # the request went out: not repeated blindly
    assert raw.accepted == 1


async def test_a_get_on_a_connection_closed_under_it_is_sent_once_more_as_aiohttp_does(
    transport: H1Transport,
) -> None:
    async with Raw(_closes_without_answer_first) as raw:
        assert (await get(transport, raw.url)).body == b"ok"
    assert raw.accepted == 2


async def test_a_get_sent_once_more_onto_a_refused_connection_may_have_been_sent(
    transport: H1Transport,
) -> None:
    raw: Raw

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)  # the request arrives; then nobody listens any more
        assert raw.server is not None
        raw.server.close()

    async with Raw(script) as raw:
        with pytest.raises(ConnectError) as info:
            await get(transport, raw.url)
    assert not never_sent(info.value)  # the first try went out before the refusal
    assert raw.accepted == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
    ],
)
async def test_an_answer_that_ends_the_connection_is_honoured(
    transport: H1Transport, answer: bytes
) -> None:
    async with serving(answer) as raw:
        for _ in range(2):
            assert (await get(transport, raw.url)).body == b"ok"
        await until(raw.closed[0])  # closed by the client
    assert raw.accepted == 2


async def test_http_1_0_keep_alive_is_reused(transport: H1Transport) -> None:
    answer = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
    async with serving(answer) as raw:
        for _ in range(2):
            await get(transport, raw.url)
    assert raw.accepted == 1


async def test_close_returns_after_connections_the_server_closed_at_once() -> None:
    """A connection closed by the server as soon as it is made may be lost before the
    request that opened it resumes: ``close`` must not wait for it forever."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        del reader, writer, n  # closed at once (by Raw)

    t = H1Transport()
    async with Raw(script) as raw:
        for _ in range(30):
            with pytest.raises(ConnectError):
                await get(t, raw.url, method="POST", body=b"x")
    await asyncio.wait_for(t.close(), 120)  # a guard: close() returns at once when right


async def test_close_closes_idle_connections_and_ends_the_transport() -> None:
    t = H1Transport()
    async with serving(OK) as raw:
        await get(t, raw.url)
        await t.close()
        await until(raw.closed[0])
        with pytest.raises(UsageError):
            await get(t, raw.url)


# ------------------------------------------------------------------------------ answers


async def _answer_in_pieces(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pieces: list[bytes]
) -> None:
    await read_request(reader)
    for piece in pieces:
        writer.write(piece)
        await writer.drain()


@pytest.mark.parametrize(
    ("pieces", "body", "reused"),
    [
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc", b"\r\n2;x=y\r\nde\r\n",
          b"0\r\n\r\n"], b"abcde", True),
        ([b"HTTP/1.1 200 OK\r\nContent-Type: t\r\n\r\nto the", b" end"], b"to the end", False),
        ([b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
         b"ok", True),
        ([b"HTTP/1.1 204 No Content\r\n\r\n"], b"", True),
        ([b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"], b"", True),
        ([b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00"],
         b"\x1f\x8b\x08\x00", True),
    ],
)  # fmt: skip
async def test_every_framing_reads_the_whole_body(
    transport: H1Transport, pieces: list[bytes], body: bytes, reused: bool
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _answer_in_pieces(reader, writer, pieces)
        if reused:
            await answer_ok(reader, writer)

    async with Raw(script) as raw:
        resp = await get(transport, raw.url)
        assert resp.body == body  # undecoded: Content-Encoding is the client's business
        assert transport.idle_connections() == (1 if reused else 0)


async def test_a_short_body_is_a_connect_error(transport: H1Transport) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _answer_in_pieces(reader, writer, [b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok"])

    async with Raw(script) as raw:
        with pytest.raises(ConnectError, match="mid-answer") as info:
            await get(transport, raw.url, method="POST", body=b"x")
    assert not never_sent(info.value)


@pytest.mark.parametrize(
    "answer",
    [b"SPDY/9 200 nope\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"],
)
async def test_a_malformed_answer_is_a_transport_error(
    transport: H1Transport, answer: bytes
) -> None:
    async with serving(answer) as raw:
        with pytest.raises(TransportError) as info:
            await get(transport, raw.url)
        await until(raw.closed[0])  # the connection is not kept
    assert type(info.value) is TransportError
    assert not never_sent(info.value)


async def test_a_large_request_body_is_written_under_flow_control_without_a_copy(
    transport: H1Transport,
) -> None:
    size = 32 << 20
    body = bytes(size)
    reading = asyncio.Event()
    got: list[int] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        await reading.wait()  # the client must wait for the socket meanwhile
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        total = 0
        while total < length:
            total += len(await reader.read(1 << 20))
        got.append(total)
        writer.write(OK)
        await writer.drain()

    async with Raw(script) as raw:
        tracemalloc.start()
        try:
            call = asyncio.ensure_future(get(transport, raw.url, method="POST", body=body))
            for _ in range(2 * size // (1 << 16)):  # turns enough to buffer all of it
                await asyncio.sleep(0)
            assert not call.done()  # held by the socket: paused, not buffering it all
            reading.set()
            assert (await call).body == b"ok"
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert got == [size]
    assert peak < size // 4, f"sending held {peak / size:.2f}x the body"


# -------------------------------------------------------------------- errors and timeouts


async def test_a_refused_connection_surely_sent_nothing(transport: H1Transport) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        with pytest.raises(ConnectError) as info:
            await get(transport, f"http://127.0.0.1:{port}/", method="POST", body=b"x")
    assert never_sent(info.value)


async def test_a_timeout_waiting_for_the_answer_may_have_sent_and_closes_the_connection(
    transport: H1Transport,
) -> None:
    arrived = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        arrived.set()
        await reader.read()  # no answer, until the client closes

    async with Raw(script) as raw:
        with pytest.raises(RequestTimeoutError) as info:
            await get(transport, raw.url, method="POST", body=b"x", timeout=Timeout(0.05))
        assert arrived.is_set()
        await until(raw.closed[0])
    assert not never_sent(info.value)
    assert isinstance(info.value, asyncio.TimeoutError)


async def test_a_connect_timeout_while_waiting_for_the_pool_surely_sent_nothing() -> None:
    held = asyncio.Event()
    release = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        held.set()
        await release.wait()
        writer.write(OK)
        await writer.drain()

    t = H1Transport(pool=PoolLimits(max_connections=1))
    try:
        async with Raw(script) as raw:
            first = asyncio.ensure_future(get(t, raw.url))
            await until(held)
            with pytest.raises(RequestTimeoutError) as info:
                await get(t, raw.url, method="POST", timeout=Timeout(30.0, connect=0.05))
            assert never_sent(info.value)
            release.set()
            assert (await first).body == b"ok"
    finally:
        await t.close()


async def test_cancelling_mid_answer_closes_the_connection(transport: H1Transport) -> None:
    started = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
        await writer.drain()
        started.set()
        assert await reader.read() == b""  # EOF: the client closed it

    async with Raw(script) as raw:
        call = asyncio.ensure_future(get(transport, raw.url))
        await until(started)
        for _ in range(20):  # the client reads the part it was sent
            await asyncio.sleep(0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await until(raw.closed[0])
    assert transport.idle_connections() == 0


# -------------------------------------------------------------------------------- HTTPS


async def test_https_verifies_the_certificate(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    raw = serving(OK)
    raw.server = await asyncio.start_server(raw._serve, "127.0.0.1", 0, ssl=server_side)
    port = raw.server.sockets[0].getsockname()[1]
    url = f"https://127.0.0.1:{port}/x"
    try:
        default = H1Transport()  # the system's CAs do not know this certificate
        try:
            with pytest.raises(CertificateError) as info:
                await get(default, url)
            assert never_sent(info.value)
            assert "ssl=ssl.create_default_context" in str(info.value)
        finally:
            await default.close()
        trusted = H1Transport(ssl=ssl.create_default_context(cafile=str(cert)))
        try:
            for _ in range(2):
                assert (await get(trusted, url)).body == b"ok"
        finally:
            await trusted.close()
        assert raw.accepted == 1  # (a refused handshake never reaches it) one connection, reused
    finally:
        raw.server.close()
        await raw.server.wait_closed()


# ------------------------------------------------------------------------------- uvloop


def test_on_uvloop_too() -> None:
    """The command line runs on uvloop when it is there: connections, reuse, a large body
    under flow control and a refused connection, on its transports (no asyncio classes)."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        t = H1Transport()
        try:
            async with serving(OK) as raw:
                for body in (b"x", bytes(4 << 20)):
                    assert (await get(t, raw.url, method="POST", body=body)).body == b"ok"
            assert raw.accepted == 1
            assert len(raw.requests[1]) > 4 << 20
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                with pytest.raises(ConnectError) as info:
                    await get(t, f"http://127.0.0.1:{sock.getsockname()[1]}/")
            assert never_sent(info.value)
        finally:
            await t.close()

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()
