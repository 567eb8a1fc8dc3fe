"""Each example of the official manual, through aioeas with ``await`` added.

Gateway and VPC direct, with and without a token: the emulator's built-in models compute
their answers from the input, so each answer is checked against the same model run here.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from aioeas import (
    ENDPOINT_TYPE_DIRECT,
    AuthError,
    BladeRequest,
    BladeTFRequest,
    PredictClient,
    StringRequest,
    TFRequest,
    TorchRequest,
)
from aioeas.emulator import Emulator, models
from aioeas.testing import EmulatorFactory
from tests.integration.conftest import TOKEN, Attempts

NLP_DATA = np.random.default_rng(3).random(360 * 128).astype(np.float32)  # 46080 values


async def _client(emu: Emulator, service: str, *, token: str | None, direct: bool) -> PredictClient:
    """Set up as the manual does, with the familiar setters."""
    client = PredictClient(emu.url, service)
    if token is not None:
        client.set_token(token)
    if direct:
        client.set_endpoint_type(ENDPOINT_TYPE_DIRECT)
    await client.init()
    return client


async def _scorecard(client: PredictClient) -> None:
    req = StringRequest('[{"fea1": 1, "fea2": 2}]')
    resp = await client.predict(req)
    expected = json.loads(models.scorecard(b'[{"fea1": 1, "fea2": 2}]'))
    assert resp.json() == expected
    assert 0.0 < resp.json()[0]["score"] < 1.0


async def _mnist(client: PredictClient) -> None:
    req = TFRequest("predict_images")
    req.add_feed("images", [1, 784], TFRequest.DT_FLOAT, [1] * 784)
    resp = await client.predict(req)
    want = models.mnist({"images": np.ones((1, 784), np.float32)})
    assert resp.get_tensor_shape("scores") == [1, 10]
    np.testing.assert_allclose(resp["scores"], want["scores"], rtol=1e-6)
    assert resp["classes"].tolist() == want["classes"].tolist()


async def _torch(client: PredictClient) -> None:
    req = TorchRequest()
    req.add_feed(0, [1, 3, 224, 224], TorchRequest.DT_FLOAT, [1] * 150528)
    resp = await client.predict(req)
    assert resp.get_tensor_shape(0) == [1, 1000]
    want = models.resnet([np.ones((1, 3, 224, 224), np.float32)])[0]
    np.testing.assert_allclose(resp.get_values(0), want.reshape(-1), rtol=1e-5)


def _nlp_feeds(req: Any, blade: bool) -> None:
    content = NLP_DATA.tolist()
    if blade:
        req.add_feed("input_data", 1, [1, 360, 128], BladeRequest.DT_FLOAT, content)
        req.add_feed("input_length", 1, [1], BladeRequest.DT_INT32, [187])
        req.add_feed("start_token", 1, [1], BladeRequest.DT_INT32, [104])
        req.add_fetch("output", BladeRequest.DT_FLOAT)
    else:
        req.add_feed("input_data", [1, 360, 128], BladeTFRequest.DT_FLOAT, content)
        req.add_feed("input_length", [1], BladeTFRequest.DT_INT32, [187])
        req.add_feed("start_token", [1], BladeTFRequest.DT_INT32, [104])
        req.add_fetch("output")


async def _blade(client: PredictClient) -> None:
    want = models.nlp(
        {
            "input_data": NLP_DATA.reshape(1, 360, 128),
            "input_length": np.array([187], np.int32),
            "start_token": np.array([104], np.int32),
        }
    )["output"]
    blade = BladeRequest()
    _nlp_feeds(blade, blade=True)
    resp = await client.predict(blade)
    assert resp.get_tensor_shape("output") == [1, 360]
    np.testing.assert_allclose(
        resp.get_values("output", BladeRequest.DT_FLOAT), want.reshape(-1), rtol=1e-5
    )

    blade_tf = BladeTFRequest("predict_words")
    _nlp_feeds(blade_tf, blade=False)
    resp_tf = await client.predict(blade_tf)
    np.testing.assert_array_equal(resp_tf["output"], resp["output"])


EXAMPLES = {
    "scorecard_pmml_example": _scorecard,
    "mnist_saved_model_example": _mnist,
    "pytorch_gpu_wl": _torch,
    "nlp_model_example": _blade,
}


@pytest.mark.parametrize("direct", [False, True], ids=["gateway", "direct"])
@pytest.mark.parametrize("with_token", [False, True], ids=["no-token", "token"])
@pytest.mark.parametrize("service", list(EXAMPLES))
async def test_manual_example(
    eas_emulator_factory: EmulatorFactory, service: str, with_token: bool, direct: bool
) -> None:
    emu = await eas_emulator_factory(token=TOKEN if with_token else None)
    client = await _client(emu, service, token=TOKEN if with_token else None, direct=direct)
    try:
        await EXAMPLES[service](client)
    finally:
        await client.close()
    svc = emu.service(service)
    assert svc.requests == len(svc.history)  # nothing was refused or failed along the way
    if direct:
        assert emu.discovery.requests.get(service, 0) >= 1


@pytest.mark.parametrize("direct", [False, True], ids=["gateway", "direct"])
async def test_a_wrong_token_is_an_auth_error_and_is_not_retried(
    emu_token: Emulator, direct: bool
) -> None:
    seen = Attempts()
    client = PredictClient(
        emu_token.url,
        "mnist_saved_model_example",
        token="not-the-token",
        hooks=seen.hooks,
        endpoint_type=ENDPOINT_TYPE_DIRECT if direct else "",
        env={},
    )
    req = TFRequest("predict_images").add_feed("images", np.ones((1, 784), np.float32))
    async with client:
        with pytest.raises(AuthError) as caught:
            await client.predict(req)
    assert caught.value.status == 401
    assert b"Unauthorized" in caught.value.body
    assert len(seen.starts) == 1
    assert seen.retries == []
    assert emu_token.service("mnist_saved_model_example").requests == 1


async def test_no_token_against_a_token_service_is_an_auth_error(emu_token: Emulator) -> None:
    async with PredictClient(emu_token.url, "echo") as client:
        with pytest.raises(AuthError):
            await client.predict(StringRequest("x"))
    assert emu_token.service("echo").requests == 1
