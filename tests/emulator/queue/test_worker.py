"""The asynchronous-inference worker: input queue in, processor, sink out."""

from __future__ import annotations

import asyncio

import aiohttp

from aioeas.emulator import Emulator, Reject, current_call
from tests.emulator.queue.conftest import get, ident, put, receive, url, watch_params


async def test_results_reach_the_sink_with_the_request_id(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async def shout(body: bytes) -> bytes:
        await asyncio.sleep(0)
        return body.upper()

    qs = emu.add_queue_service("w", processor=shout, concurrency=4)
    sent = {}
    for i in range(50):
        _, rid = await put(http, url(emu, "w"), f"item{i}")
        sent[rid] = f"ITEM{i}".encode()
    params = watch_params(0, 5, auto_commit=True)
    async with http.ws_connect(url(emu, "w/sink"), params=params, headers=ident("s")) as ws:
        got = {}
        for _ in range(50):
            frame = await receive(ws)
            got[frame.tags["requestId"]] = frame.data
            assert "lastCode" not in frame.tags
    assert got == sent
    assert await qs.input.wait_until(lambda: len(qs.input) == 0)
    worker = emu.worker("w")
    assert worker is not None
    assert (worker.processed, worker.failed) == (50, 0)
    assert qs.input.consumer_stats("eas-worker.instance").max_outstanding <= 4


async def test_a_predict_service_as_processor_gets_the_path(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.add_service("model", lambda body: current_call().path.encode() + b":" + body)
    emu.add_queue_service("via", processor="model")
    _, rid = await put(http, url(emu, "via/v1/run"), b"x")
    status, frames = await get(http, url(emu, "via/sink"), requestId=rid, _timeout_="5s")
    assert status == 200
    assert frames[0].data == b"/v1/run:x"


async def test_a_failure_is_written_with_last_code_and_empty_answers_are_not(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    def judge(body: bytes) -> bytes:
        if body == b"bad":
            raise Reject("no good", 422)
        return b""

    qs = emu.add_queue_service("judge", processor=judge)
    await put(http, url(emu, "judge"), b"fine")
    _, rid = await put(http, url(emu, "judge"), b"bad")
    assert await qs.input.wait_until(lambda: len(qs.input) == 0)
    [record] = qs.sink.records
    assert record.tags == {"requestId": rid, "lastCode": "422"}
    assert record.data == b"no good"


async def test_the_worker_stops_taking_input_while_the_sink_is_full(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    qs = emu.add_queue_service("busy", processor=lambda b: b, sink_max_length=2)
    for i in range(5):
        await put(http, url(emu, "busy"), str(i))
    assert await qs.sink.wait_until(lambda: len(qs.sink) == 2)
    consumer = qs.input.consumers.find("eas-worker", "instance")
    assert consumer is not None
    assert await qs.input.wait_until(lambda: not consumer.pending)
    assert len(qs.input) == 3  # nothing more was taken
    # Room in the sink lets it go on, until everything is through.
    done: list[bytes] = []
    while len(done) < 5:
        _, frames = await get(http, url(emu, "busy/sink"), _auto_delete_="true", _timeout_="5s")
        done.extend(f.data for f in frames)
    assert done == [b"0", b"1", b"2", b"3", b"4"]
    assert len(qs.input) == 0
