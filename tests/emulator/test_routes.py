"""The predict routes: answers, identities, errors, paths, queries, content encodings."""

from __future__ import annotations

import gzip
import json
import zlib

import aiohttp
import pytest

from aioeas.emulator import Emulator, Reject, current_call

from .conftest import post


async def test_echo_answers_the_body_and_says_who_answered(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    status, body, headers = await post(http, f"{emu.url}/api/predict/echo", b"hello")
    assert (status, body) == (200, b"hello")
    assert headers["X-Emulator-Service"] == "echo"
    assert headers["X-Emulator-Backend"] == "echo-0"
    assert headers["X-Emulator-Request"] == "1"
    assert emu.service("echo").requests == 1
    assert emu.service("echo").backend(0).requests == 1


async def test_unknown_service_is_404_with_text(emu: Emulator, http: aiohttp.ClientSession) -> None:
    status, body, _ = await post(http, f"{emu.url}/api/predict/nope", b"x")
    assert status == 404
    assert b"nope" in body


async def test_extra_path_and_query_reach_the_processor(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    def show(body: bytes) -> str:
        call = current_call()
        return json.dumps({"path": call.path, "query": dict(call.query), "body": body.decode()})

    emu.add_service("show", show)
    url = f"{emu.url}/api/predict/show/a/b?x=1&y=two"
    status, body, _ = await post(http, url, b"hi")
    assert status == 200
    assert json.loads(body) == {"path": "/a/b", "query": {"x": "1", "y": "two"}, "body": "hi"}
    call = emu.service("show").history[-1]
    assert (call.path, call.method, call.backend, call.number) == ("/a/b", "POST", "show-0", 1)


async def test_undecodable_body_is_400_with_text(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await post(
        http, f"{emu.url}/api/predict/mnist_saved_model_example", b"\xff\xff\xff"
    )
    assert status == 400
    assert body.startswith(b"bad request body")


async def test_a_crashing_processor_is_500(emu: Emulator, http: aiohttp.ClientSession) -> None:
    def crash(body: bytes) -> bytes:
        raise ZeroDivisionError("boom")

    emu.add_service("crash", crash)
    status, body, _ = await post(http, f"{emu.url}/api/predict/crash", b"x")
    assert status == 500
    assert b"ZeroDivisionError: boom" in body


async def test_a_processor_rejects_with_its_own_status(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    def picky(body: bytes) -> bytes:
        raise Reject("too big", status=413)

    emu.add_service("picky", picky)
    status, body, _ = await post(http, f"{emu.url}/api/predict/picky", b"x")
    assert (status, body) == (413, b"too big")


async def test_gzip_and_deflate_bodies_are_decompressed(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    url = f"{emu.url}/api/predict/echo"
    for data, coding in [
        (gzip.compress(b"zipped"), "gzip"),
        (zlib.compress(b"zipped"), "deflate"),
        (zlib.compress(b"zipped")[2:-4], "deflate"),  # raw deflate, no zlib header
    ]:
        status, body, _ = await post(http, url, data, **{"Content-Encoding": coding})
        assert (status, body) == (200, b"zipped"), coding


async def test_bad_or_unknown_content_encoding(emu: Emulator, http: aiohttp.ClientSession) -> None:
    url = f"{emu.url}/api/predict/echo"
    status, body, _ = await post(http, url, b"not gzip", **{"Content-Encoding": "gzip"})
    assert status == 400
    assert b"gzip" in body
    status, body, _ = await post(http, url, b"x", **{"Content-Encoding": "compress"})
    assert status == 415


async def test_services_are_listed_and_validated(emu: Emulator) -> None:
    assert set(emu.services) >= {"echo", "mnist_saved_model_example", "pytorch_gpu_wl"}
    emu.add_service("mine", lambda body: body)
    for bad in ["mine", "", "a/b"]:
        with pytest.raises(ValueError, match="service"):
            emu.add_service(bad, lambda body: body)
    await emu.remove_service("mine")
    assert "mine" not in emu.services
