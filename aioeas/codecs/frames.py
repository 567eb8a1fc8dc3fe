"""Queue-service messages, sans-IO: ``DataFrameProto``, ``DataFrameListProto``, ``AttributesProto``.

The queue service (package ``streaming``, ``queueservice.proto``) sends each watched record
as one ``DataFrameProto`` and a ``get`` batch as a ``DataFrameListProto``; ``attributes``
may come as an ``AttributesProto``::

    DataFrameProto     { uint64 index = 1; map<string, string> tags = 2;
                         bytes data = 3; string message = 4; }
    DataFrameListProto { repeated DataFrameProto index = 1; }
    AttributesProto    { map<string, string> attributes = 1; }

Hand-written over ``wire`` rather than the generated modules so that decoding a frame costs
one pass and no ``protobuf`` message objects (the watcher decodes every pushed record on the
event loop), and so that malformed bytes raise ``DecodeError`` naming what was being read
instead of protobuf's own exception. Proto3 rules: absent fields take their defaults,
unknown fields are skipped, a repeated map key keeps its last value; a known field with the
wrong wire type is malformed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NoReturn

from aioeas.codecs.wire import LEN, VARINT, Buffer, Writer, iter_fields, utf8
from aioeas.errors import DecodeError, UsageError

__all__ = [
    "Frame",
    "decode_attributes",
    "decode_frame",
    "decode_frame_list",
    "encode_attributes",
    "encode_frame",
    "encode_frame_list",
]


@dataclass(frozen=True, slots=True)
class Frame:
    """The four fields of one queue record, as they travel."""

    index: int
    tags: dict[str, str]
    data: bytes
    message: str


def _view(body: Buffer) -> memoryview:
    return (body if isinstance(body, memoryview) else memoryview(body)).cast("B")


def _check_index(index: int) -> None:
    if not 0 <= index < 1 << 64:
        raise UsageError(f"a record index is a uint64, got {index}")


def _wire_type_error(what: str, field: int, wire: int, want: int) -> NoReturn:
    raise DecodeError(what, f"field {field} has wire type {wire}, expected {want}")


def _map_entry(buf: memoryview, start: int, end: int, what: str) -> tuple[str, str]:
    """One ``map<string, string>`` entry: a nested message of key = 1 and value = 2."""
    key = value = ""
    for field, wire, a, b in iter_fields(buf, start, end, what):
        if field in (1, 2):
            if wire != LEN:
                _wire_type_error(what, field, wire, LEN)
            if field == 1:
                key = utf8(buf, a, b, what)
            else:
                value = utf8(buf, a, b, what)
    return key, value


def _decode_frame_at(buf: memoryview, start: int, end: int) -> Frame:
    what = "DataFrameProto"
    index = 0
    tags: dict[str, str] = {}
    data = b""
    message = ""
    for field, wire, a, b in iter_fields(buf, start, end, what):
        if field == 1:
            if wire != VARINT:
                _wire_type_error(what, field, wire, VARINT)
            index = a
        elif field == 2:
            if wire != LEN:
                _wire_type_error(what, field, wire, LEN)
            key, value = _map_entry(buf, a, b, what + ".tags")
            tags[key] = value
        elif field == 3:
            if wire != LEN:
                _wire_type_error(what, field, wire, LEN)
            data = bytes(buf[a:b])
        elif field == 4:
            if wire != LEN:
                _wire_type_error(what, field, wire, LEN)
            message = utf8(buf, a, b, what)
    return Frame(index, tags, data, message)


def decode_frame(body: Buffer) -> Frame:
    """One ``DataFrameProto`` (a watcher's WebSocket message); ``DecodeError`` if malformed."""
    buf = _view(body)
    return _decode_frame_at(buf, 0, len(buf))


def decode_frame_list(body: Buffer) -> list[Frame]:
    """A ``DataFrameListProto`` (the body of ``get``); an empty body is an empty list."""
    buf = _view(body)
    frames: list[Frame] = []
    what = "DataFrameListProto"
    for field, wire, a, b in iter_fields(buf, 0, len(buf), what):
        if field == 1:
            if wire != LEN:
                _wire_type_error(what, field, wire, LEN)
            frames.append(_decode_frame_at(buf, a, b))
    return frames


def _write_map(writer: Writer, field: int, entries: Mapping[str, str]) -> None:
    for key, value in entries.items():
        entry = Writer()
        if key:
            entry.string(1, key)
        if value:
            entry.string(2, value)
        writer.message(field, entry)


def _frame_writer(index: int, tags: Mapping[str, str], data: Buffer, message: str) -> Writer:
    w = Writer()
    if index:
        w.varint(1, index)
    _write_map(w, 2, tags)
    # a memoryview of a wider type (floats) has fewer items than bytes: its length is nbytes
    size = data.nbytes if isinstance(data, memoryview) else len(data)
    if size:
        w.blob(3, data, size)
    if message:
        w.string(4, message)
    return w


def encode_frame(
    index: int = 0,
    tags: Mapping[str, str] | None = None,
    data: Buffer = b"",
    message: str = "",
) -> bytes:
    """One ``DataFrameProto``; fields at their default are left out, as proto3 does."""
    _check_index(index)
    return _frame_writer(index, tags or {}, data, message).getvalue()


def encode_frame_list(frames: Iterable[Frame]) -> bytes:
    """A ``DataFrameListProto`` of ``frames`` in order."""
    w = Writer()
    for frame in frames:
        _check_index(frame.index)
        w.message(1, _frame_writer(frame.index, frame.tags, frame.data, frame.message))
    return w.getvalue()


def encode_attributes(attributes: Mapping[str, str]) -> bytes:
    """An ``AttributesProto`` (``attributes`` asked for with the protobuf ``Accept``)."""
    w = Writer()
    _write_map(w, 1, attributes)
    return w.getvalue()


def decode_attributes(body: Buffer) -> dict[str, str]:
    """An ``AttributesProto`` as a plain dict of strings."""
    buf = _view(body)
    what = "AttributesProto"
    out: dict[str, str] = {}
    for field, wire, a, b in iter_fields(buf, 0, len(buf), what):
        if field == 1:
            if wire != LEN:
                _wire_type_error(what, field, wire, LEN)
            key, value = _map_entry(buf, a, b, what + ".attributes")
            out[key] = value
    return out
