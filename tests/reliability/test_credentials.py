"""Credentials and transport: the token never shows (logs, reprs, exception texts and their
causes); HTTPS verifies certificates by default; credentials never follow a redirect to
another host; header-breaking characters are refused before any I/O at every entry point;
tag and query values are URL-encoded.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from aioeas import (
    AuthError,
    ConnectError,
    EASError,
    PredictClient,
    RequestTimeoutError,
    RetryableServiceError,
    RetryPolicy,
    ServiceError,
    StringRequest,
    TFRequest,
    Timeout,
    UsageError,
)
from aioeas.client.transport import AiohttpTransport
from aioeas.emulator import Emulator, Fault, current_call
from aioeas.queue import QueueClient

TOKEN = "S3cr3t-t0ken+never/shown=="
FAST4 = RetryPolicy(max_attempts=4, backoff_base=0.0)
ONCE = RetryPolicy(max_attempts=1)
BREAKERS = ["\r\n", "\n", "\r", "\x00", "\x7f"]


def _texts(exc: BaseException) -> Iterator[str]:
    """Every text of an exception and of every exception it chains to."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield "".join(traceback.format_exception(e))
        yield repr(e)
        yield str(e)
        todo += [e.__cause__, e.__context__]


# --------------------------------------------------------------------- the token never shows


async def test_the_token_never_shows_in_logs_reprs_or_exceptions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    shown: list[str] = []
    async with Emulator(token=TOKEN, seed=7) as emu:
        svc = emu.add_tf_service("t", lambda inputs: {"y": inputs["x"]})
        emu.add_queue_service("q", grace=0.0)
        req = TFRequest().add_feed("x", np.ones(3, np.float32))
        clients = [
            PredictClient(emu.url, "t", token=TOKEN, retry=FAST4, timeout=0.3),
            PredictClient(
                custom_url=f"{emu.url}/api/predict/t", token=TOKEN, retry=FAST4, timeout=0.3
            ),
        ]
        for client in clients:
            shown.append(repr(client))
            async with client:
                shown.append(repr(client))
                resp = await client.predict(req)  # a success
                shown += [repr(resp), str(resp), repr(req)]
                # a retried 503, a retried reset, a retried timeout: all end well
                svc.faults.add(Fault.error(503, "busy"), times=1)
                svc.faults.add(Fault.reset(), times=1)
                svc.faults.add(Fault.latency(1.0), times=1)
                await client.predict(req)
                # and failures: 503s, resets and timeouts to the last try, a 4xx
                for fault in (Fault.error(503, "down"), Fault.reset(), Fault.latency(1.0)):
                    rule = svc.faults.add(fault, times=4)
                    with pytest.raises(EASError) as failed:
                        await client.predict(req)
                    assert isinstance(
                        failed.value, (RetryableServiceError, ConnectError, RequestTimeoutError)
                    )
                    errors.append(failed.value)
                    rule.cancel()
                with pytest.raises(ServiceError) as caught:
                    await client.predict(StringRequest("not a TF request"))
                errors.append(caught.value)
        wrong = PredictClient(emu.url, "t", token=TOKEN[::-1])
        async with wrong:
            with pytest.raises(AuthError) as auth:
                await wrong.predict(req)
        errors.append(auth.value)
        # a token that cannot go in a header is refused without being quoted
        with pytest.raises(UsageError) as bad:
            PredictClient(emu.url, "t", token=TOKEN + "\r\n")
        errors.append(bad.value)
        # the queue client: repr, a 401 and a failed call
        queue = QueueClient(emu.url, "q", token=TOKEN, retry=ONCE)
        shown.append(repr(queue))
        async with queue:
            await queue.put(b"x", {"k": "v"})
            emu.queue("q").faults.add(Fault.error(503, "q down"), times=1)
            with pytest.raises(EASError) as qerr:
                await queue.count()
            errors.append(qerr.value)
        async with QueueClient(emu.url, "q", token="wrong", discover_headers=False) as other:
            with pytest.raises(AuthError) as qauth:
                await other.count()
            errors.append(qauth.value)
        shown.append(repr(queue))
    shown += [repr(c) for c in clients]

    assert len(errors) == 12
    for text in shown:
        assert TOKEN not in text
    for exc in errors:
        for text in _texts(exc):
            assert TOKEN not in text
            assert TOKEN[::-1] not in text
    assert any(r.name.startswith("aioeas") and r.levelno == logging.DEBUG for r in caplog.records)
    assert TOKEN not in caplog.text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            for text in _texts(record.exc_info[1]):
                assert TOKEN not in text


# ------------------------------------------------------------------------ HTTPS verification


