"""Reading one TF/PyTorch ``ArrayProto`` at its edges: fields in an unusual order or wire
form, no dtype, no values, the largest shapes, and what each malformed case names.

Found by mutation testing (docs/mutation.md): the response tests decode the arrays the
official clients and the emulator write, so an unknown field before the dimensions, a
repeated field mixing unpacked and packed runs, a shape exactly at numpy's limits, and the
``what`` of each error could change unnoticed. Where protobuf itself can read the bytes,
its generated classes give the expected values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aioeas import DataType, TFResponse
from aioeas._proto import blade_pb2 as blade_pb
from aioeas._proto import tf_predict_pb2 as tf_pb
from aioeas.codecs.arrays import (
    MAX_DIMS,
    TF_FIELDS,
    TORCH_FIELDS,
    decode_array_proto,
    decode_blade_array,
)
from aioeas.codecs.dtypes import Kind
from aioeas.errors import DecodeError
from tests.unit import fixed32, ld, packed_varints, vi

WHAT = "TFResponse.outputs"
ONE_FLOAT = ld(3, np.float32([1.5]).tobytes())


def decode(body: bytes, fields: dict[int, Kind] | None = None) -> tuple[DataType, Any]:
    return decode_array_proto(memoryview(body), 0, len(body), fields or TF_FIELDS, WHAT)


def refused(body: bytes, fields: dict[int, Kind] | None = None) -> tuple[str, str]:
    with pytest.raises(DecodeError) as caught:
        decode(body, fields)
    return caught.value.what, caught.value.reason


def test_an_unknown_field_before_the_dimensions_is_skipped() -> None:
    """A later schema may add fields to the shape message; a reader skips them wherever
    they come, as protobuf does, and reads the dimensions after them."""
    body = vi(1, 1) + ld(2, vi(7, 5) + ld(1, packed_varints([2, 1]))) + ld(3, bytes(8))
    assert list(tf_pb.ArrayProto.FromString(body).array_shape.dim) == [2, 1]
    assert decode(body)[1].shape == (2, 1)
    blade = vi(3, 1) + ld(4, vi(7, 5) + ld(1, packed_varints([2]))) + ld(5, bytes(8))
    assert decode_blade_array(memoryview(blade), 0, len(blade), WHAT).array.shape == (2,)


@pytest.mark.parametrize("packed", [True, False])
def test_as_many_dimensions_as_numpy_takes_and_not_one_more(packed: bool) -> None:
    def shape(n: int) -> bytes:
        return ld(1, bytes([1] * n)) if packed else b"".join(vi(1, 1) for _ in range(n))

    assert decode(vi(1, 1) + ld(2, shape(MAX_DIMS)) + ONE_FLOAT)[1].shape == (1,) * MAX_DIMS
    assert refused(vi(1, 1) + ld(2, shape(MAX_DIMS + 1)) + ONE_FLOAT) == (
        WHAT,
        f"a shape has more than {MAX_DIMS} dimensions",
    )


def test_int_values_in_unpacked_and_packed_runs_keep_their_order() -> None:
    """proto2 writers send one varint field per value; a reader must take any mix of both
    forms, a packed run between single values included."""
    body = vi(1, 3) + ld(2, ld(1, packed_varints([4]))) + vi(5, 1)
    body += ld(5, packed_varints([2, 3])) + vi(5, 4)
    assert list(tf_pb.ArrayProto.FromString(body).int_val) == [1, 2, 3, 4]
    dtype, values = decode(body)
    assert dtype is DataType.DT_INT32
    assert values.tolist() == [1, 2, 3, 4]


def test_with_no_dtype_the_filled_field_gives_it() -> None:
    body = ld(2, ld(1, packed_varints([2]))) + ld(3, np.float32([1.5, 2.5]).tobytes())
    assert tf_pb.ArrayProto.FromString(body).dtype == 0
    dtype, values = decode(body)
    assert dtype is DataType.DT_FLOAT
    assert values.tolist() == [1.5, 2.5]


def test_an_empty_array_proto_with_a_shape() -> None:
    """No dtype and no values (an output left unset): the shape still applies, and must
    hold no value."""
    dtype, values = decode(ld(2, ld(1, packed_varints([2, 0]))))
    assert dtype is DataType.DT_INVALID
    assert values.shape == (2, 0)
    assert refused(ld(2, ld(1, packed_varints([3])))) == (
        WHAT,
        "shape [3] needs 3 values but 0 came",
    )


#: Dimensions that no array can have, not even an empty one: their other dimensions times
#: the item size reach 2**63 bytes. Just under that, an empty array of them is fine.
LIMIT = 2**63 // 4  # float32


@pytest.mark.parametrize("dims", [[0, LIMIT], [0, 2**62], [LIMIT, 0], [0, 2**62, 2**62]])
def test_an_empty_array_whose_shape_is_too_large(dims: list[int]) -> None:
    body = vi(1, 1) + ld(2, ld(1, packed_varints(dims)))
    assert refused(body) == (WHAT, f"shape {dims} is too large for an array")


def test_an_empty_array_just_under_the_largest_shape() -> None:
    body = vi(1, 1) + ld(2, ld(1, packed_varints([0, LIMIT - 1])))
    assert decode(body)[1].shape == (0, LIMIT - 1)


@pytest.mark.parametrize(
    ("body", "fields", "reason"),
    [
        (vi(1, 1) + ld(2, fixed32(1, 0.0)), TF_FIELDS, "a shape dimension has wire type 5"),
        (vi(1, 7) + vi(6, 1), TF_FIELDS, "a string element has wire type 0"),
        (vi(1, 1) + vi(3, 1), TF_FIELDS, "a f4 value has wire type 0"),
        (vi(1, 3) + fixed32(5, 1.0), TF_FIELDS, "an integer value has wire type 5"),
        (vi(1, 6) + vi(5, 300), TF_FIELDS, "a value is out of range for int8"),
        (
            vi(1, 1) + ld(3, b"abc"),
            TF_FIELDS,
            "a packed run of 3 bytes is not a whole number of f4 values",
        ),
        (
            ONE_FLOAT + ld(4, bytes(8)),
            TF_FIELDS,
            "no dtype is given and several value fields are filled",
        ),
        (vi(1, 99), TF_FIELDS, "unknown dtype code 99"),
        (vi(1, 19), TF_FIELDS, "DT_HALF is not carried by the EAS schema"),
        (vi(1, 10), TORCH_FIELDS, "DT_BOOL has no field in this schema"),
    ],
)
def test_a_malformed_array_error_names_where_it_was_read(
    body: bytes, fields: dict[int, Kind], reason: str
) -> None:
    assert refused(body, fields) == (WHAT, reason)


def test_a_shape_field_given_twice_is_merged_as_protobuf_merges_it() -> None:
    """Two shape messages (two serialized messages concatenated are one message) append
    their dimensions: protobuf reads [2, 3] here, and so must the whole response path."""
    shape = ld(2, ld(1, packed_varints([2]))) + ld(2, ld(1, packed_varints([3])))
    body = vi(1, 1) + shape + ld(3, np.arange(6, dtype=np.float32).tobytes())
    assert list(tf_pb.ArrayProto.FromString(body).array_shape.dim) == [2, 3]
    assert decode(body)[1].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert TFResponse(ld(1, ld(1, b"y") + ld(2, body)))["y"].shape == (2, 3)
    blade = vi(3, 1) + ld(4, ld(1, b"\x02")) + ld(4, ld(1, b"\x03")) + ld(5, bytes(24))
    assert list(blade_pb.Array.FromString(blade).shape.dim) == [2, 3]
    assert decode_blade_array(memoryview(blade), 0, len(blade), WHAT).array.shape == (2, 3)
    # the limit on dimensions holds for the merged shape
    half = ld(2, ld(1, bytes([1] * (MAX_DIMS // 2 + 1))))
    assert refused(vi(1, 1) + half + half + ONE_FLOAT) == (
        WHAT,
        f"a shape has more than {MAX_DIMS} dimensions",
    )
