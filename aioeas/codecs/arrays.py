"""Tensor messages on the wire: TF/PyTorch ``ArrayProto`` and Blade ``Array``, both ways.

Writing lays out the fields in field-number order, as protobuf's own serializers do, and
leaves out proto3 defaults. Reading accepts what any protobuf writer may produce: packed
or unpacked repeated fields, a repeated field split in several runs, unknown fields
(skipped); it checks that the values match the shape, so a declared shape never causes
an allocation the input does not justify.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from aioeas.codecs.convert import WireValues
from aioeas.codecs.dtypes import BLADE_KINDS, DT_NUMPY, BladeDataType, DataType, Kind, kind_of
from aioeas.codecs.varint import decode_varints, encode_varint, read_varint, to_signed64
from aioeas.codecs.wire import (
    I32,
    I64,
    LEN,
    VARINT,
    Writer,
    iter_fields,
    string_field,
    tag,
    utf8,
)
from aioeas.errors import DecodeError

__all__ = [
    "BLADE_FIELDS",
    "NO_VALUES",
    "TF_FIELDS",
    "TORCH_FIELDS",
    "BladeArray",
    "array_head",
    "decode_array_proto",
    "decode_blade_array",
    "write_array_proto",
    "write_blade_array",
]

#: Field number -> kind, for the values of each schema's array message.
TF_FIELDS: Final[Mapping[int, Kind]] = {3: "f4", 4: "f8", 5: "v32", 6: "bytes", 7: "v64", 8: "bool"}
TORCH_FIELDS: Final[Mapping[int, Kind]] = {3: "f4", 4: "f8", 5: "v32", 6: "bytes", 7: "v64"}
BLADE_FIELDS: Final[Mapping[int, Kind]] = {5: "f4", 6: "v32", 7: "v64", 8: "bytes"}
_FIELD_OF: Final[dict[Kind, int]] = {"f4": 3, "f8": 4, "v32": 5, "bytes": 6, "v64": 7, "bool": 8}
_BLADE_FIELD_OF: Final[dict[Kind, int]] = {"f4": 5, "v32": 6, "v64": 7, "bytes": 8}
_WIDTH: Final[dict[Kind, int]] = {"f4": 4, "f8": 8}
#: The most dimensions a decoded shape may have: what every numpy takes (numpy 2 takes 64,
#: numpy 1 takes 32). A longer shape would make ``reshape`` raise, and its product (with
#: dimensions up to 2**63 each) would cost time quadratic in the number of dimensions.
MAX_DIMS: Final = 64 if int(np.__version__.split(".")[0]) >= 2 else 32
#: What an empty ``ArrayProto`` (an output or input left unset) decodes to: one shared,
#: read-only array, so that a body of many empty messages (two bytes each) does not cost an
#: ndarray apiece.
NO_VALUES: Final[npt.NDArray[np.float32]] = np.empty(0, np.float32)
NO_VALUES.setflags(write=False)
#: Bytes no ndarray can span, even an empty one whose other dimensions say so.
_TOO_BIG: Final = 1 << 63
_FIXED_WIRE: Final[dict[Kind, int]] = {"f4": I32, "f8": I64}


@functools.lru_cache(maxsize=4096)
def _dims_field(field: int, shape: tuple[int, ...]) -> bytes:
    """A shape message field (``ArrayShape``/``Shape``: packed ``dim`` = 1), cached by shape."""
    dims = b"".join(encode_varint(d) for d in shape)
    inner = tag(1, LEN) + encode_varint(len(dims)) + dims if dims else b""
    return tag(field, LEN) + encode_varint(len(inner)) + inner


@functools.lru_cache(maxsize=4096)
def array_head(code: int, shape: tuple[int, ...], field: int, nbytes: int) -> bytes:
    """An ``ArrayProto`` up to its values: dtype (1), array_shape (2), and the key and length
    of the packed value field, left out when there are no values (proto3 writes no empty
    packed field). Cached by what decides it: a service sees few (dtype, shape) pairs, and
    building these few bytes was most of the fixed cost of a small request.
    """
    head = tag(1, VARINT) + encode_varint(code) + _dims_field(2, shape)
    return head + tag(field, LEN) + encode_varint(nbytes) if nbytes else head


def _with_values(head: bytes, field: int, values: WireValues) -> Writer:
    """``head`` then the values: the payload as one piece (the array's own memory, copied
    once when the body is joined), or one field per string element."""
    if values.items is not None:
        w = Writer([head], len(head))
        for item in values.items:
            w.blob(field, item)
        return w
    payload = values.payload
    assert payload is not None  # numbers always have one (strings have items instead)
    return Writer([head, payload], len(head) + payload.nbytes)


def write_array_proto(values: WireValues) -> Writer:
    """One TF/PyTorch ``ArrayProto``: dtype (1), array_shape (2), then the value field.

    The shape is written even for a 0-d tensor, as the official client does, so that
    requests are byte-identical to its own.
    """
    field = _FIELD_OF[values.kind]
    nbytes = values.payload.nbytes if values.payload is not None else 0
    return _with_values(array_head(values.dtype, values.shape, field, nbytes), field, values)


def write_blade_array(name: str, batch_size: int, values: WireValues, kind: Kind) -> Writer:
    """One Blade ``Array``: both names are the input's name, as the official client sends them."""
    field = _BLADE_FIELD_OF[kind]
    nbytes = values.payload.nbytes if values.payload is not None else 0
    head = string_field(1, name) + string_field(2, name) + tag(3, VARINT)
    head += encode_varint(batch_size) + _dims_field(4, values.shape)
    if nbytes:
        head += tag(field, LEN) + encode_varint(nbytes)
    return _with_values(head, field, values)


