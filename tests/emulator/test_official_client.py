"""The official ``eas-prediction`` client, run in its own environment, against the emulator:
the manual's examples, signed with a token, through the gateway and in direct mode."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from aioeas.emulator import Emulator
from tests.support.official import official_python

pytestmark = pytest.mark.interop

SCRIPT = textwrap.dedent(
    """
    import sys
    from eas_prediction import (PredictClient, StringRequest, TFRequest, TorchRequest,
                                BladeRequest, ENDPOINT_TYPE_DIRECT)
    from eas_prediction.blade_tf_request import TFRequest as BladeTFRequest
    url, token = sys.argv[1], sys.argv[2]

    def client(name, direct=False):
        c = PredictClient(url.replace("http://", "") if direct else url, name)
        c.set_token(token)
        if direct:
            c.set_endpoint_type(ENDPOINT_TYPE_DIRECT)
        c.init()
        return c

    print(client("scorecard_pmml_example").predict(
        StringRequest('[{"fea1": 1, "fea2": 2}]')).response_data.decode())
    req = TFRequest("predict_images")
    req.add_feed("images", [1, 784], TFRequest.DT_FLOAT, [1] * 784)
    for direct in (False, True):
        print(client("mnist_saved_model_example", direct).predict(req).get_tensor_shape("scores"))
    req = TorchRequest()
    req.add_feed(0, [1, 3, 224, 224], TorchRequest.DT_FLOAT, [1] * 150528)
    print(client("pytorch_gpu_wl").predict(req).get_tensor_shape(0))
    req = BladeRequest(signature_name="")  # BladeRequest() itself fails under protobuf 3.20
    req.add_feed("input_data", 1, [1, 360, 128], BladeRequest.DT_FLOAT, [0.8] * 46080)
    req.add_feed("input_length", 1, [1], BladeRequest.DT_INT32, [187])
    req.add_feed("start_token", 1, [1], BladeRequest.DT_INT32, [104])
    req.add_fetch("output", BladeRequest.DT_FLOAT)
    print(client("nlp_model_example").predict(req).get_tensor_shape("output"))
    req = BladeTFRequest(signature_name="predict_words")
    req.add_feed("input_data", [1, 360, 128], BladeTFRequest.DT_FLOAT, [0.8] * 46080)
    req.add_feed("input_length", [1], BladeTFRequest.DT_INT32, [187])
    req.add_feed("start_token", [1], BladeTFRequest.DT_INT32, [104])
    req.add_fetch("output")
    print(client("nlp_model_example").predict(req).get_tensor_shape("output"))
    """
)


async def test_the_official_client_runs_the_manual_against_the_emulator() -> None:
    python = await asyncio.to_thread(official_python)
    async with Emulator(token="official-token", backends=2) as emu:
        proc = await asyncio.create_subprocess_exec(
            str(python),
            "-W",
            "ignore",
            "-c",
            SCRIPT,
            emu.url,
            "official-token",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0].startswith('[{"score": ')
    assert lines[1:] == ["[1, 10]", "[1, 10]", "[1, 1000]", "[1, 360]", "[1, 360]"]
