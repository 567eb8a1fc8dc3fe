"""The common layouts, written and read without walking fields one by one.

Most requests carry one C-contiguous float32 tensor, and most answers come back laid out as
protobuf's own writers lay them out: fields in number order, shapes packed, each length in
its shortest varint. For these, the bytes around the tensor depend only on the dtype, the
shape and the names, so they are built once and cached (writing), or recognized by their
first bytes and checked against a cached reading (reading); the tensor itself is a view of
the caller's memory either way.

Every function here returns ``None`` for anything else, and the caller then takes the
general path in ``arrays`` (which also gives the errors): for the bytes a function here
accepts, both paths give the same answer. The tests hold them to that.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from aioeas.codecs.arrays import MAX_DIMS, array_head, decode_array_proto
from aioeas.codecs.dtypes import DataType, Kind
from aioeas.codecs.varint import MAX_VARINT_BYTES, read_varint
from aioeas.codecs.wire import LEN, Buffer, Writer, entry_head, tag
from aioeas.errors import DecodeError

__all__ = [
    "decode_array",
    "read_plain_array",
    "read_sole_entry",
    "split_plain_entry",
    "write_plain_array",
    "write_plain_entry",
]

# ---------------------------------------------------------------------------- writing

#: Arrays whose memory is already what goes on the wire (little-endian float32 and
#: float64): their DataType code and the ``ArrayProto`` field of their values.
_PLAIN: Final[dict[np.dtype[Any], tuple[int, int]]] = {
    np.dtype("<f4"): (int(DataType.DT_FLOAT), 3),
    np.dtype("<f8"): (int(DataType.DT_DOUBLE), 4),
}


def _plain(data: object) -> tuple[int, int] | None:
    if type(data) is not np.ndarray or not data.flags.c_contiguous:
        return None
    return _PLAIN.get(data.dtype)


def write_plain_array(data: object) -> Writer | None:
    """``write_array_proto(prepare(data))`` for a C-contiguous little-endian float32 or
    float64 ndarray (its memory goes on the wire as it is); ``None`` for anything else,
    which ``prepare`` checks and converts. The same bytes, for a cached header and a view.
    """
    plain = _plain(data)
    if plain is None:
        return None
    arr: npt.NDArray[Any] = data  # type: ignore[assignment]  # _plain checked it
    nbytes = arr.nbytes
    head = array_head(plain[0], arr.shape, plain[1], nbytes)
    return Writer([head, arr.data], len(head) + nbytes)


@functools.lru_cache(maxsize=4096)
def _entry_array_head(
    field: int, name: str, code: int, vfield: int, shape: tuple[int, ...], nbytes: int
) -> bytes:
    head = array_head(code, shape, vfield, nbytes)
    return entry_head(field, name, len(head) + nbytes) + head


def write_plain_entry(field: int, name: str, data: object) -> list[Buffer] | None:
    """The pieces of ``map_entry(field, name, write_array_proto(prepare(data)))`` for the
    arrays ``write_plain_array`` takes: the entry's and the array's headers in one cached
    piece, then the array's memory; ``None`` for anything else."""
    # _plain inlined: this is most of the fixed cost of a request
    if type(data) is not np.ndarray or not data.flags.c_contiguous:
        return None
    plain = _PLAIN.get(data.dtype)
    if plain is None:
        return None
    nbytes = data.nbytes
    head = _entry_array_head(field, name, plain[0], plain[1], data.shape, nbytes)
    # the array itself is the piece: ``b"".join`` reads any C-contiguous buffer
    return [head, data]  # type: ignore[list-item]


# ---------------------------------------------------------------------------- reading

#: DataType code -> the DataType, the field of its packed values, its numpy dtype.
_PLAIN_READ: Final[dict[int, tuple[DataType, int, np.dtype[Any]]]] = {
    int(DataType.DT_FLOAT): (DataType.DT_FLOAT, 3, np.dtype("<f4")),
    int(DataType.DT_DOUBLE): (DataType.DT_DOUBLE, 4, np.dtype("<f8")),
}
_ENTRY_KEY: Final = tag(1, LEN)[0]
_ENTRY_VALUE: Final = tag(2, LEN)[0]

#: What a plain ``ArrayProto``'s dtype and shape fields say: the DataType, the numpy dtype,
#: the shape, and the bytes that must follow (the value field's key and length).
Layout = tuple[DataType, np.dtype[Any], tuple[int, ...], bytes]


@functools.lru_cache(maxsize=1024)
def _layout(head: bytes) -> Layout | None:
    """Read ``head`` as the dtype and shape fields of a float or double ``ArrayProto`` with
    at least one value (``08 code 12 n [0a m dims]``), or ``None``. It is read loosely and
    then must be, byte for byte, what ``array_head`` writes for what was read: the one
    check that matters, and the proof that the general reader reads the same. Cached by
    the bytes, which repeat from one answer to the next (a service returns few shapes).
    """
    plain = _PLAIN_READ.get(head[1])  # the callers hand over 4 bytes or more
    if plain is None:
        return None
    dims: list[int] = []
    pos = 6  # past the dtype field, the shape field's key and length, the dims' key, length
    try:
        while pos < len(head):
            value, pos = read_varint(head, pos, len(head))
            dims.append(value)
    except DecodeError:
        return None
    if len(dims) > MAX_DIMS:
        return None
    count = math.prod(dims)
    if not count:
        return None
    whole = array_head(int(plain[0]), tuple(dims), plain[1], count * plain[2].itemsize)
    if whole[: len(head)] != head:
        return None
    return plain[0], plain[2], tuple(dims), whole[len(head) :]


