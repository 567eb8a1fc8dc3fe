"""From what a user hands over (an ndarray, a list, a flat list and a shape) to wire-ready values.

Everything here runs before any I/O and raises ``InvalidTensorError`` with a message that
says what to change. Numeric data is converted with numpy in C; only string tensors are
walked element by element, since each element is its own protobuf field anyway.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from aioeas.codecs.dtypes import DT_NUMPY, UNSUPPORTED_ADVICE, DataType, Kind, kind_of
from aioeas.codecs.varint import encode_varints
from aioeas.errors import InvalidTensorError

__all__ = ["WireValues", "check_name", "check_shape", "infer_dtype", "prepare"]

#: Types a user may pass where a DataType is expected (``TFRequest.DT_FLOAT`` is an int).
DTypeLike = DataType | int

_INFER: dict[np.dtype[Any], DataType] = {
    np.dtype(np.float32): DataType.DT_FLOAT,
    np.dtype(np.float64): DataType.DT_DOUBLE,
    np.dtype(np.int8): DataType.DT_INT8,
    np.dtype(np.int16): DataType.DT_INT16,
    np.dtype(np.int32): DataType.DT_INT32,
    np.dtype(np.int64): DataType.DT_INT64,
    np.dtype(np.uint8): DataType.DT_UINT8,
    np.dtype(np.uint16): DataType.DT_UINT16,
    np.dtype(np.bool_): DataType.DT_BOOL,
}


class WireValues(NamedTuple):
    """One tensor ready for the wire (a NamedTuple: built once per tensor, on the hot path).

    ``payload`` is the packed field's content (a view of the array's own C-contiguous
    memory for float and double, possibly of several dimensions and another item size:
    count it in ``nbytes``; freshly encoded varints for integers and bools); for strings
    ``items`` holds each element's bytes instead.
    """

    dtype: DataType
    shape: tuple[int, ...]
    kind: Kind
    payload: memoryview | None
    items: list[bytes] | None


#: Arrays that go on the wire as they are: contiguous little-endian float and double.
_AS_IS: dict[np.dtype[Any], tuple[DataType, Kind]] = {
    np.dtype("<f4"): (DataType.DT_FLOAT, "f4"),
    np.dtype("<f8"): (DataType.DT_DOUBLE, "f8"),
}


def check_name(name: object, what: str = "input") -> str:
    if not isinstance(name, str) or not name:
        raise InvalidTensorError(f"the {what} name must be a non-empty str, got {name!r}")
    return name


def check_shape(shape: object) -> tuple[int, ...]:
    """A shape as a tuple of non-negative ints (a list, tuple or 1-D int array)."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, np.ndarray)):
        raise InvalidTensorError(f"a shape is a list of ints such as [1, 784], got {shape!r}")
    dims: list[int] = []
    for d in shape:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise InvalidTensorError(f"shape {list(shape)!r} has a non-integer dimension {d!r}")
        if d < 0:
            raise InvalidTensorError(f"shape {list(shape)!r} has a negative dimension")
        dims.append(int(d))
    return tuple(dims)


def to_data_type(dtype: object) -> DataType:
    """Accept ``DataType.DT_FLOAT``, ``TFRequest.DT_FLOAT`` (an int) or a numpy dtype."""
    if isinstance(dtype, DataType):
        return dtype
    if isinstance(dtype, (int, np.integer)) and not isinstance(dtype, bool):
        try:
            return DataType(int(dtype))
        except ValueError:
            raise InvalidTensorError(f"{dtype!r} is not an EAS data type code") from None
    try:
        np_dtype = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        raise InvalidTensorError(
            f"{dtype!r} is neither an EAS DT_* code nor a numpy dtype"
        ) from None
    return infer_dtype(np_dtype, None)


def infer_dtype(np_dtype: np.dtype[Any], sample: npt.NDArray[Any] | None) -> DataType:
    """The DataType that carries an array of ``np_dtype`` (``sample`` decides object arrays)."""
    found = _INFER.get(np_dtype.newbyteorder("=")) if np_dtype.kind in "biuf" else None
    if found is not None:
        return found
    if np_dtype.kind in "US":
        return DataType.DT_STRING
    if np_dtype.kind == "O":
        flat: Sequence[Any] = list(sample.reshape(-1)) if sample is not None else []
        if all(isinstance(x, (str, bytes)) for x in flat):
            return DataType.DT_STRING
        kinds = sorted({type(x).__name__ for x in flat})
        raise InvalidTensorError(
            f"an object array can only carry strings (str or bytes elements), this one holds "
            f"{', '.join(kinds)}; convert it to a numeric dtype or to strings first"
        )
    advice = UNSUPPORTED_ADVICE.get(
        np_dtype.name,
        "convert it to one of float32, float64, "
        "int8, int16, int32, int64, uint8, uint16, bool or strings",
    )
    raise InvalidTensorError(f"arrays of dtype {np_dtype.name} cannot be sent: {advice}")


def _to_bytes_items(flat: npt.NDArray[Any] | Sequence[Any]) -> list[bytes]:
    out: list[bytes] = []
    for x in flat:
        if isinstance(x, bytes):
            out.append(x)
        elif isinstance(x, str):
            out.append(x.encode("utf-8"))
        else:
            raise InvalidTensorError(
                f"a DT_STRING tensor takes str or bytes elements, got {type(x).__name__}"
            )
    return out


