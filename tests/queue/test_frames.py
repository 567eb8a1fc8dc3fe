"""The hand-written queue frame codecs, cross-checked against the generated protobuf modules
both ways, and their refusal of malformed bytes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioeas._proto import queueservice_pb2 as pb
from aioeas.codecs.frames import (
    Frame,
    decode_attributes,
    decode_frame,
    decode_frame_list,
    encode_attributes,
    encode_frame,
    encode_frame_list,
)
from aioeas.errors import DecodeError, UsageError
from tests.unit import PROPERTY

texts = st.text(max_size=20)
tags_st = st.dictionaries(texts, texts, max_size=5)
frames_st = st.builds(
    Frame,
    index=st.integers(0, 2**64 - 1),
    tags=tags_st,
    data=st.binary(max_size=64),
    message=texts,
)


def _pb_frame(frame: Frame) -> pb.DataFrameProto:
    return pb.DataFrameProto(
        index=frame.index, tags=frame.tags, data=frame.data, message=frame.message
    )


def _same(ours: Frame, theirs: pb.DataFrameProto) -> None:
    assert ours.index == theirs.index
    assert ours.tags == dict(theirs.tags)
    assert ours.data == theirs.data
    assert ours.message == theirs.message


@PROPERTY
@given(frames_st)
def test_frame_both_ways(frame: Frame) -> None:
    _same(frame, pb.DataFrameProto.FromString(encode_frame(**frame_kwargs(frame))))
    _same(decode_frame(_pb_frame(frame).SerializeToString()), _pb_frame(frame))


def frame_kwargs(frame: Frame) -> dict[str, object]:
    return {"index": frame.index, "tags": frame.tags, "data": frame.data, "message": frame.message}


@PROPERTY
@given(st.lists(frames_st, max_size=5))
def test_frame_list_both_ways(frames: list[Frame]) -> None:
    parsed = pb.DataFrameListProto.FromString(encode_frame_list(frames))
    assert len(parsed.index) == len(frames)
    for ours, theirs in zip(frames, parsed.index, strict=True):
        _same(ours, theirs)
    body = pb.DataFrameListProto(index=[_pb_frame(f) for f in frames]).SerializeToString()
    assert decode_frame_list(body) == frames


@PROPERTY
@given(tags_st)
def test_attributes_both_ways(attrs: dict[str, str]) -> None:
    assert dict(pb.AttributesProto.FromString(encode_attributes(attrs)).attributes) == attrs
    assert decode_attributes(pb.AttributesProto(attributes=attrs).SerializeToString()) == attrs


def test_bytes_match_the_generated_encoder_without_maps() -> None:
    frame = Frame(2**40, {}, b"\x00\xff data", "hé")
    assert encode_frame(**frame_kwargs(frame)) == _pb_frame(frame).SerializeToString()  # type: ignore[arg-type]
    assert encode_frame() == b""
    assert decode_frame(b"") == Frame(0, {}, b"", "")
    assert decode_frame_list(b"") == []


def test_unknown_fields_are_skipped_and_last_map_value_wins() -> None:
    body = encode_frame(index=3, tags={"k": "a"}) + encode_frame(tags={"k": "b"})
    body += bytes([0x28, 0x07])  # field 5, varint: not in the schema
    assert decode_frame(body) == Frame(3, {"k": "b"}, b"", "")
    assert decode_frame(memoryview(body)) == decode_frame(bytearray(body))


@pytest.mark.parametrize(
    "body",
    [
        b"\x08",  # index varint cut short
        b"\x1a\x05abc",  # data declares 5 bytes, 3 remain
        b"\x0a\x01x",  # index with wire type LEN
        b"\x18\x01",  # data with wire type VARINT
        b"\x22\x02\xff\xfe",  # message not UTF-8
        b"\x12\x04\x0a\x02\xc3\x28",  # a tag key not UTF-8
        b"\x12\x02\x08\x01",  # a map key with wire type VARINT
        b"\x0b",  # group wire type
        b"\x00\x01",  # field number 0
    ],
)
def test_malformed_frames_raise_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError, match="DataFrameProto"):
        decode_frame(body)


def test_malformed_list_and_attributes() -> None:
    with pytest.raises(DecodeError, match="DataFrameListProto"):
        decode_frame_list(b"\x08\x01")  # field 1 must be a message
    with pytest.raises(DecodeError):
        decode_frame_list(b"\x0a\x03\x1a\x05a")  # nested frame overruns
    with pytest.raises(DecodeError, match="AttributesProto"):
        decode_attributes(b"\x0a\x05\x0a")


def test_index_must_be_uint64() -> None:
    with pytest.raises(UsageError):
        encode_frame(index=-1)
    with pytest.raises(UsageError):
        encode_frame_list([Frame(2**64, {}, b"", "")])


# A malformed message names the message (or map) being read and why, exactly: the
# watcher logs it, and "cannot decode DataFrameProto.tags: field 1 has wire type 0" is
# what tells a reader which server answer was wrong.
@pytest.mark.parametrize(
    ("decode", "body", "what", "reason"),
    [
        (decode_frame, b"\x0a\x01x", "DataFrameProto", "field 1 has wire type 2, expected 0"),
        (decode_frame, b"\x10\x01", "DataFrameProto", "field 2 has wire type 0, expected 2"),
        (decode_frame, b"\x18\x01", "DataFrameProto", "field 3 has wire type 0, expected 2"),
        (decode_frame, b"\x20\x01", "DataFrameProto", "field 4 has wire type 0, expected 2"),
        (decode_frame, b"\x08", "DataFrameProto", "a varint runs past the end of its field"),
        (
            decode_frame,
            b"\x22\x02\xff\xfe",
            "DataFrameProto",
            "a string field is not UTF-8 (invalid start byte)",
        ),
        (
            decode_frame,
            b"\x12\x02\x08\x01",
            "DataFrameProto.tags",
            "field 1 has wire type 0, expected 2",
        ),
        (
            decode_frame,
            b"\x12\x02\x10\x01",
            "DataFrameProto.tags",
            "field 2 has wire type 0, expected 2",
        ),
        (
            decode_frame,
            b"\x12\x01\x0a",
            "DataFrameProto.tags",
            "a varint runs past the end of its field",
        ),
        (
            decode_frame,
            b"\x12\x04\x0a\x02\xc3\x28",
            "DataFrameProto.tags",
            "a string field is not UTF-8 (invalid continuation byte)",
        ),
        (
            decode_frame,
            b"\x12\x04\x12\x02\xc3\x28",
            "DataFrameProto.tags",
            "a string field is not UTF-8 (invalid continuation byte)",
        ),
        (
            decode_frame_list,
            b"\x08\x01",
            "DataFrameListProto",
            "field 1 has wire type 0, expected 2",
        ),
        (
            decode_frame_list,
            b"\x0a",
            "DataFrameListProto",
            "a varint runs past the end of its field",
        ),
        (
            decode_frame_list,
            b"\x0a\x01\x08",
            "DataFrameProto",
            "a varint runs past the end of its field",
        ),
        (decode_attributes, b"\x08\x01", "AttributesProto", "field 1 has wire type 0, expected 2"),
        (decode_attributes, b"\x0a", "AttributesProto", "a varint runs past the end of its field"),
        (
            decode_attributes,
            b"\x0a\x02\x08\x01",
            "AttributesProto.attributes",
            "field 1 has wire type 0, expected 2",
        ),
        (
            decode_attributes,
            b"\x0a\x02\x10\x01",
            "AttributesProto.attributes",
            "field 2 has wire type 0, expected 2",
        ),
        (
            decode_attributes,
            b"\x0a\x01\x0a",
            "AttributesProto.attributes",
            "a varint runs past the end of its field",
        ),
        (
            decode_attributes,
            b"\x0a\x04\x12\x02\xc3\x28",
            "AttributesProto.attributes",
            "a string field is not UTF-8 (invalid continuation byte)",
        ),
    ],
)
def test_a_decode_error_names_what_was_read_and_why(
    decode: Callable[[bytes], object], body: bytes, what: str, reason: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(body)
    assert (caught.value.what, caught.value.reason) == (what, reason)


def test_a_map_entry_without_key_or_value_has_empty_strings() -> None:
    """proto3 leaves an empty key or value out of the entry; reading one back gives ``""``."""
    assert decode_frame(encode_frame(tags={"": "v", "k": ""})).tags == {"": "v", "k": ""}
    assert decode_frame(b"\x12\x00").tags == {"": ""}  # an entry with neither
    assert decode_attributes(encode_attributes({"": "", "a": ""})) == {"": "", "a": ""}


def test_a_bad_index_is_named_in_the_error() -> None:
    with pytest.raises(UsageError, match=r"^a record index is a uint64, got -1$"):
        encode_frame(index=-1)


@pytest.mark.parametrize("dtype", ["<f4", "<f8", "<i2", "u1"])
def test_a_memoryview_of_a_wider_type_is_framed_by_its_bytes(dtype: str) -> None:
    """``data`` may be any buffer: a memoryview of floats has fewer items than bytes, and
    the frame must carry all its bytes (its length field too), as ``bytes(view)`` would."""
    array = np.arange(5).astype(dtype)
    view = memoryview(array)
    framed = encode_frame(7, {"k": "v"}, view)
    assert framed == encode_frame(7, {"k": "v"}, array.tobytes())
    assert decode_frame(framed).data == array.tobytes()
