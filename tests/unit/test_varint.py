"""Varints against google.protobuf's own encoder: packed int32/int64 fields are varints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aioeas import DecodeError
from aioeas._proto import tf_predict_pb2 as tf_pb
from aioeas.codecs.varint import (
    MAX_VARINT_BYTES,
    decode_varints,
    encode_varint,
    encode_varints,
    read_varint,
    to_signed64,
)
from tests.unit import PROPERTY, varint

INT64_EDGES = [
    0,
    1,
    127,
    128,
    255,
    300,
    16383,
    16384,
    2**31 - 1,
    2**31,
    2**32,
    2**56,
    2**63 - 1,
    -1,
    -2,
    -127,
    -128,
    -(2**31),
    -(2**63),
]
INT32_EDGES = [0, 1, 127, 128, 16384, 2**31 - 1, -1, -128, -(2**31)]


def _payload(serialized: bytes, tag: int) -> bytes:
    """The payload of a message holding one packed field: tag, length varint, payload."""
    assert serialized[0] == tag
    length, shift, pos = 0, 0, 1
    while True:
        b = serialized[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    payload = serialized[pos:]
    assert len(payload) == length
    return payload


def protobuf_int64(values: list[int]) -> bytes:
    """Protobuf's bytes for a packed ``repeated int64`` (ArrayProto.int64_val, field 7)."""
    return _payload(tf_pb.ArrayProto(int64_val=values).SerializeToString(), (7 << 3) | 2)


def protobuf_int32(values: list[int]) -> bytes:
    """Protobuf's bytes for a packed ``repeated int32`` (ArrayProto.int_val, field 5)."""
    return _payload(tf_pb.ArrayProto(int_val=values).SerializeToString(), (5 << 3) | 2)


def encode_signed(values: list[int], dtype: type = np.int64) -> bytes:
    arr = np.array(values, dtype=dtype).astype(np.int64)
    return encode_varints(arr.view(np.uint64)).tobytes()


def decode_signed(data: bytes) -> list[int]:
    return decode_varints(data).view(np.int64).tolist()


@pytest.mark.parametrize("value", INT64_EDGES)
def test_int64_edge_matches_protobuf(value: int) -> None:
    expected = protobuf_int64([value])
    assert expected == varint(value)  # the hand-written reference agrees with protobuf
    assert encode_signed([value]) == expected
    assert encode_varint(value) == expected
    assert decode_signed(expected) == [value]
    raw, end = read_varint(expected, 0, len(expected))
    assert (to_signed64(raw), end) == (value, len(expected))


@pytest.mark.parametrize("value", INT32_EDGES)
def test_int32_edge_matches_protobuf(value: int) -> None:
    expected = protobuf_int32([value])
    assert encode_signed([value], np.int32) == expected
    assert decode_signed(expected) == [value]
    if value < 0:  # sign-extended to 64 bits: always ten bytes
        assert len(expected) == MAX_VARINT_BYTES


def test_sizes_of_edge_values() -> None:
    sizes = {0: 1, 127: 1, 128: 2, 2**31 - 1: 5, -1: 10, -(2**31): 10, 2**63 - 1: 9, -(2**63): 10}
    for value, size in sizes.items():
        assert len(encode_signed([value])) == size, value


def test_all_edges_packed_together_match_protobuf() -> None:
    assert encode_signed(INT64_EDGES) == protobuf_int64(INT64_EDGES)
    assert decode_signed(protobuf_int64(INT64_EDGES)) == INT64_EDGES
    assert encode_signed(INT32_EDGES, np.int32) == protobuf_int32(INT32_EDGES)


def test_small_values_take_the_one_byte_path() -> None:
    values = list(range(128))
    assert encode_signed(values) == bytes(values) == protobuf_int64(values)
    assert decode_signed(bytes(values)) == values


def test_empty() -> None:
    assert encode_varints(np.empty(0, np.uint64)).size == 0
    out = decode_varints(b"")
    assert out.dtype == np.uint64
    assert out.size == 0