def _cast_numeric(
    arr: npt.NDArray[Any], target: np.dtype[Any], dtype: DataType
) -> npt.NDArray[Any]:
    src = arr.dtype
    name = dtype.name
    if src.kind not in "biuf":
        raise InvalidTensorError(f"{name} takes numbers, got an array of dtype {src}")
    if target.kind == "f":
        try:
            with np.errstate(over="raise"):
                return np.ascontiguousarray(arr, dtype=target.newbyteorder("<"))
        except FloatingPointError:
            info = np.finfo(target)
            raise InvalidTensorError(
                f"{name} holds magnitudes up to {info.max:.4g}, and some values are larger; "
                f"they would arrive as inf (send float64 as DT_DOUBLE, or clip them)"
            ) from None
    elif target.kind == "b":
        if src.kind == "f":
            # 0.5 != 0 and nan != 0: every such value would arrive as True
            raise InvalidTensorError(
                f"{name} takes bools (or integers 0/1), got {src} values; compare them "
                f"explicitly (e.g. arr > 0.5) to say which are True"
            )
        return np.ascontiguousarray(arr != 0) if src.kind != "b" else np.ascontiguousarray(arr)
    else:  # integer targets
        if src.kind == "f":
            raise InvalidTensorError(
                f"{name} takes integers, got {src} values; round and cast them explicitly "
                f"(e.g. arr.astype(np.{target.name}))"
            )
        if src != target and arr.size:
            info = np.iinfo(target)
            lo, hi = arr.min(), arr.max()
            if int(lo) < info.min or int(hi) > info.max:
                raise InvalidTensorError(
                    f"{name} holds {info.min}..{info.max}, but the values span {lo}..{hi}"
                )
        return np.ascontiguousarray(arr, dtype=target)
    raise InvalidTensorError(f"cannot send {src} data as {name}")  # pragma: no cover


def prepare(
    data: object,
    dtype: DTypeLike | None = None,
    shape: Sequence[int] | None = None,
    *,
    allowed: frozenset[DataType] | None = None,
    schema: str = "TensorFlow",
) -> WireValues:
    """Turn user data into wire values.

    ``data`` is an ndarray or anything ``np.asarray`` takes. With ``shape`` (the familiar
    API), ``data`` is the flat content and must hold exactly ``prod(shape)`` values (a
    single scalar is accepted for a volume of one). ``dtype`` is optional for arrays and
    says how to send them (quantized types, or a narrower integer type); ``allowed`` is the
    set the schema can carry.
    """
    if dtype is None and shape is None and type(data) is np.ndarray and data.flags.c_contiguous:
        as_is = _AS_IS.get(data.dtype)
        if as_is is not None and (allowed is None or as_is[0] in allowed):
            # the common case, kept short: the array's own memory, no checks to make
            return WireValues(as_is[0], data.shape, as_is[1], data.data, None)
    target = to_data_type(dtype) if dtype is not None else None
    if target is not None and target not in DT_NUMPY:
        raise InvalidTensorError(
            f"{target.name} cannot be carried by the {schema} schema: it has no field for it"
        )
    if target is DataType.DT_STRING or (
        target is None and not isinstance(data, np.ndarray) and _looks_textual(data)
    ):
        arr = np.asarray(data, dtype=object)
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        try:
            # No dtype= here: numpy would truncate 1.5 to 1 for an integer type. The cast
            # below checks floats and ranges; an empty list just takes the target's dtype.
            arr = np.asarray(data)
            if target is not None and arr.size == 0:
                arr = arr.astype(DT_NUMPY[target])
        except (TypeError, ValueError, OverflowError) as exc:
            want = target.name if target is not None else "a tensor"
            raise InvalidTensorError(f"cannot make {want} of the given content: {exc}") from None
    if target is None:
        target = infer_dtype(arr.dtype, arr)
    if allowed is not None and target not in allowed:
        names = ", ".join(sorted(t.name for t in allowed))
        raise InvalidTensorError(
            f"the {schema} schema cannot carry {target.name}; it takes {names}"
        )

    if shape is not None:
        dims = check_shape(shape)
        count = math.prod(dims)
        if arr.size != count:
            raise InvalidTensorError(
                f"shape {list(dims)} needs {count} values, but the content holds {arr.size}"
            )
    else:
        dims = tuple(int(d) for d in arr.shape)
    flat = arr.reshape(-1)

    kind = kind_of(target)
    if kind == "bytes":
        return WireValues(target, dims, kind, None, _to_bytes_items(flat))
    wire = _cast_numeric(flat, DT_NUMPY[target], target)
    if kind in ("f4", "f8"):
        payload = _bytes_view(wire)
    elif kind == "bool":
        payload = _bytes_view(wire)  # each bool is a one-byte varint
    else:
        signed = wire.astype(np.int64, copy=False)
        payload = _bytes_view(encode_varints(signed.view(np.uint64)))
    return WireValues(target, dims, kind, payload, None)


def _bytes_view(arr: npt.NDArray[Any]) -> memoryview:
    """The bytes of a contiguous array, without a copy."""
    return memoryview(arr.view(np.uint8))  # type: ignore[arg-type]


def _looks_textual(data: object) -> bool:
    """A list whose first leaf is a str or bytes: keep it as objects, not fixed-width numpy text."""
    x = data
    while isinstance(x, (list, tuple)) and x:
        x = x[0]
    return isinstance(x, (str, bytes))
