"""The other side of each message, for servers: read requests, write responses.

The emulator answers with these, and a user's own test double can too. They share the
client's codecs, so a server built on them speaks exactly what the builders send.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from aioeas.codecs.arrays import (
    TF_FIELDS,
    TORCH_FIELDS,
    BladeArray,
    decode_blade_array,
    write_array_proto,
    write_blade_array,
)
from aioeas.codecs.convert import prepare
from aioeas.codecs.dtypes import BLADE_KINDS, BladeDataType, DataType
from aioeas.codecs.plain import decode_array, write_plain_array, write_plain_entry
from aioeas.codecs.varint import decode_varints, to_signed64
from aioeas.codecs.wire import LEN, VARINT, Buffer, Writer, iter_fields, map_entry, utf8
from aioeas.errors import DecodeError
from aioeas.requests.base import as_memoryview
from aioeas.requests.blade import _TO_TF, BLADE_TYPES
from aioeas.requests.tf import decode_named_arrays, with_body
from aioeas.requests.torch import TORCH_TYPES

__all__ = [
    "BladePredictRequest",
    "TFPredictRequest",
    "TorchPredictRequest",
    "decode_blade_request",
    "decode_tf_request",
    "decode_torch_request",
    "encode_blade_response",
    "encode_tf_response",
    "encode_torch_response",
]

Tensor = npt.NDArray[Any] | tuple[DataType | int, npt.ArrayLike]


@dataclass
class TFPredictRequest:
    """A decoded TensorFlow ``PredictRequest``."""

    signature_name: str = ""
    inputs: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    dtypes: dict[str, DataType] = field(default_factory=dict)
    output_filter: list[str] = field(default_factory=list)


@dataclass
class TorchPredictRequest:
    """A decoded PyTorch ``PredictRequest``."""

    inputs: list[npt.NDArray[Any]] = field(default_factory=list)
    map_inputs: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    output_filter: list[int] = field(default_factory=list)
    debug_level: int = 0


@dataclass
class BladePredictRequest:
    """A decoded Blade ``Request``: inputs by name, and the outputs asked for with their types."""

    signature_name: str | None = None
    inputs: dict[str, BladeArray] = field(default_factory=dict)
    output_info: list[tuple[str, BladeDataType]] = field(default_factory=list)


@contextmanager
def _guarded(body: bytes | bytearray | memoryview) -> Iterator[None]:
    """Re-raise a DecodeError of a part as one that quotes the whole body."""
    try:
        yield
    except DecodeError as exc:
        raise with_body(exc, body) from None


def decode_tf_request(body: bytes | bytearray | memoryview) -> TFPredictRequest:
    what = "TF PredictRequest"
    with _guarded(body):
        buf = as_memoryview(body, what)
        out = TFPredictRequest()
        for f, wire, a, b in iter_fields(buf, 0, len(buf), what):
            if f == 1 and wire == LEN:
                out.signature_name = utf8(buf, a, b, what)
            elif f == 3 and wire == LEN:
                out.output_filter.append(utf8(buf, a, b, what))
        for name, (dtype, arr) in decode_named_arrays(buf, 2, what, TF_FIELDS).items():
            out.inputs[name] = arr
            out.dtypes[name] = dtype
        return out


def decode_torch_request(body: bytes | bytearray | memoryview) -> TorchPredictRequest:
    what = "PyTorch PredictRequest"
    with _guarded(body):
        buf = as_memoryview(body, what)
        out = TorchPredictRequest()
        for f, wire, a, b in iter_fields(buf, 0, len(buf), what):
            if f == 1 and wire == LEN:
                out.inputs.append(decode_array(buf, a, b, TORCH_FIELDS, what)[1])
            elif f == 2 and wire == LEN:
                out.output_filter.extend(int(x) for x in decode_varints(buf[a:b]).view(np.int64))
            elif f == 2 and wire == VARINT:
                out.output_filter.append(to_signed64(a))
            elif f == 100 and wire == VARINT:
                out.debug_level = to_signed64(a)
        out.map_inputs = {
            k: v for k, (_, v) in decode_named_arrays(buf, 3, what, TORCH_FIELDS).items()
        }
        return out


def decode_blade_request(body: bytes | bytearray | memoryview) -> BladePredictRequest:
    what = "Blade Request"
    with _guarded(body):
        buf = as_memoryview(body, what)
        out = BladePredictRequest()
        for f, wire, a, b in iter_fields(buf, 0, len(buf), what):
            if f == 1 and wire == LEN:
                out.signature_name = utf8(buf, a, b, what)
            elif f == 2 and wire == LEN:
                arr = decode_blade_array(buf, a, b, what)
                out.inputs[arr.name or arr.blob_name] = arr
            elif f == 3 and wire == LEN:
                name, code = "", 0
                for g, gw, x, y in iter_fields(buf, a, b, what):
                    if (g == 2 and gw == LEN) or (g == 1 and gw == LEN and not name):
                        name = utf8(buf, x, y, what)
                    elif g == 3 and gw == VARINT:
                        code = x
                try:
                    out.output_info.append((name, BladeDataType(code)))
                except ValueError:
                    raise DecodeError(what, f"unknown Blade data type {code}") from None
        return out


def _prepared(value: Tensor, allowed: frozenset[DataType] | None, schema: str) -> Any:
    if isinstance(value, tuple):
        dtype, data = value
        return prepare(data, dtype, allowed=allowed, schema=schema)
    return prepare(value, None, allowed=allowed, schema=schema)


def encode_tf_response(outputs: Mapping[str, Tensor]) -> bytes:
    """A TensorFlow ``PredictResponse`` body. A value is an array, or ``(DataType, array)``
    to send it as a type its dtype does not pick by itself (``DT_QINT8``)."""
    parts: list[Buffer] = []
    for name, value in outputs.items():
        plain = write_plain_entry(1, name, value)
        if plain is None:
            plain = map_entry(
                1, name, write_array_proto(_prepared(value, None, "TensorFlow"))
            ).parts
        parts += plain
    return b"".join(parts)


def encode_torch_response(
    outputs: Sequence[Tensor] = (), map_outputs: Mapping[str, Tensor] | None = None
) -> bytes:
    """A PyTorch ``PredictResponse`` body: positional outputs and named ones."""
    w = Writer()
    for value in outputs:
        array = write_plain_array(value) or write_array_proto(
            _prepared(value, TORCH_TYPES, "PyTorch")
        )
        w.message(1, array)
    for name, value in (map_outputs or {}).items():
        w.extend(map_entry(2, name, write_array_proto(_prepared(value, TORCH_TYPES, "PyTorch"))))
    return w.getvalue()


def encode_blade_response(
    outputs: Mapping[str, npt.ArrayLike | tuple[BladeDataType | int, npt.ArrayLike]],
    batch_size: int | Mapping[str, int] = 1,
) -> bytes:
    """A Blade ``Response`` body; each output's batch size is given or taken as one for all."""
    w = Writer()
    for name, value in outputs.items():
        if isinstance(value, tuple):
            code, data = value
            values = prepare(
                data, _TO_TF[BladeDataType(int(code))], allowed=BLADE_TYPES, schema="Blade"
            )
        else:
            values = prepare(value, None, allowed=BLADE_TYPES, schema="Blade")
        kind = BLADE_KINDS[next(t for t, d in _TO_TF.items() if d == values.dtype)][1]
        batch = batch_size if isinstance(batch_size, int) else batch_size.get(name, 1)
        w.message(1, write_blade_array(name, batch, values, kind))
    return w.getvalue()
