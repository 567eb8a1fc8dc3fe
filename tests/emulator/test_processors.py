"""Users' own processors, sync and async, for every kind of service."""

from __future__ import annotations

import asyncio

import aiohttp
import numpy as np
import numpy.typing as npt

from aioeas import BladeRequest, StringResponse, TFRequest, TorchRequest
from aioeas.emulator import Emulator, current_call

from .conftest import post

Arrays = dict[str, npt.NDArray[np.float32]]


async def test_string_processor_sync_and_async(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async def shout(body: bytes) -> str:
        await asyncio.sleep(0)
        return body.decode().upper()

    emu.add_service("upper", lambda body: body.upper())
    emu.add_service("shout", shout)
    assert (await post(http, f"{emu.url}/api/predict/upper", b"abc"))[1] == b"ABC"
    body = (await post(http, f"{emu.url}/api/predict/shout", b"abc"))[1]
    assert StringResponse(body).text == "ABC"


async def test_tf_processor_sync_and_async(emu: Emulator, http: aiohttp.ClientSession) -> None:
    def double(inputs: Arrays) -> Arrays:
        return {"y": inputs["x"] * 2, "n": np.array([len(inputs)])}

    async def triple(inputs: Arrays) -> Arrays:
        await asyncio.sleep(0)
        return {"y": inputs["x"] * 3}

    emu.add_tf_service("double", double)
    emu.add_tf_service("triple", triple, signature="serving_default")
    x = np.array([[1.0, 2.0]], np.float32)
    req = TFRequest().add_feed("x", x).add_fetch("y")
    _, body, _ = await post(http, f"{emu.url}/api/predict/double", req.to_bytes())
    resp = req.parse_response(body)
    assert list(resp) == ["y"]
    np.testing.assert_array_equal(resp["y"], x * 2)

    req3 = TFRequest("serving_default").add_feed("x", x)
    _, body, _ = await post(http, f"{emu.url}/api/predict/triple", req3.to_bytes())
    np.testing.assert_array_equal(req3.parse_response(body)["y"], x * 3)


async def test_torch_processor_with_and_without_map_fn(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async def negate(inputs: list[npt.NDArray[np.float32]]) -> list[npt.NDArray[np.float32]]:
        return [-x for x in inputs]

    emu.add_torch_service("negate", negate)
    emu.add_torch_service(
        "named", negate, map_fn=lambda named: {k: v + 1 for k, v in named.items()}
    )
    x = np.arange(4, dtype=np.float32).reshape(2, 2)

    req = TorchRequest().add_feed(0, x).add_feed(1, x * 10).add_fetch(1)
    status, body, _ = await post(http, f"{emu.url}/api/predict/negate", req.to_bytes())
    assert status == 200
    resp = req.parse_response(body)
    assert len(resp) == 1
    np.testing.assert_array_equal(resp[0], -x * 10)

    named = TorchRequest().add_feed_map("a", x)
    status, _, _ = await post(http, f"{emu.url}/api/predict/negate", named.to_bytes())
    assert status == 400  # no map_fn: named inputs are refused
    status, body, _ = await post(http, f"{emu.url}/api/predict/named", named.to_bytes())
    assert status == 200
    np.testing.assert_array_equal(named.parse_response(body)["a"], x + 1)


async def test_blade_processor_casts_to_the_fetched_type(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    def model(inputs: dict[str, npt.NDArray[np.float32]]) -> dict[str, npt.NDArray[np.float64]]:
        x = inputs["x"].astype(np.float64)  # float64: Blade has no field for it
        return {"sum": x.sum(axis=1), "count": np.full(x.shape[0], x.shape[1], np.float64)}

    emu.add_blade_service("blade", model)
    x = np.ones((2, 5), np.float32)
    req = BladeRequest().add_feed("x", x).add_fetch("count", BladeRequest.DT_INT32)
    status, body, _ = await post(http, f"{emu.url}/api/predict/blade", req.to_bytes())
    assert status == 200
    resp = req.parse_response(body)
    assert list(resp) == ["count"]
    assert resp["count"].tolist() == [5, 5]
    assert resp.dtype("count") == BladeRequest.DT_INT32

    everything = BladeRequest().add_feed("x", x)  # no fetch: every output
    _, body, _ = await post(http, f"{emu.url}/api/predict/blade", everything.to_bytes())
    resp_all = everything.parse_response(body)
    assert resp_all["sum"].dtype == np.float32
    assert resp_all["sum"].tolist() == [5.0, 5.0]


async def test_processor_sees_the_call(emu: Emulator, http: aiohttp.ClientSession) -> None:
    def who(body: bytes) -> str:
        call = current_call()
        return f"{call.backend} #{call.number} {call.headers.get('X-Test', '')}"

    emu.add_service("who", who)
    _, body, _ = await post(http, f"{emu.url}/api/predict/who", b"", **{"X-Test": "t1"})
    assert body == b"who-0 #1 t1"
