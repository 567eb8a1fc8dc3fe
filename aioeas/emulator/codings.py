"""Request bodies as the service gets them: the emulator's own decompression.

PROTOCOL.md: a client may compress a request body with gzip, zlib, snappy, lz4 or zstd; the
service knows which from its own configuration (no ``Content-Encoding``), and HTTP clients
may also send a ``Content-Encoding``. The emulator undoes them here, with the standard
library, a snappy decoder of its own (``snappy``) and ``cramjam``, and not with
``aioeas.client.compression``: a client that compressed in a format no service reads
would otherwise be read back by its own mirror image and pass every test. The formats are
those of the SDKs: snappy as one raw block (python-snappy's ``compress``, Java's
``Snappy.compress``), lz4 as a block, zstd as a frame.

Every install reads gzip, deflate/zlib and snappy (what the Python SDK sends: its
``TorchRequest(flag=True)`` is snappy; cramjam's faster decoder is used when installed).
lz4, zstd and brotli need cramjam (the ``snappy`` extra); without it a body in one of
them is refused with a message saying so (``missing``).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

from aioeas._install import install_hint
from aioeas.emulator import snappy
from aioeas.errors import DecodeError

__all__ = ["NEEDS_CRAMJAM", "decodable", "decompress", "missing"]

#: Codings read with cramjam only.
NEEDS_CRAMJAM = frozenset({"lz4", "zstd", "br"})


def _inflate(data: bytes) -> bytes:
    """zlib-wrapped deflate, or raw deflate (what some HTTP clients send as ``deflate``)."""
    try:
        return zlib.decompress(data)
    except zlib.error:
        return zlib.decompress(data, -zlib.MAX_WBITS)


def _decoders() -> dict[str, Callable[[bytes], bytes]]:
    found: dict[str, Callable[[bytes], bytes]] = {
        "identity": bytes,
        "gzip": gzip.decompress,
        "x-gzip": gzip.decompress,
        "deflate": _inflate,
        "zlib": _inflate,
        "snappy": snappy.decompress_raw,
    }
    try:
        import cramjam
    except ImportError:
        return found
    found["snappy"] = lambda b: bytes(cramjam.snappy.decompress_raw(b))
    found["lz4"] = lambda b: bytes(cramjam.lz4.decompress_block(b))
    found["zstd"] = lambda b: bytes(cramjam.zstd.decompress(b))
    found["br"] = lambda b: bytes(cramjam.brotli.decompress(b))
    return found


_DECODERS = _decoders()


def decodable() -> frozenset[str]:
    """The codings this installation can undo."""
    return frozenset(_DECODERS)


def missing(coding: str) -> str | None:
    """What to install to read ``coding``, when this installation lacks it (else None)."""
    coding = coding.strip().lower()
    if coding in NEEDS_CRAMJAM and coding not in _DECODERS:
        return (
            f"the emulator reads {coding} bodies with cramjam, which is not installed here: "
            f"pip install cramjam (or the extra: {install_hint('snappy')})"
        )
    return None


def decompress(body: bytes, encoding: str) -> bytes:
    """``body`` with ``encoding`` (codings comma-separated, applied in order, so undone in
    reverse) undone; ``DecodeError`` for an unknown coding or data that is not valid."""
    for coding in reversed([c.strip().lower() for c in encoding.split(",") if c.strip()]):
        decode = _DECODERS.get(coding)
        if decode is None:
            raise DecodeError("request", f"unsupported Content-Encoding {coding!r}", body)
        try:
            body = decode(body)
        except Exception as exc:
            raise DecodeError("request", f"bad {coding} data ({exc})", body) from None
    return body
