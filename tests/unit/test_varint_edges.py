"""Varint edges mutation testing showed unguarded (docs/mutation.md): the exact errors,
the widest values, a 2-D input and signed input to the vectorised encoder."""

from __future__ import annotations

import numpy as np
import pytest

from aioeas.codecs.varint import decode_varints, encode_varint, encode_varints, read_varint
from aioeas.errors import DecodeError


def test_zero_is_one_byte() -> None:
    assert encode_varint(0) == b"\x00"
    assert encode_varint(127) == b"\x7f"


def test_the_vectorised_encoder_takes_any_shape_and_the_widest_values() -> None:
    values = np.array([[1, 300], [2**63, 2**64 - 1]], dtype=np.uint64)
    expected = "01" + "ac02" + "80808080808080808001" + "ffffffffffffffffff01"
    assert bytes(encode_varints(values)).hex() == expected
    assert decode_varints(encode_varints(values)).tolist() == values.reshape(-1).tolist()


def test_a_negative_int64_is_sent_as_ten_bytes_as_protobuf_does() -> None:
    out = encode_varints(np.array([-1, 5], dtype=np.int64))  # type: ignore[arg-type]
    assert bytes(out).hex() == "ffffffffffffffffff01" + "05"


@pytest.mark.parametrize(
    ("body", "what", "reason"),
    [
        (b"\x80", "packed varints", "the last varint is cut short"),
        (b"\xff" * 11 + b"\x01", "packed varints", "a varint is longer than 10 bytes"),
    ],
)
def test_bad_packed_varints_are_named(body: bytes, what: str, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_varints(body)
    assert (caught.value.what, caught.value.reason) == (what, reason)


def test_a_varint_past_its_field_is_named() -> None:
    with pytest.raises(DecodeError) as caught:
        read_varint(b"\x80", 1, 1)
    assert (caught.value.what, caught.value.reason) == (
        "varint",
        "a varint runs past the end of its field",
    )


def test_the_vectorised_encoder_flattens_small_values_too() -> None:
    """Values under 128 take the shortcut (the bytes are the values): still one flat
    run of bytes, whatever the input's shape."""
    out = encode_varints(np.array([[1, 2], [3, 127]], dtype=np.uint64))
    assert out.shape == (4,)
    assert bytes(out) == b"\x01\x02\x03\x7f"


def test_the_vectorised_decoder_takes_a_strided_array() -> None:
    """An array (a view into a larger buffer, not contiguous) is read as it is, not
    through the buffer protocol, which refuses non-contiguous memory."""
    wire = np.frombuffer(bytes([0x01, 0xFF, 0x96, 0xFF, 0x01, 0xFF, 0x05, 0xFF]), np.uint8)
    assert decode_varints(wire[::2]).tolist() == [1, 150, 5]


@pytest.mark.parametrize(
    ("data", "pos", "reason"),
    [
        (b"", 0, "a varint runs past the end of its field"),
        (b"\x80", 0, "a varint runs past the end of its field"),  # cut after its first byte
        (b"\x80\x80\x80", 0, "a varint runs past the end of its field"),
        (b"\x80" * 10 + b"\x01", 0, "a varint is longer than 10 bytes"),
    ],
)
def test_read_varint_errors_name_the_varint_and_the_fault(
    data: bytes, pos: int, reason: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        read_varint(data, pos, len(data))
    assert (caught.value.what, caught.value.reason) == ("varint", reason)
