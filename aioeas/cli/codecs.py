"""``aioeas codecs``: the codecs at work, without a network.

It builds each kind of request from numpy arrays, answers it with the server-side codecs
and the emulator's models (the scorecard and MNIST answers are computed from the request,
as ``aioeas emulator`` would answer them), decodes the answer, and prints what crossed
the wire and how long each step took: a quick check that a machine's numpy and protobuf
do what aioeas expects, and a feel for what encoding costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from aioeas import (
    BladeRequest,
    EASError,
    StringRequest,
    StringResponse,
    TFRequest,
    TorchRequest,
)
from aioeas.emulator import models
from aioeas.requests import served

__all__ = ["show_codecs"]


def _timed(fn: Callable[[], Any], repeat: int = 50) -> tuple[Any, float]:
    """Run ``fn`` ``repeat`` times; the last result and the median time in microseconds."""
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        result = fn()
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    return result, times[len(times) // 2] / 1000


def show_codecs() -> int:
    """Print each kind of request built, answered by the server-side codecs, and decoded."""
    rng = np.random.default_rng(7)
    print("aioeas codecs: requests built from numpy arrays, answered and decoded (no network)\n")

    # String / PMML: the manual's scorecard request
    req_s = StringRequest('[{"fea1": 1, "fea2": 2}]')
    answer = StringResponse(models.scorecard(req_s.to_bytes()))
    print(f"string   {req_s!r} -> {len(req_s.to_bytes())} bytes; answer {answer.json()}")

    # TensorFlow: the MNIST example's input, [1, 784] float32
    images = rng.random((1, 784), dtype=np.float32)
    req_tf = TFRequest("predict_images").add_feed("images", images).add_fetch("scores")
    body, enc_us = _timed(lambda: TFRequest("predict_images").add_feed("images", images).to_bytes())
    seen = served.decode_tf_request(body)
    reply = served.encode_tf_response(models.mnist(dict(seen.inputs)))
    resp, dec_us = _timed(lambda: req_tf.parse_response(reply))
    print(
        f"tf       images {list(images.shape)} float32 -> {len(body):,} bytes in {enc_us:.1f} us; "
        f"answer scores {resp.get_tensor_shape('scores')} decoded in {dec_us:.1f} us"
    )

    # PyTorch: the image example's input, [1, 3, 224, 224] float32
    image = rng.random((1, 3, 224, 224), dtype=np.float32)
    req_pt = TorchRequest().add_feed(0, image)
    body, enc_us = _timed(lambda: TorchRequest().add_feed(0, image).to_bytes())
    reply = served.encode_torch_response([served.decode_torch_request(body).inputs[0]])
    resp_pt, dec_us = _timed(lambda: req_pt.parse_response(reply))
    same = bool(np.array_equal(resp_pt[0], image))
    print(
        f"torch    input {list(image.shape)} float32 -> {len(body):,} bytes in {enc_us:.1f} us; "
        f"echo decoded in {dec_us:.1f} us, identical: {same}"
    )

    # Blade: the NLP example's inputs
    req_bl = BladeRequest()
    req_bl.add_feed("input_data", 1, [1, 360, 128], BladeRequest.DT_FLOAT, [0.8] * 46080)
    req_bl.add_feed("input_length", 1, [1], BladeRequest.DT_INT32, [187])
    req_bl.add_feed("start_token", 1, [1], BladeRequest.DT_INT32, [104])
    req_bl.add_fetch("output", BladeRequest.DT_FLOAT)
    body = req_bl.to_bytes()
    reply = served.encode_blade_response({"output": np.full((1, 187), 0.5, np.float32)})
    resp_bl = req_bl.parse_response(reply)
    print(
        f"blade    3 inputs -> {len(body):,} bytes; answer output {resp_bl.get_tensor_shape('output')}"
    )

    # What the manual's Blade example does as written: shape and content disagree.
    try:
        BladeRequest().add_feed(
            "input_data", 1, [1, 360, 128], BladeRequest.DT_FLOAT, [0.8] * 85680
        )
    except EASError as exc:
        print(f"refused  the manual's Blade example as written: {exc}")

    # Integer tensors go through vectorized varints (timings include building the request)
    ids = rng.integers(-1000, 1000, size=(1, 3, 224, 224), dtype=np.int32)
    body, enc_us = _timed(lambda: TFRequest().add_feed("ids", ids).to_bytes(), repeat=10)
    back = served.decode_tf_request(body).inputs["ids"]
    print(
        f"int32    {ids.size:,} values -> {len(body):,} bytes of varints in {enc_us:,.0f} us; "
        f"round trip exact: {bool(np.array_equal(back, ids))}"
    )
    return 0
