"""Every HTTP call of the queue protocol, on the wire, against the emulator."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from aioeas._proto.queueservice_pb2 import AttributesProto
from aioeas.emulator import Emulator, Fault
from aioeas.emulator.queue import QueueService
from tests.emulator.queue.conftest import (
    PROTOBUF,
    attributes,
    call,
    commit,
    get,
    ident,
    put,
    receive,
    url,
)


async def test_put_numbers_from_one_and_tags_the_request_id(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    first, rid = await put(http, url(emu), b"a", color="red")
    second, rid2 = await put(http, url(emu), "b")
    assert (first, second) == (1, 2)
    assert rid != rid2
    record = qs.input.records[0]
    assert record.tags == {"color": "red", "requestId": rid}
    status, frames = await get(http, url(emu), _index_="1", _length_="2")
    assert status == 200
    assert [(f.index, f.data, dict(f.tags)) for f in frames] == [
        (1, b"a", {"color": "red", "requestId": rid}),
        (2, b"b", {"requestId": rid2}),
    ]


async def test_get_json_without_accept_and_204_when_empty(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await call(http, "GET", url(emu), {"_timeout_": "0"})
    assert (status, body) == (204, b"")
    await put(http, url(emu), b"\x00\x01")
    status, body, headers = await call(http, "GET", url(emu))
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    [record] = json.loads(body)
    assert record["index"] == 1
    assert record["data"] == "AAE="


async def test_get_filters_by_request_id_and_tags_with_and(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    await put(http, url(emu), b"1", a="x", b="y")
    _, rid = await put(http, url(emu), b"2", a="x")
    await put(http, url(emu), b"3", b="y")
    _, frames = await get(http, url(emu), requestId=rid)
    assert [f.data for f in frames] == [b"2"]
    _, frames = await get(http, url(emu), _length_="10", a="x", b="y")
    assert [f.data for f in frames] == [b"1"]
    _, frames = await get(http, url(emu), _length_="10", b="y")
    assert [f.data for f in frames] == [b"1", b"3"]


async def test_get_auto_delete_and_index(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    for i in range(3):
        await put(http, url(emu), str(i))
    _, frames = await get(http, url(emu), _index_="2", _auto_delete_="true")
    assert [f.index for f in frames] == [2]
    assert [r.index for r in qs.input.records] == [1, 3]
    _, frames = await get(http, url(emu), _index_="2", _auto_delete_="false")
    assert [f.index for f in frames] == [3]
    assert len(qs.input) == 2


@pytest.mark.parametrize("timeout", ["1m0s", "30s", "1.5s", "500ms", "5", "2m"])
async def test_get_long_polls_in_every_timeout_format(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession, timeout: str
) -> None:
    waiting = asyncio.ensure_future(get(http, url(emu), _timeout_=timeout))
    # The poll is waiting once the emulator counts it; then a put wakes it.
    assert await qs.input.wait_until(lambda: qs.input.polling == 1)
    await put(http, url(emu), b"late")
    status, frames = await asyncio.wait_for(waiting, 5)
    assert status == 200
    assert [f.data for f in frames] == [b"late"]


async def test_get_rejects_a_malformed_timeout(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await call(http, "GET", url(emu), {"_timeout_": "soon"})
    assert status == 400
    assert b"_timeout_" in body


async def test_get_minus_one_waits_for_a_new_record(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    await put(http, url(emu), b"old")
    status, _ = await get(http, url(emu), _index_="-1", _timeout_="0s")
    assert status == 204
    waiting = asyncio.ensure_future(get(http, url(emu), _index_="-1", _timeout_="10s"))
    assert await qs.input.wait_until(lambda: qs.input.polling == 1)
    await put(http, url(emu), b"new")
    _, frames = await asyncio.wait_for(waiting, 5)
    assert [f.data for f in frames] == [b"new"]


async def test_delete_and_truncate(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    for i in range(6):
        await put(http, url(emu), str(i))
    status, body, _ = await call(http, "DELETE", url(emu), {"_indexes_": "2,3,99"})
    assert (status, body) == (200, b"OK")
    assert [r.index for r in qs.input.records] == [1, 4, 5, 6]
    status, body, _ = await call(http, "DELETE", url(emu), {"_index_": "5", "_trunc_": "true"})
    assert status == 200
    assert [r.index for r in qs.input.records] == [5, 6]
    assert (await attributes(http, url(emu)))["stream.length"] == "2"
    status, _, _ = await call(http, "DELETE", url(emu))
    assert status == 400


async def test_commit_deletes_and_is_idempotent(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    await put(http, url(emu), b"x")
    await commit(http, url(emu), [1])
    assert len(qs.input) == 0
    await commit(http, url(emu), [1])  # again: still 200 OK


async def test_attributes_json_and_protobuf(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    await put(http, url(emu), b"x")
    await put(http, url(emu), b"y")
    attrs = await attributes(http, url(emu))
    assert attrs["stream.length"] == "2"
    assert attrs["stream.firstEntry"] == "1"
    assert attrs["stream.lastEntry"] == "2"
    assert attrs["meta.name"] == "q"
    assert attrs["meta.header.user"] == "X-EAS-QueueService-Redis-Uid"
    assert attrs["meta.header.group"] == "X-EAS-QueueService-Redis-Gid"
    assert attrs["meta.header.priority"] == "X-EAS-QueueService-Priority"
    assert attrs["consumers.stats.total"] == attrs["consumers.status.total"] == "0"
    assert all(isinstance(v, str) for v in attrs.values())
    status, body, _ = await call(
        http, "GET", url(emu), {"_attrs_": "true"}, headers={"Accept": PROTOBUF}
    )
    assert status == 200
    proto = AttributesProto()
    proto.ParseFromString(body)
    assert dict(proto.attributes)["stream.length"] == "2"
    sink = await attributes(http, url(emu, "q/sink"))
    assert (sink["meta.name"], sink["stream.length"]) == ("q/sink", "0")


async def test_attributes_list_each_consumer(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    params = {"_watch_": "true", "_window_": "3", "_auto_commit_": "true", "color": "red"}
    async with http.ws_connect(url(emu), params=params, headers=ident("u1", "g")):
        attrs = await attributes(http, url(emu))
    assert attrs["consumers.status.total"] == "1"
    line = attrs["consumers.list.[0]"]
    assert line.startswith("Id: g.u1, Index: 0, Pending: 0, Status: Running, Idle: ")
    assert line.endswith(", Window: 3, Slots: 64, AutoCommit: true, Tags: tags[color=red]")


async def test_search(emu: Emulator, qs: QueueService, http: aiohttp.ClientSession) -> None:
    for i in range(3):
        await put(http, url(emu), str(i))
    status, body, _ = await call(http, "GET", url(emu), {"_search_": "true", "_index_": "3"})
    assert status == 200
    assert json.loads(body) == {"ConsumerId": "", "IsPending": False, "WaitCount": 2}
    async with http.ws_connect(
        url(emu), params={"_watch_": "true", "_window_": "1"}, headers=ident("w")
    ) as ws:
        await ws.receive(5)
        status, body, _ = await call(
            http, "GET", url(emu), {"_search_": "true", "_index_": "1"}, headers=ident("x")
        )
        assert json.loads(body) == {"ConsumerId": "eas.w", "IsPending": True, "WaitCount": 0}
        _, body, _ = await call(
            http, "GET", url(emu), {"_search_": "true", "_index_": "3"}, headers=ident("x")
        )
        assert json.loads(body)["WaitCount"] == 1
    status, body, _ = await call(http, "GET", url(emu), {"_search_": "true", "_index_": "42"})
    assert (status, body) == (404, b"no data in stream")


async def test_payload_limit_is_413(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.add_queue_service("small", max_payload_bytes=10)
    assert (await put(http, url(emu, "small"), b"x" * 10))[0] == 1
    status, body, _ = await call(http, "POST", url(emu, "small"), body=b"x" * 11)
    assert status == 413
    assert b"11 bytes exceeds" in body
    assert (await attributes(http, url(emu, "small")))["meta.maxPayloadBytes"] == "10"


async def test_full_queue_is_429(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.add_queue_service("tiny", max_length=2)
    await put(http, url(emu, "tiny"), b"1")
    await put(http, url(emu, "tiny"), b"2")
    status, body, _ = await call(http, "POST", url(emu, "tiny"), body=b"3")
    assert status == 429
    assert b"full" in body


async def test_unknown_queue_is_404(emu: Emulator, http: aiohttp.ClientSession) -> None:
    status, _, _ = await call(http, "GET", url(emu, "nowhere"), {"_attrs_": "true"})
    assert status == 404


async def test_count_and_priority(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    await put(http, url(emu), b"n1")
    await call(http, "POST", url(emu), {"_priority_": "1"}, b"p1")
    status, _, _ = await call(
        http, "POST", url(emu), body=b"p2", headers={"X-EAS-QueueService-Priority": "1"}
    )
    assert status == 200
    await put(http, url(emu), b"n2")
    _, body, _ = await call(http, "GET", url(emu), {"_count_": "true"})
    assert body == b"4"
    _, body, _ = await call(http, "GET", url(emu), {"_count_": "true", "_priority_": "1"})
    assert body == b"2"
    async with http.ws_connect(
        url(emu), params={"_watch_": "true", "_window_": "10"}, headers=ident()
    ) as ws:
        got = []
        for _ in range(4):
            got.append((await receive(ws)).data)
    assert got == [b"p1", b"p2", b"n1", b"n2"]


async def test_access_rear_header_and_path_after_the_queue(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    headers = {"X-EAS-QueueService-Access-Rear": "true"}
    status, body, _ = await call(http, "POST", url(emu, "q/v1/chat"), body=b"x", headers=headers)
    assert (status, body) == (200, b"1")
    assert qs.input.records[0].path == "/v1/chat"


async def test_token_is_required_raw(http: aiohttp.ClientSession) -> None:
    async with Emulator(token="t0k", builtins=False) as emu:
        emu.add_queue_service("q")
        status, _, _ = await call(http, "POST", url(emu), body=b"x")
        assert status == 401
        status, _, _ = await call(
            http, "POST", url(emu), body=b"x", headers={"Authorization": "t0k"}
        )
        assert status == 200


async def test_http_faults(emu: Emulator, qs: QueueService, http: aiohttp.ClientSession) -> None:
    qs.input.faults.add(Fault.error(503, "busy"), times=1)
    status, body, _ = await call(http, "POST", url(emu), body=b"x")
    assert (status, body) == (503, b"busy")
    assert (await put(http, url(emu), b"x"))[0] == 1


async def test_root_path_as_in_the_go_test_suite(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    status, _, _ = await call(http, "POST", f"{emu.url}/", body=b"x")
    assert status == 404
    root = emu.add_queue_service("rooted", root=True)
    status, body, _ = await call(http, "POST", f"{emu.url}/", body=b"x")
    assert (status, body) == (200, b"1")
    status, body, _ = await call(http, "POST", f"{emu.url}/sink", body=b"y")
    assert (status, body) == (200, b"1")
    assert (len(root.input), len(root.sink)) == (1, 1)
    assert emu.queue("rooted/sink") is root.sink


async def test_end_of_stream_refuses_puts(
    emu: Emulator, qs: QueueService, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await call(http, "POST", url(emu), {"_eos_": "true"})
    assert (status, body) == (200, b"OK")
    assert (await attributes(http, url(emu)))["meta.state"] == "EndOfStream"
    status, _, _ = await call(http, "POST", url(emu), body=b"x")
    assert status == 409
    qs.input.reopen()
    assert (await put(http, url(emu), b"x"))[0] == 1
