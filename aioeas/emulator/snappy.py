"""Snappy raw-block decompression in pure Python, so every install of the emulator reads
what the official clients send (``TorchRequest(flag=True)``, python-snappy's
``compress``, Java's ``Snappy.compress``) without the ``snappy`` extra.

The format (google/snappy, format_description.txt): a little-endian base-128 varint
holding the uncompressed length, then elements, each a tag byte whose low two bits say
what follows:

- ``00`` literal: the upper six bits are length-1; 60..63 mean the length-1 is in the
  next 1..4 bytes (little-endian), and the literal bytes follow;
- ``01`` copy: length 4 + bits 2..4, offset bits 5..7 (high) and one more byte;
- ``10`` copy: length 1 + the upper six bits, a 2-byte little-endian offset;
- ``11`` copy: length 1 + the upper six bits, a 4-byte little-endian offset.

A copy repeats ``length`` bytes from ``offset`` bytes back in the output; when the
length is greater than the offset the copy overlaps what it writes (a run). Anything
else (offset 0 or before the start, a truncated element, output longer or shorter than
announced) is corrupt data: ``ValueError`` saying where.
"""

from __future__ import annotations

__all__ = ["decompress_raw"]


def _varint(data: bytes) -> tuple[int, int]:
    """The uncompressed length and where the elements start."""
    value = 0
    for i in range(min(len(data), 5)):  # a 32-bit length takes at most 5 bytes
        byte = data[i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if value > 0xFFFFFFFF:
                break
            return value, i + 1
    raise ValueError("bad length preamble")


def decompress_raw(data: bytes, max_size: int | None = None) -> bytes:
    """The bytes ``data`` (one raw snappy block) holds; ``ValueError`` if it is corrupt or
    announces more than ``max_size`` bytes."""
    size, pos = _varint(data)
    if max_size is not None and size > max_size:
        raise ValueError(f"announces {size} bytes, over the limit of {max_size}")
    out = bytearray()
    end = len(data)
    while pos < end:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            length = (tag >> 2) + 1
            if length > 60:
                extra = length - 60
                if pos + extra > end:
                    raise ValueError(f"truncated literal length at byte {pos}")
                length = int.from_bytes(data[pos : pos + extra], "little") + 1
                pos += extra
            if pos + length > end:
                raise ValueError(f"truncated literal at byte {pos}")
            if len(out) + length > size:
                raise ValueError(f"more data than the {size} bytes announced")
            out += data[pos : pos + length]
            pos += length
            continue
        if kind == 1:
            if pos + 1 > end:
                raise ValueError(f"truncated copy at byte {pos}")
            length = 4 + ((tag >> 2) & 7)
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        else:
            width = 2 if kind == 2 else 4
            if pos + width > end:
                raise ValueError(f"truncated copy at byte {pos}")
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[pos : pos + width], "little")
            pos += width
        if offset == 0 or offset > len(out):
            raise ValueError(f"copy from offset {offset} with {len(out)} bytes written")
        if len(out) + length > size:
            raise ValueError(f"more data than the {size} bytes announced")
        start = len(out) - offset
        if length <= offset:
            out += out[start : start + length]
        else:  # overlapping: the last ``offset`` bytes repeated
            run = out[start:]
            out += (run * (length // offset + 1))[:length]
    if len(out) != size:
        raise ValueError(f"{len(out)} bytes where {size} were announced")
    return bytes(out)
