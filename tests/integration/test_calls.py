"""What one call carries: an extra path and query (signed), raw bytes, compressed bodies,
extra headers; and concurrent calls that must not see each other's headers."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from typing import Any

import numpy as np
import pytest

import aioeas
from aioeas import PredictClient, StringRequest, TorchRequest
from aioeas.emulator import Emulator, current_call
from aioeas.emulator.auth import signature_valid
from tests.integration.conftest import TOKEN, direct_client


def _strict_check(service: str, path: str, query: str) -> bool:
    """Verify the signature against exactly the resource the call names (the emulator
    itself also accepts the path without its query, to be lenient with other clients),
    with the emulator's verifier, which shares no code with the client's signing."""
    call = current_call()
    h = call.headers
    return signature_valid(
        TOKEN,
        h.get("Authorization", ""),
        method="POST",
        content_md5=h.get("Content-MD5"),
        content_type=h.get("Content-Type"),
        date=h.get("Date"),
        bodies=[call.body],
        resources=[f"/api/predict/{service}{path}" + (f"?{query}" if query else "")],
    )


@pytest.mark.parametrize("direct", [False, True], ids=["gateway", "direct"])
async def test_extra_path_and_query_reach_the_processor_and_are_signed(
    emu_token: Emulator, direct: bool
) -> None:
    calls: list[tuple[str, dict[str, str], bool]] = []

    def processor(body: bytes) -> bytes:
        call = current_call()
        ok = _strict_check("p", "/v1/models/m:predict", "a=1&b=two%20words&c=%2F")
        calls.append((call.path, dict(call.query), ok))
        return b"ok"

    emu_token.add_service("p", processor)
    if direct:
        client = direct_client(emu_token, "p", token=TOKEN)
    else:
        client = PredictClient(emu_token.url, "p", token=TOKEN)
    async with client:
        resp = await client.predict(
            StringRequest("x"),
            path="v1/models/m:predict",
            query={"a": 1, "b": "two words", "c": "/"},
        )
    assert resp.to_bytes() == b"ok"
    assert calls == [("/v1/models/m:predict", {"a": "1", "b": "two words", "c": "/"}, True)]


async def test_a_query_string_and_a_custom_url_path(emu_token: Emulator) -> None:
    seen: list[tuple[str, dict[str, str], str]] = []

    def processor(body: bytes) -> bytes:
        call = current_call()
        seen.append((call.path, dict(call.query), call.headers["Authorization"]))
        return body

    emu_token.add_service("p", processor)
    url = f"{emu_token.url}/api/predict/p/base?fixed=1"
    async with PredictClient(custom_url=url, token=TOKEN) as client:
        await client.predict_bytes(b"x", path="/more", query="k=v")
    assert seen == [("/base/more", {"fixed": "1", "k": "v"}, TOKEN)]


async def test_raw_bytes_predict(emu_token: Emulator) -> None:
    body = bytes(range(256)) * 4
    async with PredictClient(emu_token.url, "echo", token=TOKEN) as client:
        assert await client.predict_bytes(body) == body
        assert await client.predict_bytes(bytearray(b"ba")) == b"ba"
        assert await client.predict_bytes(memoryview(b"mv")) == b"mv"
        assert await client.predict_bytes("text é") == "text é".encode()
    history = emu_token.service("echo").history
    assert history[0].headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("compression", "coding", "decode"),
    [("gzip", "gzip", gzip.decompress), ("zlib", "deflate", zlib.decompress)],
)
async def test_request_compression_is_decoded_by_the_emulator(
    emu_token: Emulator, compression: str, coding: str, decode: Any
) -> None:
    body = b"a compressible body " * 500
    sizes: list[int] = []

    def processor(data: bytes) -> bytes:
        sizes.append(int(current_call().headers["Content-Length"]))
        return data

    emu_token.add_service("z", processor)
    # The EAS client sends no Content-Encoding (the service decides from its own config);
    # the emulator decodes by Content-Encoding, so the call names the coding.
    async with PredictClient(emu_token.url, "z", token=TOKEN) as client:
        out = await client.predict_bytes(
            body, compression=compression, headers={"Content-Encoding": coding}
        )
        # and set once for the client, with a request object
        async with PredictClient(
            emu_token.url,
            "z",
            token=TOKEN,
            compression=compression,
            headers={"Content-Encoding": coding},
        ) as other:
            resp = await other.predict(StringRequest(body))
    assert out == body  # decompressed by the emulator, signature over the bytes as sent
    assert resp.to_bytes() == body
    assert all(size < len(body) // 10 for size in sizes)


@pytest.mark.parametrize("compression", ["gzip", "zlib", "snappy", "lz4", "zstd"])
async def test_compressed_requests_without_a_header_follow_the_service_config(
    emu_token: Emulator, compression: str
) -> None:
    """As EAS does: the body carries no Content-Encoding; the service knows its compression."""
    body = b"a compressible body " * 500
    seen: list[tuple[int, str | None]] = []

    def processor(data: bytes) -> bytes:
        call = current_call()
        seen.append((int(call.headers["Content-Length"]), call.headers.get("Content-Encoding")))
        return data

    service = emu_token.add_service("z", processor)
    service.request_encoding = compression
    async with PredictClient(emu_token.url, "z", token=TOKEN, compression=compression) as client:
        assert (await client.predict(StringRequest(body))).to_bytes() == body
    assert seen
    assert all(size < len(body) // 5 and coding is None for size, coding in seen)
    # a plain body to a service that expects compression is refused, not misread
    async with PredictClient(
        emu_token.url, "z", token=TOKEN, retry=aioeas.RetryPolicy(max_attempts=1)
    ) as plain:
        with pytest.raises(aioeas.ServiceError) as caught:
            await plain.predict(StringRequest(body))
    assert caught.value.status == 400


async def test_compressed_answers_are_decoded(emu: Emulator) -> None:
    body = b"answer " * 1000

    def processor(data: bytes) -> bytes:
        return body

    emu.add_service("big", processor)
    async with PredictClient(emu.url, "big") as client:
        assert await client.predict_bytes(b"") == body
    accept = emu.service("big").history[0].headers["Accept-Encoding"]
    assert "gzip" in accept


async def test_extra_headers_reach_the_server(emu_token: Emulator) -> None:
    client = PredictClient(emu_token.url, "echo", token=TOKEN, headers={"X-Team": "ml"})
    client.add_extra_headers({"X-Trace": "t-1"})
    async with client:
        await client.predict(StringRequest("x"), headers={"X-Call": "c-1"})
        await client.predict(StringRequest("y"))
    first, second = emu_token.service("echo").history
    assert (first.headers["X-Team"], first.headers["X-Trace"], first.headers["X-Call"]) == (
        "ml",
        "t-1",
        "c-1",
    )
    assert second.headers["X-Team"] == "ml"
    assert "X-Call" not in second.headers


async def test_caller_headers_cannot_break_the_signature(emu_token: Emulator) -> None:
    async with PredictClient(emu_token.url, "echo", token=TOKEN) as client:
        out = await client.predict_bytes(
            b"x",
            headers={"Authorization": "forged", "Date": "yesterday", "Content-MD5": "0"},
        )
    assert out == b"x"
    call = emu_token.service("echo").history[0]
    assert call.headers["Authorization"].startswith("EAS ")


async def test_concurrent_calls_do_not_share_headers(emu_token: Emulator, released: Any) -> None:
    n = 64
    arrived = 0
    all_in = asyncio.Event()

    async def processor(body: bytes) -> bytes:
        nonlocal arrived
        call = current_call()
        arrived += 1
        if arrived == n:
            all_in.set()
        await all_in.wait()  # every call is in flight at once
        ok = _strict_check("h", "", "")
        return f"{call.headers['X-Id']}|{body.decode()}|{ok}".encode()

    emu_token.add_service("h", processor)
    async with PredictClient(emu_token.url, "h", token=TOKEN) as client:
        outs = await asyncio.gather(
            *(
                client.predict_bytes(f"body-{i}".encode(), headers={"X-Id": str(i)})
                for i in range(n)
            )
        )
    assert outs == [f"{i}|body-{i}|True".encode() for i in range(n)]


async def test_the_pool_limit_bounds_connections(emu: Emulator, released: Any) -> None:
    in_flight = 0
    high = 0
    first_two = asyncio.Event()

    async def processor(body: bytes) -> bytes:
        nonlocal in_flight, high
        in_flight += 1
        high = max(high, in_flight)
        if in_flight == 2:
            first_two.set()
        await first_two.wait()
        in_flight -= 1
        return body

    emu.add_service("pool", processor)
    client = PredictClient(emu.url, "pool")
    client.set_max_connection_count(2)
    async with client:
        outs = await asyncio.gather(*(client.predict_bytes(str(i).encode()) for i in range(20)))
    assert outs == [str(i).encode() for i in range(20)]
    assert high == 2


async def test_a_snappy_torch_request(emu_token: Emulator) -> None:
    pytest.importorskip("cramjam")
    x = np.linspace(-1, 1, 3 * 224 * 224, dtype=np.float32).reshape(1, 3, 224, 224)
    async with PredictClient(emu_token.url, "pytorch_gpu_wl", token=TOKEN) as client:
        packed = await client.predict(TorchRequest(flag=True).add_feed(0, x))
        plain = await client.predict(TorchRequest().add_feed(0, x))
    np.testing.assert_array_equal(packed[0], plain[0])
    assert packed.get_tensor_shape(0) == [1, 1000]


async def test_a_repeated_query_key_reaches_the_processor_with_its_last_value(
    emu: Emulator,
) -> None:
    queries: list[dict[str, str]] = []

    def processor(data: bytes) -> bytes:
        queries.append(dict(current_call().query))
        return data

    emu.add_service("q", processor)
    async with PredictClient(emu.url, "q") as client:
        await client.predict_bytes(b"x", query=[("k", "1"), ("k", "2"), ("other", "3")])
    assert queries == [{"k": "2", "other": "3"}]
