"""Fixtures and wire helpers for the queue tests: a fresh emulator with a queue service
``q`` (grace 0, so redelivery needs no waiting) and raw aiohttp calls, so the emulator is
checked against the protocol itself rather than against aioeas's client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest_asyncio

from aioeas._proto.queueservice_pb2 import DataFrameListProto, DataFrameProto
from aioeas.emulator import Emulator
from aioeas.emulator.queue import GROUP_HEADER, USER_HEADER, QueueService

PROTOBUF = "application/vnd.google.protobuf"


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(builtins=False) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def qs(emu: Emulator) -> QueueService:
    return emu.add_queue_service("q", grace=0)


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def url(emu: Emulator, queue: str = "q") -> str:
    return f"{emu.url}/api/predict/{queue}"


def ident(uid: str = "u1", gid: str = "eas") -> dict[str, str]:
    return {USER_HEADER: uid, GROUP_HEADER: gid}


async def call(
    http: aiohttp.ClientSession,
    method: str,
    where: str,
    params: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes, Mapping[str, str]]:
    async with http.request(method, where, params=params, data=body, headers=headers) as resp:
        return resp.status, await resp.read(), resp.headers


async def put(
    http: aiohttp.ClientSession, where: str, body: bytes | str, **tags: str
) -> tuple[int, str]:
    status, text, headers = await call(http, "POST", where, tags, body)
    assert status == 200, text
    return int(text), headers["X-Eas-Queueservice-Request-Id"]


async def get(
    http: aiohttp.ClientSession, where: str, **params: str
) -> tuple[int, list[DataFrameProto]]:
    status, body, _ = await call(http, "GET", where, params, headers={"Accept": PROTOBUF})
    frames = DataFrameListProto()
    frames.ParseFromString(body)
    return status, list(frames.index)


async def attributes(http: aiohttp.ClientSession, where: str) -> dict[str, str]:
    status, body, _ = await call(http, "GET", where, {"_attrs_": "true"})
    assert status == 200
    out: dict[str, str] = json.loads(body)
    return out


async def commit(
    http: aiohttp.ClientSession, where: str, indexes: list[int], gid: str = "eas"
) -> None:
    params = {"_indexes_": ",".join(map(str, indexes))}
    status, body, _ = await call(http, "PUT", where, params, headers=ident("x", gid))
    assert (status, body) == (200, b"OK")


def decode(data: bytes) -> DataFrameProto:
    df = DataFrameProto()
    df.ParseFromString(data)
    return df


async def receive(ws: aiohttp.ClientWebSocketResponse[Any], timeout: float = 5.0) -> DataFrameProto:
    msg = await ws.receive(timeout)
    assert msg.type is aiohttp.WSMsgType.BINARY, msg
    return decode(msg.data)


def watch_params(
    index: int = 0,
    window: int = 5,
    *,
    auto_commit: bool = False,
    index_only: bool = False,
    **tags: str,
) -> dict[str, str]:
    return {
        "_watch_": "true",
        "_index_": str(index),
        "_window_": str(window),
        "_index_only_": str(index_only).lower(),
        "_auto_commit_": str(auto_commit).lower(),
        **tags,
    }
