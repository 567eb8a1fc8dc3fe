"""A large answer is in memory once: read into one buffer of its size, decoded in place.

aiohttp's ``resp.read()`` keeps every chunk of a body until the end and joins them, so a
100 MB answer peaked at 200 MB. The transport reads a body of a known large size into one
buffer instead, and the codecs decode from it without a copy. What is counted here is
bytes, not time: tracemalloc's peak over the predict (every bytes object the socket, the
parser and the client make is traced) against the answer's size. The server streams the
answer from one prebuilt buffer in 64 KiB slices, each awaited, so its own side holds a
slice at a time and the peak is the client's.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from aioeas import PredictClient, StringRequest, TFRequest
from aioeas.requests.served import encode_tf_response

SIZE = 24 << 20  # 24 MiB: well above the 1 MB from which the one-buffer read applies
SLICE = 1 << 16
#: What a read may hold beyond the answer itself: the socket's and the parser's chunks in
#: flight, the event loop's and aiohttp's bookkeeping, the decoded response's objects.
SLACK = 4 << 20


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, dict[str, bytes]]]:
    answers: dict[str, bytes] = {}

    async def handle(request: web.Request) -> web.StreamResponse:
        sent = await request.read()
        body = b"ok" if sent == b"warm" else answers[request.match_info["service"]]
        resp = web.StreamResponse()
        resp.content_length = len(body)
        await resp.prepare(request)
        view = memoryview(body)
        for start in range(0, len(body), SLICE):
            await resp.write(view[start : start + SLICE])
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/api/predict/{service}", handle)
    srv = TestServer(app, port=0)
    await srv.start_server()
    try:
        yield str(srv.make_url("")).rstrip("/"), answers
    finally:
        await srv.close()


async def _peak_rise(client: PredictClient, request: object) -> tuple[int, object]:
    """tracemalloc's peak during one predict, over what was traced before it."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        answer = await client.predict(request)  # type: ignore[call-overload]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before, answer


async def test_a_large_tf_answer_is_read_into_one_buffer_and_decoded_from_it(
    server: tuple[str, dict[str, bytes]],
) -> None:
    url, answers = server
    values = np.arange(SIZE // 4, dtype=np.float32)
    answers["big_tf"] = encode_tf_response({"x": values})
    async with PredictClient(url, "big_tf", timeout=60.0) as client:
        await client.predict(StringRequest(b"warm"))  # connection and code paths made
        rise, resp = await _peak_rise(client, TFRequest("s").add_feed("i", np.zeros(1, np.int32)))
    size = len(answers["big_tf"])
    assert rise < 1.2 * size + SLACK, f"peak rose {rise / size:.2f}x the answer's size"
    out = resp["x"]  # type: ignore[index]
    assert np.array_equal(out, values)
    # decoded in place: the array is a view of the body the transport read
    assert np.shares_memory(out, np.frombuffer(resp.content, np.uint8))  # type: ignore[attr-defined]


async def test_a_large_raw_answer_is_read_into_one_buffer(
    server: tuple[str, dict[str, bytes]],
) -> None:
    url, answers = server
    answers["big"] = bytes(range(256)) * (SIZE // 256)
    async with PredictClient(url, "big", timeout=60.0) as client:
        await client.predict(StringRequest(b"warm"))
        rise, resp = await _peak_rise(client, StringRequest(b"x"))
    assert rise < 1.2 * SIZE + SLACK, f"peak rose {rise / SIZE:.2f}x the answer's size"
    assert resp.content == answers["big"]  # type: ignore[attr-defined]
