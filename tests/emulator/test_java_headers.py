"""The emulator reads the Java SDK's requests as EAS's gateway does: two ``Content-Type``
headers are accepted, on every route, with either of aiohttp's parsers.

The requests are written byte for byte on a raw socket, in the order Java's
``HttpURLConnection`` sends them for the SDK's discovery call (its own headers first,
then the ``Content-Type`` its HTTP helper adds): aiohttp's client would merge or refuse
the repeated header.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from aioeas.emulator import Emulator, current_call

ROOT = Path(__file__).resolve().parents[2]

#: The Java SDK's discovery request (DiscoveryServerProxy.callServer + HttpClient.httpGet).
JAVA_DISCOVERY = (
    "GET {path}?encoding=GBK& HTTP/1.1\r\n"
    "User-Agent: EAS-Java-Discovery\r\n"
    "Accept-Encoding: gzip,deflate,sdch\r\n"
    "Content-Type: application/json\r\n"
    "Connection: Keep-Alive\r\n"
    "Content-Type: application/x-www-form-urlencoded;charset=GBK\r\n"
    "Accept-Charset: GBK\r\n"
    "Host: {host}\r\n"
    "Accept: text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2\r\n"
    "\r\n"
)


def two_types(method: str, path: str, host: str, body: bytes) -> bytes:
    """A request with the same two Content-Type headers and a body."""
    head = (
        f"{method} {path} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Content-Type: application/json\r\n"
        "Content-Type: application/x-www-form-urlencoded;charset=GBK\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


async def exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` as is; (status, body) of the answer (the server closes after it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await reader.readexactly(length)
    finally:
        writer.close()


@pytest.mark.parametrize(
    "path",
    [
        "/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/echo",
        "/api/v1/servicediscovery/upstreams/echo",
    ],
)
async def test_java_discovery_request_is_answered(emu: Emulator, path: str) -> None:
    request = JAVA_DISCOVERY.format(path=path, host=f"127.0.0.1:{emu.port}")
    status, body = await exchange(emu.port, request.encode("latin-1"))
    assert status == 200, body
    port = emu.service("echo").backends[0].port
    assert f'"port": {port}'.encode() in body


async def test_predict_with_two_content_types_sees_both_first_one_first(emu: Emulator) -> None:
    seen: list[list[str]] = []

    def record(body: bytes) -> bytes:
        headers = current_call().headers
        assert isinstance(headers, CIMultiDictProxy)
        seen.append(headers.getall("Content-Type"))
        return body

    emu.add_service("typed", record)
    request = two_types("POST", "/api/predict/typed", f"127.0.0.1:{emu.port}", b"hello")
    status, body = await exchange(emu.port, request)
    assert (status, body) == (200, b"hello")
    assert seen == [["application/json", "application/x-www-form-urlencoded;charset=GBK"]]


async def test_predict_on_a_backend_with_two_content_types(emu: Emulator) -> None:
    backend = emu.service("echo").backends[0]
    request = two_types("POST", "/api/predict/echo", f"127.0.0.1:{backend.port}", b"direct")
    assert await exchange(backend.port, request) == (200, b"direct")


async def test_queue_put_with_two_content_types(emu: Emulator) -> None:
    emu.add_queue_service("jobs")
    request = two_types("POST", "/api/predict/jobs", f"127.0.0.1:{emu.port}", b"job")
    status, _ = await exchange(emu.port, request)
    assert status == 200
    assert [r.data for r in emu.queue("jobs").records] == [b"job"]


@pytest.mark.parametrize(
    "header",
    ["Content-Length: 3", "Host: elsewhere", "Transfer-Encoding: chunked"],
)
async def test_other_repeated_singletons_are_still_refused(emu: Emulator, header: str) -> None:
    """Only Content-Type is let through: repeated framing headers smuggle requests."""
    request = (
        "POST /api/predict/echo HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{emu.port}\r\n"
        "Content-Length: 3\r\n"
        f"{header}\r\n"
        "Connection: close\r\n"
        "\r\n"
        "abc"
    ).encode()
    status, _ = await exchange(emu.port, request)
    assert status == 400


async def test_other_aiohttp_servers_in_the_process_keep_aiohttp_rules() -> None:
    """The tolerance is the emulator's servers' only, not a change to aiohttp."""
    async with Emulator(builtins=False):

        async def ok(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_route("*", "/", ok)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            status, body = await exchange(port, two_types("POST", "/", "x", b""))
            assert (status, body) == (400, b"Duplicate 'Content-Type' header found.")
        finally:
            await runner.cleanup()


def test_listener_serves_with_the_gateway_parser_under_both_parser_builds() -> None:
    """aiohttp without its C extensions (AIOHTTP_NO_EXTENSIONS=1) and with them: the same
    answer, since the emulator parses with the pure-Python parser either way."""
    script = textwrap.dedent(
        """
        import asyncio
        from aioeas.emulator import Emulator
        from tests.emulator.test_java_headers import JAVA_DISCOVERY, exchange

        async def main():
            async with Emulator() as emu:
                path = "/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/echo"
                request = JAVA_DISCOVERY.format(path=path, host="h").encode()
                print((await exchange(emu.port, request))[0])

        asyncio.run(main())
        """
    )
    for extensions in ("0", "1"):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "AIOHTTP_NO_EXTENSIONS": extensions}
        if extensions == "0":
            env.pop("AIOHTTP_NO_EXTENSIONS")
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert (out.returncode, out.stdout.strip()) == (0, "200"), out.stderr


@pytest.mark.parametrize(
    ("installed", "ok"),
    [("3.9.5", False), ("3.14.0", False), ("3.14.3", False), ("3.14.4", True),
     ("3.14.10", True), ("3.15.0a1", True), ("4.0", True), ("unknown", False)],
)  # fmt: skip
def test_an_aiohttp_older_than_the_parser_needs_is_one_clear_error(
    installed: str, ok: bool
) -> None:
    """aioeas takes aiohttp>=3.9, and the client works with it; the emulator's parser is
    built on aiohttp 3.14.4's internals. On 3.14.0 to 3.14.3 every connection was dropped
    without an answer, before 3.14 the import failed on a name of aiohttp's: now the
    import says which aiohttp the emulator needs (checked by hand on 3.9.5 and 3.14.3)."""
    from aioeas.emulator.parsing import check_aiohttp

    if ok:
        check_aiohttp(installed)
    else:
        with pytest.raises(ImportError, match=r"needs aiohttp>=3\.14\.4 .*pip install -U"):
            check_aiohttp(installed)