@pytest.fixture
async def tls_emulator(certificate: tuple[Path, Path]) -> AsyncIterator[Emulator]:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    async with Emulator(token=TOKEN, ssl_context=context, builtins=False) as emu:
        emu.add_service("echo", lambda body: body)
        emu.add_queue_service("q")
        yield emu


async def test_https_is_refused_without_the_ca(tls_emulator: Emulator) -> None:
    assert tls_emulator.url.startswith("https://")
    async with PredictClient(tls_emulator.url, "echo", token=TOKEN, retry=ONCE) as client:
        with pytest.raises(ConnectError) as caught:
            await client.predict(StringRequest("x"))
    message = str(caught.value)
    assert "TLS" in message
    assert "certificate" in message.lower()
    assert tls_emulator.service("echo").requests == 0
    # the queue client too
    async with QueueClient(
        tls_emulator.url, "q", token=TOKEN, retry=ONCE, discover_headers=False
    ) as queue:
        with pytest.raises(ConnectError, match="TLS"):
            await queue.count()


async def test_https_is_accepted_with_the_ca(
    tls_emulator: Emulator, certificate: tuple[Path, Path]
) -> None:
    context = ssl.create_default_context(cafile=str(certificate[0]))
    async with PredictClient(tls_emulator.url, "echo", token=TOKEN, ssl=context) as client:
        resp = await client.predict(StringRequest("over tls"))
    assert resp.to_bytes() == b"over tls"
    assert tls_emulator.service("echo").requests == 1


async def test_a_borrowed_session_gets_the_ca_too(
    tls_emulator: Emulator, certificate: tuple[Path, Path]
) -> None:
    context = ssl.create_default_context(cafile=str(certificate[0]))
    async with aiohttp.ClientSession() as session:
        url = tls_emulator.url
        async with PredictClient(url, "echo", token=TOKEN, session=session, ssl=context) as c:
            assert (await c.predict(StringRequest("b"))).to_bytes() == b"b"
        async with PredictClient(url, "echo", token=TOKEN, session=session, retry=ONCE) as c:
            with pytest.raises(ConnectError, match="TLS"):
                await c.predict(StringRequest("b"))


async def test_a_certificate_that_does_not_verify_fails_at_once(tls_emulator: Emulator) -> None:
    """It will not mend itself: one try, not the policy's four, and the error names the CA
    option, from the predict client, the queue client's calls and its watcher alike."""
    from aioeas import CertificateError, Hooks

    starts: list[object] = []
    hooks = Hooks(on_start=starts.append)
    async with PredictClient(
        tls_emulator.url, "echo", token=TOKEN, retry=FAST4, hooks=hooks
    ) as client:
        with pytest.raises(CertificateError, match=r"create_default_context\(cafile="):
            await client.predict(StringRequest("x"))
    assert len(starts) == 1
    async with QueueClient(
        tls_emulator.url, "q", token=TOKEN, retry=FAST4, discover_headers=False
    ) as queue:
        with pytest.raises(CertificateError, match="cafile"):
            await queue.count()
        with pytest.raises(CertificateError, match="cafile"):
            await queue.watch(window=1)


async def test_the_queue_client_takes_the_ca_for_calls_and_watches(
    tls_emulator: Emulator, certificate: tuple[Path, Path]
) -> None:
    context = ssl.create_default_context(cafile=str(certificate[0]))
    async with QueueClient(tls_emulator.url, "q", token=TOKEN, ssl=context) as queue:
        index, _ = await queue.put(b"over tls")
        async with queue.watch(window=1) as watcher:
            record = await watcher.next(timeout=30)
            assert (record.index, record.data) == (index, b"over tls")
            watcher.commit(record)
    q = tls_emulator.queue("q")
    assert await q.wait_until(lambda: len(q) == 0, 30)
    with pytest.raises(UsageError, match="SSLContext"):
        QueueClient(tls_emulator.url, "q", ssl=True)  # type: ignore[arg-type]


async def test_async_inference_takes_the_ca_for_both_queues(
    tls_emulator: Emulator, certificate: tuple[Path, Path]
) -> None:
    """AsyncInference passes ``ssl=`` to its input queue's client and its sink's (put, and
    the sink's watch): a result comes back over TLS; without the CA, it fails as it starts
    (the sink's watch opens first), naming the CA option, not retried."""
    from aioeas import AsyncInference, CertificateError

    tls_emulator.add_queue_service("upper_async", processor=lambda body: body.upper())
    context = ssl.create_default_context(cafile=str(certificate[0]))
    async with AsyncInference(
        tls_emulator.url, "upper_async", token=TOKEN, ssl=context, timeout=30
    ) as inference:
        record = await inference.submit(b"over tls")
    assert record.data == b"OVER TLS"
    with pytest.raises(CertificateError, match="cafile"):  # the sink's watch, at the start
        async with AsyncInference(
            tls_emulator.url, "upper_async", token=TOKEN, retry=FAST4, timeout=30
        ) as inference:
            await inference.submit(b"no ca")
    assert len(tls_emulator.queue("upper_async")) == 0  # nothing was put


