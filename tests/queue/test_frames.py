"""The hand-written queue frame codecs, cross-checked against the generated protobuf modules
both ways, and their refusal of malformed bytes."""

from __future__ import annotations

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