def read_plain_array(buf: memoryview, a: int, b: int) -> tuple[DataType, npt.NDArray[Any]] | None:
    """``decode_array_proto(buf, a, b, ...)`` for a float or double ``ArrayProto`` laid out
    plainly: ``08 code | 12 n [0a m dims] | key length values`` ending at ``b``, at least
    one value; ``None`` for any other bytes. The values are a view of ``buf``.
    """
    if b - a < 4 or buf[a + 1] not in _PLAIN_READ:  # not float or double: no lookup to make
        return None
    shape_end = a + 4 + buf[a + 3]  # _layout checks that the head is what it seems
    layout = _layout(bytes(buf[a:shape_end]))
    if layout is None:
        return None
    dtype, np_dtype, dims, tail = layout
    start = shape_end + len(tail)
    if b - start != math.prod(dims) * np_dtype.itemsize or buf[shape_end:start] != tail:
        return None
    # the view in its shape in one call (``frombuffer`` then ``reshape`` is two)
    return dtype, np.ndarray(dims, np_dtype, buf, start)


def decode_array(
    buf: memoryview, a: int, b: int, fields: Mapping[int, Kind], what: str
) -> tuple[DataType, npt.NDArray[Any]]:
    """``decode_array_proto``, by way of ``read_plain_array`` when the bytes are plain
    (``fields`` is ``TF_FIELDS`` or ``TORCH_FIELDS``: both carry floats in fields 3 and 4)."""
    plain = read_plain_array(buf, a, b)
    return plain if plain is not None else decode_array_proto(buf, a, b, fields, what)


def split_plain_entry(buf: memoryview, a: int, b: int) -> tuple[int, int] | None:
    """A map entry in ``buf[a:b]`` laid out plainly: the key field (``0a``, a one-byte
    length, the key) then the value field (``12``, its length, the value) ending at ``b``.
    Returns where the key ends and where the value starts (the key starts at ``a + 2``),
    or ``None`` for any other layout.
    """
    try:
        if buf[a] != _ENTRY_KEY or buf[a + 1] >= 0x80:
            return None
        key_end = a + 2 + buf[a + 1]
        if buf[key_end] != _ENTRY_VALUE:
            return None
        size, pos = read_varint(buf, key_end + 1, b)
    except (IndexError, DecodeError):  # past the buffer, or past ``b``: not this layout
        return None
    return (key_end, pos) if pos + size == b else None


#: What ``_sole_layout`` finds: the entry's key, then as ``Layout``, without the tail.
SoleLayout = tuple[str, DataType, np.dtype[Any], tuple[int, ...]]


@functools.lru_cache(maxsize=1024)
def _sole_layout(head: bytes, total: int) -> SoleLayout | None:
    """Read ``head``, the bytes of a ``total``-byte body up to its values, as one map entry
    (field key ``head[0]``) of a plain array, or ``None``. Read loosely, then checked as
    ``_layout`` checks: ``head`` must be what aioeas's writer writes for the name, dtype
    and shape read, and ``total`` its size with the values.
    """
    try:
        _, pos = read_varint(head, 1, len(head))  # the entry's length
        key_end = pos + 2 + head[pos + 1]
        name = str(head[pos + 2 : key_end], "utf-8")
        _, start = read_varint(head, key_end + 1, len(head))  # the value's length
        array = head[start : start + 4 + head[start + 3]]
    except (DecodeError, IndexError, UnicodeDecodeError):
        return None
    layout = _layout(array)
    if layout is None:
        return None
    dtype, np_dtype, dims, tail = layout
    nbytes = math.prod(dims) * np_dtype.itemsize
    array += tail
    if head != entry_head(head[0] >> 3, name, len(array) + nbytes) + array:
        return None
    return (name, dtype, np_dtype, dims) if len(head) + nbytes == total else None


def read_sole_entry(
    buf: memoryview, key: int
) -> tuple[str, tuple[DataType, npt.NDArray[Any]]] | None:
    """A body that is one plain ``map<string, ArrayProto>`` entry (field key ``key``, one
    byte) of a plain array, as most answers are: its name and (DataType, values), found by
    skipping to the values and looking the bytes before them up; ``None`` for anything else.
    """
    try:
        if buf[0] != key:
            return None
        # skip to the values; every byte skipped is checked by _sole_layout below. Each
        # length is a varint of at most 10 bytes: in a body laid out otherwise a skip
        # may land among the values, which must not be scanned byte by byte
        pos = 1
        end = pos + MAX_VARINT_BYTES
        while buf[pos] >= 0x80 and pos < end:  # the entry's length
            pos += 1
        pos += 3 + buf[pos + 2]  # past it, the key field (key, a one-byte length, the name)
        pos += 1  # the value field's key
        end = pos + MAX_VARINT_BYTES
        while buf[pos] >= 0x80 and pos < end:  # the value's length
            pos += 1
        if buf[pos + 2] not in _PLAIN_READ:  # not float or double: no lookup to make
            return None
        pos += 5 + buf[pos + 4]  # past it, the dtype field, the shape field
        pos += 1  # the value field's key
        end = pos + MAX_VARINT_BYTES
        while buf[pos] >= 0x80 and pos < end:  # the value field's length
            pos += 1
        pos += 1
    except IndexError:  # too short to be one
        return None
    layout = _sole_layout(bytes(buf[:pos]), len(buf))
    if layout is None:
        return None
    name, dtype, np_dtype, dims = layout
    return name, (dtype, np.ndarray(dims, np_dtype, buf, pos))