def test_ssl_must_be_a_context() -> None:
    with pytest.raises(UsageError):
        PredictClient("http://127.0.0.1:1", "s", ssl=False)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ redirects


class _Recorder:
    """A server that records every request it gets (the redirect's target)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(dict(request.headers))
        return web.Response(text="captured")


async def _serve(handler: Callable[[web.Request], Any], host: str) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    server = site._server
    assert server is not None
    port: int = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    return runner, port


@pytest.fixture
async def redirect() -> AsyncIterator[tuple[str, _Recorder]]:
    """A server on 127.0.0.1 answering 307 to the same path on another host (127.0.0.2,
    also loopback), where a recorder listens. Yields the first's URL and the recorder."""
    recorder = _Recorder()
    other, other_port = await _serve(recorder.handle, "127.0.0.2")

    async def to_other(request: web.Request) -> web.Response:
        location = f"http://127.0.0.2:{other_port}{request.raw_path}"
        return web.Response(status=307, headers={"Location": location})

    first, port = await _serve(to_other, "127.0.0.1")
    try:
        yield f"http://127.0.0.1:{port}", recorder
    finally:
        await first.cleanup()
        await other.cleanup()


async def test_credentials_never_follow_a_redirect(redirect: tuple[str, _Recorder]) -> None:
    url, recorder = redirect
    async with aiohttp.ClientSession() as session:  # a session that follows redirects
        clients = [
            PredictClient(url, "svc", token=TOKEN, retry=ONCE),
            PredictClient(custom_url=f"{url}/api/predict/svc", token=TOKEN, retry=ONCE),
            PredictClient(url, "svc", token=TOKEN, retry=ONCE, session=session),
        ]
        for client in clients:
            async with client:
                with pytest.raises(ServiceError) as caught:
                    await client.predict(StringRequest("x"), headers={"X-Custom": "1"})
            assert caught.value.status == 307
        async with QueueClient(url, "q", token=TOKEN, retry=ONCE, discover_headers=False) as queue:
            with pytest.raises(ServiceError) as qcaught:
                await queue.count()
            assert qcaught.value.status == 307
    assert recorder.seen == []


# ----------------------------------------------------------------- header-breaking values


