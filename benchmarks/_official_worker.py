"""Times the official eas-prediction SDK. Runs inside the official venv, not aioeas's.

``bench_codecs.py`` spawns this script with that venv's Python (eas-prediction 0.36,
protobuf 3.20.3), writes a JSON spec to its stdin and reads a JSON answer from its
stdout; progress goes to stderr. The tensors and response bodies come as files the parent
wrote (``.npy`` and raw bytes), so both sides work on exactly the same data.

Spec::

    {"cases": [{"id": ..., "op": "encode" | "decode", "api": "tf" | "torch" | "blade",
                "feed": "list" | "ndarray", "npy": path, "body": path, "name": "x",
                "signature": "predict", "dtype": "float32", "check": true,
                "timing": {...measure kwargs}}]}

``check`` (default true) makes one untimed call first: for an encode it records the
body's sha256 (the parent compares it with aioeas's bytes), for a decode whether the
values equal the array; the slowest cases turn it off to keep the run short.

What is timed, as a user of the SDK would write it:

* encode, ``feed=list``: ``req = TFRequest(sig); req.add_feed(name, shape, DT, content);
  req.to_string()`` where ``content = arr.ravel().tolist()`` was built *before* timing
  (the SDK is "fed a list"; the ``tolist()`` itself is timed separately as ``tolist_ns``);
* encode, ``feed=ndarray``: the same with ``content = arr.ravel()`` (inside the timing);
* decode: ``resp = TFResponse(body); np.asarray(resp.get_values(name), dtype)
  .reshape(resp.get_tensor_shape(name))``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _timing import measure
from eas_prediction import BladeRequest, TFRequest, TFResponse, TorchRequest

_TF_CODES = {
    "float32": TFRequest.DT_FLOAT,
    "int32": TFRequest.DT_INT32,
    "int64": TFRequest.DT_INT64,
}
_BLADE_CODES = {
    "float32": BladeRequest.DT_FLOAT,
    "int32": BladeRequest.DT_INT32,
    "int64": BladeRequest.DT_INT64,
}


def facts() -> dict[str, Any]:
    from google.protobuf import __version__ as pb_version
    from google.protobuf.internal import api_implementation

    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "numpy": np.__version__,
        "protobuf": pb_version,
        "protobuf_impl": api_implementation.Type(),
        "eas_prediction": metadata.version("eas-prediction"),
    }


def encoder(case: dict[str, Any], arr: np.ndarray, content: Any) -> Callable[[], bytes]:
    shape = list(arr.shape)
    name, sig, api = case["name"], case["signature"], case["api"]
    if api == "tf":
        code = _TF_CODES[case["dtype"]]

        def run() -> bytes:
            req = TFRequest(sig)
            req.add_feed(name, shape, code, content() if callable(content) else content)
            return req.to_string()

    elif api == "torch":
        code = _TF_CODES[case["dtype"]]

        def run() -> bytes:
            req = TorchRequest()
            req.add_feed(0, shape, code, content() if callable(content) else content)
            return req.to_string()

    elif api == "blade":
        code = _BLADE_CODES[case["dtype"]]

        def run() -> bytes:
            req = BladeRequest(sig)
            req.add_feed(name, shape[0], shape, code, content() if callable(content) else content)
            return req.to_string()

    else:
        raise ValueError(api)
    return run


def run_case(case: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    arr = arrays.get(case["npy"])
    if arr is None:
        arr = arrays[case["npy"]] = np.load(case["npy"])
    out: dict[str, Any] = {}
    if case["op"] == "encode":
        if case["feed"] == "list":
            t0 = time.perf_counter_ns()
            content: Any = arr.ravel().tolist()
            out["tolist_ns"] = time.perf_counter_ns() - t0
        else:
            flat_source = arr

            def content() -> np.ndarray:
                return flat_source.ravel()

        fn = encoder(case, arr, content)
        if case.get("check", True):
            try:
                body = fn()
            except Exception as exc:  # the SDK refuses this input (Blade and ndarrays)
                return {"error": f"{type(exc).__name__}: {exc}"}
            out["sha256"] = hashlib.sha256(body).hexdigest()
            out["nbytes"] = len(body)
    else:
        with open(case["body"], "rb") as f:
            body_in = f.read()
        name, dtype = case["name"], np.dtype(case["dtype"])

        def fn() -> np.ndarray:
            resp = TFResponse(body_in)
            return np.asarray(resp.get_values(name), dtype=dtype).reshape(
                resp.get_tensor_shape(name)
            )

        if case.get("check", True):
            out["ok"] = bool(np.array_equal(fn(), arr))
    out.update(measure(fn, **case.get("timing", {})))
    return out


def main() -> None:
    spec = json.load(sys.stdin)
    arrays: dict[str, np.ndarray] = {}
    results: dict[str, Any] = {}
    for case in spec["cases"]:
        t0 = time.perf_counter()
        results[case["id"]] = res = run_case(case, arrays)
        took = time.perf_counter() - t0
        shown = res.get("error") or f"median {res['median_ns'] / 1e6:.2f} ms x{res['rounds']}"
        print(
            f"  [eas-prediction] {case['id']}: {shown} ({took:.1f} s)", file=sys.stderr, flush=True
        )
    json.dump({"facts": facts(), "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
