"""The protobuf wire format, as far as EAS's messages need it: read fields, write fields.

Reading yields offsets into the caller's buffer instead of copies, so that a packed
float field of a 100 MB response becomes an ``np.frombuffer`` view of the response body.
Writing collects pieces (small headers and the arrays' own buffers) and joins them once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Final

from aioeas.codecs.varint import encode_varint, read_varint
from aioeas.errors import DecodeError

__all__ = [
    "I32",
    "I64",
    "LEN",
    "VARINT",
    "Buffer",
    "Writer",
    "entry_head",
    "iter_fields",
    "map_entry",
    "string_field",
    "tag",
]

VARINT: Final = 0
I64: Final = 1
LEN: Final = 2
I32: Final = 5

Buffer = bytes | bytearray | memoryview


def iter_fields(
    buf: memoryview, start: int, end: int, what: str
) -> Iterator[tuple[int, int, int, int]]:
    """Walk the fields of one message in ``buf[start:end]``.

    Yields ``(field_number, wire_type, a, b)``: for a varint ``a`` is the unsigned value;
    for a length-delimited field ``a:b`` is its payload's span; for fixed32/fixed64 ``a`` is
    the offset of its bytes. Anything malformed (a length past the end, a group, a wire
    type 6 or 7, field number 0) raises ``DecodeError`` naming ``what`` was being read.
    """
    pos = start
    try:
        while pos < end:
            key = buf[pos]  # one-byte keys and lengths (the usual case) skip the call
            if key < 0x80:
                pos += 1
            else:
                key, pos = read_varint(buf, pos, end)
            field, wire = key >> 3, key & 7
            if field == 0:
                raise DecodeError(what, f"field number 0 at byte {pos}")
            if wire == LEN:
                if pos < end and buf[pos] < 0x80:
                    size = buf[pos]
                    pos += 1
                else:
                    size, pos = read_varint(buf, pos, end)
                stop = pos + size
                if stop > end:
                    raise DecodeError(
                        what, f"field {field} declares {size} bytes but only {end - pos} remain"
                    )
                yield field, wire, pos, stop
                pos = stop
            elif wire == VARINT:
                value, pos = read_varint(buf, pos, end)
                yield field, wire, value, pos
            elif wire == I32:
                if pos + 4 > end:
                    raise DecodeError(what, f"fixed32 field {field} is cut short")
                yield field, wire, pos, pos + 4
                pos += 4
            elif wire == I64:
                if pos + 8 > end:
                    raise DecodeError(what, f"fixed64 field {field} is cut short")
                yield field, wire, pos, pos + 8
                pos += 8
            else:
                raise DecodeError(what, f"wire type {wire} (field {field}) is not used by EAS")
    except DecodeError as exc:
        if exc.what == what:
            raise
        raise DecodeError(what, exc.reason) from None


def utf8(buf: memoryview, a: int, b: int, what: str) -> str:
    """Decode a ``string`` field, with a ``DecodeError`` for bytes that are not UTF-8."""
    try:
        return str(buf[a:b], "utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(what, f"a string field is not UTF-8 ({exc.reason})") from None


_TAGS: dict[tuple[int, int], bytes] = {}


def tag(field: int, wire: int) -> bytes:
    """The key of a field: its number and wire type as one varint (cached)."""
    key = (field, wire)
    cached = _TAGS.get(key)
    if cached is None:
        cached = _TAGS[key] = encode_varint((field << 3) | wire)
    return cached


@functools.lru_cache(maxsize=1024)
def string_field(field: int, text: str) -> bytes:
    """A whole ``string`` field (key, length, UTF-8), cached: signature, input and output
    names repeat from one request to the next, and encoding them is per-request work."""
    data = text.encode("utf-8")
    return tag(field, LEN) + encode_varint(len(data)) + data


class Writer:
    """Pieces of one message and their total size; nested messages are Writers too.

    A piece is any C-contiguous buffer (``b"".join`` takes it as it is), so an array's own
    memory goes in as one piece and is copied once, when the message is joined; ``size``
    counts bytes (a piece's ``nbytes``, not its ``len``).
    """

    __slots__ = ("parts", "size")

    def __init__(self, parts: list[Buffer] | None = None, size: int = 0) -> None:
        self.parts: list[Buffer] = [] if parts is None else parts
        self.size = size

    def raw(self, data: bytes) -> None:
        """Bytes already encoded as fields."""
        self.parts.append(data)
        self.size += len(data)

    def varint(self, field: int, value: int) -> None:
        data = tag(field, VARINT) + encode_varint(value)
        self.parts.append(data)
        self.size += len(data)

    def blob(self, field: int, data: Buffer, nbytes: int | None = None) -> None:
        """A length-delimited field; ``nbytes`` is given for a memoryview of a wider type."""
        n = len(data) if nbytes is None else nbytes
        head = tag(field, LEN) + encode_varint(n)
        self.parts.append(head)
        self.parts.append(data)
        self.size += len(head) + n

    def string(self, field: int, text: str) -> None:
        self.blob(field, text.encode("utf-8"))

    def message(self, field: int, sub: Writer) -> None:
        head = tag(field, LEN) + encode_varint(sub.size)
        self.parts.append(head)
        self.parts.extend(sub.parts)
        self.size += len(head) + sub.size

    def extend(self, other: Writer) -> None:
        """Append fields already written elsewhere (no length prefix of their own)."""
        self.parts.extend(other.parts)
        self.size += other.size

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


@functools.lru_cache(maxsize=4096)
def entry_head(field: int, key: str, size: int) -> bytes:
    """A map entry up to its value's content: the entry's key and length, the key field,
    the value's key and length. Cached by (field, name, value size)."""
    key_field = string_field(1, key)
    value_head = tag(2, LEN) + encode_varint(size)
    inner = len(key_field) + len(value_head) + size
    return tag(field, LEN) + encode_varint(inner) + key_field + value_head


def map_entry(field: int, key: str, value: Writer) -> Writer:
    """One entry of a ``map<string, Message>`` field, ready to ``extend`` a message with."""
    head = entry_head(field, key, value.size)
    return Writer([head, *value.parts], len(head) + value.size)