@pytest.mark.parametrize(
    "data", [b"\x01\x02", memoryview(b"\x01\x02"), np.frombuffer(b"\x01\x02", np.uint8)]
)
def test_decode_accepts_bytes_memoryview_and_arrays(data: object) -> None:
    assert decode_varints(data).tolist() == [1, 2]  # type: ignore[arg-type]


def test_decoded_values_are_uint64_bits() -> None:
    out = decode_varints(varint(-1))
    assert out.dtype == np.uint64
    assert out.tolist() == [2**64 - 1]


@pytest.mark.parametrize("value", [128, 300, 2**31 - 1, -1, -(2**63), 2**63 - 1])
def test_truncated_last_varint_raises(value: int) -> None:
    good = varint(5) + varint(value)
    for cut in range(2, len(good)):  # every cut inside the second varint
        with pytest.raises(DecodeError, match="cut short"):
            decode_varints(good[:cut])
        with pytest.raises(DecodeError, match="past the end"):
            read_varint(good, 1, cut)


@pytest.mark.parametrize("data", [b"\x80", b"\xff", b"\x01\x80", b"\x00\xff\xff"])
def test_continuation_bit_on_the_last_byte_raises(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_varints(data)


def test_ten_bytes_is_the_limit() -> None:
    ten = b"\xff" * 9 + b"\x01"
    assert decode_varints(ten).tolist() == [2**64 - 1]
    assert read_varint(ten, 0, len(ten)) == (2**64 - 1, 10)
    eleven = b"\xff" * 10 + b"\x01"
    with pytest.raises(DecodeError, match="longer than 10 bytes"):
        decode_varints(eleven)
    with pytest.raises(DecodeError, match="longer than 10 bytes"):
        decode_varints(b"\x05" + eleven + b"\x05")
    with pytest.raises(DecodeError, match="longer than 10 bytes"):
        read_varint(eleven, 0, len(eleven))
    with pytest.raises(DecodeError):
        read_varint(b"\x80" * 20, 0, 20)


def test_read_varint_stops_at_end_not_at_buffer_end() -> None:
    data = varint(300) + varint(1)
    with pytest.raises(DecodeError):
        read_varint(data, 0, 1)
    assert read_varint(data, 0, 2) == (300, 2)
    with pytest.raises(DecodeError):
        read_varint(data, 3, 3)


def test_to_signed64() -> None:
    assert to_signed64(0) == 0
    assert to_signed64(2**63 - 1) == 2**63 - 1
    assert to_signed64(2**63) == -(2**63)
    assert to_signed64(2**64 - 1) == -1


int64s = hnp.arrays(np.int64, st.integers(0, 200), elements=st.integers(-(2**63), 2**63 - 1))
int32s = hnp.arrays(np.int32, st.integers(0, 200), elements=st.integers(-(2**31), 2**31 - 1))


@PROPERTY
@given(int64s)
def test_int64_arrays_round_trip(values: np.ndarray) -> None:
    encoded = encode_varints(values.view(np.uint64))
    assert encoded.dtype == np.uint8
    decoded = decode_varints(encoded).view(np.int64)
    np.testing.assert_array_equal(decoded, values)


@PROPERTY
@given(int64s)
def test_int64_arrays_match_protobuf(values: np.ndarray) -> None:
    expected = protobuf_int64(values.tolist()) if values.size else b""
    assert encode_varints(values.view(np.uint64)).tobytes() == expected
    assert decode_signed(expected) == values.tolist()


@PROPERTY
@given(int32s)
def test_int32_arrays_match_protobuf(values: np.ndarray) -> None:
    expected = protobuf_int32(values.tolist()) if values.size else b""
    assert encode_signed(values.tolist(), np.int32) == expected
    assert decode_varints(expected).view(np.int64).astype(np.int32).tolist() == values.tolist()


@PROPERTY
@given(st.integers(-(2**63), 2**64 - 1))
def test_single_varint_matches_reference(value: int) -> None:
    assert encode_varint(value) == varint(value)
    assert read_varint(varint(value), 0, len(varint(value)))[0] == value % 2**64
