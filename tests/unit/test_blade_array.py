"""Decoding one Blade ``Array`` at its edges: fields left out, and what each malformed case
names. Found by mutation testing (docs/mutation.md): the response tests only ever decode
complete arrays, so defaults and the ``what`` of every error could change unnoticed."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from aioeas.codecs.arrays import decode_blade_array
from aioeas.codecs.dtypes import BladeDataType
from aioeas.errors import DecodeError

ONE_FLOAT = b"\x2a\x04" + struct.pack("<f", 1.5)  # field 5 (float values), packed


def decode(body: bytes) -> object:
    return decode_blade_array(memoryview(body), 0, len(body), "BladeResponse.outputs")


def test_an_array_with_only_batchsize_and_one_value() -> None:
    """No name, no blob name, no dims: proto2 defaults ``""`` and a scalar (no dimension)."""
    body = b"\x18\x02" + ONE_FLOAT
    array = decode_blade_array(memoryview(body), 0, len(body), "w")
    assert (array.name, array.blob_name, array.batch_size) == ("", "", 2)
    assert array.dtype is BladeDataType.DT_FLOAT
    assert array.array.shape == ()
    assert array.array == np.float32(1.5)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (ONE_FLOAT, "the required field batchsize is missing"),
        (b"\x18", "a varint runs past the end of its field"),
        (b"\x18\x01\x0a\x02\xc3\x28", "a string field is not UTF-8 (invalid continuation byte)"),
        (b"\x18\x01\x12\x02\xc3\x28", "a string field is not UTF-8 (invalid continuation byte)"),
        (b"\x18\x01\x22\x01\x08", "a varint runs past the end of its field"),
        (b"\x18\x01\x2a\x03abc", "a packed run of 3 bytes is not a whole number of f4 values"),
        (b"\x18\x01\x22\x02\x08\x02" + ONE_FLOAT, "shape [2] needs 2 values but 1 came"),
        (b"\x18\x01\x12\x01o" + ONE_FLOAT + b"\x30\x01", "output 'o' fills several value fields"),
    ],
)
def test_a_malformed_array_error_names_where_it_was_read(body: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(body)
    assert (caught.value.what, caught.value.reason) == ("BladeResponse.outputs", reason)
