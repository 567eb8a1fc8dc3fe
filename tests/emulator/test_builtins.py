"""The built-in services answer the official manual's examples, as written, with values
computed from the input."""

from __future__ import annotations

import aiohttp
import numpy as np
import pytest

from aioeas import (
    BladeRequest,
    BladeResponse,
    BladeTFRequest,
    BladeTFResponse,
    StringRequest,
    StringResponse,
    TFRequest,
    TFResponse,
    TorchRequest,
    TorchResponse,
)
from aioeas.emulator import BUILTIN_SERVICES, Emulator

from .conftest import post


async def predict(
    http: aiohttp.ClientSession, emu: Emulator, service: str, body: bytes
) -> tuple[int, bytes]:
    status, answer, _ = await post(http, f"{emu.url}/api/predict/{service}", body)
    return status, answer


async def test_every_builtin_is_there(emu: Emulator) -> None:
    assert set(BUILTIN_SERVICES) <= set(emu.services)


async def test_scorecard_scores_each_record(emu: Emulator, http: aiohttp.ClientSession) -> None:
    req = StringRequest('[{"fea1": 1, "fea2": 2}]')
    status, body = await predict(http, emu, "scorecard_pmml_example", req.to_bytes())
    assert status == 200
    [record] = req.parse_response(body).json()
    assert 0.0 < record["score"] < 1.0

    two = StringRequest('[{"fea1": 1, "fea2": 2}, {"fea1": 5, "fea2": -3}]')
    _, body2 = await predict(http, emu, "scorecard_pmml_example", two.to_bytes())
    scores = [r["score"] for r in StringResponse(body2).json()]
    assert scores[0] == record["score"]  # deterministic
    assert scores[1] != scores[0]  # computed from the input


