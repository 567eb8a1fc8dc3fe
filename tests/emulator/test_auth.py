"""The token check: the raw token or a valid EAS signature passes, anything else is 401."""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from aioeas.client.auth import sign
from aioeas.emulator import Emulator

from .conftest import post

TOKEN = "c2VjcmV0LXRva2Vu"


@pytest_asyncio.fixture
async def locked() -> AsyncIterator[Emulator]:
    async with Emulator(token=TOKEN) as emulator:
        yield emulator


async def test_raw_token_passes(locked: Emulator, http: aiohttp.ClientSession) -> None:
    status, body, _ = await post(http, f"{locked.url}/api/predict/echo", b"x", Authorization=TOKEN)
    assert (status, body) == (200, b"x")


@pytest.mark.parametrize(
    ("url_path", "resource"),
    [
        ("/api/predict/echo", "/api/predict/echo"),
        ("/api/predict/echo/sub/path", "/api/predict/echo/sub/path"),
        ("/api/predict/echo?a=1&b=2", "/api/predict/echo?a=1&b=2"),
        # lenient: a client that signs the path without its query is accepted too
        ("/api/predict/echo?a=1", "/api/predict/echo"),
    ],
)
async def test_a_valid_signature_passes(
    locked: Emulator, http: aiohttp.ClientSession, url_path: str, resource: str
) -> None:
    body = b"signed body"
    headers = sign(TOKEN, body, resource=resource, now=time.time())
    status, answer, _ = await post(http, locked.url + url_path, body, **headers)
    assert (status, answer) == (200, body)


async def test_a_signature_over_the_compressed_body_passes(
    locked: Emulator, http: aiohttp.ClientSession
) -> None:
    wire = gzip.compress(b"payload")
    headers = sign(TOKEN, wire, resource="/api/predict/echo", now=time.time())
    status, answer, _ = await post(
        http, f"{locked.url}/api/predict/echo", wire, **headers, **{"Content-Encoding": "gzip"}
    )
    assert (status, answer) == (200, b"payload")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "wrong-token"},
        sign("wrong-token", b"x", resource="/api/predict/echo", now=0.0),
        sign(TOKEN, b"another body", resource="/api/predict/echo", now=0.0),
        sign(TOKEN, b"x", resource="/api/predict/other", now=0.0),
    ],
    ids=["no-header", "wrong-token", "wrong-key", "wrong-body", "wrong-resource"],
)
async def test_anything_else_is_401(
    locked: Emulator, http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    status, body, _ = await post(http, f"{locked.url}/api/predict/echo", b"x", **headers)
    assert status == 401
    assert b"Unauthorized" in body
    assert locked.service("echo").requests == 1  # seen, counted, refused


async def test_without_a_token_everyone_is_served(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    status, _, _ = await post(http, f"{emu.url}/api/predict/echo", b"x", Authorization="any")
    assert status == 200


async def test_backends_check_the_token_too(locked: Emulator, http: aiohttp.ClientSession) -> None:
    backend = locked.service("echo").backend(0)
    url = f"{backend.url}/api/predict/echo"
    assert (await post(http, url, b"x"))[0] == 401
    assert (await post(http, url, b"x", Authorization=TOKEN))[0] == 200
