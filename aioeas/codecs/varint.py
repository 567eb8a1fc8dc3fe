"""Protobuf base-128 varints, one at a time and whole arrays at once.

Packed ``int32``/``int64``/``bool`` fields are varints back to back. A Python loop over
150,000 of them costs tens of milliseconds; these numpy versions touch each byte a few
times in C. The rules are protobuf's: seven bits a byte, least significant group first,
the high bit set on every byte but the last, at most ten bytes; a negative ``int32`` is
sign-extended to 64 bits and so always takes ten bytes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from aioeas.errors import DecodeError

__all__ = [
    "MAX_VARINT_BYTES",
    "decode_varints",
    "encode_varint",
    "encode_varints",
    "read_varint",
    "to_signed64",
]

MAX_VARINT_BYTES = 10

# 2**7, 2**14, ... 2**63: a value needs k+2 bytes when it is >= the k-th threshold.
_THRESHOLDS = np.array([1 << (7 * k) for k in range(1, MAX_VARINT_BYTES)], dtype=np.uint64)
_SMALL = [bytes([i]) for i in range(128)]
# _KEEP[size, k]: whether byte k belongs to a varint of ``size`` bytes.
_KEEP = np.arange(MAX_VARINT_BYTES)[None, :] < np.arange(MAX_VARINT_BYTES + 1)[:, None]


def encode_varint(value: int) -> bytes:
    """One varint; a negative value is taken as its 64-bit two's complement, as protobuf does."""
    if 0 <= value < 128:
        return _SMALL[value]
    value &= 0xFFFF_FFFF_FFFF_FFFF
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(buf: memoryview | bytes, pos: int, end: int) -> tuple[int, int]:
    """Read one varint at ``pos`` (not past ``end``); return the unsigned value and the next position."""
    if pos >= end:
        raise DecodeError("varint", "a varint runs past the end of its field")
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    pos += 1
    while True:
        if pos >= end:
            raise DecodeError("varint", "a varint runs past the end of its field")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & 0xFFFF_FFFF_FFFF_FFFF, pos
        shift += 7
        if shift >= 7 * MAX_VARINT_BYTES:
            raise DecodeError("varint", "a varint is longer than 10 bytes")


def to_signed64(value: int) -> int:
    """The signed reading of an unsigned 64-bit varint value (int64 and int32 fields)."""
    return value - (1 << 64) if value >= (1 << 63) else value


def encode_varints(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    """Encode a 1-D array of unsigned 64-bit values as varints back to back.

    Signed data is passed as its two's-complement view (``a.astype(np.int64).view(np.uint64)``),
    which is exactly how protobuf writes ``int32`` and ``int64``.
    """
    u = np.ascontiguousarray(values, dtype=np.uint64).reshape(-1)
    if u.size == 0:
        return np.empty(0, np.uint8)
    top = int(u.max())
    if top < 0x80:  # every value fits one byte: the bytes are the values
        small: npt.NDArray[np.uint8] = u.astype(np.uint8)
        return small
    # bytes per value: 1 + how many of 2**7, 2**14, ... it reaches
    sizes = np.ones(u.size, np.uint8)
    for threshold in _THRESHOLDS:
        if top < threshold:
            break
        sizes += u >= threshold
    width = int(sizes.max())
    # Value by value (one row each), byte k in column k with its continuation bit; then
    # keep the first ``size`` bytes of each row (a lookup table turns sizes into the mask).
    grid = np.empty((u.size, width), np.uint8)
    shifted = u.copy()
    for k in range(width):
        column = (shifted & np.uint64(0x7F)).astype(np.uint8)
        if k < width - 1:
            column |= (sizes > k + 1).view(np.uint8) << 7
            shifted >>= np.uint64(7)
        grid[:, k] = column
    if int(sizes.min()) == width:  # all the same length: nothing to drop
        same: npt.NDArray[np.uint8] = grid.reshape(-1)
        return same
    out: npt.NDArray[np.uint8] = np.compress(_KEEP[sizes, :width].reshape(-1), grid.reshape(-1))
    return out


def decode_varints(
    data: npt.NDArray[np.uint8] | memoryview | bytes, *, low_bytes: int = MAX_VARINT_BYTES
) -> npt.NDArray[np.uint64]:
    """Decode varints back to back into a 1-D ``uint64`` array (the raw two's-complement bits).

    Works a byte position at a time over all varints at once: one gather per position.
    ``low_bytes=5`` reads only the bytes that hold the low 35 bits, which is all an ``int32``
    field keeps (its negative values still take ten bytes on the wire).
    Raises ``DecodeError`` when the last varint is cut short or one is longer than 10 bytes.
    """
    b = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    n_bytes = b.size
    if n_bytes == 0:
        return np.empty(0, np.uint64)
    more = b >= 0x80
    if more[-1]:
        raise DecodeError("packed varints", "the last varint is cut short")
    if not more.any():  # one byte each
        return b.astype(np.uint64)
    ends = np.flatnonzero(~more)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    extra = ends - starts  # bytes after the first
    width = int(extra.max()) + 1
    if width > MAX_VARINT_BYTES:
        raise DecodeError("packed varints", "a varint is longer than 10 bytes")
    # the 7-bit groups, padded so that a gather past the last varint reads zeros
    groups = np.zeros(n_bytes + MAX_VARINT_BYTES, np.uint8)
    np.bitwise_and(b, 0x7F, out=groups[:n_bytes])
    result: npt.NDArray[np.uint64] = groups[starts].astype(np.uint64)
    for k in range(1, min(width, low_bytes)):
        column = groups[starts + k]
        column *= extra >= k  # a byte of the next varint counts for nothing
        result |= column.astype(np.uint64) << np.uint64(7 * k)
    return result
