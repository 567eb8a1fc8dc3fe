"""The tensors every interop test sends, and how to compare what comes back.

A ``Case`` is one tensor: what a user hands to aioeas (``data``), the DataType it goes as,
and what any decoder must give back (``expected``: for text, the UTF-8 bytes). The catalog
covers every dtype EAS carries, a spread of shapes (0-d, empty, [1, 784], a 4-d image
batch) and the extremes of each type. Values are seeded, so every run sends the same bytes.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aioeas import BladeDataType, DataType
from aioeas.codecs.dtypes import DT_NUMPY
from tests.support.official_peer import decode_values, encode_values, unb64

SHAPES: tuple[tuple[int, ...], ...] = ((), (0,), (0, 3), (1, 784), (2, 3, 4), (8, 3, 32, 32))

NUMERIC: dict[DataType, type[np.generic]] = {
    DataType.DT_FLOAT: np.float32,
    DataType.DT_DOUBLE: np.float64,
    DataType.DT_INT8: np.int8,
    DataType.DT_INT16: np.int16,
    DataType.DT_INT32: np.int32,
    DataType.DT_UINT8: np.uint8,
    DataType.DT_UINT16: np.uint16,
    DataType.DT_INT64: np.int64,
    DataType.DT_BOOL: np.bool_,
}

QUANTIZED: tuple[DataType, ...] = (
    DataType.DT_QINT8,
    DataType.DT_QUINT8,
    DataType.DT_QINT16,
    DataType.DT_QUINT16,
    DataType.DT_QINT32,
)

#: Which ArrayProto field carries each DataType.
FIELD: dict[DataType, str] = {
    DataType.DT_FLOAT: "float_val",
    DataType.DT_DOUBLE: "double_val",
    DataType.DT_INT64: "int64_val",
    DataType.DT_BOOL: "bool_val",
    DataType.DT_STRING: "string_val",
}
TF_FIELDS = ("float_val", "double_val", "int_val", "string_val", "int64_val", "bool_val")
TORCH_FIELDS = TF_FIELDS[:-1]
BLADE_FIELDS = ("float_val", "int_val", "int64_val", "string_val")

#: Blade's own codes for the four types it carries.
BLADE_OF: dict[DataType, BladeDataType] = {
    DataType.DT_FLOAT: BladeDataType.DT_FLOAT,
    DataType.DT_INT32: BladeDataType.DT_INT32,
    DataType.DT_INT64: BladeDataType.DT_INT64,
    DataType.DT_STRING: BladeDataType.DT_STRING,
}
BLADE_FIELD: dict[BladeDataType, str] = {
    BladeDataType.DT_FLOAT: "float_val",
    BladeDataType.DT_INT32: "int_val",
    BladeDataType.DT_INT64: "int64_val",
    BladeDataType.DT_STRING: "string_val",
}

#: What the official readers' ``get_values`` return a tensor for (else they return None).
OFFICIAL_TF_READS = frozenset(
    {
        DataType.DT_FLOAT,
        DataType.DT_DOUBLE,
        DataType.DT_INT8,
        DataType.DT_INT16,
        DataType.DT_INT32,
        DataType.DT_INT64,
        DataType.DT_STRING,
        DataType.DT_BOOL,
    }
)
#: The dtypes the official TorchRequest.add_feed fills and TorchResponse.get_values reads;
#: for any other it sets dtype and shape and silently drops the values.
OFFICIAL_TORCH_TYPES = frozenset(
    {
        DataType.DT_FLOAT,
        DataType.DT_DOUBLE,
        DataType.DT_INT8,
        DataType.DT_INT16,
        DataType.DT_INT32,
        DataType.DT_UINT8,
        DataType.DT_INT64,
    }
)


def field_of(dtype: DataType) -> str:
    return FIELD.get(dtype, "int_val")


@dataclass(frozen=True)
class Case:
    """One tensor to send; ``expected`` is what a decoder must give back."""

    name: str
    dtype: DataType
    data: npt.NDArray[Any]
    expected: npt.NDArray[Any]

    def __str__(self) -> str:  # the pytest id
        return self.name

    @property
    def shape(self) -> list[int]:
        return list(self.expected.shape)

    @property
    def field(self) -> str:
        return field_of(self.dtype)

    @property
    def flat(self) -> list[Any]:
        """The content as the official builders take it: a flat list (strings as bytes)."""
        return list(self.expected.reshape(-1).tolist())

    def values(self) -> dict[str, Any]:
        """The flat content in the peer's value encoding (strings as bytes)."""
        return encode_values(self.expected)

    def array_desc(self) -> dict[str, Any]:
        """The tensor as an ArrayProto description for the peer's ``pb_*`` commands."""
        return {"dtype": int(self.dtype), "dims": self.shape, self.field: self.values()}

    @property
    def blade_type(self) -> BladeDataType:
        return BLADE_OF[self.dtype]


