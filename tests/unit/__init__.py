"""Unit and property tests of aioeas's sans-IO core: no socket, no event loop, no clock.

Shared here: one hypothesis ``settings`` for every property test (derandomized, so a run is
repeatable, and without deadlines, so a slow machine never fails a test), strategies for
tensors, a reference protobuf encoder written from the spec (independent of aioeas), and
helpers that move arrays in and out of the generated protobuf messages in ``aioeas._proto``.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aioeas import DataType

#: For every property test. ``derandomize`` makes the examples the same on every run.
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ------------------------------------------------------------------ reference encoder
# Written from the protobuf encoding spec, not from aioeas, to hand-craft messages.

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint((field << 3) | wire)


def ld(field: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return key(field, LEN) + varint(len(payload)) + payload


def vi(field: int, value: int) -> bytes:
    """A varint field."""
    return key(field, VARINT) + varint(value)


def fixed32(field: int, value: float) -> bytes:
    return key(field, I32) + struct.pack("<f", value)


def fixed64(field: int, value: float) -> bytes:
    return key(field, I64) + struct.pack("<d", value)


def packed_varints(values: list[int]) -> bytes:
    return b"".join(varint(v) for v in values)


# ------------------------------------------------------------------ tensors

#: numpy dtype -> the DataType an array of it is sent as by default.
NUMERIC: dict[np.dtype[Any], DataType] = {
    np.dtype(np.float32): DataType.DT_FLOAT,
    np.dtype(np.float64): DataType.DT_DOUBLE,
    np.dtype(np.int8): DataType.DT_INT8,
    np.dtype(np.int16): DataType.DT_INT16,
    np.dtype(np.int32): DataType.DT_INT32,
    np.dtype(np.uint8): DataType.DT_UINT8,
    np.dtype(np.uint16): DataType.DT_UINT16,
    np.dtype(np.int64): DataType.DT_INT64,
    np.dtype(np.bool_): DataType.DT_BOOL,
}

#: Quantized types travel in int_val and decode to these numpy dtypes.
QUANTIZED: dict[DataType, np.dtype[Any]] = {
    DataType.DT_QINT8: np.dtype(np.int8),
    DataType.DT_QUINT8: np.dtype(np.uint8),
    DataType.DT_QINT16: np.dtype(np.int16),
    DataType.DT_QUINT16: np.dtype(np.uint16),
    DataType.DT_QINT32: np.dtype(np.int32),
}

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)


def numeric_arrays(dtype: np.dtype[Any]) -> st.SearchStrategy[np.ndarray[Any, Any]]:
    """Arrays of any value of ``dtype``: NaN, +-inf, -0.0, subnormals, integer min and max."""
    return hnp.arrays(dtype, SHAPES, elements=hnp.from_dtype(dtype))


@st.composite
def string_arrays(draw: st.DrawFn, kinds: str = "mixed") -> np.ndarray[Any, Any]:
    """Object arrays of str, bytes, or both."""
    shape = draw(SHAPES)
    element = {
        "str": st.text(max_size=6),
        "bytes": st.binary(max_size=6),
        "mixed": st.one_of(st.text(max_size=6), st.binary(max_size=6)),
    }[kinds]
    n = math.prod(shape)
    items = draw(st.lists(element, min_size=n, max_size=n))
    arr = np.empty(n, dtype=object)
    for i, item in enumerate(items):
        arr[i] = item
    return arr.reshape(shape)


@st.composite
def tensors(
    draw: st.DrawFn, *, bool_ok: bool = True, quantized: bool = True
) -> tuple[np.ndarray[Any, Any], DataType | None, DataType]:
    """(array, the dtype to pass or None, the DataType expected on the wire)."""
    choices: list[str] = [d.str for d in NUMERIC if bool_ok or d != np.bool_]
    choices.append("strings")
    if quantized:
        choices.extend(t.name for t in QUANTIZED)
    pick = draw(st.sampled_from(choices))
    if pick == "strings":
        return draw(string_arrays()), None, DataType.DT_STRING
    if pick.startswith("DT_"):
        code = DataType[pick]
        return draw(numeric_arrays(QUANTIZED[code])), code, code
    dtype = np.dtype(pick)
    return draw(numeric_arrays(dtype)), None, NUMERIC[dtype]


def expected_strings(arr: np.ndarray[Any, Any]) -> list[bytes]:
    return [x.encode("utf-8") if isinstance(x, str) else bytes(x) for x in arr.reshape(-1)]


def assert_same_tensor(got: np.ndarray[Any, Any], want: np.ndarray[Any, Any]) -> None:
    """Same shape, dtype and values; floats compared bit for bit (NaN payloads, -0.0)."""
    assert isinstance(got, np.ndarray)
    assert got.shape == want.shape
    if want.dtype == object or want.dtype.kind in "US":
        assert got.dtype == object
        assert list(got.reshape(-1)) == expected_strings(want)
        return
    native = want.dtype.newbyteorder("=")
    assert got.dtype == native, (got.dtype, native)
    if native.kind == "f":
        bits = np.dtype(f"u{native.itemsize}")
        np.testing.assert_array_equal(
            np.ascontiguousarray(got).view(bits), want.astype(native).view(bits)
        )
    else:
        np.testing.assert_array_equal(got, want.astype(native))


def assert_close_tensor(got: np.ndarray[Any, Any], want: np.ndarray[Any, Any]) -> None:
    """As ``assert_same_tensor`` but NaNs need only be NaN: protobuf's Python objects hold
    floats as Python floats, and a float32 -> double -> float32 trip quiets signalling NaNs."""
    if want.dtype.kind != "f":
        assert_same_tensor(got, want)
        return
    assert got.shape == want.shape
    assert got.dtype == want.dtype.newbyteorder("=")
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


# ------------------------------------------------------------------ protobuf messages


def value_field(code: DataType) -> str:
    """The name of the ArrayProto field that carries ``code`` (PROTOCOL.md's table)."""
    return {
        DataType.DT_FLOAT: "float_val",
        DataType.DT_DOUBLE: "double_val",
        DataType.DT_INT64: "int64_val",
        DataType.DT_BOOL: "bool_val",
        DataType.DT_STRING: "string_val",
    }.get(code, "int_val")


def numpy_of(code: DataType) -> np.dtype[Any]:
    if code in QUANTIZED:
        return QUANTIZED[code]
    if code == DataType.DT_STRING:
        return np.dtype(object)
    return next(d for d, c in NUMERIC.items() if c == code)


def fill_proto(proto: Any, arr: np.ndarray[Any, Any], code: DataType) -> Any:
    """Fill a generated TF/PyTorch ``ArrayProto`` the way any protobuf user would."""
    proto.dtype = int(code)
    if arr.shape:
        proto.array_shape.dim.extend(int(d) for d in arr.shape)
    field = value_field(code)
    if field == "string_val":
        getattr(proto, field).extend(expected_strings(arr))
    else:
        getattr(proto, field).extend(arr.reshape(-1).tolist())
    return proto


def array_of_proto(proto: Any) -> np.ndarray[Any, Any]:
    """The values of a generated ``ArrayProto`` as a shaped ndarray (numpy from Python values)."""
    code = DataType(proto.dtype)
    field = value_field(code)
    values = list(getattr(proto, field))
    shape = list(proto.array_shape.dim)
    if code == DataType.DT_STRING:
        arr = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            arr[i] = v
    else:
        arr = np.array(values, dtype=numpy_of(code))
    return arr.reshape(shape)
