"""Sans-IO codecs: numpy arrays <-> EAS protobuf wire bytes. No aiohttp, no event loop."""

from aioeas.codecs.arrays import (
    BladeArray,
    decode_array_proto,
    decode_blade_array,
    write_array_proto,
    write_blade_array,
)
from aioeas.codecs.convert import WireValues, prepare
from aioeas.codecs.dtypes import BladeDataType, DataType
from aioeas.codecs.varint import decode_varints, encode_varints

__all__ = [
    "BladeArray",
    "BladeDataType",
    "DataType",
    "WireValues",
    "decode_array_proto",
    "decode_blade_array",
    "decode_varints",
    "encode_varints",
    "prepare",
    "write_array_proto",
    "write_blade_array",
]