# ---------------------------------------------------------------------------- reading

Span = tuple[int, int, int]  # wire type, a, b as iter_fields yields them


def _read_dims(buf: memoryview, a: int, b: int, what: str, dims: list[int]) -> list[int]:
    """``dims`` and then the dimensions of the shape message in ``buf[a:b]``.

    A shape field that comes twice is merged as protobuf merges a message field: its
    repeated ``dim`` values are appended (concatenated messages are one message), not
    replaced, so that the limits apply to the whole shape.
    """
    for field, wire, x, y in iter_fields(buf, a, b, what):
        if field != 1:
            continue
        if wire == LEN:
            pos = x
            while pos < y:
                value, pos = read_varint(buf, pos, y)
                dims.append(to_signed64(value))
                _check_rank(dims, what)
        elif wire == VARINT:
            dims.append(to_signed64(x))
            _check_rank(dims, what)
        else:
            raise DecodeError(what, f"a shape dimension has wire type {wire}")
    for d in dims:
        if d < 0:
            raise DecodeError(what, f"shape {dims} has a negative dimension")
    return dims


def _check_rank(dims: list[int], what: str) -> None:
    if len(dims) > MAX_DIMS:
        raise DecodeError(what, f"a shape has more than {MAX_DIMS} dimensions")


def _materialize(
    buf: memoryview, spans: list[Span], kind: Kind, np_dtype: np.dtype[Any], what: str
) -> npt.NDArray[Any]:
    """The values of one field as an array: a zero-copy view when they are one packed run."""
    if kind == "bytes":
        out = np.empty(len(spans), dtype=object)
        for i, (wire, a, b) in enumerate(spans):
            if wire != LEN:
                raise DecodeError(what, f"a string element has wire type {wire}")
            out[i] = bytes(buf[a:b])
        return out
    if kind in _WIDTH:
        width = _WIDTH[kind]
        for wire, a, b in spans:
            if wire != LEN and wire != _FIXED_WIRE[kind]:
                raise DecodeError(what, f"a {kind} value has wire type {wire}")
            if (b - a) % width:
                raise DecodeError(
                    what, f"a packed run of {b - a} bytes is not a whole number of {kind} values"
                )
        if len(spans) == 1:
            _, a, b = spans[0]
            view: npt.NDArray[Any] = np.frombuffer(buf, np_dtype, (b - a) // width, a)
            return view
        return np.frombuffer(b"".join(bytes(buf[a:b]) for _, a, b in spans), dtype=np_dtype)
    # varint kinds: packed runs decode in numpy; single unpacked values are gathered in a
    # list and become one array per run of them (not one array each: ~100 bytes apiece)
    pieces: list[npt.NDArray[np.uint64]] = []
    singles: list[int] = []
    for wire, a, b in spans:
        if wire == LEN:
            if singles:
                pieces.append(np.array(singles, dtype=np.uint64))
                singles = []
            pieces.append(decode_varints(buf[a:b], low_bytes=5 if kind == "v32" else 10))
        elif wire == VARINT:
            singles.append(a)
        else:
            raise DecodeError(what, f"an integer value has wire type {wire}")
    if singles:
        pieces.append(np.array(singles, dtype=np.uint64))
    raw = np.concatenate(pieces) if pieces else np.empty(0, np.uint64)
    if kind == "bool":
        flags: npt.NDArray[np.bool_] = raw != 0
        return flags
    signed = raw.view(np.int64)
    if kind == "v64":
        return signed
    as32 = signed.astype(np.int32)  # int32 fields keep the low 32 bits, as protobuf does
    if np_dtype == np.int32:
        return as32
    info = np.iinfo(np_dtype)
    if as32.size and (int(as32.min()) < info.min or int(as32.max()) > info.max):
        raise DecodeError(what, f"a value is out of range for {np_dtype.name}")
    return as32.astype(np_dtype)


def _shape_values(dims: list[int], values: npt.NDArray[Any], what: str) -> npt.NDArray[Any]:
    count = math.prod(dims)
    if values.size != count:
        raise DecodeError(what, f"shape {dims} needs {count} values but {values.size} came")
    if not count and math.prod(d for d in dims if d) * values.itemsize >= _TOO_BIG:
        # no values, but dimensions no array can have: [0, 2**62, 2**62]
        raise DecodeError(what, f"shape {dims} is too large for an array")
    try:
        return values.reshape(dims)
    except ValueError as exc:  # numpy's own limits, should any be left
        raise DecodeError(what, f"shape {dims} cannot be made: {exc}") from None


_DATA_TYPES: Final[dict[int, DataType]] = {int(t): t for t in DataType}

_INFER_FROM_FIELD: Final[dict[Kind, DataType]] = {
    "f4": DataType.DT_FLOAT,
    "f8": DataType.DT_DOUBLE,
    "v32": DataType.DT_INT32,
    "v64": DataType.DT_INT64,
    "bool": DataType.DT_BOOL,
    "bytes": DataType.DT_STRING,
}


def decode_array_proto(
    buf: memoryview, a: int, b: int, fields: Mapping[int, Kind], what: str
) -> tuple[DataType, npt.NDArray[Any]]:
    """Read one TF/PyTorch ``ArrayProto`` in ``buf[a:b]``: its DataType and shaped values."""
    code = 0
    dims: list[int] = []
    found: dict[Kind, list[Span]] = {}
    for field, wire, x, y in iter_fields(buf, a, b, what):
        if field == 1 and wire == VARINT:
            code = to_signed64(x)
        elif field == 2 and wire == LEN:
            dims = _read_dims(buf, x, y, what, dims)
        elif field in fields:
            found.setdefault(fields[field], []).append((wire, x, y))
    if code == 0:
        if len(found) > 1:
            raise DecodeError(what, "no dtype is given and several value fields are filled")
        if not found:  # an empty ArrayProto (a PyTorch input left unset): no values at all
            values = NO_VALUES
            return DataType.DT_INVALID, _shape_values(dims, values, what) if dims else values
        dtype = _INFER_FROM_FIELD[next(iter(found))]
    else:
        found_dtype = _DATA_TYPES.get(code)
        if found_dtype is None:
            raise DecodeError(what, f"unknown dtype code {code}")
        dtype = found_dtype
    if dtype not in DT_NUMPY:
        raise DecodeError(what, f"{dtype.name} is not carried by the EAS schema")
    kind = kind_of(dtype)
    if kind not in fields.values():
        raise DecodeError(what, f"{dtype.name} has no field in this schema")
    others = [k for k in found if k != kind]
    if others:
        raise DecodeError(what, f"dtype {dtype.name} but values came in the {others[0]} field")
    values = _materialize(buf, found.get(kind, []), kind, DT_NUMPY[dtype], what)
    return dtype, _shape_values(dims, values, what)


@dataclass(frozen=True, slots=True)
class BladeArray:
    """A decoded Blade ``Array``."""

    name: str
    blob_name: str
    batch_size: int
    dtype: BladeDataType
    array: npt.NDArray[Any]


def decode_blade_array(
    buf: memoryview, a: int, b: int, what: str, hint: BladeDataType | None = None
) -> BladeArray:
    """Read one Blade ``Array``. Blade arrays carry no dtype: it is the filled field, else ``hint``."""
    name = blob = ""
    batch: int | None = None
    dims: list[int] = []
    found: dict[Kind, list[Span]] = {}
    for field, wire, x, y in iter_fields(buf, a, b, what):
        if field == 1 and wire == LEN:
            blob = utf8(buf, x, y, what)
        elif field == 2 and wire == LEN:
            name = utf8(buf, x, y, what)
        elif field == 3 and wire == VARINT:
            batch = to_signed64(x)
        elif field == 4 and wire == LEN:
            dims = _read_dims(buf, x, y, what, dims)
        elif field in BLADE_FIELDS:
            found.setdefault(BLADE_FIELDS[field], []).append((wire, x, y))
    if batch is None:
        raise DecodeError(what, "the required field batchsize is missing")
    if len(found) > 1:
        raise DecodeError(what, f"output {name!r} fills several value fields")
    if found:
        kind = next(iter(found))
        dtype = next(t for t, (_, k) in BLADE_KINDS.items() if k == kind)
    else:
        dtype = hint if hint in BLADE_KINDS else BladeDataType.DT_FLOAT
        kind = BLADE_KINDS[dtype][1]
    values = _materialize(buf, found.get(kind, []), kind, BLADE_KINDS[dtype][0], what)
    return BladeArray(name, blob, batch, dtype, _shape_values(dims, values, what))
