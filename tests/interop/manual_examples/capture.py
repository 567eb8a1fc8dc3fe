"""Run one example script and report every answer it got, in a form both clients share.

    python capture.py official|aioeas SCRIPT.py

runs ``SCRIPT.py`` as ``__main__`` (as ``python SCRIPT.py`` would) with the client's
``PredictClient.predict`` wrapped so that each answer is recorded. The script's own output
is left as it is; the last line printed is::

    EXAMPLE-RESULT {"answers": [...], "requests": [...], "error": null or {"type": ..., "message": ...}}

Each answer is ``{"kind": "string", "text": ...}`` or ``{"kind": "tf" | "torch" | "blade" |
"blade_tf", "outputs": {name or index: {"shape": [...], "values": [...]}}}`` with floats
rounded to 7 significant digits, so the official SDK's protobuf answers and aioeas's ndarray
answers compare as plain JSON. Each request body sent is recorded as ``{"size": n,
"sha256": hex}``. The exit status is 1 when the script raised.

Stdlib only at import time: the same file runs in the official SDK's environment (with
``eas_prediction``) and in aioeas's (with ``aioeas``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import runpy
import sys
import traceback
from typing import Any

MARK = "EXAMPLE-RESULT "


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return float(f"{value:.7g}")
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return _plain(value.item()) if hasattr(value, "item") else value


def _tensor(shape: Any, values: Any) -> dict[str, Any]:
    if hasattr(values, "tolist"):
        values = values.tolist()
    return {"shape": [int(d) for d in shape], "values": [_plain(v) for v in values]}


def _official_answer(resp: Any) -> dict[str, Any]:
    """An ``eas_prediction`` response, read through its protobuf message."""
    kind = type(resp).__name__
    module = type(resp).__module__
    if kind == "StringResponse":
        data = resp.response_data
        return {"kind": "string", "text": data.decode() if isinstance(data, bytes) else data}
    if kind == "TorchResponse":
        outputs = {
            str(i): _tensor(resp.get_tensor_shape(i), resp.get_values(i))
            for i in range(len(resp.response.outputs))
        }
        return {"kind": "torch", "outputs": outputs}
    if kind == "TFResponse" and module.endswith(".tf_request"):
        outputs = {
            name: _tensor(resp.get_tensor_shape(name), resp.get_values(name))
            for name in sorted(resp.response.outputs)
        }
        return {"kind": "tf", "outputs": outputs}
    if kind in ("BladeResponse", "TFResponse"):  # Blade's Response, either request form
        outputs = {}
        for out in resp.response.outputs:
            values = out.float_val or out.int_val or out.int64_val or out.string_val
            outputs.setdefault(out.name_in_dl_model, _tensor(out.shape.dim, values))
        return {"kind": "blade" if kind == "BladeResponse" else "blade_tf", "outputs": outputs}
    raise TypeError(f"capture.py does not know {module}.{kind}")


def _aioeas_answer(resp: Any) -> dict[str, Any]:
    """An ``aioeas`` response, read through the SDK-compatible accessors."""
    kind = type(resp).__name__
    if kind == "StringResponse":
        return {"kind": "string", "text": resp.content.decode()}
    if kind == "TorchResponse":
        outputs = {
            str(i): _tensor(resp.get_tensor_shape(i), resp.get_values(i)) for i in range(len(resp))
        }
        return {"kind": "torch", "outputs": outputs}
    names = {"TFResponse": "tf", "BladeResponse": "blade", "BladeTFResponse": "blade_tf"}
    if kind in names:
        outputs = {
            name: _tensor(resp.get_tensor_shape(name), resp.get_values(name))
            for name in sorted(resp)
        }
        return {"kind": names[kind], "outputs": outputs}
    raise TypeError(f"capture.py does not know {type(resp).__module__}.{kind}")


def _body(data: Any) -> dict[str, Any]:
    if isinstance(data, str):
        data = data.encode("utf-8")
    data = bytes(data)
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _wrap(client: str, answers: list[dict[str, Any]], requests: list[dict[str, Any]]) -> None:
    if client == "official":
        from eas_prediction import predict_client

        cls: Any = predict_client.PredictClient
        plain = cls.predict

        @functools.wraps(plain)
        def predict(self: Any, req: Any) -> Any:
            requests.append(_body(req.to_string()))
            resp = plain(self, req)
            answers.append(_official_answer(resp))
            return resp

        cls.predict = predict
    elif client == "aioeas":
        from aioeas.client import session

        cls = session.PredictClient
        coro = cls.predict

        @functools.wraps(coro)
        async def apredict(self: Any, request: Any, **kwargs: Any) -> Any:
            requests.append(_body(request.to_bytes()))
            resp = await coro(self, request, **kwargs)
            answers.append(_aioeas_answer(resp))
            return resp

        cls.predict = apredict
    else:
        raise SystemExit(f"usage: capture.py official|aioeas SCRIPT (not {client!r})")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: capture.py official|aioeas SCRIPT", file=sys.stderr)
        return 2
    client, script = argv
    answers: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    _wrap(client, answers, requests)
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python SCRIPT` would have it
    error = None
    try:
        runpy.run_path(script, run_name="__main__")
    except Exception as exc:
        traceback.print_exc()
        error = {"type": type(exc).__name__, "message": str(exc)}
    sys.stdout.flush()
    print(MARK + json.dumps({"answers": answers, "requests": requests, "error": error}), flush=True)
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