class _Listener:
    """A TCP port that counts connections: any I/O at all shows as a connection."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def listener() -> AsyncIterator[tuple[str, _Listener]]:
    lst = _Listener()
    url = await lst.start()
    yield url, lst
    await lst.stop()


def _predict_entry_points(url: str, bad: str) -> dict[str, Callable[[], Any]]:
    """Every way a value reaches a predict's request line or headers: name -> a thunk that
    either raises or returns a coroutine that must raise."""

    def client() -> PredictClient:
        return PredictClient(url, "svc", token=TOKEN, retry=ONCE)

    def setter(name: str, *args: Any) -> Callable[[], Any]:
        def run() -> Any:
            c = client()
            getattr(c, name)(*args)
            return c

        return run

    def call(**kwargs: Any) -> Callable[[], Any]:
        async def run() -> None:
            async with client() as c:
                await c.predict(StringRequest("x"), **kwargs)

        return run

    async def bad_content_type() -> None:
        async with client() as c:
            await c.predict(StringRequest("x", content_type="text/plain" + bad))

    async def transport_url() -> None:
        t = AiohttpTransport()
        try:
            await t.request("GET", url + "/a" + bad, headers={}, body=None, timeout=Timeout())
        finally:
            await t.close()

    async def transport_header() -> None:
        t = AiohttpTransport()
        try:
            await t.request("GET", url, headers={"X": "v" + bad}, body=None, timeout=Timeout())
        finally:
            await t.close()

    return {
        "constructor service name": lambda: PredictClient(url, "svc" + bad),
        "constructor token": lambda: PredictClient(url, "svc", token=TOKEN + bad),
        "constructor header value": lambda: PredictClient(url, "svc", headers={"X": "v" + bad}),
        "constructor header name": lambda: PredictClient(url, "svc", headers={"X" + bad: "v"}),
        "constructor custom url": lambda: PredictClient(custom_url=url + "/p" + bad),
        "constructor endpoint": lambda: PredictClient(url + bad + "x", "svc"),
        "constructor content type": lambda: PredictClient(url, "svc", content_type="a" + bad),
        "set_service_name": setter("set_service_name", "svc" + bad),
        "set_token": setter("set_token", TOKEN + bad),
        "set_endpoint": setter("set_endpoint", url + bad + "x"),
        "set_content_type": setter("set_content_type", "a/b" + bad),
        "add_extra_headers value": setter("add_extra_headers", {"X": "v" + bad}),
        "add_extra_headers name": setter("add_extra_headers", {"X" + bad: "v"}),
        "per-call header value": call(headers={"X": "v" + bad}),
        "per-call header name": call(headers={"X" + bad: "v"}),
        "per-call query string": call(query="a=1" + bad + "X: y"),
        "request content type": bad_content_type,
        "transport url": transport_url,
        "transport header": transport_header,
    }


def _queue_entry_points(url: str, bad: str) -> dict[str, Callable[[], Any]]:
    def client(**kwargs: Any) -> QueueClient:
        kwargs.setdefault("token", TOKEN)
        return QueueClient(url, "q", retry=ONCE, discover_headers=False, **kwargs)

    def call(method: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
        async def run() -> None:
            async with client() as q:
                result = getattr(q, method)(*args, **kwargs)
                if asyncio.iscoroutine(result):
                    await result
                else:  # a watcher
                    async with result:
                        pass

        return run

    async def custom_url() -> None:
        async with QueueClient(custom_url=url + "/q" + bad, discover_headers=False) as q:
            await q.count()

    return {
        "queue token": lambda: client(token=TOKEN + bad),
        "queue set_token": lambda: client().set_token(TOKEN + bad),
        "queue name": lambda: QueueClient(url, "q" + bad),
        "queue uid": lambda: client(uid="u" + bad),
        "queue gid": lambda: client(gid="g" + bad),
        "queue custom url": custom_url,
        "put tag value": call("put", b"x", {"k": "v" + bad}),
        "put tag key": call("put", b"x", {"k" + bad: "v"}),
        "get tag value": call("get", tags={"k": "v" + bad}),
        "get request id": call("get", request_id="r" + bad),
        "watch tag value": call("watch", tags={"k": "v" + bad}),
    }


async def _call(thunk: Callable[[], Any]) -> None:
    result = thunk()
    if asyncio.iscoroutine(result):
        await result


@pytest.mark.parametrize("bad", BREAKERS, ids=repr)
async def test_header_breaking_values_are_refused_before_any_io(
    listener: tuple[str, _Listener], bad: str
) -> None:
    url, lst = listener
    points = {**_predict_entry_points(url, bad), **_queue_entry_points(url, bad)}
    for name, thunk in points.items():
        with pytest.raises(UsageError) as caught:
            await _call(thunk)
        assert TOKEN not in str(caught.value), name
        assert lst.connections == 0, f"{name}: a connection was made"


async def test_path_tag_and_query_values_are_url_encoded() -> None:
    tricky = "a&b=c/d?e#f %2F+é\u2028"
    async with Emulator(token=TOKEN, builtins=False) as emu:
        emu.add_service("s", lambda body: current_call().path + "|" + current_call().query["k"])
        emu.add_queue_service("q", grace=0.0)
        async with PredictClient(emu.url, "s", token=TOKEN) as client:
            resp = await client.predict(StringRequest("x"), path="p\r\nX: y", query={"k": tricky})
        path, value = resp.to_bytes().decode().split("|", 1)
        assert value == tricky
        assert path == "/p\r\nX: y"  # sent percent-encoded, decoded by the server
        call = emu.service("s").history[-1]
        assert "X" not in call.headers
        async with QueueClient(emu.url, "q", token=TOKEN) as queue:
            await queue.put(b"data", {"k": tricky, "n": "1"})
            got = await queue.get(tags={"k": tricky}, timeout=0)
        assert [r.tags["k"] for r in got] == [tricky]
        assert got[0].data == b"data"


def _live_signers() -> int:
    import gc

    from aioeas.client.auth import Signer

    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Signer)


async def test_the_keyed_signer_is_dropped_when_the_client_closes() -> None:
    """The HMAC keyed with the token is the client's own, not a module-level cache that
    keeps the last tokens after their clients are gone."""
    before = _live_signers()
    async with Emulator(token=TOKEN) as emu:
        client = PredictClient(emu.url, "echo", token=TOKEN, retry=ONCE)
        async with client:
            await client.predict(StringRequest("signed"))
            await client.predict(StringRequest("signed again"))
            assert _live_signers() == before + 1  # one per client, made once
            client.set_token(TOKEN + "2")  # a new token: the old key is dropped at once
            assert _live_signers() == before
            with pytest.raises(AuthError):
                await client.predict(StringRequest("wrong token"))
            assert _live_signers() == before + 1
        assert _live_signers() == before
