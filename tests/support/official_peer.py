"""A JSON-lines server around the official ``eas-prediction`` SDK, and the client to drive it.

The official SDK pins ``protobuf<=3.20.3``, so it cannot be imported beside aioeas. This
file is two things:

* run as a script with the official environment's Python (``official_python()``), it is a
  **server**: it reads one JSON command per line on stdin and writes one JSON answer per
  line on stdout. It imports ``eas_prediction`` and the standard library only (no numpy);
* imported from the main environment, it provides ``OfficialPeer``, which starts that
  server once (``tests/interop/conftest.py``: one per session) and calls it (``call``
  returns a result or raises ``PeerError``; ``error`` returns the ``PeerError`` a command
  must raise; ``batch`` sends many commands in one round trip), and the helpers
  ``encode_values`` / ``decode_values`` between numpy arrays and the JSON form below.

By hand: ``echo '{"cmd": "versions"}' | $(python -m tests.support.official) -I
tests/support/official_peer.py``.

Protocol
========
A command is ``{"id": n, "cmd": "<name>", ...arguments}``; the answer is
``{"id": n, "ok": true, "result": ...}`` or, when the SDK (or protobuf) raised,
``{"id": n, "ok": false, "error": {"type": "AssertionError", "message": "..."}}``.
The server never dies on a bad command; stdin at EOF makes it exit.

Bytes travel as base64 text. Tensor values (``V`` below) are one-key objects, chosen so that
every value survives exactly (NaN, infinities, -0.0, int64 extremes):

=====================  =====================================================================
``{"f": "<base64>"}``  floats, as little-endian float64 (a float32 widens exactly)
``{"i": [1, -2]}``     integers (JSON integers are exact in Python)
``{"b": [true]}``      bools
``{"s": ["<b64>"]}``   bytes elements
``{"u": ["text"]}``    str elements (input only: handed to the SDK as str)
``null``               the SDK returned ``None`` (``get_values`` of a dtype it does not read)
=====================  =====================================================================

An ``ArrayProto`` (TensorFlow, PyTorch) is ``{"dtype": int, "dims": [int], "has_shape":
bool, "float_val": V, "double_val": V, "int_val": V, "int64_val": V, "string_val": V,
"bool_val": V}`` (no ``bool_val`` in PyTorch). A Blade ``Array`` is ``{"blade_blob_name",
"name_in_dl_model", "batchsize", "dims", "float_val", "int_val", "int64_val",
"string_val"}``. When building, missing keys stay unset; when parsing, every key is given.

Commands
--------
Official builders (``eas_prediction`` classes, exactly as a user calls them); each returns
``{"body": b64}``. A feed's ``content`` is ``V``; with ``"scalar": true`` its only element
is passed bare (the Blade builders accept a single value).

- ``tf_request``: ``signature`` (``null``: ``TFRequest()``), ``feeds`` [{name, shape,
  dtype, content}], ``fetches`` [str]
- ``torch_request``: ``flag`` (snappy), ``debug_level`` (``null``: not called), ``feeds``
  [{index, shape, dtype, content}], ``map_feeds`` [{name, ...}], ``fetches`` [int]
- ``blade_request``: ``signature`` (``null``: ``BladeRequest()``), ``feeds`` [{name,
  batch_size, shape, dtype, content, scalar}], ``fetches`` [{name, dtype}]
- ``blade_tf_request``: ``signature``, ``feeds`` [{name, shape, dtype, content, scalar}],
  ``fetches`` [str]

Official messages built field by field with the ``*_pb2`` modules; each returns
``{"body": b64}``:

- ``pb_tf_request`` {signature_name, inputs: {name: ArrayProto}, output_filter}
- ``pb_torch_request`` {inputs: [ArrayProto], map_inputs, output_filter, debug_level}
- ``pb_tf_response`` {outputs: {name: ArrayProto}}
- ``pb_torch_response`` {outputs: [ArrayProto], map_outputs: {name: ArrayProto}}
- ``pb_blade_response`` {outputs: [Array]}

Parsing with the ``*_pb2`` modules (``body`` is base64); every field comes back:

- ``parse_tf_request`` -> {signature_name, inputs: {name: ArrayProto}, output_filter}
- ``parse_torch_request`` (``snappy``: uncompress first) -> {inputs, map_inputs,
  output_filter, debug_level}
- ``parse_blade_request`` -> {tf_signature_name, has_tf_signature_name, inputs: [Array],
  output_info: [{blade_blob_name, name_in_dl_model, data_type}]}
- ``parse_tf_response`` -> {outputs: {name: ArrayProto}}; ``parse_torch_response`` ->
  {outputs: [ArrayProto], map_outputs}; ``parse_blade_response`` -> {outputs: [Array]}

Reading with the official response classes; each output is ``{"shape": [int], "values":
V}`` from ``get_tensor_shape`` and ``get_values``:

- ``read_tf_response`` {body, names} -> {name: output}
- ``read_torch_response`` {body, indexes, names} -> {outputs: [output], map_outputs}
- ``read_blade_response`` {body, fetches: [[name, dtype]]} -> [output]
- ``read_blade_tf_response`` {body, names} -> {name: output}

And ``versions`` -> {eas_prediction, protobuf, api}; ``batch`` {calls: [command]} -> a list
of ``{"ok": ..., "result"|"error": ...}``, one per command, in one round trip.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------ values: both sides


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _values_to_json(values: Iterable[Any] | None) -> dict[str, Any] | None:
    """Plain Python values (a protobuf repeated field, a list) as ``V``."""
    if values is None:
        return None
    items = list(values)
    if not items:
        return {"i": []}
    first = items[0]
    if isinstance(first, bool):
        return {"b": [bool(x) for x in items]}
    if isinstance(first, float):
        return {"f": _b64(struct.pack(f"<{len(items)}d", *items))}
    if isinstance(first, int):
        return {"i": [int(x) for x in items]}
    if isinstance(first, (bytes, bytearray)):
        return {"s": [_b64(bytes(x)) for x in items]}
    if isinstance(first, str):
        return {"u": list(items)}
    raise TypeError(f"cannot encode values of type {type(first).__name__}")


def _values_from_json(value: Mapping[str, Any] | None) -> list[Any] | None:
    """``V`` as a list of plain Python values (floats, ints, bools, bytes, str)."""
    if value is None:
        return None
    ((tag, data),) = value.items()
    if tag == "f":
        raw = _unb64(data)
        return list(struct.unpack(f"<{len(raw) // 8}d", raw))
    if tag in ("i", "b", "u"):
        return list(data)
    if tag == "s":
        return [_unb64(x) for x in data]
    raise ValueError(f"unknown value tag {tag!r}")


# ------------------------------------------------------------------ the server (official venv)


def _fill_array(msg: Any, desc: Mapping[str, Any], fields: Iterable[str]) -> None:
    """Set an ArrayProto from its JSON description."""
    if "dtype" in desc:
        msg.dtype = desc["dtype"]
    if desc.get("dims") is not None:
        msg.array_shape.dim.extend(desc["dims"])
    if desc.get("has_shape"):
        msg.array_shape.SetInParent()
    for name in fields:
        if desc.get(name) is not None:
            getattr(msg, name).extend(_values_from_json(desc[name]))


def _read_array(msg: Any, fields: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dtype": int(msg.dtype),
        "dims": list(msg.array_shape.dim),
        "has_shape": msg.HasField("array_shape"),
    }
    for name in fields:
        out[name] = _values_to_json(getattr(msg, name))
    return out


_TF_FIELDS = ("float_val", "double_val", "int_val", "string_val", "int64_val", "bool_val")
_TORCH_FIELDS = ("float_val", "double_val", "int_val", "string_val", "int64_val")
_BLADE_FIELDS = ("float_val", "int_val", "int64_val", "string_val")


def _fill_blade_array(msg: Any, desc: Mapping[str, Any]) -> None:
    for name in ("blade_blob_name", "name_in_dl_model", "batchsize"):
        if desc.get(name) is not None:
            setattr(msg, name, desc[name])
    if desc.get("dims") is not None:
        msg.shape.dim.extend(desc["dims"])
    for name in _BLADE_FIELDS:
        if desc.get(name) is not None:
            getattr(msg, name).extend(_values_from_json(desc[name]))


def _read_blade_array(msg: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "blade_blob_name": msg.blade_blob_name,
        "name_in_dl_model": msg.name_in_dl_model,
        "batchsize": msg.batchsize,
        "dims": list(msg.shape.dim),
    }
    for name in _BLADE_FIELDS:
        out[name] = _values_to_json(getattr(msg, name))
    return out


def _content(feed: Mapping[str, Any]) -> Any:
    values = _values_from_json(feed["content"])
    if feed.get("scalar"):
        assert values is not None
        (only,) = values
        return only
    return values


def _output(shape: Any, values: Any) -> dict[str, Any]:
    return {"shape": list(shape), "values": _values_to_json(values)}


class _Server:
    """The command handlers; each takes the command's arguments and returns its result."""

    def __init__(self) -> None:
        import importlib.metadata

        import google.protobuf
        from eas_prediction import (
            blade_pb2,
            blade_request,
            blade_tf_request,
            tf_request,
            torch_request,
        )
        from eas_prediction import pytorch_predict_pb2 as pt_pb
        from eas_prediction import tf_request_pb2 as tf_pb
        from google.protobuf.internal import api_implementation

        self.tf_pb, self.pt_pb, self.blade_pb = tf_pb, pt_pb, blade_pb2
        self.tf, self.torch = tf_request, torch_request
        self.blade, self.blade_tf = blade_request, blade_tf_request
        self.info = {
            "eas_prediction": importlib.metadata.version("eas-prediction"),
            "protobuf": google.protobuf.__version__,
            "api": api_implementation.Type(),
        }

    def versions(self) -> dict[str, Any]:
        return self.info

    # -- official builders

    def tf_request(self, signature, feeds=(), fetches=()):  # type: ignore[no-untyped-def]
        req = self.tf.TFRequest() if signature is None else self.tf.TFRequest(signature)
        for f in feeds:
            req.add_feed(f["name"], f["shape"], f["dtype"], _content(f))
        for name in fetches:
            req.add_fetch(name)
        return {"body": _b64(req.to_string())}

    def torch_request(  # type: ignore[no-untyped-def]
        self, flag=False, debug_level=None, feeds=(), map_feeds=(), fetches=()
    ):
        req = self.torch.TorchRequest(flag)
        for f in feeds:
            req.add_feed(f["index"], f["shape"], f["dtype"], _content(f))
        for f in map_feeds:
            req.add_feed_map(f["name"], f["shape"], f["dtype"], _content(f))
        for index in fetches:
            req.add_fetch(index)
        if debug_level is not None:
            req.set_debug_level(debug_level)
        return {"body": _b64(req.to_string())}

    def blade_request(self, signature, feeds=(), fetches=()):  # type: ignore[no-untyped-def]
        cls = self.blade.BladeRequest
        req = cls() if signature is None else cls(signature)
        for f in feeds:
            req.add_feed(f["name"], f["batch_size"], f["shape"], f["dtype"], _content(f))
        for f in fetches:
            req.add_fetch(f["name"], f["dtype"])
        return {"body": _b64(req.to_string())}

    def blade_tf_request(self, signature, feeds=(), fetches=()):  # type: ignore[no-untyped-def]
        cls = self.blade_tf.TFRequest
        req = cls() if signature is None else cls(signature)
        for f in feeds:
            req.add_feed(f["name"], f["shape"], f["dtype"], _content(f))
        for name in fetches:
            req.add_fetch(name)
        return {"body": _b64(req.to_string())}

    # -- messages made field by field

    def pb_tf_request(  # type: ignore[no-untyped-def]
        self, signature_name="", inputs=None, output_filter=()
    ):
        msg = self.tf_pb.PredictRequest()
        msg.signature_name = signature_name
        for name, desc in (inputs or {}).items():
            _fill_array(msg.inputs[name], desc, _TF_FIELDS)
        msg.output_filter.extend(output_filter)
        return {"body": _b64(msg.SerializeToString())}

    def pb_torch_request(  # type: ignore[no-untyped-def]
        self, inputs=(), map_inputs=None, output_filter=(), debug_level=0
    ):
        msg = self.pt_pb.PredictRequest()
        for desc in inputs:
            _fill_array(msg.inputs.add(), desc, _TORCH_FIELDS)
        for name, desc in (map_inputs or {}).items():
            _fill_array(msg.map_inputs[name], desc, _TORCH_FIELDS)
        msg.output_filter.extend(output_filter)
        msg.debug_level = debug_level
        return {"body": _b64(msg.SerializeToString())}

    def pb_tf_response(self, outputs):  # type: ignore[no-untyped-def]
        msg = self.tf_pb.PredictResponse()
        for name, desc in outputs.items():
            _fill_array(msg.outputs[name], desc, _TF_FIELDS)
        return {"body": _b64(msg.SerializeToString())}

    def pb_torch_response(self, outputs=(), map_outputs=None):  # type: ignore[no-untyped-def]
        msg = self.pt_pb.PredictResponse()
        for desc in outputs:
            _fill_array(msg.outputs.add(), desc, _TORCH_FIELDS)
        for name, desc in (map_outputs or {}).items():
            _fill_array(msg.map_outputs[name], desc, _TORCH_FIELDS)
        return {"body": _b64(msg.SerializeToString())}

    def pb_blade_response(self, outputs):  # type: ignore[no-untyped-def]
        msg = self.blade_pb.Response()
        for desc in outputs:
            _fill_blade_array(msg.outputs.add(), desc)
        return {"body": _b64(msg.SerializeToString())}

    # -- parsing with the pb2 modules

    def parse_tf_request(self, body):  # type: ignore[no-untyped-def]
        msg = self.tf_pb.PredictRequest()
        msg.ParseFromString(_unb64(body))
        return {
            "signature_name": msg.signature_name,
            "inputs": {k: _read_array(v, _TF_FIELDS) for k, v in msg.inputs.items()},
            "output_filter": list(msg.output_filter),
        }

    def parse_torch_request(self, body, snappy=False):  # type: ignore[no-untyped-def]
        data = _unb64(body)
        if snappy:
            import snappy as snappy_module

            data = snappy_module.uncompress(data)
        msg = self.pt_pb.PredictRequest()
        msg.ParseFromString(data)
        return {
            "inputs": [_read_array(v, _TORCH_FIELDS) for v in msg.inputs],
            "map_inputs": {k: _read_array(v, _TORCH_FIELDS) for k, v in msg.map_inputs.items()},
            "output_filter": list(msg.output_filter),
            "debug_level": msg.debug_level,
        }

    def parse_blade_request(self, body):  # type: ignore[no-untyped-def]
        msg = self.blade_pb.Request()
        msg.ParseFromString(_unb64(body))
        return {
            "tf_signature_name": msg.tf_signature_name,
            "has_tf_signature_name": msg.HasField("tf_signature_name"),
            "inputs": [_read_blade_array(a) for a in msg.inputs],
            "output_info": [
                {
                    "blade_blob_name": o.blade_blob_name,
                    "name_in_dl_model": o.name_in_dl_model,
                    "data_type": int(o.data_type),
                }
                for o in msg.output_info
            ],
        }

    def parse_tf_response(self, body):  # type: ignore[no-untyped-def]
        msg = self.tf_pb.PredictResponse()
        msg.ParseFromString(_unb64(body))
        return {"outputs": {k: _read_array(v, _TF_FIELDS) for k, v in msg.outputs.items()}}

    def parse_torch_response(self, body):  # type: ignore[no-untyped-def]
        msg = self.pt_pb.PredictResponse()
        msg.ParseFromString(_unb64(body))
        return {
            "outputs": [_read_array(v, _TORCH_FIELDS) for v in msg.outputs],
            "map_outputs": {k: _read_array(v, _TORCH_FIELDS) for k, v in msg.map_outputs.items()},
        }

    def parse_blade_response(self, body):  # type: ignore[no-untyped-def]
        msg = self.blade_pb.Response()
        msg.ParseFromString(_unb64(body))
        return {"outputs": [_read_blade_array(a) for a in msg.outputs]}

    # -- the official response classes

    def read_tf_response(self, body, names):  # type: ignore[no-untyped-def]
        resp = self.tf.TFResponse(_unb64(body))
        return {n: _output(resp.get_tensor_shape(n), resp.get_values(n)) for n in names}

    def read_torch_response(self, body, indexes=(), names=()):  # type: ignore[no-untyped-def]
        resp = self.torch.TorchResponse(_unb64(body))
        return {
            "outputs": [_output(resp.get_tensor_shape(i), resp.get_values(i)) for i in indexes],
            "map_outputs": {
                n: _output(resp.get_tensor_shape_map(n), resp.get_values_map(n)) for n in names
            },
        }

    def read_blade_response(self, body, fetches):  # type: ignore[no-untyped-def]
        resp = self.blade.BladeResponse(_unb64(body))
        return [_output(resp.get_tensor_shape(n), resp.get_values(n, t)) for n, t in fetches]

    def read_blade_tf_response(self, body, names):  # type: ignore[no-untyped-def]
        resp = self.blade_tf.TFResponse(_unb64(body))
        return {n: _output(resp.get_tensor_shape(n), resp.get_values(n)) for n in names}

    # -- dispatch

    def run(self, command: dict[str, Any]) -> dict[str, Any]:
        args = dict(command)
        args.pop("id", None)
        name = args.pop("cmd", None)
        try:
            if name == "batch":
                return {"ok": True, "result": [self.run(c) for c in args["calls"]]}
            if not isinstance(name, str) or name.startswith("_") or name == "run":
                raise ValueError(f"unknown command {name!r}")
            handler = getattr(self, name, None)
            if not callable(handler):
                raise ValueError(f"unknown command {name!r}")
            return {"ok": True, "result": handler(**args)}
        except Exception as exc:
            return {"ok": False, "error": {"type": type(exc).__name__, "message": str(exc)}}


