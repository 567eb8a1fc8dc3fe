"""Fixtures: a fresh emulator per test and a plain aiohttp session to talk to it.

The tests use aiohttp directly (not aioeas's client) so the emulator is checked against
the wire protocol itself; aioeas's request builders make the bodies.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from aioeas.emulator import Emulator


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # force_close: no connection outlives a request, so a stopped backend is seen at once.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        yield s


async def post(
    http: aiohttp.ClientSession, url: str, body: bytes = b"", **headers: str
) -> tuple[int, bytes, dict[str, str]]:
    """POST and return (status, body, headers)."""
    # aiohttp warns (ResourceWarning) about bytes bodies over 1 MiB; a stream it is not.
    data = io.BytesIO(body) if len(body) > 1 << 20 else body
    async with http.post(url, data=data, headers=headers) as resp:
        return resp.status, await resp.read(), dict(resp.headers)