def _seed(text: str) -> int:
    return zlib.crc32(text.encode())


def _random(dtype: type[np.generic], shape: tuple[int, ...], seed: int) -> npt.NDArray[Any]:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        values = rng.standard_normal(shape) * 1000
    elif dt.kind == "b":
        values = rng.random(shape) < 0.5
    else:
        info = np.iinfo(dt)
        values = rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    return np.asarray(values, dtype=dt).reshape(shape)  # a 0-d array, not a numpy scalar


def extremes(dtype: type[np.generic]) -> npt.NDArray[Any]:
    """The values a codec gets wrong first: NaN, infinities, -0.0, the ends of the range."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        fi = np.finfo(dt)
        tiny = fi.smallest_subnormal
        vals = [np.nan, np.inf, -np.inf, -0.0, 0.0, fi.max, -fi.max, fi.tiny, tiny, -tiny, 1 / 3]
        return np.array([*vals, 0.1, -2.5, 1e-3], dtype=dt).reshape(2, 7)
    if dt.kind == "b":
        return np.array([[True, False, True], [False, False, True]])
    info = np.iinfo(dt)
    vals = {info.min, info.min + 1, -1, 0, 1, 127, 128, 255, 256, -129, info.max - 1, info.max}
    inside = sorted(v for v in vals if info.min <= v <= info.max)
    return np.array(inside, dtype=dt)


def _short(shape: tuple[int, ...]) -> str:
    return "scalar" if not shape else "x".join(map(str, shape))


def numeric_cases(types: Iterable[DataType]) -> list[Case]:
    out: list[Case] = []
    for dtype in types:
        np_type = NUMERIC[dtype]
        label = np.dtype(np_type).name
        for shape in SHAPES:
            arr = _random(np_type, shape, _seed(f"{label}-{shape}"))
            out.append(Case(f"{label}-{_short(shape)}", dtype, arr, arr))
        arr = extremes(np_type)
        out.append(Case(f"{label}-extremes", dtype, arr, arr))
    return out


def quantized_cases() -> list[Case]:
    out: list[Case] = []
    for dtype in QUANTIZED:
        np_type = DT_NUMPY[dtype].type
        label = dtype.name.removeprefix("DT_").lower()
        arr = extremes(np_type)
        out.append(Case(f"{label}-extremes", dtype, arr, arr))
        arr = _random(np_type, (2, 3, 4), _seed(label))
        out.append(Case(f"{label}-2x3x4", dtype, arr, arr))
    return out


def _objects(items: list[Any], shape: tuple[int, ...]) -> npt.NDArray[Any]:
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr.reshape(shape)


TEXTS = ["", "a", "héllo", "日本語", "emoji \U0001f600", "x" * 300]
BLOBS = [b"", b"\x00", b"\xff\xfe not utf-8", b"plain", bytes(range(256))]


def string_cases() -> list[Case]:
    encoded = [t.encode() for t in TEXTS]
    return [
        Case("str-2x3", DataType.DT_STRING, _objects(TEXTS, (2, 3)), _objects(encoded, (2, 3))),
        Case(
            "str-scalar",
            DataType.DT_STRING,
            _objects(["héllo"], ()),
            _objects(["héllo".encode()], ()),
        ),
        Case("bytes-5", DataType.DT_STRING, _objects(BLOBS, (5,)), _objects(BLOBS, (5,))),
        Case("bytes-0", DataType.DT_STRING, _objects([], (0,)), _objects([], (0,))),
        Case("bytes-0x3", DataType.DT_STRING, _objects([], (0, 3)), _objects([], (0, 3))),
        Case("bytes-empty-1", DataType.DT_STRING, _objects([b""], (1,)), _objects([b""], (1,))),
    ]


TF_CASES = numeric_cases(NUMERIC) + quantized_cases() + string_cases()
TORCH_CASES = [c for c in TF_CASES if c.dtype != DataType.DT_BOOL]
#: What the official TorchRequest.add_feed can build.
TORCH_OFFICIAL_CASES = [c for c in TORCH_CASES if c.dtype in OFFICIAL_TORCH_TYPES]


def blade_cases() -> list[Case]:
    """Blade carries float32, int32, int64 and strings; every Blade tensor has a batch dimension."""
    out: list[Case] = []
    for dtype in (DataType.DT_FLOAT, DataType.DT_INT32, DataType.DT_INT64):
        np_type = NUMERIC[dtype]
        label = np.dtype(np_type).name
        for shape in ((1,), (1, 784), (2, 3, 4), (8, 3, 32, 32)):
            arr = _random(np_type, shape, _seed(f"blade-{label}-{shape}"))
            out.append(Case(f"{label}-{_short(shape)}", dtype, arr, arr))
        arr = extremes(np_type).reshape(1, -1)
        out.append(Case(f"{label}-extremes", dtype, arr, arr))
    blobs = _objects([*BLOBS, "日本語".encode()], (2, 3))
    out.append(Case("bytes-2x3", DataType.DT_STRING, blobs, blobs))
    out.append(Case("bytes-1", DataType.DT_STRING, _objects([b""], (1,)), _objects([b""], (1,))))
    return out


BLADE_CASES = blade_cases()


def bytes_cases(cases: Iterable[Case]) -> list[Case]:
    """Cases for a byte-for-byte comparison with the official writer: all of them, 0-d
    included (both write an empty ``array_shape`` for a scalar)."""
    return list(cases)


# ---------------------------------------------------------------------------- comparing


def assert_identical(actual: Any, expected: npt.NDArray[Any]) -> None:
    """Same dtype, shape and values; NaN equals NaN, and -0.0 is not 0.0."""
    assert isinstance(actual, np.ndarray), type(actual)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if expected.dtype.kind == "f":
        np.testing.assert_array_equal(actual, expected)
        assert np.array_equal(np.signbit(actual), np.signbit(expected)), "the sign of a zero"
    elif expected.dtype.kind == "O":
        assert [type(x) for x in actual.reshape(-1)] == [bytes] * expected.size
        assert actual.tolist() == expected.tolist()
    else:
        assert np.array_equal(actual, expected)


def as_array(value: Mapping[str, Any] | None, like: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Peer values as a flat array of ``like``'s dtype (floats come as exact float64)."""
    items = decode_values(value)
    assert items is not None, "the official SDK returned None"
    if like.dtype.kind == "O":
        return _objects(items, (len(items),))
    if like.dtype.kind == "f":
        wide = np.array(items, dtype=np.float64)
        narrow = wide.astype(like.dtype)
        assert np.array_equal(narrow.astype(np.float64), wide, equal_nan=True), "not exact"
        return narrow
    return np.array(items, dtype=like.dtype)


def assert_values(value: Mapping[str, Any] | None, expected: npt.NDArray[Any]) -> None:
    """Peer values (flat) equal ``expected``'s, flattened."""
    assert_identical(as_array(value, expected), expected.reshape(-1))


def assert_only_field(
    array: Mapping[str, Any], field: str, expected: npt.NDArray[Any], fields: Iterable[str]
) -> None:
    """A parsed ArrayProto/Blade Array holds ``expected`` in ``field`` and nothing elsewhere."""
    assert_values(array[field], expected)
    for other in fields:
        if other != field:
            assert decode_values(array[other]) == [], f"{other} is not empty"


def body_of(result: Mapping[str, Any]) -> bytes:
    return unb64(result["body"])
