"""EAS data types: the DT_* codes, which wire field carries each, and their numpy twins.

TensorFlow and PyTorch services share one ``ArrayDataType`` enum (``DataType`` here);
Blade has its own five-value enum (``BladeDataType``). Every number is EAS's.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final, Literal

import numpy as np

__all__ = [
    "BLADE_KINDS",
    "DT_NUMPY",
    "BladeDataType",
    "DataType",
    "Kind",
    "kind_of",
]


class DataType(IntEnum):
    """``ArrayDataType`` of the TensorFlow and PyTorch schemas."""

    DT_INVALID = 0
    DT_FLOAT = 1
    DT_DOUBLE = 2
    DT_INT32 = 3
    DT_UINT8 = 4
    DT_INT16 = 5
    DT_INT8 = 6
    DT_STRING = 7
    DT_COMPLEX64 = 8
    DT_INT64 = 9
    DT_BOOL = 10
    DT_QINT8 = 11
    DT_QUINT8 = 12
    DT_QINT32 = 13
    DT_BFLOAT16 = 14
    DT_QINT16 = 15
    DT_QUINT16 = 16
    DT_UINT16 = 17
    DT_COMPLEX128 = 18
    DT_HALF = 19
    DT_RESOURCE = 20
    DT_VARIANT = 21


class BladeDataType(IntEnum):
    """``DataType`` of the Blade schema."""

    DT_UNKNOWN = 0
    DT_FLOAT = 1
    DT_INT32 = 2
    DT_INT64 = 3
    DT_STRING = 4


#: How values travel: little-endian fixed width, varints (int32 or int64 field), 0/1 varints,
#: or one length-delimited field per element.
Kind = Literal["f4", "f8", "v32", "v64", "bool", "bytes"]

#: The numpy dtype each carried DataType decodes to (strings: an object array of bytes).
DT_NUMPY: Final[dict[DataType, np.dtype[np.generic]]] = {
    DataType.DT_FLOAT: np.dtype("<f4"),
    DataType.DT_DOUBLE: np.dtype("<f8"),
    DataType.DT_INT32: np.dtype(np.int32),
    DataType.DT_UINT8: np.dtype(np.uint8),
    DataType.DT_INT16: np.dtype(np.int16),
    DataType.DT_INT8: np.dtype(np.int8),
    DataType.DT_STRING: np.dtype(object),
    DataType.DT_INT64: np.dtype(np.int64),
    DataType.DT_BOOL: np.dtype(np.bool_),
    DataType.DT_QINT8: np.dtype(np.int8),
    DataType.DT_QUINT8: np.dtype(np.uint8),
    DataType.DT_QINT32: np.dtype(np.int32),
    DataType.DT_QINT16: np.dtype(np.int16),
    DataType.DT_QUINT16: np.dtype(np.uint16),
    DataType.DT_UINT16: np.dtype(np.uint16),
}

_KIND: Final[dict[DataType, Kind]] = {
    DataType.DT_FLOAT: "f4",
    DataType.DT_DOUBLE: "f8",
    DataType.DT_INT64: "v64",
    DataType.DT_BOOL: "bool",
    DataType.DT_STRING: "bytes",
}

#: Blade's types: the numpy dtype and the wire kind of each.
BLADE_KINDS: Final[dict[BladeDataType, tuple[np.dtype[np.generic], Kind]]] = {
    BladeDataType.DT_FLOAT: (np.dtype("<f4"), "f4"),
    BladeDataType.DT_INT32: (np.dtype(np.int32), "v32"),
    BladeDataType.DT_INT64: (np.dtype(np.int64), "v64"),
    BladeDataType.DT_STRING: (np.dtype(object), "bytes"),
}


def kind_of(dtype: DataType) -> Kind:
    """The wire kind of a carried DataType: every integer type but int64 travels in ``int_val``."""
    return _KIND.get(dtype, "v32")


#: What to tell a user whose array has a dtype the schema cannot carry.
UNSUPPORTED_ADVICE: Final[dict[str, str]] = {
    "float16": "the EAS schema has no half-precision field; send arr.astype(np.float32)",
    "complex64": "the EAS schema carries no complex values; send the real and imaginary parts "
    "as two float32 inputs",
    "complex128": "the EAS schema carries no complex values; send the real and imaginary parts "
    "as two float64 inputs",
    "uint32": "the EAS schema has no unsigned 32-bit type; send arr.astype(np.int64)",
    "uint64": "the EAS schema has no unsigned 64-bit type; send arr.astype(np.int64) "
    "if the values fit",
}