def serve(stdin: Any = None, stdout: Any = None) -> None:
    """Answer commands, one JSON line each, until stdin ends."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    server = _Server()
    for line in stdin:
        if not line.strip():
            continue
        try:
            command = json.loads(line)
            answer = server.run(command)
            answer["id"] = command.get("id")
        except Exception as exc:  # not JSON at all
            answer = {
                "id": None,
                "ok": False,
                "error": {"type": type(exc).__name__, "message": str(exc)},
            }
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


# ------------------------------------------------------------------ the client (main venv)


class PeerError(Exception):
    """The official SDK (or protobuf) raised: ``type`` is the exception's class name."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message


@dataclass(frozen=True)
class Outcome:
    """One command's answer in a batch: its result, or the error it raised."""

    ok: bool
    result: Any = None
    error: PeerError | None = None

    def unwrap(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


def _outcome(answer: Mapping[str, Any]) -> Outcome:
    if answer["ok"]:
        return Outcome(True, answer["result"])
    err = answer["error"]
    return Outcome(False, error=PeerError(err["type"], err["message"]))


class OfficialPeer:
    """The server above, run with the official SDK's Python; one per test session."""

    def __init__(self, python: str | os.PathLike[str]) -> None:
        self._proc = subprocess.Popen(
            [str(python), "-I", str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._next_id = 0
        self._lock = threading.Lock()

    def _send(self, command: dict[str, Any]) -> dict[str, Any]:
        proc = self._proc
        assert proc.stdin is not None
        assert proc.stdout is not None
        with self._lock:
            self._next_id += 1
            command = {**command, "id": self._next_id}
            try:
                proc.stdin.write(json.dumps(command) + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
            except BrokenPipeError:
                line = ""
            if not line:
                raise RuntimeError(f"the official peer exited: {self._stderr()}")
            answer: dict[str, Any] = json.loads(line)
            if answer.get("id") != command["id"]:
                raise RuntimeError(f"the official peer answered out of turn: {answer}")
            return answer

    def _stderr(self) -> str:
        proc = self._proc
        if proc.poll() is None or proc.stderr is None:
            return "(still running)"
        return proc.stderr.read()

    def outcome(self, cmd: str, **args: Any) -> Outcome:
        """Run one command; an SDK error comes back as ``Outcome.error``."""
        return _outcome(self._send({"cmd": cmd, **args}))

    def call(self, cmd: str, **args: Any) -> Any:
        """Run one command and return its result; an SDK error raises ``PeerError``."""
        return self.outcome(cmd, **args).unwrap()

    def error(self, cmd: str, **args: Any) -> PeerError:
        """The error a command raised in the SDK; ``AssertionError`` here when it did not."""
        outcome = self.outcome(cmd, **args)
        if outcome.error is None:
            raise AssertionError(f"{cmd} was expected to fail, it returned {outcome.result!r}")
        return outcome.error

    def body(self, cmd: str, **args: Any) -> bytes:
        """A builder command's ``body``, as bytes."""
        return _unb64(self.call(cmd, **args)["body"])

    def batch(self, calls: Iterable[Mapping[str, Any]]) -> list[Outcome]:
        """Several commands (``{"cmd": ..., **args}`` each) in one round trip."""
        answer = self._send({"cmd": "batch", "calls": list(calls)})
        if not answer["ok"]:
            raise _outcome(answer).error  # type: ignore[misc]
        return [_outcome(a) for a in answer["result"]]

    def close(self) -> None:
        proc = self._proc
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> OfficialPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def b64(data: bytes) -> str:
    """Bytes as the protocol's base64 text."""
    return _b64(data)


def unb64(text: str) -> bytes:
    return _unb64(text)


def encode_values(values: Any) -> dict[str, Any]:
    """An ndarray (any shape) or a flat list as ``V``: floats stay exact, strings keep their type.

    float32/float64 arrays go as float64 bytes; bool, integer and object (str or bytes)
    arrays by kind; an empty array of any dtype as ``{"i": []}`` (empty either way).
    """
    import numpy as np

    arr = values if isinstance(values, np.ndarray) else None
    if arr is None:
        return _values_to_json(list(values))  # type: ignore[return-value]
    flat = arr.reshape(-1)
    if arr.dtype.kind == "f":
        return {"f": _b64(flat.astype("<f8").tobytes())}
    if arr.dtype.kind == "b":
        return {"b": [bool(x) for x in flat]}
    if arr.dtype.kind in "iu":
        return {"i": [int(x) for x in flat]}
    if arr.dtype.kind in "OSU":
        if all(isinstance(x, str) for x in flat):
            return {"u": [str(x) for x in flat]}
        return {"s": [_b64(x if isinstance(x, bytes) else str(x).encode()) for x in flat]}
    raise TypeError(f"cannot encode an array of dtype {arr.dtype}")


def decode_values(value: Mapping[str, Any] | None) -> list[Any] | None:
    """``V`` as a flat list of Python values (floats as float64, exact); ``None`` stays."""
    return _values_from_json(value)


def value_tag(value: Mapping[str, Any] | None) -> str | None:
    """Which kind ``V`` is: ``"f"``, ``"i"``, ``"b"``, ``"s"``, ``"u"`` (``None`` for null)."""
    if value is None:
        return None
    ((tag, _),) = value.items()
    return str(tag)


if __name__ == "__main__":
    serve()
