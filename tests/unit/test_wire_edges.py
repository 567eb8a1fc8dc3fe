"""``wire.iter_fields`` at the edge of one-byte keys: a key of exactly 0x80 is the first
byte of a two-byte key (field 16 and up), not a key of its own."""

from __future__ import annotations

from aioeas.codecs.wire import iter_fields


def test_a_two_byte_key_starting_with_0x80_is_read_whole() -> None:
    # field 16, varint (key 128 = 0x80 0x01), value 5; then field 1, varint, value 7
    data = memoryview(bytes([0x80, 0x01, 0x05, 0x08, 0x07]))
    assert list(iter_fields(data, 0, len(data), "a test message")) == [
        (16, 0, 5, 3),
        (1, 0, 7, 5),
    ]
