"""Built-in models that answer the official manual's examples as they are written.

Each is a small deterministic numpy model whose weights come from a fixed seed, so an
answer is computed from the input (different inputs, different answers; the same input,
the same answer, up to float rounding where BLAS splits a batch differently) without any
real model file:

- ``scorecard_pmml_example``: JSON records ``[{"fea1": 1, "fea2": 2}]`` in, one
  ``{"score": p}`` per record out (a logistic scorecard over the numeric features).
- ``mnist_saved_model_example``: TF signature ``predict_images``, input ``images`` [n, 784]
  -> ``scores`` [n, 10] float32 (softmax) and ``classes`` [n] int64 (argmax).
- ``pytorch_gpu_wl``: PyTorch input 0 [n, 3, 224, 224] -> output 0 [n, 1000] float32
  logits; named ``map_inputs`` get the same model, answered in ``map_outputs``.
- ``nlp_model_example``: Blade (and Blade-TF, signature ``predict_words``) inputs
  ``input_data`` [n, L, 128] float, ``input_length`` [n] int32, ``start_token`` [n] int32
  -> ``output`` [n, L] float32. (The manual feeds [1, 360, 128] with 85680 values, which
  the official client itself refuses: send 46080.)
"""

from __future__ import annotations

import json
import math
import zlib
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from aioeas.emulator.calls import Reject

__all__ = [
    "MNIST_SIGNATURE",
    "NLP_SIGNATURE",
    "mnist",
    "nlp",
    "resnet",
    "resnet_named",
    "scorecard",
]

MNIST_SIGNATURE = "predict_images"
NLP_SIGNATURE = "predict_words"

F32 = npt.NDArray[np.float32]


@cache
def _weights(seed: int, *shape: int) -> F32:
    """Fixed pseudo-random weights, the same on every run and platform (PCG64 is portable)."""
    w = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    w.setflags(write=False)
    return w


def _feature_weight(name: str) -> float:
    """A scorecard weight per feature name, in [-1, 1), stable across runs (crc32, not hash)."""
    return (zlib.crc32(name.encode("utf-8")) % 2000) / 1000.0 - 1.0


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Reject(f"feature {name!r} is not a number: {value!r}")
    return float(value)


def scorecard(body: bytes) -> bytes:
    """``[{"fea1": 1, "fea2": 2}]`` -> ``[{"score": 0.7...}]``: one score per record."""
    try:
        records = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Reject(f"the body is not JSON: {exc}") from None
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise Reject("the body is a JSON list of records (objects)")
    out = []
    for record in records:
        z = 0.1 + sum(_feature_weight(k) * _number(v, k) for k, v in record.items())
        out.append({"score": 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))})
    return json.dumps(out).encode("utf-8")


def _float_input(value: npt.NDArray[Any], name: str) -> F32:
    if value.dtype.kind not in "fiub":
        raise Reject(f"input {name!r} is numeric, got {value.dtype}")
    return value.astype(np.float32, copy=False)


def mnist(inputs: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    """A linear softmax classifier over 784 pixels."""
    if "images" not in inputs:
        raise Reject(f"input 'images' is required; got {sorted(inputs)}")
    images = _float_input(inputs["images"], "images")
    if images.ndim == 1:
        images = images.reshape(1, -1)
    if images.ndim != 2 or images.shape[1] != 784:
        raise Reject(f"input 'images' has shape [n, 784], got {list(images.shape)}")
    logits = images @ _weights(784, 784, 10) * np.float32(0.05) + _weights(10, 10)
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    scores = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return {"scores": scores, "classes": scores.argmax(axis=1).astype(np.int64)}


def _resnet_one(x: npt.NDArray[Any], what: str) -> F32:
    images = _float_input(x, what)
    if images.ndim != 4 or images.shape[1:] != (3, 224, 224):
        raise Reject(f"{what} has shape [n, 3, 224, 224], got {list(images.shape)}")
    n = images.shape[0]
    # 32x32 average pooling: [n, 3, 7, 7] features, then one dense layer to 1000 classes.
    pooled: F32 = images.reshape(n, 3, 7, 32, 7, 32).mean(axis=(3, 5)).reshape(n, 147)
    logits: F32 = pooled @ _weights(147, 147, 1000) + _weights(1000, 1000)
    return logits.astype(np.float32, copy=False)


def resnet(inputs: list[npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
    """Input 0 [n, 3, 224, 224] -> output 0 [n, 1000] logits."""
    if not inputs:
        raise Reject("input 0 [n, 3, 224, 224] is required")
    return [_resnet_one(inputs[0], "input 0")]


def resnet_named(inputs: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    """The same model over each named input, answered under the same name."""
    return {k: _resnet_one(v, f"input {k!r}") for k, v in inputs.items()}


def nlp(inputs: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    """A per-position score over token embeddings, masked after each sequence's length."""
    missing = [k for k in ("input_data", "input_length", "start_token") if k not in inputs]
    if missing:
        raise Reject(f"input {missing[0]!r} is required; got {sorted(inputs)}")
    data = _float_input(inputs["input_data"], "input_data")
    if data.ndim != 3 or data.shape[2] != 128:
        raise Reject(f"input 'input_data' has shape [n, L, 128], got {list(data.shape)}")
    n, length = data.shape[:2]
    lengths = inputs["input_length"].reshape(-1).astype(np.int64)
    starts = inputs["start_token"].reshape(-1).astype(np.float32)
    if lengths.size not in (1, n) or starts.size not in (1, n):
        raise Reject(f"input_length and start_token have 1 or {n} values")
    scores = np.tanh(data @ _weights(128, 128) * np.float32(0.1))
    mask = np.arange(length)[None, :] < np.broadcast_to(lengths, (n,))[:, None]
    out = scores * mask + np.broadcast_to(starts, (n,))[:, None] * np.float32(0.001)
    return {"output": out.astype(np.float32)}