async def test_scorecard_rejects_what_is_not_records(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    for bad in [b"not json", b'"a string"', b'[{"fea1": "x"}]']:
        status, _ = await predict(http, emu, "scorecard_pmml_example", bad)
        assert status == 400, bad


def _mnist_request(images: np.ndarray) -> TFRequest:
    return TFRequest("predict_images").add_feed("images", images.astype(np.float32))


async def test_mnist_as_the_manual_writes_it(emu: Emulator, http: aiohttp.ClientSession) -> None:
    req = TFRequest("predict_images")
    req.add_feed("images", [1, 784], TFRequest.DT_FLOAT, [1] * 784)
    status, body = await predict(http, emu, "mnist_saved_model_example", req.to_bytes())
    assert status == 200
    resp: TFResponse = req.parse_response(body)
    assert resp.get_tensor_shape("scores") == [1, 10]
    assert resp["scores"].dtype == np.float32
    assert resp["scores"].sum() == pytest.approx(1.0, abs=1e-5)
    assert resp["classes"].dtype == np.int64
    assert resp["classes"].tolist() == [int(resp["scores"][0].argmax())]


async def test_mnist_answers_each_image_and_honours_output_filter(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    images = np.random.default_rng(1).random((3, 784))
    req = _mnist_request(images).add_fetch("scores")
    status, body = await predict(http, emu, "mnist_saved_model_example", req.to_bytes())
    assert status == 200
    resp = req.parse_response(body)
    assert list(resp) == ["scores"]
    assert resp["scores"].shape == (3, 10)
    assert not np.allclose(resp["scores"][0], resp["scores"][1])


@pytest.mark.parametrize(
    "req",
    [
        TFRequest("predict_images")
        .add_feed("images", np.zeros((1, 784), np.float32))
        .add_fetch("nope"),
        TFRequest("other_signature").add_feed("images", np.zeros((1, 784), np.float32)),
        TFRequest("predict_images").add_feed("images", np.zeros((1, 783), np.float32)),
        TFRequest("predict_images").add_feed("pixels", np.zeros((1, 784), np.float32)),
    ],
    ids=["unknown-output", "unknown-signature", "wrong-shape", "wrong-input"],
)
async def test_mnist_refuses_bad_requests(
    emu: Emulator, http: aiohttp.ClientSession, req: TFRequest
) -> None:
    status, body = await predict(http, emu, "mnist_saved_model_example", req.to_bytes())
    assert status == 400
    assert body


async def test_pytorch_as_the_manual_writes_it(emu: Emulator, http: aiohttp.ClientSession) -> None:
    req = TorchRequest()
    req.add_feed(0, [1, 3, 224, 224], TorchRequest.DT_FLOAT, [1] * 150528)
    status, body = await predict(http, emu, "pytorch_gpu_wl", req.to_bytes())
    assert status == 200
    resp: TorchResponse = req.parse_response(body)
    assert resp.get_tensor_shape(0) == [1, 1000]
    assert resp[0].dtype == np.float32


async def test_pytorch_fetch_map_inputs_and_errors(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    x = np.random.default_rng(2).random((2, 3, 224, 224), dtype=np.float32)
    req = TorchRequest().add_feed(0, x).add_feed_map("img", x[:1]).add_fetch(0)
    status, body = await predict(http, emu, "pytorch_gpu_wl", req.to_bytes())
    assert status == 200
    resp = req.parse_response(body)
    assert len(resp) == 1
    assert resp[0].shape == (2, 1000)
    assert not np.allclose(resp[0][0], resp[0][1])
    np.testing.assert_allclose(resp["img"][0], resp[0][0], rtol=1e-4, atol=1e-4)

    bad_fetch = TorchRequest().add_feed(0, x[:1]).add_fetch(1)
    assert (await predict(http, emu, "pytorch_gpu_wl", bad_fetch.to_bytes()))[0] == 400
    bad_shape = TorchRequest().add_feed(0, np.zeros((1, 3, 32, 32), np.float32))
    assert (await predict(http, emu, "pytorch_gpu_wl", bad_shape.to_bytes()))[0] == 400


async def test_pytorch_accepts_a_snappy_body(emu: Emulator, http: aiohttp.ClientSession) -> None:
    pytest.importorskip("cramjam")
    x = np.ones((1, 3, 224, 224), np.float32)
    plain = TorchRequest().add_feed(0, x)
    packed = TorchRequest(flag=True).add_feed(0, x)
    assert packed.to_bytes() != plain.to_bytes()
    status, body = await predict(http, emu, "pytorch_gpu_wl", packed.to_bytes())
    assert status == 200
    _, body_plain = await predict(http, emu, "pytorch_gpu_wl", plain.to_bytes())
    assert body == body_plain


def _nlp_feeds(req: BladeRequest | BladeTFRequest, data: list[float]) -> None:
    if isinstance(req, BladeRequest):
        req.add_feed("input_data", 1, [1, 360, 128], BladeRequest.DT_FLOAT, data)
        req.add_feed("input_length", 1, [1], BladeRequest.DT_INT32, [187])
        req.add_feed("start_token", 1, [1], BladeRequest.DT_INT32, [104])
        req.add_fetch("output", BladeRequest.DT_FLOAT)
    else:
        req.add_feed("input_data", [1, 360, 128], BladeTFRequest.DT_FLOAT, data)
        req.add_feed("input_length", [1], BladeTFRequest.DT_INT32, [187])
        req.add_feed("start_token", [1], BladeTFRequest.DT_INT32, [104])
        req.add_fetch("output")


async def test_nlp_blade_and_blade_tf_give_the_same_answer(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    data = np.random.default_rng(3).random(360 * 128).tolist()  # the manual's 85680 is wrong
    blade = BladeRequest()
    _nlp_feeds(blade, data)
    status, body = await predict(http, emu, "nlp_model_example", blade.to_bytes())
    assert status == 200
    resp: BladeResponse = blade.parse_response(body)
    assert resp.get_tensor_shape("output") == [1, 360]
    out = resp.get_values("output", BladeRequest.DT_FLOAT)
    assert out.dtype == np.float32
    assert np.all(out.reshape(360)[187:] == np.float32(104 * 0.001))  # masked after length
    assert len(set(out[:187].tolist())) > 100  # computed per position

    blade_tf = BladeTFRequest(signature_name="predict_words")
    _nlp_feeds(blade_tf, data)
    status, body_tf = await predict(http, emu, "nlp_model_example", blade_tf.to_bytes())
    assert status == 200
    resp_tf: BladeTFResponse = blade_tf.parse_response(body_tf)
    np.testing.assert_array_equal(resp_tf["output"], resp["output"])

    wrong = BladeTFRequest(signature_name="serving_default")
    _nlp_feeds(wrong, data)
    assert (await predict(http, emu, "nlp_model_example", wrong.to_bytes()))[0] == 400


async def test_echo_services_send_the_inputs_back(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    b = np.array([[1.5, -2.0]], np.float32)
    s = np.array([b"x", b"yz"], dtype=object)

    tf = (
        TFRequest("any")
        .add_feed("a", a)
        .add_feed("b", b)
        .add_feed("s", s)
        .add_feed("q", [2], TFRequest.DT_QINT8, [1, -1])
    )
    status, body = await predict(http, emu, "echo_tf", tf.to_bytes())
    assert status == 200
    tf_resp = tf.parse_response(body)
    np.testing.assert_array_equal(tf_resp["a"], a)
    np.testing.assert_array_equal(tf_resp["b"], b)
    assert tf_resp["s"].tolist() == [b"x", b"yz"]
    assert tf_resp.dtype("q") == TFRequest.DT_QINT8

    torch = TorchRequest().add_feed(0, b).add_feed(1, a).add_feed_map("m", a)
    status, body = await predict(http, emu, "echo_torch", torch.to_bytes())
    assert status == 200
    torch_resp = torch.parse_response(body)
    np.testing.assert_array_equal(torch_resp[0], b)
    np.testing.assert_array_equal(torch_resp[1], a)
    np.testing.assert_array_equal(torch_resp["m"], a)

    blade = BladeRequest().add_feed("a", a, 2).add_feed("b", b).add_fetch("a").add_fetch("b")
    status, body = await predict(http, emu, "echo_blade", blade.to_bytes())
    assert status == 200
    blade_resp = blade.parse_response(body)
    np.testing.assert_array_equal(blade_resp["a"], a)
    np.testing.assert_array_equal(blade_resp["b"], b)
    assert blade_resp.batch_size("a") == 2
